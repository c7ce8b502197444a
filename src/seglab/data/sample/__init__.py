"""Embedded sample dataset: synthetic photos of cigarette butts lying on the ground.

Nothing is downloaded and no image is stored in seglab: every picture is drawn from a seed, so
``seglab data sample --out DIR`` always writes the same bytes. The layout is the seed notebook's
``cig_butts`` COCO layout::

    DIR/train/images/00000000.jpg ...   DIR/train/coco_annotations.json
    DIR/val/images/00000000.jpg ...     DIR/val/coco_annotations.json
    DIR/test/images/00000000.jpg ...    (no labels)

The scene model is described in :func:`seglab.data.sample.scene.generate_scene` (importable from
here
too); ``docs/sample.md`` gives the figures.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from seglab._version import __version__
from seglab.data.convert.polygons import mask_bbox
from seglab.data.rle import polygons_to_mask
from seglab.data.sample.scene import MIN_SIZE, generate_scene
from seglab.errors import ConfigError, SeglabError

CATEGORY = {"id": 1, "name": "cig_butt", "supercategory": "litter"}
SPLITS = ("train", "val", "test")
JPEG_QUALITY = 90

_SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Return the random generator of image ``index`` of ``split`` in the sample of ``seed``.

    Each image has its own stream, so ``generate_scene(scene_rng(0, "val", 7))`` regenerates
    ``val/images/00000007.jpg`` of ``write_sample(out, seed=0)`` (before JPEG), whatever the
    split sizes.
    """
    if split not in _SPLIT_KEYS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_KEYS[split], index]))


def write_sample(
    out: str | Path,
    *,
    n_train: int = 200,
    n_val: int = 50,
    n_test: int = 20,
    size: int = 512,
    seed: int = 0,
    overwrite: bool = False,
) -> dict:
    """Write the sample dataset to ``out`` in the seed's COCO layout and return a summary.

    ``train/`` and ``val/`` hold ``images/NNNNNNNN.jpg`` and ``coco_annotations.json`` (image ids
    from 1, one polygon per butt, ``area`` and ``bbox`` from the rasterised mask, category
    ``cig_butt`` id 1); ``test/images/`` has no labels. Image ``i`` of a split is drawn from
    ``scene_rng(seed, split, i)``, so the same arguments give byte-identical files and changing
    one split's size leaves the other images unchanged.

    Parameters
    ----------
    out:
        Folder to write; created if missing.
    n_train, n_val, n_test:
        Number of images per split.
    size:
        Side of the square images in pixels (at least 64).
    seed:
        Non-negative integer seed of the whole sample.
    overwrite:
        Allow writing into a non-empty ``out``; its ``train/``, ``val/`` and ``test/`` folders
        are deleted first, other files are left alone.

    Returns
    -------
    dict
        ``{"path", "seed", "size", "splits": {split: {"images", "objects", "empty_images"}}}``.

    Raises
    ------
    SeglabError
        If ``out`` is not empty and ``overwrite`` is false, or ``out`` is a file.
    ConfigError
        If a count, ``size`` or ``seed`` is not a valid integer.

    Examples
    --------
    >>> summary = write_sample(tmp_path / "sample", n_train=2, n_val=1, n_test=1)  # doctest: +SKIP
    """
    counts = {"train": n_train, "val": n_val, "test": n_test}
    _check_sample_options(counts, size, seed)
    out = Path(out)
    _prepare_sample_out(out, overwrite)
    summary = {"path": str(out), "seed": int(seed), "size": int(size), "splits": {}}
    for split, n in counts.items():
        summary["splits"][split] = _write_split(out, split, n, size=size, seed=seed)
    return summary


def _check_sample_options(counts: dict[str, int], size: int, seed: int) -> None:
    """Refuse counts and a seed that are not integers >= 0, and a size below :data:`MIN_SIZE`."""
    for name, value in [*((f"n_{k}", v) for k, v in counts.items()), ("seed", seed)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ConfigError(f"size must be an integer >= {MIN_SIZE}, got {size!r}")


def _prepare_sample_out(out: Path, overwrite: bool) -> None:
    """Refuse a file or a non-empty folder (unless ``overwrite``: then delete the split folders)."""
    if out.exists() and not out.is_dir():
        raise SeglabError(f"{out}: exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise SeglabError(
                f"{out}: folder is not empty; pass overwrite=True (--overwrite) to replace "
                "the sample in it, or choose another output folder"
            )
        for split in SPLITS:
            if (out / split).is_dir():
                shutil.rmtree(out / split)
            elif (out / split).exists():
                (out / split).unlink()


def _write_split(out: Path, split: str, n: int, *, size: int, seed: int) -> dict[str, int]:
    """Write the ``n`` images of ``split`` (and its COCO JSON unless ``test``); its summary."""
    images_dir = out / split / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images, annotations, empty = [], [], 0
    for index in range(n):
        image, polygons = generate_scene(scene_rng(seed, split, index), size=size)
        file_name = f"{index:08d}.jpg"
        Image.fromarray(image).save(
            images_dir / file_name, format="JPEG", quality=JPEG_QUALITY, subsampling=0
        )
        images.append({"id": index + 1, "file_name": file_name, "width": size, "height": size})
        empty += not polygons
        for polygon in polygons:
            annotations.append(_annotation(polygon, len(annotations) + 1, index + 1, size))
    if split != "test":
        _write_coco(out / split / "coco_annotations.json", split, seed, images, annotations)
    return {"images": n, "objects": len(annotations), "empty_images": empty}


def _annotation(polygon: list[float], annotation_id: int, image_id: int, size: int) -> dict:
    """One butt as a COCO annotation, ``area`` and ``bbox`` from its rasterised mask."""
    mask = polygons_to_mask([polygon], size, size)
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": CATEGORY["id"],
        "segmentation": [polygon],
        "area": float(mask.sum()),
        "bbox": mask_bbox(mask),
        "iscrowd": 0,
    }


def _write_coco(path: Path, split: str, seed: int, images: list, annotations: list) -> None:
    """Write a split's ``coco_annotations.json`` (compact JSON, one line)."""
    coco = {
        "info": {
            "description": "seglab sample: synthetic cigarette butts on the ground",
            "version": __version__,
            "seed": int(seed),
            "split": split,
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [dict(CATEGORY)],
    }
    text = json.dumps(coco, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")


__all__ = [
    "CATEGORY",
    "JPEG_QUALITY",
    "MIN_SIZE",
    "SPLITS",
    "generate_scene",
    "scene_rng",
    "write_sample",
]
