"""Preview images of a dataset: masks blended over images, class contours, contact sheets.

Everything here is numpy + OpenCV + Pillow (no matplotlib, no torch), so ``seglab data preview``
works on any machine. The colours are those of every seglab picture and palette mask
(:func:`class_colours`): background black, then bright distinct colours (red first, so a
binary dataset's objects stand out); ignored pixels (255) are hatched grey.

>>> import numpy as np
>>> image = np.zeros((32, 32, 3), np.uint8)
>>> mask = np.zeros((32, 32), np.int64)
>>> mask[8:24, 8:24] = 1
>>> overlay(image, mask, num_classes=2).shape
(32, 32, 3)
"""

from __future__ import annotations

import colorsys
import math
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from seglab.data.base import IGNORE_INDEX, SegmentationSource, logger
from seglab.errors import ConfigError, DataError, SeglabError
from seglab.io import is_image_file

# Hand-picked for contrast on photos; more classes continue along golden-ratio hues.
_BASE_COLOURS = (
    (255, 40, 40),  # red
    (40, 220, 40),  # green
    (40, 120, 255),  # blue
    (255, 220, 0),  # yellow
    (255, 0, 255),  # magenta
    (0, 230, 230),  # cyan
    (255, 140, 0),  # orange
    (150, 80, 255),  # violet
    (170, 255, 80),  # lime
    (255, 120, 180),  # pink
    (0, 160, 120),  # teal
    (200, 150, 60),  # ochre
)
IGNORE_COLOUR = (128, 128, 128)
_HATCH_COLOUR = (200, 200, 200)
_BACKDROP = 24  # grey level around tiles and panels
MAX_PREVIEW_SIDE = 1024  # panels of larger images are downscaled to this side


def class_colours(num_classes: int) -> np.ndarray:
    """Colours of classes ``0..num_classes-1`` as a ``num_classes x 3`` uint8 RGB array.

    Class 0 (background) is black; class 1 red, then green, blue, yellow... The same
    ``num_classes`` always gives the same colours, and no class colour is black or the grey of
    ignored pixels.

    Raises
    ------
    ValueError
        ``num_classes`` is not an integer >= 1.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be an integer >= 1, got {num_classes}")
    colours = [(0, 0, 0), *_BASE_COLOURS[: num_classes - 1]]
    seen = set(colours) | {IGNORE_COLOUR}
    k = 0
    while len(colours) < num_classes:
        k += 1
        hue = (k * 0.618033988749895) % 1.0
        sat, val = (0.95, 1.0) if k % 3 else (0.65, 0.85)
        rgb = tuple(round(255 * c) for c in colorsys.hsv_to_rgb(hue, sat, val))
        if rgb not in seen:
            seen.add(rgb)
            colours.append(rgb)
    return np.asarray(colours, dtype=np.uint8)


def to_display(image: np.ndarray) -> np.ndarray:
    """Any ``H x W``, ``H x W x C`` image as ``H x W x 3`` uint8 for display.

    uint8 stays as it is; float images in [0, 1] are scaled by 255; anything else (16-bit,
    other float ranges) is stretched between its 1st and 99th percentiles. Gray becomes RGB,
    2 channels show the first, more than 3 show the first three. NaN/Inf show black.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[-1] < 1:
        raise ValueError(f"image must be H x W or H x W x C, got shape {arr.shape}")
    if arr.shape[-1] in (1, 2):
        arr = np.repeat(arr[..., :1], 3, axis=-1)
    elif arr.shape[-1] > 3:
        arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    values = arr[finite]
    out = np.zeros(arr.shape, np.uint8)
    if values.size == 0:
        return out
    lo, hi = float(values.min()), float(values.max())
    if np.asarray(image).dtype.kind == "f" and lo >= 0 and hi <= 1:
        lo, hi = 0.0, 1.0
    else:
        p_lo, p_hi = np.percentile(values, [1, 99])
        if p_hi > p_lo:
            lo, hi = float(p_lo), float(p_hi)
    if hi <= lo:
        out[finite] = 128 if lo != 0 else 0
        return out
    scaled = np.clip((arr - lo) / (hi - lo), 0.0, 1.0) * 255.0
    out[finite] = np.rint(scaled[finite]).astype(np.uint8)
    return out


def overlay(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    num_classes: int,
    alpha: float = 0.45,
    contours: bool = True,
    ignore_index: int = IGNORE_INDEX,
) -> np.ndarray:
    """Blend class colours over an image where ``mask > 0``; return ``H x W x 3`` uint8 RGB.

    Parameters
    ----------
    image:
        ``H x W``, ``H x W x 1`` or ``H x W x 3`` (more channels: the first three); see
        :func:`to_display` for how non-uint8 images are scaled.
    mask:
        ``H x W`` integer class indices; ``ignore_index`` pixels are shown hatched grey.
    num_classes:
        Classes including the background, for the colours (:func:`class_colours`).
    alpha:
        Weight of the class colour in the blend (0 shows only the image).
    contours:
        Draw each class's outline (and its holes) in the full class colour, inside the object.

    Raises
    ------
    ValueError
        The mask is not ``H x W`` of the image's size, or ``alpha`` is outside [0, 1].
    """
    rgb = to_display(image)
    mask = np.asarray(mask)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(
            f"mask shape {mask.shape} differs from the image's height x width {rgb.shape[:2]}; "
            "pass the H x W class-index mask of this image"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    mask = mask.astype(np.int64, copy=False)
    ignore = mask == ignore_index
    labelled = (mask > 0) & ~ignore
    top = int(mask[labelled].max()) if labelled.any() else 0
    colours = class_colours(max(int(num_classes), top + 1)).astype(np.float64)
    out = rgb.copy()
    if labelled.any():
        blend = (1.0 - alpha) * rgb[labelled] + alpha * colours[mask[labelled]]
        out[labelled] = np.rint(blend).astype(np.uint8)
    if ignore.any():
        grey = np.asarray(IGNORE_COLOUR, np.float64)
        out[ignore] = np.rint((1.0 - alpha) * rgb[ignore] + alpha * grey).astype(np.uint8)
        yy, xx = np.indices(mask.shape)
        out[ignore & ((xx + yy) % 6 == 0)] = _HATCH_COLOUR
    if contours:
        thickness = 1 if max(mask.shape) <= 512 else 2
        for cls in np.unique(mask[labelled]).tolist():
            region = (mask == cls).astype(np.uint8)
            found, _ = cv2.findContours(region, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
            layer = np.zeros_like(region)
            cv2.drawContours(layer, found, -1, 1, thickness)
            # keep the line inside the object so it never covers a neighbour
            out[(layer > 0) & (region > 0)] = colours[cls].astype(np.uint8)
    return out


def _fit(tile: np.ndarray, size: int) -> np.ndarray:
    """Resize keeping the aspect ratio so the longer side is ``size``."""
    h, w = tile.shape[:2]
    scale = size / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if new == (w, h):
        return tile
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST
    return cv2.resize(tile, new, interpolation=interp)


def _ascii(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


def _draw_label(canvas: np.ndarray, text: str, x: int, y: int, width: int, size: int) -> None:
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, max(0.3, size / 640)
    text = _ascii(text)
    (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    while tw > width - 4 and len(text) > 3:
        text = ".." + text[3:]  # keep the end: file names differ most there
        (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    cv2.rectangle(canvas, (x, y), (x + tw + 4, y + th + base + 4), (0, 0, 0), -1)
    cv2.putText(canvas, text, (x + 2, y + th + 2), font, scale, (255, 255, 255), 1, cv2.LINE_AA)


def make_grid(
    tiles: list[np.ndarray],
    *,
    ncols: int | None = None,
    tile_size: int = 256,
    pad: int = 4,
    labels: list[str] | None = None,
) -> np.ndarray:
    """Lay images out in a grid of ``tile_size`` cells; return ``H x W x 3`` uint8.

    Each tile is resized keeping its aspect ratio (its longer side becomes ``tile_size``) and
    centred in its cell. With ``ncols=None`` the grid is about square. The result is
    ``rows * tile_size + (rows + 1) * pad`` high and ``ncols * tile_size + (ncols + 1) * pad``
    wide. ``labels`` are drawn at the top left of each cell.

    Raises
    ------
    ValueError
        No tiles, a bad ``ncols``/``tile_size``/``pad``, or a ``labels`` list of another length.
    """
    if not tiles:
        raise ValueError("make_grid needs at least one tile")
    if labels is not None and len(labels) != len(tiles):
        raise ValueError(f"{len(labels)} labels for {len(tiles)} tiles; give one label per tile")
    if tile_size < 8 or pad < 0:
        raise ValueError(f"tile_size must be >= 8 and pad >= 0, got {tile_size} and {pad}")
    n = len(tiles)
    ncols = ncols or math.ceil(math.sqrt(n))
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    step = tile_size + pad
    canvas = np.full((nrows * step + pad, ncols * step + pad, 3), _BACKDROP, np.uint8)
    for i, tile in enumerate(tiles):
        fitted = _fit(to_display(tile), tile_size)
        h, w = fitted.shape[:2]
        y = pad + (i // ncols) * step
        x = pad + (i % ncols) * step
        oy, ox = (tile_size - h) // 2, (tile_size - w) // 2
        canvas[y + oy : y + oy + h, x + ox : x + ox + w] = fitted
        if labels is not None and labels[i]:
            _draw_label(canvas, labels[i], x, y, tile_size, tile_size)
    return canvas


def safe_name(key: str) -> str:
    """A file name (without extension) for an item key: ``"a/b c.jpg"`` -> ``"a__b_c"``."""
    name = key.replace("\\", "/")
    if is_image_file(name):
        name = name[: -len(Path(name).suffix)]
    name = name.replace("/", "__")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return name[:120] or "item"


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... if taken (case-insensitively); records it."""
    candidate, k = name, 1
    while candidate.lower() in used:
        k += 1
        candidate = f"{name}_{k}"
    used.add(candidate.lower())
    return candidate


def _shrink(image: np.ndarray, mask: np.ndarray | None, side: int):
    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image, mask
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(to_display(image), size, interpolation=cv2.INTER_AREA)
    if mask is not None:
        mask = cv2.resize(mask.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    return small, mask


def _side_by_side(left: np.ndarray, right: np.ndarray, pad: int = 4) -> np.ndarray:
    h, w = left.shape[:2]
    panel = np.full((h, 2 * w + pad, 3), _BACKDROP, np.uint8)
    panel[:, :w] = left
    panel[:, w + pad :] = right
    return panel


def prepare_out(out: str | Path, overwrite: bool, *, what: str) -> Path:
    """Create ``out``; refuse a file, or a non-empty folder unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SeglabError(f"{out}: exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SeglabError(
            f"{out}: folder is not empty; pass overwrite=True (--overwrite) to write the {what} "
            "into it anyway, or choose another output folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def pick_indices(n: int, num: int, seed: int) -> list[int]:
    """``num`` sorted indices of ``range(n)`` drawn with ``seed`` (all of them if ``n <= num``)."""
    if num >= n:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=num, replace=False).tolist())


def write_previews(
    source: SegmentationSource,
    out: str | Path,
    *,
    num: int = 16,
    seed: int = 0,
    overwrite: bool = False,
) -> list[Path]:
    """Write preview PNGs of ``num`` items of ``source`` and a grid of them; return the paths.

    For each picked item ``out/<safe key>.png`` shows the image beside its overlay
    (:func:`overlay`; unlabelled sources: the image alone); ``out/grid.png`` shows all overlays
    labelled with their keys and comes last in the returned list. Items are drawn with ``seed``
    and kept in dataset order. Images larger than ``MAX_PREVIEW_SIDE`` are shown downscaled.
    An item that cannot be read is skipped with a warning naming the file.

    Raises
    ------
    SeglabError
        ``out`` is a non-empty folder and ``overwrite`` is false, or ``out`` is a file.
    ConfigError
        ``num`` is not an integer >= 1.
    DataError
        The source is empty, or none of the picked items could be read.

    Examples
    --------
    >>> paths = write_previews(source, "preview", num=8)  # doctest: +SKIP
    >>> paths[-1].name  # doctest: +SKIP
    'grid.png'
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ConfigError(f"num must be an integer >= 1, got {num!r}")
    if len(source) == 0:
        raise DataError("the dataset has no usable images to preview", path=source.root)
    out = prepare_out(out, overwrite, what="previews")
    used, paths, tiles, labels, skipped = {"grid"}, [], [], [], []
    for index in pick_indices(len(source), int(num), seed):
        item = source.items[index]
        try:
            if source.labelled:
                image, mask = source.load(index)
            else:
                image, mask = source.load_image(index), None
        except DataError as exc:
            warnings.warn(
                f"preview: skipping unreadable item {item.key!r}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            skipped.append(str(exc))
            continue
        image, mask = _shrink(image, mask, MAX_PREVIEW_SIDE)
        shown = to_display(image)
        if mask is not None:
            tile = overlay(shown, mask, num_classes=source.num_classes)
            panel = _side_by_side(shown, tile)
        else:
            tile = panel = shown
        path = out / f"{unique_name(safe_name(item.key), used)}.png"
        Image.fromarray(panel).save(path, format="PNG")
        paths.append(path)
        tiles.append(tile)
        labels.append(item.key)
    if skipped:
        logger.warning("preview: %d unreadable item(s) skipped", len(skipped))
    if not tiles:
        raise DataError(
            f"none of the {len(skipped)} picked images could be read (first: {skipped[0]})",
            path=source.root,
        )
    grid = out / "grid.png"
    Image.fromarray(make_grid(tiles, labels=labels)).save(grid, format="PNG")
    paths.append(grid)
    return paths


__all__ = [
    "IGNORE_COLOUR",
    "class_colours",
    "make_grid",
    "overlay",
    "safe_name",
    "to_display",
    "write_previews",
]
