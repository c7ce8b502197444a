"""Detections over whole images or overlapping tiles, and painted into label images: the pure
part of Mask R-CNN's prediction, written over a ``detect`` callable so that it is tested with
known boxes.

Tiles that neither split nor duplicate objects. Windows are laid out as for semantic tiling
(:func:`~seglab.predict.tiling.tile_starts`); along each axis the *core* of a window is the part
of the image no other window has more of a claim to: from the middle of its overlap with the
previous window to the middle of its overlap with the next (the image's own border at the
ends). The cores tile the image without overlap, and a window keeps a detection only when the
centre of its box lies in its core, so each object is kept by exactly one window. An object no
larger than the overlap is whole in that window: its centre is at least half the overlap from
the window's inner edges. A neighbour that sees only part of it sees a box whose centre lies on
the neighbour's far side of the middle, so it drops it. Choose ``overlap * tile`` above the
largest objects' side (network pixels).

A detection's mask travels as a probability crop around its box (one pixel of margin), so a
thousand objects of a whole slide never take a full image each; :func:`paint_detections`
resamples each crop to the image's own size (bilinear, the half-pixel convention of
``cv2.resize``), cuts it at the mask threshold and paints the objects, the higher score
winning a pixel two objects claim (as :func:`~seglab.core.labels.paint_labels` does).

>>> window_cores([0, 6], 10, 16)
[(0.0, 8.0), (8.0, 16.0)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from seglab.core.labels import LABEL_DTYPE, InstanceLabels
from seglab.predict.tiling import tile_starts, tile_step

RawDetections = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""What a detector gives for one window: ``boxes`` (``K x 4`` float, ``x0, y0, x1, y1`` in the
window's pixels), ``scores`` (``K``), ``classes`` (``K`` ints) and ``masks`` (``K x h x w``
probabilities at the window's size)."""

Detect = Callable[[list[np.ndarray]], list[RawDetections]]
"""A detector: float32 ``C x h x w`` windows in, one :data:`RawDetections` per window out."""


@dataclass(frozen=True)
class Window:
    """One window: its top-left corner and size in the image, and its core (the box centres it
    keeps: ``y0 <= cy < y1`` and ``x0 <= cx < x1``, image pixels)."""

    top: int
    left: int
    height: int
    width: int
    core: tuple[float, float, float, float]  # y0, y1, x0, x1

    def keeps(self, centre_y: float, centre_x: float) -> bool:
        """Whether a box centred at ``(centre_y, centre_x)`` (image pixels) is this window's."""
        y0, y1, x0, x1 = self.core
        return y0 <= centre_y < y1 and x0 <= centre_x < x1


def window_cores(starts: Sequence[int], tile: int, length: int) -> list[tuple[float, float]]:
    """The core ``[lo, hi)`` of each window along one axis (module docstring); the first
    starts at 0 and the last ends at ``length``, so the cores cover the axis once."""
    ends = [min(length, start + tile) for start in starts]
    bounds = [0.0]
    for k in range(1, len(starts)):
        bounds.append((starts[k] + ends[k - 1]) / 2)  # the middle of the two windows' overlap
    bounds.append(float(length))
    return [(bounds[k], bounds[k + 1]) for k in range(len(starts))]


def layout_windows(height: int, width: int, tile: int | None, overlap: float) -> list[Window]:
    """The windows of an ``height x width`` image: one for the whole image without ``tile``,
    else ``tile x tile`` windows sharing ``overlap`` of their side (the last one of each row
    and column aligned to the image's end)."""
    if tile is None:
        return [Window(0, 0, height, width, (0.0, float(height), 0.0, float(width)))]
    step = tile_step(tile, overlap)
    rows, cols = tile_starts(height, tile, step), tile_starts(width, tile, step)
    row_cores, col_cores = window_cores(rows, tile, height), window_cores(cols, tile, width)
    return [
        Window(top, left, min(tile, height), min(tile, width), (*row_core, *col_core))
        for top, row_core in zip(rows, row_cores, strict=True)
        for left, col_core in zip(cols, col_cores, strict=True)
    ]


@dataclass(frozen=True)
class Detections:
    """The objects found in one image, in its pixels (the prepared image's): ``boxes``
    (``K x 4`` float32, ``x0, y0, x1, y1``), ``scores``, ``classes``, and each object's mask
    probabilities as a crop (``crops[k]``, float32) whose top-left pixel is ``origins[k]``
    (row, column)."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    crops: tuple[np.ndarray, ...]
    origins: np.ndarray

    @property
    def count(self) -> int:
        """Number of detections."""
        return len(self.scores)


def detect_images(
    detect: Detect,
    images: Sequence[np.ndarray],
    *,
    tile: int | None = None,
    overlap: float = 0.25,
    batch_size: int = 4,
    min_score: float = 0.0,
) -> list[Detections]:
    """The :class:`Detections` of each float32 ``C x H x W`` image: ``detect`` runs on the
    image whole, or on its windows with ``tile`` (each keeping the detections centred in its
    core); at most ``batch_size`` windows of one shape at a time. Detections scoring under
    ``min_score`` are dropped."""
    jobs = [
        (i, window)
        for i, image in enumerate(images)
        for window in layout_windows(image.shape[1], image.shape[2], tile, overlap)
    ]
    by_shape: dict[tuple[int, int], list[tuple[int, Window]]] = {}
    for job in jobs:
        by_shape.setdefault((job[1].height, job[1].width), []).append(job)
    found: list[list[_Found]] = [[] for _ in images]
    for group in by_shape.values():
        for start in range(0, len(group), batch_size):
            chunk = group[start : start + batch_size]
            windows = [
                np.ascontiguousarray(
                    images[i][:, w.top : w.top + w.height, w.left : w.left + w.width]
                )
                for i, w in chunk
            ]
            for (i, window), raw in zip(chunk, detect(windows), strict=True):
                found[i].extend(_keep(raw, window, min_score))
    return [_collect(items) for items in found]


_Found = tuple[np.ndarray, float, int, np.ndarray, tuple[int, int]]
"""One kept detection: box, score, class, mask crop, the crop's origin (row, column)."""


def _keep(raw: RawDetections, window: Window, min_score: float) -> list[_Found]:
    """The detections of one window that it keeps, moved to image pixels, masks cropped."""
    boxes, scores, classes, masks = (np.asarray(a) for a in raw)
    height, width = window.height, window.width
    out: list[_Found] = []
    for k in range(len(scores)):
        if float(scores[k]) < min_score:
            continue
        x0, y0, x1, y1 = (float(v) for v in boxes[k])
        if not window.keeps(window.top + (y0 + y1) / 2, window.left + (x0 + x1) / 2):
            continue
        # one pixel of margin, for a bilinear resample that sees the mask's edge
        r0, r1 = max(0, math.floor(y0) - 1), min(height, math.ceil(y1) + 1)
        c0, c1 = max(0, math.floor(x0) - 1), min(width, math.ceil(x1) + 1)
        if r1 <= r0 or c1 <= c0:
            continue
        crop = np.array(masks[k, r0:r1, c0:c1], np.float32)  # a copy: not a view of the batch
        box = np.array([x0 + window.left, y0 + window.top, x1 + window.left, y1 + window.top])
        origin = (window.top + r0, window.left + c0)
        out.append((box, float(scores[k]), int(classes[k]), crop, origin))
    return out


def _collect(items: list[_Found]) -> Detections:
    """One image's kept detections, best score first."""
    items = sorted(items, key=lambda item: -item[1])
    return Detections(
        boxes=np.array([i[0] for i in items], np.float32).reshape(-1, 4),
        scores=np.array([i[1] for i in items], np.float32),
        classes=np.array([i[2] for i in items], np.int64),
        crops=tuple(i[3] for i in items),
        origins=np.array([i[4] for i in items], np.int64).reshape(-1, 2),
    )


def paint_detections(
    found: Detections,
    source: tuple[int, int],
    size: tuple[int, int],
    *,
    mask_threshold: float = 0.5,
    min_area: int = 0,
) -> InstanceLabels:
    """The :class:`~seglab.core.labels.InstanceLabels` of ``found`` (detected in an image of
    ``source = (h, w)`` pixels) at ``size = (H, W)``: each crop resampled to ``size``, pixels
    at ``mask_threshold`` or more (and above 0) kept, higher scores painted over lower ones,
    objects left with fewer than ``min_area`` pixels dropped; ids follow the scores, best
    first."""
    height, width = size
    scale_y, scale_x = source[0] / height, source[1] / width
    labels = np.zeros((height, width), LABEL_DTYPE)
    for k in np.argsort(found.scores, kind="stable"):  # lowest first: higher scores win
        region, (top, left) = _resample(found.crops[k], found.origins[k], scale_y, scale_x, size)
        region = region[: height - top, : width - left]  # within the image, whatever came in
        keep = (region >= mask_threshold) & (region > 0)
        labels[top : top + region.shape[0], left : left + region.shape[1]][keep] = k + 1
    objects = InstanceLabels(labels, found.classes, found.scores).without_empty()
    if min_area > 1 and objects.count:
        small = objects.areas() < min_area
        if small.any():
            lookup = np.arange(objects.count + 1, dtype=LABEL_DTYPE)
            lookup[1:][small] = 0
            objects = InstanceLabels(
                lookup[objects.labels], objects.classes, objects.scores
            ).without_empty()
    return objects


def _resample(
    crop: np.ndarray,
    origin: np.ndarray,
    scale_y: float,
    scale_x: float,
    size: tuple[int, int],
) -> tuple[np.ndarray, tuple[int, int]]:
    """``crop`` (whose top-left pixel is ``origin`` in the source image) on the grid of the
    image of ``size``, where source pixel ``y`` is at ``(Y + 0.5) * scale_y - 0.5``; returns
    the values and their top-left pixel there."""
    top, left = int(origin[0]), int(origin[1])
    if scale_y == 1 and scale_x == 1:
        return crop, (top, left)
    import cv2

    rows, cols = crop.shape
    # the pixels whose centres fall within the crop's extent, a pixel either side
    y0 = max(0, math.floor(top / scale_y - 0.5))
    y1 = min(size[0], math.ceil((top + rows) / scale_y - 0.5) + 1)
    x0 = max(0, math.floor(left / scale_x - 0.5))
    x1 = min(size[1], math.ceil((left + cols) / scale_x - 0.5) + 1)
    if y1 <= y0 or x1 <= x0:
        return np.zeros((0, 0), np.float32), (0, 0)
    ys = ((np.arange(y0, y1) + 0.5) * scale_y - 0.5 - top).astype(np.float32)
    xs = ((np.arange(x0, x1) + 0.5) * scale_x - 0.5 - left).astype(np.float32)
    map_x, map_y = np.meshgrid(xs, ys)
    values = cv2.remap(
        crop, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return values, (y0, x0)
