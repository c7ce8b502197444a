"""What every transform shares: checking its (image, mask) input and its options.

Image rules (applied by :func:`split_image`, documented in :mod:`seglab.transforms`):

* ``H x W`` (gray) or ``H x W x C``; at least one pixel; the output has the input's layout.
* ``uint8`` is worked on as ``uint8``; ``bool`` becomes ``uint8`` 0/255 (as 1-bit files do in
  :func:`seglab.io.read_image`); ``uint16`` becomes ``float32`` divided by 65535 (as
  :func:`seglab.io.read_image` does); every other dtype becomes ``float32`` unchanged.
* ``C == 4`` is RGBA: the alpha channel is split off, left untouched and put back (as ``float32``
  in ``[0, 1]`` when the result is float and the alpha was ``uint8``).
* NaN and Inf are replaced by the median of the finite pixels of their channel (0 when there is
  none), with a ``RuntimeWarning``, so no filter ever spreads them.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seglab.core.arrays import image_to_float
from seglab.errors import ConfigError, DataError


@dataclass(frozen=True)
class Layout:
    """How to give a worked-on ``H x W x C`` body back the caller's layout."""

    gray2d: bool
    alpha: np.ndarray | None


def split_image(image: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, Layout]:
    """Check ``image`` (and ``mask``'s shape against it); return the ``H x W x C`` body."""
    arr = check_image(image)
    check_mask_shape(mask, arr.shape[:2])
    gray2d = arr.ndim == 2
    if gray2d:
        arr = arr[:, :, None]
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * np.uint8(255)
    elif arr.dtype != np.uint8:  # uint16 scaled to [0, 1], as io.read_image does
        arr = image_to_float(arr)
    alpha = None
    if arr.shape[2] == 4:
        arr, alpha = arr[:, :, :3], arr[:, :, 3:]
    if arr.dtype == np.float32:
        arr = _replace_nonfinite(arr)
    return arr, Layout(gray2d, alpha)


def join_image(body: np.ndarray, layout: Layout) -> np.ndarray:
    """Put the alpha channel back and restore a 2-D gray layout."""
    if body.ndim == 2:
        body = body[:, :, None]
    if layout.alpha is not None:
        alpha = layout.alpha
        if body.dtype != alpha.dtype:
            alpha = to_unit(alpha)
        body = np.concatenate([body, alpha.astype(body.dtype, copy=False)], axis=2)
    return body[:, :, 0] if layout.gray2d else body


def check_image(image: np.ndarray) -> np.ndarray:
    """``image`` as an array, or :class:`DataError` saying what shape and dtype are expected."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise DataError(
            f"expected an H x W or H x W x C image with at least one pixel, got shape {arr.shape}; "
            "images from seglab.io.read_image have this layout"
        )
    if not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.number)) or np.iscomplexobj(arr):
        raise DataError(f"expected a numeric image, got dtype {arr.dtype}")
    return arr


def check_mask_shape(mask: np.ndarray | None, hw: tuple[int, ...]) -> None:
    """Refuse a mask that is not ``H x W`` with the image's height and width."""
    if mask is None:
        return
    shape = np.shape(mask)
    if shape != tuple(hw):
        raise DataError(
            f"the mask has shape {shape} but the image is {hw[0]} x {hw[1]}; masks are H x W "
            "class indices of the image's size (resize them with nearest-neighbour)"
        )


def check_mask(mask: np.ndarray) -> np.ndarray:
    """A 2-D bool or non-negative integer mask, or :class:`DataError` saying what is expected."""
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise DataError(f"expected an H x W mask, got shape {arr.shape}")
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.integer):
        raise DataError(
            f"expected a bool or integer mask (class indices), got dtype {arr.dtype}; "
            "threshold probabilities first"
        )
    if arr.dtype != np.bool_ and arr.size and arr.min() < 0:
        raise DataError("mask values must be class indices >= 0 (255 = ignore)")
    return arr


def to_unit(arr: np.ndarray) -> np.ndarray:
    """``float32``, with ``uint8`` divided by 255 (float is taken to be in [0, 1] already)."""
    return image_to_float(arr)


def from_unit(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Back from [0, 1] to ``dtype`` (``uint8`` rounded and clipped; float as ``float32``)."""
    if dtype == np.uint8:
        return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    return np.asarray(arr, np.float32)


def map_channels(fn: Callable[[np.ndarray], np.ndarray], body: np.ndarray) -> np.ndarray:
    """Apply ``fn`` to each ``H x W`` channel of ``body`` and stack the results."""
    return np.stack(
        [np.asarray(fn(np.ascontiguousarray(body[:, :, c]))) for c in range(body.shape[2])], axis=2
    )


def _replace_nonfinite(arr: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(arr)
    if not bad.any():
        return arr
    arr = arr.copy()
    for c in range(arr.shape[2]):
        channel, bad_c = arr[:, :, c], bad[:, :, c]
        finite = channel[~bad_c]
        channel[bad_c] = np.median(finite) if finite.size else 0.0
    warnings.warn(
        f"image: {int(bad.sum())} NaN/Inf pixel values replaced by their channel's median; "
        "clean the image, or mark those pixels 255 (ignore) in the mask",
        RuntimeWarning,
        stacklevel=4,
    )
    return arr


def check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
) -> float:
    """``value`` if it is a number in range, else :class:`ConfigError` naming ``name``."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real)
    if not ok_type or isinstance(value, bool) or not np.isfinite(float(value)):
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value!r}")
    if above is not None and value <= above:
        raise ConfigError(f"{name} must be > {above}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value!r}")
    return value


def check_bool(name: str, value: object) -> bool:
    """``value`` if it is a bool, else :class:`ConfigError`."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_pair(name: str, value: object, *, minimum: int = 1) -> tuple[int, int]:
    """An int or a pair of ints (rows, cols), each >= ``minimum``, as a tuple."""
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ConfigError(f"{name} must be an integer or a pair (rows, cols), got {value!r}")
    for item in items:
        check_number(name, item, minimum=minimum, integer=True)
    return int(items[0]), int(items[1])
