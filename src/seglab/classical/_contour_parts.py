"""The parts of the active contours that do not depend on their working scale: the shapes they
start from, which side of a final contour is the object, smoothing and resizing back.

Helpers of :mod:`seglab.classical.contour` (which owns :data:`~seglab.classical.contour.MAX_SIDE`
and the working scale); they run on whatever image they are given.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import segmentation as sks
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import find_contours
from skimage.transform import resize

from seglab.classical.common import apply_threshold


def otsu(gray: np.ndarray, polarity: str) -> np.ndarray:
    """Otsu's threshold of ``gray``, object on the ``polarity`` side."""
    return apply_threshold(gray, threshold_otsu(gray), polarity)


def object_phase(gray: np.ndarray, phase: np.ndarray, polarity: str) -> np.ndarray:
    """The object side of a two-phase split: brighter, darker or smaller phase."""
    count = int(phase.sum())
    if count in (0, phase.size):
        return np.zeros(phase.shape, bool)
    if polarity == "auto":
        if 2 * count != phase.size:
            return phase if 2 * count < phase.size else ~phase
        polarity = "bright"  # a tie: the brighter phase
    brighter = gray[phase].mean() >= gray[~phase].mean()
    return phase if brighter == (polarity == "bright") else ~phase


def components_on_side(gray: np.ndarray, mask: np.ndarray, polarity: str) -> np.ndarray:
    """Keep the connected components of ``mask`` whose mean is on the polarity side of Otsu."""
    components, count = ndi.label(mask)
    means = np.asarray(ndi.mean(gray, labels=components, index=np.arange(1, count + 1)))
    bright = means > threshold_otsu(gray)
    keep = np.concatenate([[False], bright if polarity == "bright" else ~bright])
    return keep[components]


def snake_start(gray: np.ndarray, init: str, polarity: str) -> np.ndarray | None:
    """The start curve of :func:`~seglab.classical.contour.snake` (``(row, col)`` points), or
    ``None`` when Otsu's threshold finds nothing to start on."""
    h, w = gray.shape
    if init == "circle":
        angle = np.linspace(0, 2 * np.pi, 200, endpoint=False)
        radius = 0.4 * min(h, w)
        return np.column_stack(
            [(h - 1) / 2 + radius * np.sin(angle), (w - 1) / 2 + radius * np.cos(angle)]
        )
    if init == "box":
        inset = max(1.0, 0.02 * min(h, w))
        top, left, bottom, right = inset, inset, h - 1 - inset, w - 1 - inset
        corners = np.array([[top, left], [top, right], [bottom, right], [bottom, left]])
        return resample(corners, 200)
    fg = otsu(gray, polarity)
    components, count = ndi.label(fg)
    if count == 0:
        return None
    largest = components == 1 + int(np.argmax(np.bincount(components.ravel())[1:]))
    outlines = find_contours(np.pad(largest, 1).astype(float), 0.5)
    outline = max(outlines, key=len) - 1
    length = float(np.hypot(*np.diff(outline, axis=0).T).sum())
    return resample(outline, int(np.clip(length / 2, 100, 200)))


def resample(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced along the closed polyline ``points``."""
    if not np.array_equal(points[0], points[-1]):
        points = np.vstack([points, points[:1]])
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=0).T))])
    at = np.linspace(0.0, arc[-1], n, endpoint=False)
    return np.column_stack([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])])


def box(shape: tuple[int, int]) -> np.ndarray:
    inset = max(1, round(0.02 * min(shape)))
    start = np.zeros(shape, np.int8)
    start[inset : shape[0] - inset, inset : shape[1] - inset] = 1
    return start


def disk(shape: tuple[int, int]) -> np.ndarray:
    return sks.disk_level_set(shape, radius=max(1.0, 0.4 * min(shape))).astype(np.int8)


def mcv_start(small: np.ndarray, init: str, polarity: str) -> np.ndarray | str:
    """The start level set of :func:`~seglab.classical.contour.morph_chan_vese`."""
    if init == "threshold":
        return otsu(small, polarity).astype(np.int8)
    if init == "disk":
        return disk(small.shape)
    return "checkerboard"


def geodesic_start(small: np.ndarray, init: str, balloon: float, polarity: str) -> np.ndarray:
    """The start level set of :func:`~seglab.classical.contour.morph_geodesic`: ``"auto"`` is
    the border box when the balloon shrinks, Otsu's mask when it grows."""
    if init == "auto":
        init = "box" if balloon < 0 else "threshold"
    if init == "box":
        return box(small.shape)
    if init == "disk":
        return disk(small.shape)
    return otsu(small, polarity).astype(np.int8)


def smoothed(gray: np.ndarray, sigma: float) -> np.ndarray:
    """``gray`` blurred by a Gaussian of ``sigma`` pixels (0: as it is)."""
    return gaussian(gray, sigma=sigma, preserve_range=True) if sigma > 0 else gray


def upscale(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A bool mask of the working image resized to ``shape`` (nearest neighbour)."""
    mask = np.asarray(mask).astype(bool)
    if mask.shape == shape:
        return mask
    return resize(mask, shape, order=0, anti_aliasing=False).astype(bool)
