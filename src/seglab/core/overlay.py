"""Pictures of masks: the colours of every seglab picture and palette mask, images made
displayable, masks (:func:`overlay`) and objects (:func:`instance_overlay`) blended over images
with their contours, and contact sheets (zoomed views of small objects: :mod:`seglab.core.zoom`).

numpy + OpenCV + Pillow only (no matplotlib, no torch). Colours (:func:`class_colours`):
background black, then bright distinct colours (red first, so a binary dataset's objects stand
out); ignored pixels (255) are hatched grey. Objects get a colour per id
(:func:`instance_colours`).

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
from seglab.core.labels import InstanceLabels

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


_GOLDEN = 0.618033988749895


def instance_colours(count: int) -> np.ndarray:
    """Colours of object ids ``0..count`` as a ``(count + 1) x 3`` uint8 RGB array.

    Id 0 (background) is black. Id ``i`` has the hue ``i x 0.618...`` (the golden ratio's
    fraction, so ids close in number -- the neighbours a watershed or a raster scan numbers
    one after the other -- are far apart on the colour wheel), at a brightness that alternates
    with ``i`` and a saturation that alternates with ``i // 2``, so two ids whose hues happen to
    come close mostly still differ. Deterministic: an id has the same colour in every picture.

    >>> instance_colours(2).tolist()
    [[0, 0, 0], [12, 79, 242], [145, 204, 61]]

    Raises
    ------
    ValueError
        ``count`` is not an integer >= 0.
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    ids = np.arange(1, int(count) + 1)
    hue = (ids * _GOLDEN) % 1.0
    sat = np.where((ids // 2) % 2 == 0, 0.95, 0.7)
    val = np.where(ids % 2 == 1, 0.95, 0.8)
    rgb = _hsv_to_rgb(hue, sat, val)
    return np.concatenate([np.zeros((1, 3), np.uint8), rgb])


def _hsv_to_rgb(hue: np.ndarray, sat: np.ndarray, val: np.ndarray) -> np.ndarray:
    """``colorsys.hsv_to_rgb`` over arrays (tens of thousands of objects at once), as uint8."""
    sector = np.floor(hue * 6.0).astype(np.int64) % 6
    frac = hue * 6.0 - np.floor(hue * 6.0)
    p, q, t = val * (1.0 - sat), val * (1.0 - sat * frac), val * (1.0 - sat * (1.0 - frac))
    table = np.stack(
        [
            np.stack([val, t, p], -1),
            np.stack([q, val, p], -1),
            np.stack([p, val, t], -1),
            np.stack([p, q, val], -1),
            np.stack([t, p, val], -1),
            np.stack([val, p, q], -1),
        ]
    )
    rgb = table[sector, np.arange(len(hue))]
    return np.rint(rgb * 255.0).astype(np.uint8).reshape(-1, 3)


def object_contours(labels: np.ndarray, *, thickness: int = 1) -> np.ndarray:
    """``H x W`` bool: the pixels of each object within ``thickness`` of another id (a
    touching object, the background or the image's edge), inside the object.

    One pass over the image whatever the number of objects (a minimum and a maximum filter of
    the ids), where tracing each object's contour would take one pass per object.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be H x W, got shape {labels.shape}")
    if labels.size == 0 or not labels.any():
        return np.zeros(labels.shape, bool)
    # float32 holds every id of a 16-bit label image exactly; OpenCV filters no int32 arrays
    ids = labels.astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    steps = max(1, int(thickness))
    # a border of 0 makes the image's edge a contour, as cv2.findContours draws it in overlay()
    low = cv2.erode(ids, kernel, iterations=steps, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    high = cv2.dilate(ids, kernel, iterations=steps, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return (labels > 0) & ((low != ids) | (high != ids))


def instance_overlay(
    image: np.ndarray,
    labels: np.ndarray | InstanceLabels,
    *,
    alpha: float = 0.45,
    contours: bool = True,
) -> np.ndarray:
    """Blend one colour per object over an image and outline each object; return
    ``H x W x 3`` uint8 RGB.

    Parameters
    ----------
    image:
        As for :func:`overlay` (any ``H x W`` or ``H x W x C`` image, see :func:`to_display`).
    labels:
        An :class:`~seglab.core.labels.InstanceLabels`, or its ``H x W`` label image (0
        background, ids 1..N).
    alpha:
        Weight of the object colour in the blend (0 shows only the image).
    contours:
        Draw each object's outline in its full colour, inside the object
        (:func:`object_contours`), so touching objects stay apart.

    Colours are :func:`instance_colours`: fixed per id.

    Raises
    ------
    ValueError
        The label image is not ``H x W`` of the image's size or holds negative ids, or
        ``alpha`` is outside [0, 1].

    >>> image = np.zeros((8, 8, 3), np.uint8)
    >>> ids = np.zeros((8, 8), np.int32); ids[1:4, 1:4] = 1; ids[4:7, 4:7] = 2
    >>> instance_overlay(image, ids)[2, 2].tolist(), instance_overlay(image, ids)[1, 1].tolist()
    ([5, 36, 109], [12, 79, 242])
    """
    rgb = to_display(image)
    ids = np.asarray(labels.labels if isinstance(labels, InstanceLabels) else labels)
    if ids.shape != rgb.shape[:2]:
        raise ValueError(
            f"label image shape {ids.shape} differs from the image's height x width "
            f"{rgb.shape[:2]}; pass the H x W label image of this image"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if ids.size and int(ids.min()) < 0:
        raise ValueError("a label image holds ids >= 0 (0 is the background)")
    out = rgb.copy()
    inside = ids > 0
    if not inside.any():
        return out
    colours = instance_colours(int(ids.max()))
    blend = (1.0 - alpha) * rgb[inside] + alpha * colours[ids[inside]].astype(np.float64)
    out[inside] = np.rint(blend).astype(np.uint8)
    if contours:
        thickness = 1 if max(ids.shape) <= 512 else 2
        edge = object_contours(ids, thickness=thickness)
        out[edge] = colours[ids[edge]]
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
