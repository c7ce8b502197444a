"""Tiny mask-folder datasets whose right answer is known: bright discs on a noisy background."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


def write_discs(
    root: Path,
    *,
    splits: dict[str, int] | None = None,
    size: int = 32,
    seed: int = 0,
    classes: int = 1,
) -> Path:
    """``root/{train,val}/{images,masks}``: each image holds one disc of a class 1..classes
    (pixel value 60 + 60 * class on a background around 40); the mask marks it."""
    rng = np.random.default_rng(seed)
    for split, count in (splits or {"train": 8, "val": 4}).items():
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "masks").mkdir(parents=True, exist_ok=True)
        for i in range(count):
            yy, xx = np.mgrid[:size, :size]
            r = rng.uniform(size / 8, size / 4)
            cy, cx = rng.uniform(r, size - r, size=2)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            cls = int(rng.integers(1, classes + 1))
            image = rng.normal(40, 8, (size, size, 3))
            image[disc] = 60 + 60 * cls + rng.normal(0, 8, (int(disc.sum()), 3))
            mask = np.where(disc, 255 if classes == 1 else cls, 0).astype(np.uint8)
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(
                root / split / "images" / f"{split}{i}.png"
            )
            Image.fromarray(mask).save(root / split / "masks" / f"{split}{i}.png")
    return root


@pytest.fixture
def discs(tmp_path: Path) -> Path:
    """A binary dataset: 8 train and 4 val 32x32 images with one disc each."""
    return write_discs(tmp_path / "discs")
