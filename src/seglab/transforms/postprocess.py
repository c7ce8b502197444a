"""Mask clean-up: small objects, small holes, morphological opening and closing.

Two forms of the same four operations:

* :func:`clean_mask` on a plain boolean mask, for classical methods and thresholded predictions;
* ``(image, mask) -> (image, mask)`` transforms for pipelines (:func:`remove_small_objects`,
  :func:`remove_small_holes`, :func:`opening`, :func:`closing`). They accept bool masks and
  integer class masks and return the mask's dtype; the image is passed through untouched (it may
  be ``None``), and a ``None`` mask (prediction time, before there is a mask) is returned as
  ``None``.

Class masks are worked on one class at a time (every value except 0, the background, and 255,
ignore). Ignore pixels are never changed and never belong to an object; pixels taken from a class
become background 0; pixels given to a class are taken only from the background, never from
another class or from ignore (where two classes' closings claim the same pixel, the lower class
index wins). Connected means 4-connected (scikit-image's ``connectivity=1``); structuring
elements are discs (``skimage.morphology.disk``), applied with OpenCV, whose border handling keeps
opening from growing and closing from shrinking objects at the image edge.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from skimage import morphology

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import DataError
from seglab.transforms._checks import check_mask, check_number

Array = np.ndarray


def clean_mask(
    mask: Array,
    *,
    min_size: int = 0,
    hole_size: int = 0,
    open_radius: int = 0,
    close_radius: int = 0,
) -> Array:
    """Clean a boolean mask: open, close, drop small objects, fill small holes (in that order).

    Parameters
    ----------
    mask:
        ``H x W``; any non-zero value is foreground.
    min_size:
        Objects with fewer pixels are removed (0 or 1: none).
    hole_size:
        Holes with fewer pixels are filled (0 or 1: none).
    open_radius, close_radius:
        Disc radii of the opening (removes specks and thin lines) and closing (bridges narrow
        gaps); 0 skips the step.

    Returns
    -------
    A new ``bool`` array of the same shape.

    >>> m = np.zeros((6, 6), bool); m[1:5, 1:5] = True; m[2, 2] = False
    >>> bool(clean_mask(m, hole_size=4)[2, 2])
    True
    """
    _check_size("min_size", min_size)
    _check_size("hole_size", hole_size)
    _check_size("open_radius", open_radius)
    _check_size("close_radius", close_radius)
    out = check_mask(mask).astype(bool)
    out = _open(out, open_radius)
    out = _close(out, close_radius)
    out = _drop_small(out, min_size)
    return _fill_holes(out, hole_size)


def remove_small_objects(
    image: Array | None, mask: Array | None, *, min_size: int = 64
) -> tuple[Array | None, Array | None]:
    """Objects of a class with fewer than ``min_size`` pixels become background (0)."""
    _check_size("min_size", min_size)
    return image, _per_class(image, mask, lambda m, _free: _drop_small(m, min_size))


def remove_small_holes(
    image: Array | None, mask: Array | None, *, area_threshold: int = 64
) -> tuple[Array | None, Array | None]:
    """Holes in a class's objects with fewer than ``area_threshold`` pixels are filled with it.

    Only background pixels of a hole are filled: an island of another class, or of ignore,
    stays.
    """
    _check_size("area_threshold", area_threshold)
    return image, _per_class(
        image, mask, lambda m, free: _fill_holes(m, area_threshold) & (m | free)
    )


def opening(
    image: Array | None, mask: Array | None, *, radius: int = 1
) -> tuple[Array | None, Array | None]:
    """Morphological opening of each class with a disc: removes specks and lines thinner than it."""
    _check_size("radius", radius)
    return image, _per_class(image, mask, lambda m, _free: _open(m, radius))


def closing(
    image: Array | None, mask: Array | None, *, radius: int = 1
) -> tuple[Array | None, Array | None]:
    """Morphological closing of each class with a disc: bridges gaps narrower than it."""
    _check_size("radius", radius)
    return image, _per_class(image, mask, lambda m, free: _close(m, radius) & (m | free))


# --- the work, on boolean masks -------------------------------------------------------------


def _per_class(
    image: Array | None, mask: Array | None, op: Callable[[Array, Array], Array]
) -> Array | None:
    """Apply ``op(class_mask, free)`` to each class; ``free`` marks pixels a class may take."""
    if mask is None:
        return None
    arr = check_mask(mask)
    if image is not None and np.shape(image)[:2] != arr.shape:
        raise DataError(
            f"the mask has shape {arr.shape} but the image is {np.shape(image)[:2]}; masks are "
            "H x W class indices of the image's size"
        )
    if arr.dtype == np.bool_:
        return op(arr, ~arr)
    out = arr.copy()
    for c in np.unique(arr):
        if c in (0, IGNORE_INDEX):
            continue
        own = arr == c
        new = op(own, out == 0)
        out[own & ~new] = 0
        out[new & ~own & (out == 0)] = c
    return out


def _check_size(name: str, value: int) -> None:
    check_number(name, value, minimum=0, integer=True)


def _disc(radius: int) -> Array:
    return morphology.disk(int(radius)).astype(np.uint8)


def _open(m: Array, radius: int) -> Array:
    if radius <= 0 or not m.any():
        return m
    return cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_OPEN, _disc(radius)).astype(bool)


def _close(m: Array, radius: int) -> Array:
    if radius <= 0 or not m.any():
        return m
    return cv2.morphologyEx(m.astype(np.uint8), cv2.MORPH_CLOSE, _disc(radius)).astype(bool)


def _drop_small(m: Array, min_size: int) -> Array:
    if min_size <= 1:
        return m
    return morphology.remove_small_objects(m, max_size=int(min_size) - 1)


def _fill_holes(m: Array, hole_size: int) -> Array:
    if hole_size <= 1:
        return m
    return morphology.remove_small_holes(m, max_size=int(hole_size) - 1)
