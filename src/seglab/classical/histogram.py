"""Histogram-based segmentation: split the gray levels into bundles at the valleys of the histogram.

This is the seed's "histogram-based bundling" [1] in its plainest form, the mode/valley analysis of
the gray-level histogram; it is not a reimplementation of the histogram-specification method of
[1]. Peaks and valleys come from :func:`scipy.signal.find_peaks`, the fallback threshold from
Otsu's method [2] (:func:`skimage.filters.threshold_otsu`).

[1] G. Thomas, "Image segmentation using histogram specification", 15th IEEE International
Conference on Image Processing (ICIP), 2008.
[2] N. Otsu, "A threshold selection method from gray-level histograms", IEEE Transactions on
Systems, Man, and Cybernetics, 9(1):62-66, 1979.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks
from skimage.filters import threshold_otsu

from seglab.classical.common import (
    apply_threshold,
    check_float,
    check_int,
    check_polarity,
    is_constant,
    to_gray,
)
from seglab.errors import ConfigError

GRIDS: dict[str, dict[str, list]] = {
    "histogram": {
        "polarity": ["bright", "dark"],
        "smooth": [1.0, 3.0],
        "min_prominence": [0.02, 0.05, 0.15],
    },
}


_NOISE_Z = 5.0


def _bin_edges(gray: np.ndarray, bins: int) -> np.ndarray:
    lo, hi = float(gray.min()), float(gray.max())
    n_bins = int(min(bins, max(16, np.sqrt(gray.size))))
    width = (hi - lo) / n_bins
    levels = np.unique(gray)
    if levels.size > 16:
        # quantised data (uint8, uint16) lie on a lattice of step `step`: bins narrower than the
        # step, or not a whole number of steps wide, alternate full and empty (a comb of false
        # modes); so make every bin a whole number of steps wide, centred on the levels
        step = float(np.diff(levels).min())
        if width / step < 1e6:
            width = step * max(1, round(width / step))
            n_bins = int(np.floor((hi - lo) / width + 0.5)) + 1
            return lo - width / 2 + width * np.arange(n_bins + 1)
    return np.linspace(lo, hi, n_bins + 1)


def find_valleys(
    gray: np.ndarray, *, bins: int = 256, smooth: float = 2.0, min_prominence: float = 0.05
) -> list[float]:
    """Gray levels of the valleys between the modes of ``gray``'s smoothed histogram.

    The histogram has about ``min(bins, max(16, sqrt(n_pixels)))`` bins over the range of
    ``gray`` (fewer bins for small images keep the counts per bin meaningful; for quantised data
    such as uint8 each bin spans a whole number of quantisation steps) and is smoothed with a
    Gaussian of ``smooth`` bins. A mode is a peak whose prominence is at least ``min_prominence``
    times the highest count and at least five times what Poisson noise of the counts gives; peaks
    at either end of the range count. Between two neighbouring modes the valley is the middle of
    the lowest bins. Returns the valleys in increasing order (empty for a unimodal histogram); a
    pixel above the ``i``-th valley and at most the ``i+1``-th belongs to bundle ``i+1``.
    ``gray`` must be finite, as :func:`~seglab.classical.common.to_gray` returns it.
    """
    if is_constant(gray):
        return []
    edges = _bin_edges(gray, bins)
    counts, _ = np.histogram(gray, bins=edges)
    hist = gaussian_filter1d(counts.astype(np.float64), smooth) if smooth > 0 else counts * 1.0
    # zero padding lets a mode sit on the first or last bin
    padded = np.concatenate([[0.0], hist, [0.0]])
    peaks, props = find_peaks(padded, prominence=min_prominence * float(hist.max()))
    # counts are Poisson: a smoothed bin varies by sqrt(sum(w**2) * count) for kernel weights w;
    # a mode must stand _NOISE_Z such deviations above its base, or it is a ripple of noise
    impulse = np.zeros(8 * int(np.ceil(smooth)) + 1)
    impulse[impulse.size // 2] = 1.0
    w2 = float((gaussian_filter1d(impulse, smooth) ** 2).sum()) if smooth > 0 else 1.0
    prom = props["prominences"]
    noise = np.sqrt(w2 * (2 * padded[peaks] - prom))
    peaks = peaks[prom >= _NOISE_Z * noise] - 1
    centres = (edges[:-1] + edges[1:]) / 2
    found = []
    for left, right in pairwise(peaks):
        segment = hist[left : right + 1]
        lowest = np.flatnonzero(segment <= segment.min() + 1e-12 * max(hist.max(), 1.0))
        found.append(float(centres[left + lowest[len(lowest) // 2]]))
    return found


def histogram(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    bins: int = 256,
    smooth: float = 2.0,
    min_prominence: float = 0.05,
) -> np.ndarray:
    """Histogram bundling [1]: the object is the extreme gray-level bundle on the polarity side.

    What it does, step by step:

    1. the image becomes a float gray image (:func:`~seglab.classical.common.to_gray`);
    2. its gray-level histogram is smoothed and its modes and valleys are found
       (:func:`find_valleys`: ``bins``, ``smooth`` in bins, ``min_prominence`` as a fraction of the
       highest count);
    3. the valleys split the gray range into bundles, one per mode;
    4. the object is the brightest bundle (``"bright"``: pixels above the last valley), the darkest
       (``"dark"``: pixels at or below the first valley) or, for ``"auto"``, whichever of those two
       has fewer pixels (ties: bright). Middle bundles are background.

    A unimodal histogram has no valley: the two bundles are then the two sides of Otsu's
    threshold [2]. A constant image gives an all-``False`` mask.

    Parameters
    ----------
    image:
        ``H x W`` gray, ``H x W x 3`` RGB or ``H x W x 4`` RGBA array of any numeric dtype.
    polarity:
        ``"bright"``, ``"dark"`` or ``"auto"``.
    bins:
        Most histogram bins (>= 2); small images use fewer, see :func:`find_valleys`.
    smooth:
        Standard deviation, in bins, of the Gaussian smoothing the histogram (0: none). Larger
        values merge close modes.
    min_prominence:
        Smallest prominence of a mode as a fraction of the highest histogram count, in [0, 1].

    Returns
    -------
    np.ndarray
        Boolean ``H x W`` mask, ``True`` on the object.

    Examples
    --------
    >>> img = np.zeros((20, 20)); img[:10] = 0.5; img[:5, :5] = 1.0
    >>> int(histogram(img, polarity="bright").sum()), int(histogram(img, polarity="dark").sum())
    (25, 200)
    """
    check_polarity(polarity)
    check_int("bins", bins, minimum=2)
    check_float("smooth", smooth, minimum=0)
    check_float("min_prominence", min_prominence, minimum=0)
    if min_prominence > 1:
        raise ConfigError(f"min_prominence is a fraction in [0, 1], not {min_prominence!r}")
    gray = to_gray(image)
    if is_constant(gray):
        return np.zeros(gray.shape, dtype=bool)
    cuts = find_valleys(gray, bins=int(bins), smooth=float(smooth), min_prominence=min_prominence)
    if not cuts:
        return apply_threshold(gray, threshold_otsu(gray), polarity)
    top = gray > cuts[-1]
    bottom = gray <= cuts[0]
    if polarity == "bright":
        return top
    if polarity == "dark":
        return bottom
    return top if top.sum() <= bottom.sum() else bottom
