"""Centring objects: crop or pad an image so the objects' centre of mass is in the middle.

The centre is, in order: the ``at=(row, col)`` given (at prediction time, from a detector or a
previous pass), else the centre of mass of the mask's object pixels (every class but background
0 and ignore 255), else (no mask, or no object) the image centre. Centres are taken to the
nearest half pixel.

* ``mode="crop"``: a window of ``size`` (default: the image's size) centred on the centre; where
  the window leaves the image, the image is filled with ``fill`` and the mask with 255 (ignore),
  so the centre is always in the middle. Pixels outside the window are lost.
* ``mode="pad"``: nothing is lost; the image is padded just enough (and at least to ``size``)
  for the centre to be in the middle. The output size depends on the image.

Mapping back. :func:`centre_offset` gives the :class:`Offset` that :func:`centre` applies:
output pixel ``(r, c)`` is input pixel ``(r + top, c + left)``. A mask predicted on the centred
image goes back onto the original image's grid with :func:`uncentre`::

    offset = centre_offset(image.shape, mask, size=256)
    centred, _ = centre(image, mask, size=256)
    back = uncentre(predict(centred), offset, image.shape[:2])  # 255 where it was not seen

The image keeps its dtype; the mask keeps its dtype (a bool mask is padded with False, having no
ignore value).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from seglab.core.checks import check_choice
from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError, DataError
from seglab.transforms._checks import (
    check_image,
    check_mask,
    check_mask_shape,
    check_number,
    check_pair,
)

Array = np.ndarray
MODES = ("crop", "pad")


class Offset(NamedTuple):
    """Where a centred output lies: output pixel ``(r, c)`` is input ``(r + top, c + left)``."""

    top: int
    left: int
    height: int
    width: int


def centre(
    image: Array,
    mask: Array | None = None,
    *,
    size: int | tuple[int, int] | None = None,
    mode: str = "crop",
    at: tuple[float, float] | None = None,
    fill: float = 0,
) -> tuple[Array, Array | None]:
    """Crop or pad ``image`` and ``mask`` so the objects' centre is in the middle (module doc).

    Parameters
    ----------
    image:
        ``H x W`` or ``H x W x C``, any dtype.
    mask:
        ``H x W`` class indices (or bool), or ``None``.
    size:
        Output ``(height, width)``, or an int for both; ``None``: the image's size (``"crop"``)
        or no minimum (``"pad"``).
    mode:
        ``"crop"`` (fixed output size) or ``"pad"`` (nothing lost).
    at:
        ``(row, col)`` to centre on instead of the mask's centre of mass.
    fill:
        Value of the image's padding; the mask's is 255 (ignore).

    >>> m = np.zeros((9, 9), np.int64); m[0:3, 0:3] = 1
    >>> img, out = centre(np.zeros((9, 9), np.uint8), m, size=5)
    >>> out[1:4, 1:4].tolist() == [[1] * 3] * 3 and int(out[0, 0]) == 255
    True
    """
    check_number("fill", fill)
    offset = centre_offset(np.shape(image), mask, size=size, mode=mode, at=at)
    img = _place(check_image(image), offset, fill)
    if mask is None:
        return img, None
    arr = check_mask(mask)
    return img, _place(arr, offset, False if arr.dtype == np.bool_ else IGNORE_INDEX)


def centre_offset(
    shape: tuple[int, ...],
    mask: Array | None = None,
    *,
    size: int | tuple[int, int] | None = None,
    mode: str = "crop",
    at: tuple[float, float] | None = None,
) -> Offset:
    """The :class:`Offset` that :func:`centre` with the same arguments applies to an image of
    ``shape`` (``H x W`` or ``H x W x C``)."""
    check_choice("mode", mode, MODES)
    out_size = None if size is None else check_pair("size", size)
    if len(shape) not in (2, 3) or min(shape[:2], default=0) < 1:
        raise DataError(f"expected an H x W or H x W x C image, got shape {tuple(shape)}")
    h, w = int(shape[0]), int(shape[1])
    if mask is not None:
        check_mask_shape(mask, (h, w))
    cy, cx = _find_centre((h, w), mask, at)
    if mode == "crop":
        rows, cols = out_size or (h, w)
        top, left = math.floor((2 * cy + 1 - rows) / 2), math.floor((2 * cx + 1 - cols) / 2)
        return Offset(top, left, rows, cols)
    top = _pad_start(cy, h, out_size[0] if out_size else 1)
    left = _pad_start(cx, w, out_size[1] if out_size else 1)
    return Offset(top, left, int(2 * cy + 1 - 2 * top), int(2 * cx + 1 - 2 * left))


def uncentre(
    array: Array, offset: Offset, shape: tuple[int, ...], *, fill: float = IGNORE_INDEX
) -> Array:
    """Put a centred ``array`` (a predicted mask or map) back on the original ``H x W`` grid.

    Pixels the centred view did not cover get ``fill`` (255, ignore, by default; use 0 for
    probabilities).
    """
    arr = np.asarray(array)
    if arr.shape[:2] != (offset.height, offset.width):
        raise DataError(
            f"the array is {arr.shape[:2]} but the offset is for a {offset.height} x "
            f"{offset.width} output; pass the array centre() returned (or a prediction of it)"
        )
    h, w = int(shape[0]), int(shape[1])
    back = Offset(-offset.top, -offset.left, h, w)
    return _place(arr, back, fill)


def _find_centre(
    hw: tuple[int, int], mask: Array | None, at: tuple[float, float] | None
) -> tuple[float, float]:
    """(row, col) rounded to the nearest half pixel."""
    if at is not None:
        if not isinstance(at, (tuple, list)) or len(at) != 2:
            raise ConfigError(f"at must be a (row, col) pair, got {at!r}")
        cy, cx = (check_number("at", v) for v in at)
    else:
        cy, cx = (hw[0] - 1) / 2, (hw[1] - 1) / 2
        if mask is not None:
            arr = check_mask(mask)
            objects = arr if arr.dtype == np.bool_ else (arr != 0) & (arr != IGNORE_INDEX)
            if objects.any():
                cy, cx = ndimage.center_of_mass(objects)
    return round(2 * float(cy)) / 2, round(2 * float(cx)) / 2


def _pad_start(c: float, n: int, minimum: int) -> int:
    """Smallest-output start (<= 0) holding rows 0..n-1 with ``c`` in the middle, >= ``minimum``."""
    return min(0, math.floor(2 * c + 1 - n), math.floor((2 * c + 1 - minimum) / 2))


def _place(src: Array, offset: Offset, fill: float) -> Array:
    """The ``height x width`` window of ``src`` at (top, left); ``fill`` outside ``src``."""
    out = np.full((offset.height, offset.width, *src.shape[2:]), fill, dtype=src.dtype)
    r0, c0 = max(offset.top, 0), max(offset.left, 0)
    r1 = min(offset.top + offset.height, src.shape[0])
    c1 = min(offset.left + offset.width, src.shape[1])
    if r1 > r0 and c1 > c0:
        out[r0 - offset.top : r1 - offset.top, c0 - offset.left : c1 - offset.left] = src[
            r0:r1, c0:c1
        ]
    return out
