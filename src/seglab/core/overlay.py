"""Pictures of masks: the colours of every seglab picture and palette mask, images made
displayable, masks blended over images with class contours, and contact sheets (zoomed views of
small objects: :mod:`seglab.core.zoom`).

numpy + OpenCV + Pillow only (no matplotlib, no torch). Colours (:func:`class_colours`):
background black, then bright distinct colours (red first, so a binary dataset's objects stand
out); ignored pixels (255) are hatched grey.

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

import cv2
import numpy as np

from seglab.core.constants import IGNORE_INDEX

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
BACKDROP = 24  # grey level around tiles and panels


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
    canvas = np.full((nrows * step + pad, ncols * step + pad, 3), BACKDROP, np.uint8)
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
