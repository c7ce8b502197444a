"""Tiny synthetic datasets with known masks, built in a test's tmp_path."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def square(x: float, y: float, s: float) -> list[float]:
    """A square polygon with corner (x, y) and side s, as a flat COCO list."""
    return [x, y, x + s, y, x + s, y + s, x, y + s]


def write_image(path: Path, h: int = 32, w: int = 32, *, value: int | None = None) -> Path:
    """A random-ish RGB PNG/JPEG of size h x w (deterministic)."""
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    arr = (
        np.full((h, w, 3), value, np.uint8)
        if value is not None
        else rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def coco_dataset(
    root: Path,
    *,
    images: list[dict[str, Any]] | None = None,
    annotations: list[dict[str, Any]] | None = None,
    categories: list[dict[str, Any]] | None = None,
    json_name: str = "coco_annotations.json",
    create_files: bool = True,
    size: tuple[int, int] = (32, 32),
) -> Path:
    """Write a COCO split at ``root`` (``images/`` + JSON) and return the JSON path.

    By default: two 32x32 images (ids 1, 2), one 8x8 square object on image 1, one category.
    """
    h, w = size
    if images is None:
        images = [
            {"id": 1, "file_name": "a.png", "width": w, "height": h},
            {"id": 2, "file_name": "b.png", "width": w, "height": h},
        ]
    if annotations is None:
        annotations = [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [square(4, 4, 8)],
                "bbox": [4, 4, 8, 8],
                "area": 64,
                "iscrowd": 0,
            }
        ]
    if categories is None:
        categories = [{"id": 1, "name": "thing"}]
    if create_files:
        for rec in images:
            name = rec.get("file_name")
            if isinstance(name, str) and ".." not in name and not name.startswith("/"):
                write_image(root / "images" / name, rec.get("height", h), rec.get("width", w))
    (root / "images").mkdir(parents=True, exist_ok=True)
    path = root / json_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return path


def mask_dataset(
    root: Path,
    masks: dict[str, np.ndarray],
    *,
    image_dir: str = "images",
    mask_dir: str = "masks",
    mask_suffix: str = "",
    mask_ext: str = ".png",
) -> Path:
    """Write images (random RGB) and the given masks (values as given) under ``root``."""
    for stem, mask in masks.items():
        h, w = mask.shape[:2]
        write_image(root / image_dir / f"{stem}.png", h, w)
        mpath = root / mask_dir / f"{stem}{mask_suffix}{mask_ext}"
        mpath.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask.astype(np.uint8)).save(mpath)
    return root
