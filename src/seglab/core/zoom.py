"""Zoomed views of small objects: :func:`zoom_box` says where to look, :func:`zoom_factor` how
much to enlarge, :func:`zoom_view` draws it.

A 10 px object of a 512 px image vanishes in a thumbnail; the zoom crops around the objects of
the truth and the prediction and enlarges them with crisp pixels, tinted by agreement (hits
green, misses red, false alarms blue). numpy + OpenCV only; the colours and the class overlay
come from :mod:`seglab.core.overlay`.

>>> import numpy as np
>>> mask = np.zeros((512, 512), np.int64)
>>> mask[100:110, 200:210] = 1
>>> box = zoom_box(mask, mask)
>>> zoom_factor(box, 256)
9.0
>>> zoom_view(np.zeros((512, 512, 3), np.uint8), mask, mask, box, factor=9, num_classes=2).shape
(234, 234, 3)
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.core.overlay import IGNORE_COLOUR, overlay, to_display

# the agreement colours: hit, missed (false negative), false alarm (false positive)
HIT_COLOUR, MISSED_COLOUR, FALSE_ALARM_COLOUR = (40, 220, 40), (255, 40, 40), (40, 120, 255)


class Box(NamedTuple):
    """A rectangle of pixels: rows ``top:bottom`` and columns ``left:right`` (ends excluded, so
    ``array[box.top : box.bottom, box.left : box.right]`` is inside it)."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def zoom_box(
    truth: np.ndarray | None,
    pred: np.ndarray,
    *,
    max_fraction: float = 0.25,
    margin: int = 8,
    ignore_index: int = IGNORE_INDEX,
) -> Box | None:
    """Where to zoom so that small objects can be seen, or ``None`` when a zoom would not help.

    The objects are the pixels where ``truth`` or ``pred`` is > 0 (``ignore_index`` pixels of
    the truth left out; ``truth=None``: the prediction's alone), the errors those where the two
    differ (false negatives and false positives, a wrong class included). "Small" is a box
    whose height and width are both under ``max_fraction`` of the image's.

    1. No objects (truth and prediction empty): ``None``.
    2. The joint bounding box of all objects is small: that box.
    3. Every object (8-connected region) is small but they lie far apart: the largest error
       region (8-connected, most pixels; the first in row order on a tie), or the largest
       object when there are no errors. One region, so the zoom stays a zoom.
    4. Some object is large: ``None`` -- the thumbnail shows it.

    The box then grows by ``max(margin, longer side // 4)`` pixels on every side, for context,
    clipped at the image's borders.

    Raises
    ------
    ValueError
        ``pred`` is not ``H x W``, or ``truth`` has another shape.

    >>> truth = np.zeros((512, 512), np.int64)
    >>> truth[100:110, 200:210] = 1
    >>> zoom_box(truth, truth)
    Box(top=92, left=192, bottom=118, right=218)
    >>> zoom_box(truth, np.ones_like(truth)) is None  # a prediction over everything
    True
    """
    pred = np.asarray(pred)
    if pred.ndim != 2:
        raise ValueError(f"pred must be an H x W class-index mask, got shape {pred.shape}")
    if truth is None:
        objects, errors = pred > 0, np.zeros(pred.shape, bool)
    else:
        truth = np.asarray(truth)
        if truth.shape != pred.shape:
            raise ValueError(
                f"truth shape {truth.shape} differs from pred shape {pred.shape}; pass the masks "
                "of one image"
            )
        valid = truth != ignore_index
        objects = valid & ((truth > 0) | (pred > 0))
        errors = objects & (truth != pred)
    if not objects.any():
        return None
    h, w = pred.shape

    def small(box: Box) -> bool:
        return box.height < max_fraction * h and box.width < max_fraction * w

    rows, cols = np.flatnonzero(objects.any(axis=1)), np.flatnonzero(objects.any(axis=0))
    box = Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    if not small(box):
        regions = _regions(objects)
        if not all(small(b) for _, b in regions):
            return None
        box = max(_regions(errors) or regions, key=lambda region: region[0])[1]
    pad = max(margin, max(box.height, box.width) // 4)
    return Box(
        max(0, box.top - pad),
        max(0, box.left - pad),
        min(h, box.bottom + pad),
        min(w, box.right + pad),
    )


def _regions(mask: np.ndarray) -> list[tuple[int, Box]]:
    """``(pixels, box)`` of each 8-connected region of ``mask``, in row order."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return [
        (int(area), Box(int(y), int(x), int(y + bh), int(x + bw)))
        for x, y, bw, bh, area in stats[1:count].tolist()
    ]


def zoom_factor(box: Box, side: int) -> float:
    """How much :func:`zoom_view` enlarges ``box`` so its longer side fits in ``side`` pixels:
    a whole number >= 1 (nearest neighbour, square pixels), or the fraction that shrinks a box
    longer than ``side``."""
    longest = max(box.height, box.width, 1)
    return float(side // longest) if side >= longest else side / longest


def zoom_view(
    image: np.ndarray,
    truth: np.ndarray | None,
    pred: np.ndarray,
    box: Box,
    *,
    factor: float,
    num_classes: int,
    alpha: float = 0.5,
    ignore_index: int = IGNORE_INDEX,
) -> np.ndarray:
    """The image inside ``box``, enlarged ``factor`` times, as ``h x w x 3`` uint8 RGB.

    A whole ``factor`` repeats each pixel (nearest neighbour, so pixels stay crisp squares); a
    fraction shrinks with area averaging. With ``truth`` the pixels are tinted by agreement:
    :data:`HIT_COLOUR` (green) where the prediction is the true class, :data:`MISSED_COLOUR`
    (red) where an object of the truth is not predicted as it, :data:`FALSE_ALARM_COLOUR`
    (blue) where something is predicted on the background,
    :data:`~seglab.core.overlay.IGNORE_COLOUR` on ignored pixels. Without it, the prediction's
    class overlay (:func:`~seglab.core.overlay.overlay`).

    Raises
    ------
    ValueError
        The masks are not of the image's height x width, ``box`` is empty or outside the image,
        or ``factor`` is not positive.
    """
    rgb = to_display(image)
    pred = np.asarray(pred)
    shapes = [np.shape(m) for m in (truth, pred) if m is not None]
    if any(shape != rgb.shape[:2] for shape in shapes):
        raise ValueError(
            f"mask shapes {shapes} differ from the image's height x width {rgb.shape[:2]}"
        )
    if not (
        0 <= box.top < box.bottom <= rgb.shape[0] and 0 <= box.left < box.right <= rgb.shape[1]
    ):
        raise ValueError(f"{box} is empty or outside the {rgb.shape[1]}x{rgb.shape[0]} image")
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    inside = (slice(box.top, box.bottom), slice(box.left, box.right))
    shown, p = rgb[inside], pred[inside].astype(np.int64)
    if truth is None:
        tile = overlay(shown, p, num_classes=num_classes, alpha=alpha, ignore_index=ignore_index)
    else:
        t = np.asarray(truth)[inside].astype(np.int64)
        ignored = t == ignore_index
        labelled = (t > 0) & ~ignored
        tile = shown.copy()
        for where, colour in (
            (labelled & (p == t), HIT_COLOUR),
            (labelled & (p != t), MISSED_COLOUR),
            ((t == 0) & (p > 0), FALSE_ALARM_COLOUR),
            (ignored, IGNORE_COLOUR),
        ):
            blend = (1.0 - alpha) * shown[where] + alpha * np.asarray(colour, np.float64)
            tile[where] = np.rint(blend).astype(np.uint8)
    if factor >= 1:
        k = int(factor)
        return np.repeat(np.repeat(tile, k, axis=0), k, axis=1)
    size = (max(1, round(box.width * factor)), max(1, round(box.height * factor)))
    return cv2.resize(tile, size, interpolation=cv2.INTER_AREA)
