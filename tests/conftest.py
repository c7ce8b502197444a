"""Fixtures shared across test folders: a tiny trained run whose right answers are known."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """``(run_dir, data_root)``: a U-Net (width 8, depth 2) trained on 32x32 bright discs
    (``data_root/{train,val}/{images,masks}``, 24 train and 6 val images) to val Dice > 0.8,
    at the images' own size (no resize). Read-only: copy it before changing anything."""
    from seglab.api import train
    from tests.engine.conftest import write_discs

    root = write_discs(tmp_path_factory.mktemp("tiny") / "discs", splits={"train": 24, "val": 6})
    result = train(
        data=root,
        model={"options": {"base_width": 8, "depth": 2}},
        out=root.parent / "runs",
        epochs=12,
        batch_size=4,
        augment="none",
        optimizer="adam",
        lr=0.01,
        scheduler="none",
        workers=0,
        print_fn=None,
    )
    assert result.best_score > 0.8
    return result.run_dir, root
