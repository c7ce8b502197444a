"""Superpixels (SLIC, Felzenszwalb-Huttenlocher) and object masks built from them.

:func:`superpixels` returns the label image of small, nearly uniform regions (the building
blocks). :func:`slic` and :func:`felzenszwalb` turn them into an object mask: each superpixel is
replaced by its mean gray intensity, Otsu's threshold is taken over the superpixel means (one
value per superpixel, whatever its size) and the superpixels on the object side are kept.
``polarity`` is that of :func:`seglab.classical.common.apply_threshold`: ``"bright"`` or
``"dark"``, or ``"auto"`` for the side covering fewer pixels. Thresholding whole superpixels
instead of pixels removes pixel noise and makes the mask follow the image's edges.

Input rules (gray/RGB/RGBA, dtypes, NaN) are those of :mod:`seglab.classical.common`; colour is
kept for the superpixels (SLIC works in CIELAB), gray decides the object. Constant images give an
all-background mask.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage import segmentation as sks
from skimage.filters import threshold_otsu

from seglab.classical.common import (
    apply_threshold,
    check_float,
    check_int,
    check_polarity,
    is_constant,
    to_gray,
    to_rgb,
)
from seglab.errors import ConfigError

METHODS = ("slic", "felzenszwalb")

GRIDS: dict[str, dict[str, list]] = {
    "slic": {
        "polarity": ["bright", "dark"],
        "n_segments": [100, 400, 1600],
        "compactness": [5, 20],
    },
    "felzenszwalb": {
        "polarity": ["bright", "dark"],
        "scale": [30, 100, 300],
        "min_size": [10, 50],
    },
}


def superpixels(
    image: np.ndarray,
    *,
    method: str = "slic",
    n_segments: int = 200,
    compactness: float = 10.0,
    scale: float = 100.0,
    sigma: float = 0.8,
    min_size: int = 20,
) -> np.ndarray:
    """Superpixel labels ``1..N`` of an image, by SLIC or Felzenszwalb-Huttenlocher.

    ``"slic"`` (:func:`skimage.segmentation.slic`, CIELAB k-means in colour and position) uses
    ``n_segments`` and ``compactness``; ``"felzenszwalb"`` (graph merging,
    :func:`skimage.segmentation.felzenszwalb`) uses ``scale`` and ``min_size``. Both run on the
    RGB image stretched to [0, 1] (so that ``compactness`` and ``scale`` mean the same for every
    dtype and exposure), smoothed by a Gaussian of width ``sigma``.

    Parameters
    ----------
    image:
        ``H x W`` gray or ``H x W x 3|4`` colour image, any dtype.
    method:
        ``"slic"`` or ``"felzenszwalb"``.
    n_segments:
        Approximate number of SLIC superpixels (``>= 1``).
    compactness:
        SLIC's colour/space balance (``> 0``): larger gives squarer superpixels.
    scale:
        Felzenszwalb's scale (``> 0``): larger gives larger superpixels.
    sigma:
        Gaussian pre-smoothing, in pixels (``>= 0``).
    min_size:
        Felzenszwalb's smallest superpixel, in pixels (``>= 1``).

    Returns
    -------
    numpy.ndarray
        ``H x W`` int32 labels, ``1..N``.

    Raises
    ------
    ConfigError
        For an unknown ``method`` or an out-of-range number.

    Examples
    --------
    >>> labels = superpixels(np.random.default_rng(0).random((32, 32)), n_segments=16)
    >>> labels.shape, int(labels.min())
    ((32, 32), 1)
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    n_segments = check_int("n_segments", n_segments, minimum=1)
    compactness = check_float("compactness", compactness, minimum=0.0, strict=True)
    scale = check_float("scale", scale, minimum=0.0, strict=True)
    sigma = check_float("sigma", sigma, minimum=0.0)
    min_size = check_int("min_size", min_size, minimum=1)

    rgb = to_rgb(image)
    low, high = float(rgb.min()), float(rgb.max())
    if high > low:  # so that compactness and scale mean the same for every dtype and exposure
        rgb = (rgb - low) / (high - low)
    if method == "slic":
        labels = sks.slic(
            rgb,
            n_segments=n_segments,
            compactness=compactness,
            sigma=sigma,
            start_label=1,
            channel_axis=-1,
        )
    else:
        labels = sks.felzenszwalb(rgb, scale=scale, sigma=sigma, min_size=min_size) + 1
    return labels.astype(np.int32, copy=False)


def slic(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    n_segments: int = 200,
    compactness: float = 10.0,
    sigma: float = 0.8,
) -> np.ndarray:
    """Object mask from SLIC superpixels on the object side of Otsu's threshold of their means.

    See the module doc for how superpixels become a mask and :func:`superpixels` for the
    parameters; ``polarity`` is ``"bright"``, ``"dark"`` or ``"auto"``.

    Examples
    --------
    >>> image = np.zeros((32, 32))
    >>> image[8:24, 8:24] = 1.0
    >>> mask = slic(image, n_segments=64)
    >>> bool(mask[16, 16]), bool(mask[2, 2])
    (True, False)
    """
    check_polarity(polarity)
    labels = superpixels(
        image, method="slic", n_segments=n_segments, compactness=compactness, sigma=sigma
    )
    return _object_superpixels(to_gray(image), labels, polarity)


def felzenszwalb(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    scale: float = 100.0,
    sigma: float = 0.8,
    min_size: int = 20,
) -> np.ndarray:
    """Object mask from Felzenszwalb superpixels on the object side of Otsu's threshold of their
    means.

    See the module doc for how superpixels become a mask and :func:`superpixels` for the
    parameters; ``polarity`` is ``"bright"``, ``"dark"`` or ``"auto"``.

    Examples
    --------
    >>> image = np.zeros((32, 32))
    >>> image[8:24, 8:24] = 1.0
    >>> int(felzenszwalb(image).sum())
    256
    """
    check_polarity(polarity)
    labels = superpixels(image, method="felzenszwalb", scale=scale, sigma=sigma, min_size=min_size)
    return _object_superpixels(to_gray(image), labels, polarity)


def _object_superpixels(gray: np.ndarray, labels: np.ndarray, polarity: str) -> np.ndarray:
    count = int(labels.max())
    means = np.asarray(ndi.mean(gray, labels=labels, index=np.arange(1, count + 1)), float)
    if is_constant(means):
        return np.zeros(gray.shape, bool)
    mean_image = np.concatenate([[means.mean()], means])[labels]
    return apply_threshold(mean_image, threshold_otsu(means), polarity)
