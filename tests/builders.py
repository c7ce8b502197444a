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


TINY_UNET = {"name": "unet", "options": {"base_width": 4, "depth": 2}}
"""A 4-wide, 2-deep U-Net: trains on 32 px images in a fraction of a second per epoch."""


def tiny_train_settings(root: Path, out: Path, **changes) -> dict:
    """``seglab.api.train`` options for a quiet, seconds-long run of :data:`TINY_UNET` on
    ``root`` (2 epochs, batch 4, no augmentation, Adam 0.01, no schedule), with ``changes``."""
    settings = {
        "data": root,
        "model": TINY_UNET,
        "out": out,
        "epochs": 2,
        "batch_size": 4,
        "augment": "none",
        "workers": 0,
        "optimizer": "adam",
        "lr": 0.01,
        "scheduler": "none",
    }
    return {**settings, **changes}


def retrain_in_place(run_dir: Path) -> str:
    """Change a run's weights in place, as a retraining into the same folder would; returns
    the new weights' digest."""
    from safetensors.torch import load_file, save_file

    from seglab.predict.export import weights_digest

    weights = run_dir / "model.safetensors"
    state = load_file(weights)
    head = next(k for k in state if k.startswith("head.") and k.endswith("bias"))
    state[head] = state[head] + 2.0
    save_file(state, weights)
    return weights_digest(weights)


def tiny_card(**changes):
    """A binary :class:`~seglab.models.card.ModelCard` of :data:`TINY_UNET` (3 channels,
    stride multiple 4) with ``changes``."""
    from seglab.models.card import InputSpec, ModelCard

    fields = {
        "architecture": "unet",
        "options": {"base_width": 4, "depth": 2},
        "in_channels": 3,
        "classes": ("background", "disc"),
        "input": InputSpec(multiple=4),
    }
    return ModelCard(**{**fields, **changes})


def random_run(run_dir: Path, *, seed: int = 0, **changes) -> Path:
    """A run folder of an untrained :data:`TINY_UNET` (seeded random weights, card
    ``changes``): ``model.json`` + ``model.safetensors``, for tests of what is done with a
    run's predictions (not of their quality)."""
    import torch
    from safetensors.torch import save_file

    from seglab.models.build import build_network

    card = tiny_card(**changes)
    run_dir.mkdir(parents=True, exist_ok=True)
    card.write(run_dir / "model.json")
    torch.manual_seed(seed)
    net = build_network(card)
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()}, run_dir / "model.safetensors"
    )
    return run_dir


def tiny_instance_run(run_dir: Path, *, seed: int = 0, category_ids=None, **changes) -> Path:
    """A run folder of an untrained instance model (method ``border``): :func:`random_run`
    with the card of an instance run."""
    return random_run(run_dir, seed=seed, task="instance", category_ids=category_ids, **changes)


def touching_discs(
    root: Path,
    *,
    count: int = 12,
    size: int = 48,
    pairs: int = 2,
    seed: int = 0,
    category_id: int = 3,
) -> Path:
    """A COCO set at ``root`` (``images/`` + ``annotations.json``): each image holds ``pairs``
    pairs of touching bright discs (one RLE annotation per disc, category ``category_id``) on
    a dark noisy background. Returns ``root``."""
    from pycocotools import mask as coco_mask

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    yy, xx = np.mgrid[:size, :size]
    for i in range(count):
        image = rng.normal(40, 8, (size, size, 3))
        taken = np.zeros((size, size), bool)
        for _ in range(pairs):
            r = float(rng.uniform(4, 6))
            cy, cx = rng.uniform(r + 1, size - 3 * r - 1, 2)
            for dx in (0.0, 2 * r - 1):
                disc = ((yy - cy) ** 2 + (xx - cx - dx) ** 2 <= r * r) & ~taken
                taken |= disc
                image[disc] = 170 + rng.normal(0, 8, (int(disc.sum()), 3))
                rle = coco_mask.encode(np.asfortranarray(disc.astype(np.uint8)))
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": i + 1,
                        "category_id": category_id,
                        "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                        "area": int(disc.sum()),
                        "bbox": [float(v) for v in coco_mask.toBbox(rle)],
                        "iscrowd": 0,
                    }
                )
        name = f"im{i}.png"
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / "images" / name)
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
    categories = [{"id": category_id, "name": "cell"}]
    (root / "annotations.json").write_text(
        json.dumps({"images": images, "annotations": annotations, "categories": categories})
    )
    return root
