"""Grey-level thresholding: Otsu's method [2] and its relatives, global and local.

Every method turns the image into a float gray image (:func:`~seglab.classical.common.to_gray`:
RGB luminance, alpha dropped, NaN/Inf replaced with a warning), optionally smooths it with a
Gaussian of standard deviation ``smooth`` pixels, computes a threshold with scikit-image and
returns a boolean ``H x W`` mask, ``True`` on the object. Which side of the threshold is the
object is the ``polarity`` (``"bright"``, ``"dark"`` or ``"auto"``: the smaller side for the
global methods, see :mod:`seglab.classical.common`; local methods explain theirs). Constant
images have no threshold and give an all-``False`` mask.

Global methods (one threshold for the whole image): :func:`otsu`, :func:`multi_otsu`, :func:`li`,
:func:`yen`, :func:`triangle`. Local methods (one threshold per pixel, from the mean and standard
deviation in a ``window_size`` window; they follow slow changes of illumination): :func:`sauvola`,
:func:`niblack`.

[2] N. Otsu, "A threshold selection method from gray-level histograms", IEEE Transactions on
Systems, Man, and Cybernetics, 9(1):62-66, 1979.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy import ndimage
from skimage import filters

from seglab.classical.common import (
    apply_threshold,
    check_float,
    check_polarity,
    is_constant,
    to_gray,
)
from seglab.errors import ConfigError

GRIDS: dict[str, dict[str, list]] = {
    "otsu": {"polarity": ["bright", "dark"], "smooth": [0.0, 1.0, 2.0]},
    "multi_otsu": {"polarity": ["bright", "dark"], "classes": [3, 4], "smooth": [0.0, 1.0]},
    "li": {"polarity": ["bright", "dark"], "smooth": [0.0, 1.0, 2.0]},
    "yen": {"polarity": ["bright", "dark"], "smooth": [0.0, 1.0, 2.0]},
    "triangle": {"polarity": ["bright", "dark"], "smooth": [0.0, 1.0, 2.0]},
    "sauvola": {"polarity": ["bright", "dark"], "window_size": [31, 101, 201], "k": [0.1, 0.3]},
    "niblack": {"polarity": ["bright", "dark"], "window_size": [31, 101, 201], "k": [0.5, 1.0]},
}


def _prepare(image: np.ndarray, polarity: str, smooth: float) -> tuple[np.ndarray, bool]:
    """Validated, smoothed gray image and whether it is constant (no threshold exists)."""
    check_polarity(polarity)
    smooth = check_float("smooth (Gaussian sigma in pixels)", smooth, minimum=0)
    gray = to_gray(image)
    if is_constant(gray):
        return gray, True
    if smooth > 0:
        gray = filters.gaussian(gray, sigma=smooth, mode="nearest")
    return gray, False


def _global(image, polarity, smooth, method: Callable[[np.ndarray], float]) -> np.ndarray:
    gray, constant = _prepare(image, polarity, smooth)
    if constant:
        return np.zeros(gray.shape, dtype=bool)
    with warnings.catch_warnings():
        # tiny or nearly two-valued images make some estimators warn; the threshold is still valid
        warnings.simplefilter("ignore", RuntimeWarning)
        threshold = float(method(gray))
    return apply_threshold(gray, threshold, polarity)


def otsu(image: np.ndarray, *, polarity: str = "auto", smooth: float = 0.0) -> np.ndarray:
    """Otsu's threshold [2]: the gray level that maximises the between-class variance.

    Parameters
    ----------
    image:
        ``H x W`` gray, ``H x W x 3`` RGB or ``H x W x 4`` RGBA array of any numeric dtype.
    polarity:
        ``"bright"``, ``"dark"`` or ``"auto"`` (the smaller side of the threshold).
    smooth:
        Standard deviation in pixels of a Gaussian applied before thresholding (0: none).

    Returns
    -------
    np.ndarray
        Boolean ``H x W`` mask, ``True`` on the object.

    Examples
    --------
    >>> img = np.zeros((8, 8)); img[2:5, 2:5] = 1.0
    >>> int(otsu(img, polarity="bright").sum())
    9
    """
    return _global(image, polarity, smooth, filters.threshold_otsu)


def multi_otsu(
    image: np.ndarray, *, polarity: str = "auto", classes: int = 3, smooth: float = 0.0
) -> np.ndarray:
    """Multi-level Otsu [2]: ``classes - 1`` thresholds splitting the gray levels into classes.

    The object is the brightest class (``"bright"``), the darkest class (``"dark"``) or, for
    ``"auto"``, whichever of those two has fewer pixels (ties: bright); the middle classes are
    always background. Images with fewer distinct gray levels than ``classes`` fall back to
    :func:`otsu`.

    Parameters
    ----------
    classes:
        Number of classes, 2 to 5 (2 is plain Otsu; the cost grows quickly with ``classes``).

    Other parameters and the return value are those of :func:`otsu`.
    """
    if (
        isinstance(classes, bool)
        or not isinstance(classes, (int, np.integer))
        or not (2 <= classes <= 5)
    ):
        raise ConfigError(f"classes must be an integer from 2 to 5, not {classes!r}")
    gray, constant = _prepare(image, polarity, smooth)
    if constant:
        return np.zeros(gray.shape, dtype=bool)
    try:
        thresholds = filters.threshold_multiotsu(gray, classes=int(classes))
    except ValueError:  # fewer distinct levels than classes
        return apply_threshold(gray, filters.threshold_otsu(gray), polarity)
    top = gray > thresholds[-1]
    bottom = gray <= thresholds[0]
    if polarity == "bright":
        return top
    if polarity == "dark":
        return bottom
    return top if top.sum() <= bottom.sum() else bottom


def li(image: np.ndarray, *, polarity: str = "auto", smooth: float = 0.0) -> np.ndarray:
    """Li's minimum cross-entropy threshold (iterative; ``skimage.filters.threshold_li``).

    Parameters and return value as in :func:`otsu`.
    """
    return _global(image, polarity, smooth, filters.threshold_li)


def yen(image: np.ndarray, *, polarity: str = "auto", smooth: float = 0.0) -> np.ndarray:
    """Yen's maximum-correlation threshold (``skimage.filters.threshold_yen``).

    Parameters and return value as in :func:`otsu`.
    """
    return _global(image, polarity, smooth, filters.threshold_yen)


def triangle(image: np.ndarray, *, polarity: str = "auto", smooth: float = 0.0) -> np.ndarray:
    """Triangle threshold (``skimage.filters.threshold_triangle``): the gray level farthest from
    the line joining the histogram's peak to its far end; suited to a small object on a large,
    uniform background.

    Parameters and return value as in :func:`otsu`.
    """
    return _global(image, polarity, smooth, filters.threshold_triangle)


def _check_window(window_size: int, k: float) -> None:
    if (
        isinstance(window_size, bool)
        or not isinstance(window_size, (int, np.integer))
        or window_size < 3
        or window_size % 2 == 0
    ):
        hint = (
            f"; try {window_size + 1}" if isinstance(window_size, int) and window_size > 2 else ""
        )
        raise ConfigError(f"window_size must be an odd integer >= 3, not {window_size!r}{hint}")
    check_float("k", k)


def _local(image, polarity, smooth, window_size, k, method) -> np.ndarray:
    _check_window(window_size, k)
    gray, constant = _prepare(image, polarity, smooth)
    if constant:
        return np.zeros(gray.shape, dtype=bool)
    if polarity == "auto":
        # a per-pixel threshold has no "smaller side"; the object is still the minority, so the
        # residual from the local mean is skewed towards it (positive skew: bright objects)
        residual = gray - ndimage.uniform_filter(gray, size=int(window_size), mode="reflect")
        polarity = "bright" if float((residual**3).sum()) >= 0 else "dark"
    # Sauvola and Niblack look for pixels darker than their surroundings (text on paper); a
    # bright object is a dark one in the inverted image: gray > lo + hi - T(inverted)
    lo_hi = float(gray.min()) + float(gray.max())
    work = lo_hi - gray if polarity == "bright" else gray
    threshold = method(work, window_size=int(window_size), k=float(k))
    if polarity == "bright":
        threshold = lo_hi - threshold
    return apply_threshold(gray, threshold, polarity)


def _sauvola(image: np.ndarray, *, window_size: int, k: float) -> np.ndarray:
    # skimage's default R is half the dtype range, 1.0 for float images; gray here is in [0, 1]
    return filters.threshold_sauvola(image, window_size=window_size, k=k, r=0.5)


def sauvola(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    window_size: int = 31,
    k: float = 0.2,
    smooth: float = 0.0,
) -> np.ndarray:
    """Sauvola's local threshold ``T = m * (1 + k * (s / R - 1))`` (``m``, ``s``: mean and
    standard deviation in the window; ``R = 0.5``, the original 128 of 8-bit images on seglab's
    [0, 1] gray scale); ``skimage.filters.threshold_sauvola``.

    Sauvola looks for dark objects; for ``"bright"`` the gray image is inverted first, so both
    polarities behave alike. ``"auto"`` takes the polarity towards which the residual from the
    local mean is skewed (objects are the minority of pixels). Uniform areas larger than the
    window are background, so choose ``window_size`` larger than the objects.

    Parameters
    ----------
    window_size:
        Odd side of the square window in pixels (>= 3).
    k:
        How far below the local mean an object pixel must be (larger: fewer object pixels).

    Other parameters and the return value are those of :func:`otsu`.
    """
    return _local(image, polarity, smooth, window_size, k, _sauvola)


def niblack(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    window_size: int = 31,
    k: float = 0.5,
    smooth: float = 0.0,
) -> np.ndarray:
    """Niblack's local threshold ``T = m - k * s`` (for ``"bright"``: ``m + k * s``), with ``m``
    and ``s`` the mean and standard deviation in the window;
    ``skimage.filters.threshold_niblack``.

    ``"auto"`` takes the polarity towards which the residual from the local mean is skewed.
    Niblack marks noise in uniform areas as object; a larger ``k`` or some ``smooth`` limits it.

    Parameters
    ----------
    window_size:
        Odd side of the square window in pixels (>= 3).
    k:
        Object pixels are at least ``k`` standard deviations beyond the local mean.

    Other parameters and the return value are those of :func:`otsu`.
    """
    return _local(image, polarity, smooth, window_size, k, filters.threshold_niblack)
