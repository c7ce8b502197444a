"""The report's galleries: thumbnails of images, masks and crops, one row per image.

Everything here reads files on disk (the ``scores.csv`` of
:func:`seglab.evaluation.run.evaluate`, the ``summary.json`` of
:func:`seglab.predict.predict_images`, the dataset) and writes small PNG/JPEG tiles with OpenCV
and Pillow; no matplotlib, no torch.

* :func:`scored_rows` -- image | truth | prediction | crop with the image's scores, worst first;
* :func:`predicted_rows` -- image | predicted mask | crop, as on the seed's page.

The crop is the image multiplied by the predicted mask (background black, the image's size), as
in the seed. Where the objects are too small to see in a thumbnail (a 10 px object of a 512 px
image), a row also gets a :class:`Zoom`: the box :func:`seglab.core.zoom.zoom_box` chooses
around the truth and the prediction, enlarged with crisp pixels by
:func:`seglab.core.zoom.zoom_view` (hits green, misses red, false alarms blue; the test
gallery, without truth, shows the predicted classes).

Masks of binary models are shown white on black; multiclass masks in the class colours of
:func:`seglab.core.overlay.class_colours`. Tile file names go through
:func:`~seglab.core.files.safe_name`, so no key ever reaches the file system as it is.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from seglab.core.zoom import Box
from seglab.errors import DataError

DEFAULT_THUMB = 256  # longest side of a tile, in pixels
JPEG_QUALITY = 88
SCORE_COLUMNS = ("dice", "iou", "precision", "recall")


@dataclass(frozen=True)
class Zoom:
    """A row's enlarged view of its small objects: the tile, the box in the image's pixels and
    how many times it is enlarged."""

    path: Path
    box: Box
    factor: float

    @property
    def caption(self) -> str:
        """``"x 192-217, y 92-117, x9"``: the pixels shown (ends included) and the zoom."""
        b, f = self.box, self.factor
        times = f"{f:.0f}" if f == int(f) else f"{f:.2f}"
        return f"x {b.left}\u2013{b.right - 1}, y {b.top}\u2013{b.bottom - 1}, \u00d7{times}"


@dataclass
class GalleryRow:
    """One image of a gallery: its key, tiles (``(label, file)``), scores (``nan`` unknown),
    object counts (instance runs) and, when its objects are small, a zoom."""

    key: str
    tiles: list[tuple[str, Path]]
    scores: dict[str, float] = field(default_factory=dict)
    per_class: dict[str, float] = field(default_factory=dict)
    note: str = ""
    zoom: Zoom | None = None
    counts: dict[str, int] = field(default_factory=dict)


# -- arrays --------------------------------------------------------------------------------------


def shrink(image: np.ndarray, thumb: int, *, nearest: bool = False) -> np.ndarray:
    """``image`` resized so its longer side is at most ``thumb`` (never enlarged)."""
    h, w = image.shape[:2]
    if max(h, w) <= thumb:
        return image
    scale = thumb / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if nearest:
        return cv2.resize(image.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def mask_display(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """An ``H x W`` class-index mask as ``H x W x 3`` uint8: white on black for a binary model,
    the class colours otherwise; ignored pixels (255) grey."""
    from seglab.core.overlay import IGNORE_COLOUR, class_colours

    mask = np.asarray(mask).astype(np.int64)
    ignore = mask == 255
    if num_classes <= 2:
        out = np.where((mask > 0)[..., None], 255, 0).astype(np.uint8).repeat(3, axis=-1)
    else:
        top = int(mask[~ignore].max()) if (~ignore).any() else 0
        colours = class_colours(max(num_classes, top + 1))
        out = colours[np.where(ignore, 0, mask)]
    out[ignore] = IGNORE_COLOUR
    return out


def crop(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image where ``mask > 0`` (an ignored 255 counts as background), black elsewhere."""
    keep = (mask > 0) & (mask != 255)
    return np.where(keep[..., None], image, 0).astype(np.uint8)


def read_prediction(path: Path, num_classes: int) -> np.ndarray:
    """A predicted mask PNG as ``H x W`` class indices (0/255 files of binary models -> 0/1)."""
    try:
        with Image.open(path) as img:
            raw = np.asarray(img)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the predicted mask: {exc}", path=path) from None
    if raw.ndim == 3:
        raw = raw[..., 0]
    mask = raw.astype(np.int64)
    return (mask > 0).astype(np.int64) if num_classes <= 2 else mask


def write_tile(array: np.ndarray, path: Path) -> Path:
    """Save a tile: ``.jpg`` as JPEG (photos), anything else as PNG (masks stay crisp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(np.ascontiguousarray(array))
    if path.suffix == ".jpg":
        img.save(path, format="JPEG", quality=JPEG_QUALITY)
    else:
        img.save(path, format="PNG", optimize=True)
    return path


def _tiles(
    image: np.ndarray,
    masks: list[tuple[str, np.ndarray, str]],
    pred: np.ndarray,
    folder: Path,
    name: str,
    *,
    num_classes: int,
    thumb: int,
) -> list[tuple[str, Path]]:
    """Write ``image``, each ``(label, mask, style)`` (style ``mask``, ``overlay``, or
    ``objects``: a label image, a colour per object) and the crop by ``pred``, all shrunk
    alike; return ``(label, path)`` per tile."""
    from seglab.core.overlay import instance_overlay, overlay, to_display

    shown = shrink(to_display(image), thumb)
    size = shown.shape[1::-1]
    small = {}
    for label, mask, _ in masks:
        if mask.shape != image.shape[:2]:
            raise DataError(
                f"the {label} is {mask.shape[1]}x{mask.shape[0]} but the image is "
                f"{image.shape[1]}x{image.shape[0]} (width x height)"
            )
        small[label] = cv2.resize(mask.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    small_pred = cv2.resize(pred.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    out = [("image", write_tile(shown, folder / f"{name}.image.jpg"))]
    for label, _, style in masks:
        if style == "overlay":
            tile = overlay(shown, small[label], num_classes=num_classes)
            path = folder / f"{name}.{label}.jpg"
        elif style == "objects":
            tile = instance_overlay(shown, small[label])
            path = folder / f"{name}.{label}.jpg"
        else:
            tile = mask_display(small[label], num_classes)
            path = folder / f"{name}.{label}.png"
        out.append((label, write_tile(tile, path)))
    out.append(("crop", write_tile(crop(shown, small_pred), folder / f"{name}.crop.jpg")))
    return out


def _zoom(
    image: np.ndarray,
    truth: np.ndarray | None,
    pred: np.ndarray,
    path: Path,
    *,
    num_classes: int,
    thumb: int,
) -> Zoom | None:
    """The zoom tile of small objects written to ``path`` (PNG: crisp pixels), or ``None``
    when :func:`~seglab.core.zoom.zoom_box` finds none; ``thumb``: its longest side."""
    from seglab.core.zoom import zoom_box, zoom_factor, zoom_view

    box = zoom_box(truth, pred)
    if box is None:
        return None
    factor = zoom_factor(box, thumb)
    tile = zoom_view(image, truth, pred, box, factor=factor, num_classes=num_classes)
    return Zoom(write_tile(tile, path), box, factor)


# -- galleries -----------------------------------------------------------------------------------


def read_scores(path: Path) -> list[dict[str, Any]]:
    """Rows of an evaluation's ``scores.csv``: numbers as floats (``nan`` when empty), the rest
    as text."""
    if not path.is_file():
        raise DataError("missing: the evaluation wrote no per-image scores", path=path)
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            row: dict[str, Any] = {}
            for key, cell in raw.items():
                if key is None:
                    continue
                text = (cell or "").strip()
                if key in ("image", "image_path", "pred", "mask", "key"):
                    row[key] = text
                    continue
                try:
                    row[key] = float(text) if text else math.nan
                except ValueError:
                    row[key] = text
            rows.append(row)
    return rows


def worst_first(rows: list[GalleryRow], metric: str = "dice") -> list[GalleryRow]:
    """Rows sorted by ``metric``, lowest first; rows without a value last (stable)."""

    def rank(row: GalleryRow) -> tuple[bool, float]:
        value = row.scores.get(metric, math.nan)
        return (not math.isfinite(value), value if math.isfinite(value) else 0.0)

    return sorted(rows, key=rank)


TruthLookup = Callable[[str, str], tuple[np.ndarray, np.ndarray] | None]


def scored_rows(
    eval_dir: Path,
    truth: TruthLookup | None,
    folder: Path,
    *,
    num_classes: int,
    class_names: list[str],
    thumb: int = DEFAULT_THUMB,
) -> list[GalleryRow]:
    """One row per line of ``eval_dir/scores.csv``: image | truth | prediction | crop, worst
    Dice first.

    ``truth(key, image_path)`` gives the ``(image, mask)`` of an item (or ``None`` when the
    dataset does not have it any more: the row then shows the image from ``image_path`` and the
    prediction without the truth). Tiles are written into ``folder``. An image that cannot be
    read is left out with a warning naming it.
    """
    from seglab.core.files import safe_name, unique_name
    from seglab.io import read_image

    used: set[str] = set()
    rows = []
    for score in read_scores(eval_dir / "scores.csv"):
        key = str(score.get("image", ""))
        image_path = str(score.get("image_path", ""))
        try:
            found = truth(key, image_path) if truth is not None else None
            if found is None:
                image, mask = read_image(image_path)[0], None
            else:
                image, mask = found
            pred = read_prediction(eval_dir / str(score.get("pred", "")), num_classes)
            masks = [("prediction", pred, "overlay")]
            if mask is not None:
                masks.insert(0, ("truth", mask, "overlay"))
            name = unique_name(safe_name(key), used)
            tiles = _tiles(image, masks, pred, folder, name, num_classes=num_classes, thumb=thumb)
            zoom = _zoom(
                image, mask, pred, folder / f"{name}.zoom.png", num_classes=num_classes, thumb=thumb
            )
        except DataError as exc:
            warnings.warn(f"report: left out {key!r}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        rows.append(
            GalleryRow(
                key=key,
                tiles=tiles,
                scores={m: _number(score.get(m)) for m in SCORE_COLUMNS},
                per_class={
                    c: _number(score.get(f"dice/{c}"))
                    for c in class_names[1:]
                    if f"dice/{c}" in score and num_classes > 2
                },
                note="" if mask is not None else "ground truth not found in the dataset",
                zoom=zoom,
            )
        )
    return worst_first(rows)


def predicted_rows(
    pred_dir: Path, folder: Path, *, num_classes: int, thumb: int = DEFAULT_THUMB
) -> list[GalleryRow]:
    """One row per item of ``pred_dir/summary.json`` (written by ``predict_images``): image |
    predicted mask | crop, in the order predicted (an instance run's: image | predicted objects
    | crop). Tiles are written into ``folder``."""
    from seglab.core.files import safe_name, unique_name
    from seglab.io import read_image

    summary = read_json(pred_dir / "summary.json", what="the test predictions")
    items = summary.get("items")
    if not isinstance(items, list):
        raise DataError(
            "no 'items' list: written by another seglab version; run the report again with "
            "--test to predict anew",
            path=pred_dir / "summary.json",
            field="items",
        )
    used: set[str] = set()
    rows = []
    for item in items:
        key = str(item.get("key", ""))
        try:
            image = read_image(item["image"])[0]
            objects = "labels" in item  # an instance run's label image
            file = pred_dir / str(item["labels" if objects else "mask"])
            pred = read_labels(file) if objects else read_prediction(file, num_classes)
            name = unique_name(safe_name(key), used)
            tiles = _tiles(
                image,
                [("objects" if objects else "mask", pred, "objects" if objects else "mask")],
                pred,
                folder,
                name,
                num_classes=num_classes,
                thumb=thumb,
            )
            zoom = _zoom(
                image, None, pred, folder / f"{name}.zoom.png", num_classes=num_classes, thumb=thumb
            )
        except (DataError, KeyError) as exc:
            warnings.warn(f"report: left out {key!r}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        rows.append(GalleryRow(key=key, tiles=tiles, zoom=zoom))
    return rows


def read_labels(path: Path) -> np.ndarray:
    """A predicted label image (``labels/NAME.png``, 16-bit ids) as ``H x W`` int64."""
    from seglab.io import read_mask

    try:
        raw, _ = read_mask(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read the predicted objects: {exc}", path=path) from None
    if raw.ndim != 2:
        raise DataError("a predicted label image holds one grey channel of ids", path=path)
    return raw.astype(np.int64)


def read_json(path: Path, *, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; :class:`DataError` naming the file when it is missing or
    not a JSON object."""
    if not path.is_file():
        raise DataError(f"missing: {what} were not written", path=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {what}: {exc}", path=path) from None
    if not isinstance(data, dict):
        raise DataError(f"{what}: expected a JSON object", path=path)
    return data


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
