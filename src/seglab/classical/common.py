"""What every classical method shares: turning any image into a float gray/colour array, and
deciding which side of a threshold is the object (polarity).

Input rules (:func:`to_gray`, :func:`to_rgb`)
--------------------------------------------
* ``H x W``, ``H x W x 1`` (gray), ``H x W x 3`` (RGB) and ``H x W x 4`` (RGBA: alpha dropped)
  arrays of any dtype; uint8 is scaled by 1/255, uint16 by 1/65535, float is used as it is.
* NaN and Inf are replaced by the median of the finite pixels (0 if there are none), with a
  ``RuntimeWarning`` naming the image; so no method ever sees a non-finite value.
* Constant images have no threshold: every method returns an all-background mask for them.
* Tiny images (1x1, 2x2) are valid input: methods return a mask of the same size.

Polarity
--------
``"bright"``: the object is brighter than the threshold; ``"dark"``: darker; ``"auto"``: without
training labels, the object is the *smaller* side (objects are usually the minority of pixels);
with labels, :func:`seglab.classical.fit_method` picks the polarity with the better Dice on the
training images.
"""

from __future__ import annotations

import warnings

import numpy as np

from seglab.core.arrays import image_to_float
from seglab.core.checks import check_choice
from seglab.errors import ConfigError, DataError

POLARITIES = ("auto", "bright", "dark")


def _as_float(image: np.ndarray, name: str | None) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise DataError(f"expected an H x W or H x W x C image, got shape {arr.shape}", path=name)
    arr = image_to_float(arr, np.float64)
    if not np.isfinite(arr).all():
        finite = arr[np.isfinite(arr)]
        fill = float(np.median(finite)) if finite.size else 0.0
        warnings.warn(
            f"{name or 'image'}: NaN/Inf pixels replaced by the median {fill:.4g}",
            RuntimeWarning,
            stacklevel=3,
        )
        arr = np.where(np.isfinite(arr), arr, fill)
    return arr


def to_gray(image: np.ndarray, *, name: str | None = None) -> np.ndarray:
    """``H x W`` float64 gray image (luminance of RGB, alpha dropped); rules in the module doc."""
    arr = _as_float(image, name)
    if arr.ndim == 3:
        c = arr.shape[2]
        if c in (3, 4):
            arr = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
        else:
            arr = arr.mean(axis=2)
    return arr


def to_rgb(image: np.ndarray, *, name: str | None = None) -> np.ndarray:
    """``H x W x 3`` float64 image (gray repeated, alpha dropped); rules in the module doc."""
    arr = _as_float(image, name)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.shape[2] >= 4:
        arr = arr[:, :, :3]
    elif arr.shape[2] == 2:
        arr = np.repeat(arr[:, :, :1], 3, axis=2)
    return arr


def is_constant(gray: np.ndarray) -> bool:
    """True when every pixel has the same value (no threshold is defined)."""
    return gray.size == 0 or float(gray.max()) == float(gray.min())


def check_polarity(polarity: str) -> str:
    """Return ``polarity`` or raise :class:`ConfigError` listing the choices."""
    return check_choice("polarity", polarity, POLARITIES)


def apply_threshold(gray: np.ndarray, threshold, polarity: str = "auto") -> np.ndarray:
    """Boolean object mask from a threshold (scalar or per-pixel array) and a polarity.

    ``"auto"`` takes the smaller side as the object (ties: bright).
    """
    check_polarity(polarity)
    bright = gray > threshold
    if polarity == "bright":
        return bright
    if polarity == "dark":
        return ~bright
    return bright if bright.sum() <= bright.size - bright.sum() else ~bright


def check_int(name: str, value, *, minimum: int) -> int:
    """``value`` as an int, or :class:`ConfigError` saying what ``name`` must be."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(name: str, value, *, minimum: float | None = None, strict: bool = False) -> float:
    """``value`` as a finite float (``> minimum`` when ``strict``, else ``>=``), or ConfigError."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float, np.integer, np.floating))
        and np.isfinite(value)
        and (minimum is None or (value > minimum if strict else value >= minimum))
    )
    if not ok:
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
        raise ConfigError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)
