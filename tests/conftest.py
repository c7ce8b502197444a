"""Fixtures shared across test folders: a tiny trained run whose right answers are known."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def train_tiny(root: Path, *, epochs: int = 12, **options) -> Path:
    """Train a U-Net of width 8, depth 2 on the disc dataset ``root`` (see ``write_discs``) at
    the images' own size (``options``: other TrainConfig fields); return the run folder."""
    from seglab.api import train

    result = train(
        data=root,
        model={"options": {"base_width": 8, "depth": 2}},
        out=root.parent / "runs",
        epochs=epochs,
        batch_size=4,
        augment="none",
        optimizer="adam",
        lr=0.01,
        scheduler="none",
        workers=0,
        print_fn=None,
        **options,
    )
    assert epochs < 12 or result.best_score > 0.8
    return result.run_dir


def copy_run(run_dir: Path, dest: Path) -> Path:
    """A copy of a run folder without its ONNX export (exports write into the run folder)."""
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns("model.onnx*"))
    return dest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """``(run_dir, data_root)``: a U-Net (width 8, depth 2) trained on 32x32 bright discs
    (``data_root/{train,val}/{images,masks}``, 24 train and 6 val images) to val Dice > 0.8,
    at the images' own size (no resize). Read-only: copy it (``copy_run``) before changing it."""
    from tests.builders import write_discs

    root = write_discs(tmp_path_factory.mktemp("tiny") / "discs", splits={"train": 24, "val": 6})
    return train_tiny(root), root


@pytest.fixture
def discs(tmp_path: Path) -> Path:
    """A binary dataset: 8 train and 4 val 32x32 images with one disc each."""
    from tests.builders import write_discs

    return write_discs(tmp_path / "discs")
