"""The report's gallery for an instance run: image | true objects | predicted objects, one row
per image, worst DSB mean AP first, with each image's count errors.

It reads the instance evaluation's files (``scores.csv``, ``labels/NAME.png``: see
:mod:`seglab.evaluation.instance_run`) and the dataset's true objects. Objects are drawn with
:func:`seglab.core.overlay.instance_overlay`, a colour per object and its outline; a predicted
object that matches a true one (IoU above 0.5) takes that object's colour, so a found object
looks the same in both tiles, and a split or merged one shows as a change of colours.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from seglab.core.labels import InstanceLabels
from seglab.errors import DataError
from seglab.report.gallery import (
    DEFAULT_THUMB,
    GalleryRow,
    read_labels,
    read_scores,
    shrink,
    write_tile,
)

INSTANCE_SCORES = ("dsb_map", "ap50", "ap75", "aji", "dice")
"""The per-image scores a row of the instance gallery shows."""
COUNTS = ("true_objects", "pred_objects", "found", "missed", "false", "split", "merged")
"""The per-image object counts a row of the instance gallery shows."""

ObjectLookup = Callable[[str, str], tuple[np.ndarray, InstanceLabels] | None]
"""``(key, image_path) -> (image, true objects)``, or ``None`` when the dataset lacks it."""


def matched_colours(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``pred``'s label image with each object renumbered for colouring: the id of the true
    object it matches (IoU above 0.5: at most one), else an id past every true one.

    >>> truth = np.array([[1, 1, 0, 2, 2]])
    >>> matched_colours(truth, np.array([[0, 5, 5, 0, 0]])).tolist()
    [[0, 3, 3, 0, 0]]
    >>> matched_colours(truth, np.array([[0, 0, 0, 9, 9]])).tolist()
    [[0, 0, 0, 2, 2]]
    """
    from seglab.evaluation.instance_metrics import overlaps

    found = overlaps(truth, pred)
    if found.pred_ids.size == 0:
        return np.zeros(pred.shape, np.int64)
    top = int(found.true_ids.max()) if found.true_ids.size else 0
    new_ids = top + 1 + np.arange(found.pred_ids.size)
    if found.true_ids.size:
        iou = found.iou
        hit = iou.max(axis=0) > 0.5
        new_ids = np.where(hit, found.true_ids[iou.argmax(axis=0)], new_ids)
    lookup = dict(zip(found.pred_ids.tolist(), new_ids.tolist(), strict=True))
    ids, inverse = np.unique(pred, return_inverse=True)
    mapped = np.array([lookup.get(int(i), 0) for i in ids], np.int64)
    return mapped[inverse.reshape(pred.shape)]


def object_tiles(
    image: np.ndarray,
    truth: np.ndarray | None,
    pred: np.ndarray,
    folder: Path,
    name: str,
    *,
    thumb: int,
) -> list[tuple[str, Path]]:
    """Write the tiles of one row (``image``, ``truth`` when known, ``prediction``), shrunk
    alike, and return ``(label, path)`` per tile."""
    from seglab.core.overlay import instance_overlay, to_display

    for label, ids in (("truth", truth), ("prediction", pred)):
        if ids is not None and ids.shape != image.shape[:2]:
            raise DataError(
                f"the {label} is {ids.shape[1]}x{ids.shape[0]} but the image is "
                f"{image.shape[1]}x{image.shape[0]} (width x height)"
            )
    shown = shrink(to_display(image), thumb)
    size = shown.shape[1::-1]
    coloured = pred if truth is None else matched_colours(truth, pred)
    layers = ([("truth", truth)] if truth is not None else []) + [("prediction", coloured)]
    out = [("image", write_tile(shown, folder / f"{name}.image.jpg"))]
    for label, ids in layers:
        # nearest keeps ids whole; float32 holds every 16-bit id exactly (OpenCV has no int64)
        small = cv2.resize(ids.astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
        tile = instance_overlay(shown, small.astype(np.int64))
        out.append((label, write_tile(tile, folder / f"{name}.{label}.jpg")))
    return out


def instance_rows(
    eval_dir: Path,
    truth: ObjectLookup | None,
    folder: Path,
    *,
    thumb: int = DEFAULT_THUMB,
) -> list[GalleryRow]:
    """One row per line of ``eval_dir/scores.csv`` (an instance evaluation), worst
    ``dsb_map`` first: image | true objects | predicted objects, the row's scores and counts.

    ``truth(key, image_path)`` gives the image and its true objects (``None`` when the dataset
    does not have it any more: the row then shows the image from ``image_path`` and the
    prediction). Tiles are written into ``folder``. An image that cannot be read is left out
    with a warning naming it.
    """
    from seglab.core.files import safe_name, unique_name
    from seglab.io import read_image

    used: set[str] = set()
    rows = []
    for score in read_scores(eval_dir / "scores.csv"):
        key = str(score.get("image", ""))
        try:
            found = truth(key, str(score.get("image_path", ""))) if truth is not None else None
            if found is None:
                image, objects = read_image(str(score.get("image_path", "")))[0], None
            else:
                image, objects = found[0], found[1].labels
            pred = read_labels(eval_dir / str(score.get("pred", "")))
            name = unique_name(safe_name(key), used)
            tiles = object_tiles(image, objects, pred, folder, name, thumb=thumb)
        except DataError as exc:
            warnings.warn(f"report: left out {key!r}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        rows.append(
            GalleryRow(
                key=key,
                tiles=tiles,
                scores={m: _number(score.get(m)) for m in INSTANCE_SCORES},
                counts={c: _count(score.get(c)) for c in COUNTS},
                note="" if objects is not None else "ground truth not found in the dataset",
            )
        )
    return worst_objects_first(rows)


def worst_objects_first(rows: list[GalleryRow]) -> list[GalleryRow]:
    """Rows by ``dsb_map``, lowest first, then most count errors first; unscored rows last."""

    def rank(row: GalleryRow) -> tuple[bool, float, int]:
        value = row.scores.get("dsb_map", math.nan)
        errors = sum(row.counts.get(c, 0) for c in ("missed", "false", "split", "merged"))
        return (not math.isfinite(value), value if math.isfinite(value) else 0.0, -errors)

    return sorted(rows, key=rank)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _count(value: Any) -> int:
    number = _number(value)
    return int(number) if math.isfinite(number) else 0
