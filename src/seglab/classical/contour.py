"""Active contours: snakes (Kass, Witkin & Terzopoulos [5]), Chan-Vese and their morphological
(level-set) variants, each returning a bool object mask.

The contour evolution is scikit-image's; seglab chooses the start, the scale and which side of the
final contour is the object:

* :func:`snake` moves a closed curve (:func:`skimage.segmentation.active_contour`) from a start
  curve onto nearby edges and fills it.
* :func:`chan_vese` and :func:`morph_chan_vese` split the image into two phases of least
  intensity variance with a short boundary. Which phase is the object is decided by ``polarity``:
  ``"bright"`` the phase with the higher mean intensity, ``"dark"`` the lower, ``"auto"`` the
  phase with fewer pixels.
* :func:`morph_geodesic` moves a level set on the edge map (an inverse Gaussian gradient), by
  default shrinking from the image border onto the objects' edges.

Images larger than :data:`MAX_SIDE` pixels on a side are segmented on a copy resized
(anti-aliased) to ``MAX_SIDE`` on the longer side; the level-set masks are resized back with
nearest neighbour, the snake's curve is scaled back and filled at full size. This keeps the run
time under a second or so and makes ``iterations`` mean about the same distance at every image
size; lengths in pixels (``smooth``, ``sigma``) are pixels of that working image.

Images under :data:`MIN_SIDE` pixels on a side leave a contour no room to move: every method
returns their Otsu mask (``polarity`` side). Input rules (gray, RGB, RGBA, dtypes, NaN) are those
of :mod:`seglab.classical.common`; constant images give an all-background mask.
"""

from __future__ import annotations

import numpy as np
from skimage import segmentation as sks
from skimage.draw import polygon
from skimage.transform import resize

from seglab.classical import _contour_parts as parts
from seglab.classical.common import check_float, check_int, check_polarity, is_constant, to_gray
from seglab.core.checks import check_choice

MAX_SIDE = 256  # level-set methods run at most at this size (see the module doc)
MIN_SIDE = 8  # below this a contour has no room to move: the Otsu mask is returned
SNAKE_INITS = ("threshold", "box", "circle")
MCV_INITS = ("checkerboard", "disk", "threshold")
GEODESIC_INITS = ("auto", "box", "disk", "threshold")

GRIDS: dict[str, dict[str, list]] = {
    "snake": {
        "polarity": ["bright", "dark"],
        "init": ["threshold", "circle", "box"],
        "gamma": [0.001, 0.01],
    },
    "chan_vese": {
        "polarity": ["bright", "dark"],
        "mu": [0.05, 0.25, 0.5],
        "smooth": [0.0, 2.0],
    },
    "morph_chan_vese": {
        "polarity": ["bright", "dark"],
        "iterations": [30, 100],
        "smoothing": [1, 3],
    },
    "morph_geodesic": {
        "polarity": ["bright", "dark"],
        "balloon": [-1, 1],
        "sigma": [1.0, 3.0],
    },
}


def snake(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    init: str = "threshold",
    alpha: float = 0.015,
    beta: float = 10.0,
    gamma: float = 0.001,
    iterations: int = 250,
    smooth: float = 2.0,
) -> np.ndarray:
    """Fit a closed snake (Kass et al. [5]) to the edges of the Gaussian-smoothed image, filled.

    The start curve is, by ``init``: ``"threshold"``, the outline of the largest component of
    Otsu's threshold on the ``polarity`` side, resampled to 100-200 points evenly spaced along
    it; ``"box"``, the image border inset by 2 % of the shorter side (at least 1 pixel);
    ``"circle"``, a centred circle of radius 0.4 times the shorter side. The curve then moves
    for ``iterations`` steps of :func:`skimage.segmentation.active_contour` (edge attraction,
    ``(row, col)`` coordinates) and its inside is the mask. One curve finds one object: in a
    scene of several, the one it starts on (``"threshold"``) or around. ``polarity`` only
    matters for ``init="threshold"``.

    Parameters
    ----------
    image:
        ``H x W`` gray or ``H x W x 3|4`` colour image, any dtype.
    polarity:
        ``"bright"``, ``"dark"`` or ``"auto"`` (the smaller side of Otsu's threshold).
    init:
        ``"threshold"``, ``"box"`` or ``"circle"`` (above).
    alpha, beta, gamma:
        Snake length weight (elasticity), smoothness weight (rigidity) and time step, as in
        :func:`skimage.segmentation.active_contour` (``>= 0``, ``gamma > 0``).
    iterations:
        Number of steps (``>= 1``); the curve moves at most one pixel a step.
    smooth:
        Standard deviation of the Gaussian smoothing, in pixels (0: none); a wider blur lets
        edges pull the curve from further away.

    Returns
    -------
    numpy.ndarray
        ``H x W`` bool mask, True inside the final curve.

    Raises
    ------
    ConfigError
        For an unknown ``polarity`` or ``init``, or an out-of-range number.

    Examples
    --------
    >>> yy, xx = np.mgrid[:48, :48]
    >>> disc = ((yy - 24) ** 2 + (xx - 24) ** 2 < 144).astype(float)
    >>> bool(snake(disc)[24, 24]), bool(snake(disc)[2, 2])
    (True, False)
    """
    check_polarity(polarity)
    check_choice("init", init, SNAKE_INITS)
    alpha = check_float("alpha", alpha, minimum=0.0)
    beta = check_float("beta", beta, minimum=0.0)
    gamma = check_float("gamma", gamma, minimum=0.0, strict=True)
    iterations = check_int("iterations", iterations, minimum=1)
    smooth = check_float("smooth", smooth, minimum=0.0)

    gray = to_gray(image)
    if (done := _trivial(gray, polarity)) is not None:
        return done
    work = parts.smoothed(_downscale(gray), smooth)
    start = None if is_constant(work) else parts.snake_start(work, init, polarity)
    if start is None:
        return np.zeros(gray.shape, bool)
    curve = sks.active_contour(
        work, start, alpha=alpha, beta=beta, gamma=gamma, max_num_iter=iterations
    )
    # Back to full-resolution (row, col), pixel centres matched as skimage's resize does.
    curve = (curve + 0.5) * (np.array(gray.shape) / np.array(work.shape)) - 0.5
    mask = np.zeros(gray.shape, bool)
    rows, cols = polygon(curve[:, 0], curve[:, 1], gray.shape)
    mask[rows, cols] = True
    return mask


def chan_vese(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    mu: float = 0.25,
    iterations: int = 200,
    smooth: float = 1.0,
) -> np.ndarray:
    """Two-phase Chan-Vese segmentation (:func:`skimage.segmentation.chan_vese`), object side
    chosen by ``polarity``.

    The smoothed gray image is split into two phases, each close to its mean intensity, with a
    boundary whose length is weighted by ``mu``. The object is the brighter phase
    (``"bright"``), the darker one (``"dark"``) or the smaller one (``"auto"``); a result with a
    single phase is all background. Images over :data:`MAX_SIDE` pixels are segmented at that
    size (module doc).

    Parameters
    ----------
    image:
        ``H x W`` gray or ``H x W x 3|4`` colour image, any dtype.
    polarity:
        ``"bright"``, ``"dark"`` or ``"auto"``.
    mu:
        Boundary length weight (``>= 0``): larger gives smoother, rounder objects and drops small
        ones.
    iterations:
        Maximum number of level-set steps (``>= 1``); it stops earlier once stable.
    smooth:
        Standard deviation of the Gaussian smoothing first, in pixels (0: none).

    Returns
    -------
    numpy.ndarray
        ``H x W`` bool object mask.

    Raises
    ------
    ConfigError
        For an unknown ``polarity`` or an out-of-range number.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :40]
    >>> disc = ((yy - 20) ** 2 + (xx - 20) ** 2 < 100).astype(float)
    >>> int(chan_vese(disc, polarity="bright").sum()), int(disc.sum())
    (305, 305)
    """
    check_polarity(polarity)
    mu = check_float("mu", mu, minimum=0.0)
    iterations = check_int("iterations", iterations, minimum=1)
    smooth = check_float("smooth", smooth, minimum=0.0)

    gray = to_gray(image)
    if (done := _trivial(gray, polarity)) is not None:
        return done
    small = parts.smoothed(_downscale(gray), smooth)
    phase = sks.chan_vese(small, mu=mu, max_num_iter=iterations)
    return parts.object_phase(gray, parts.upscale(phase, gray.shape), polarity)


def morph_chan_vese(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    iterations: int = 60,
    smoothing: int = 1,
    init: str = "checkerboard",
) -> np.ndarray:
    """Morphological Chan-Vese (:func:`skimage.segmentation.morphological_chan_vese`), object
    side chosen by ``polarity``.

    A fast, parameter-light version of :func:`chan_vese`: the level set moves by binary
    morphology. It starts from a checkerboard of 5-pixel squares (``init="checkerboard"``), a
    centred disc of radius 0.4 times the shorter side (``"disk"``) or Otsu's mask
    (``"threshold"``). The object phase is chosen as in :func:`chan_vese`; images over
    :data:`MAX_SIDE` pixels run at that size (module doc).

    Parameters
    ----------
    image:
        ``H x W`` gray or ``H x W x 3|4`` colour image, any dtype.
    polarity:
        ``"bright"``, ``"dark"`` or ``"auto"``.
    iterations:
        Number of steps (``>= 1``).
    smoothing:
        Curvature smoothing passes per step (``>= 0``); more gives rounder objects.
    init:
        ``"checkerboard"``, ``"disk"`` or ``"threshold"``.

    Returns
    -------
    numpy.ndarray
        ``H x W`` bool object mask.

    Raises
    ------
    ConfigError
        For an unknown ``polarity`` or ``init``, or an out-of-range number.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :40]
    >>> disc = ((yy - 20) ** 2 + (xx - 20) ** 2 < 100).astype(float)
    >>> int(morph_chan_vese(disc).sum()), int(disc.sum())
    (305, 305)
    """
    check_polarity(polarity)
    iterations = check_int("iterations", iterations, minimum=1)
    smoothing = check_int("smoothing", smoothing, minimum=0)
    check_choice("init", init, MCV_INITS)

    gray = to_gray(image)
    if (done := _trivial(gray, polarity)) is not None:
        return done
    small = _downscale(gray)
    start = parts.mcv_start(small, init, polarity)
    phase = sks.morphological_chan_vese(
        small, iterations, init_level_set=start, smoothing=smoothing
    )
    return parts.object_phase(gray, parts.upscale(phase, gray.shape), polarity)


def morph_geodesic(
    image: np.ndarray,
    *,
    polarity: str = "auto",
    iterations: int = 100,
    balloon: float = -1,
    threshold: float | str = "auto",
    smoothing: int = 1,
    sigma: float = 2.0,
    init: str = "auto",
) -> np.ndarray:
    """Morphological geodesic active contour on the image's edge map, filled.

    The gray image, stretched to [0, 1], becomes an edge map by
    :func:`skimage.segmentation.inverse_gaussian_gradient` (Gaussian ``sigma``; near 0 on edges,
    near 1 on flat areas), on which
    :func:`skimage.segmentation.morphological_geodesic_active_contour` moves a level set. The
    start (``init``) is ``"box"``, the image border inset by 2 % of the shorter side (at least
    one pixel), which a negative ``balloon`` shrinks onto the objects; ``"disk"``, a centred disc
    of radius 0.4 times the shorter side; ``"threshold"``, Otsu's mask on the ``polarity`` side,
    which a positive ``balloon`` grows out to the edges; ``"auto"`` is ``"box"`` when
    ``balloon < 0`` and ``"threshold"`` otherwise. The inside of the final level set is the
    object; with ``polarity`` ``"bright"`` or ``"dark"``, only its connected components whose
    mean intensity lies on that side of Otsu's threshold are kept. Images over
    :data:`MAX_SIDE` pixels run at that size (module doc).

    Parameters
    ----------
    image:
        ``H x W`` gray or ``H x W x 3|4`` colour image, any dtype.
    polarity:
        ``"bright"``, ``"dark"`` or ``"auto"`` (keep every component).
    iterations:
        Number of steps (``>= 1``); the balloon moves the contour about one pixel a step.
    balloon:
        Balloon force: ``< 0`` shrinks, ``> 0`` grows where the edge map is above ``threshold``.
    threshold:
        Edge-map value below which the contour stops (``"auto"``: skimage's 40th percentile).
    smoothing:
        Curvature smoothing passes per step (``>= 0``).
    sigma:
        Gaussian width of the edge map, in pixels (``> 0``).
    init:
        ``"auto"``, ``"box"``, ``"disk"`` or ``"threshold"`` (above).

    Returns
    -------
    numpy.ndarray
        ``H x W`` bool object mask.

    Raises
    ------
    ConfigError
        For an unknown ``polarity``, ``init`` or ``threshold``, or an out-of-range number.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :40]
    >>> disc = ((yy - 20) ** 2 + (xx - 20) ** 2 < 100).astype(float)
    >>> bool(morph_geodesic(disc)[20, 20]), bool(morph_geodesic(disc)[2, 2])
    (True, False)
    """
    check_polarity(polarity)
    iterations = check_int("iterations", iterations, minimum=1)
    balloon = check_float("balloon", balloon)
    if not (isinstance(threshold, str) and threshold == "auto"):
        threshold = check_float("threshold", threshold, minimum=0.0)
    smoothing = check_int("smoothing", smoothing, minimum=0)
    sigma = check_float("sigma", sigma, minimum=0.0, strict=True)
    check_choice("init", init, GEODESIC_INITS)

    gray = to_gray(image)
    if (done := _trivial(gray, polarity)) is not None:
        return done
    small = _downscale(gray)
    low, high = float(small.min()), float(small.max())
    if high == low:  # the resize averaged the contrast away
        return np.zeros(gray.shape, bool)
    edges = sks.inverse_gaussian_gradient((small - low) / (high - low), sigma=sigma)
    start = parts.geodesic_start(small, init, balloon, polarity)
    inside = sks.morphological_geodesic_active_contour(
        edges,
        iterations,
        init_level_set=start,
        smoothing=smoothing,
        threshold=threshold,
        balloon=balloon,
    )
    mask = parts.upscale(inside, gray.shape)
    if polarity == "auto" or not mask.any():
        return mask
    return parts.components_on_side(gray, mask, polarity)


# --- helpers ------------------------------------------------------------------------------------


def _trivial(gray: np.ndarray, polarity: str) -> np.ndarray | None:
    """The mask of an image no contour can work on: all background when it is constant, Otsu's
    mask under :data:`MIN_SIDE` pixels a side; ``None`` for any other image."""
    if is_constant(gray):
        return np.zeros(gray.shape, bool)
    if min(gray.shape) < MIN_SIDE:
        return parts.otsu(gray, polarity)
    return None


def _downscale(gray: np.ndarray) -> np.ndarray:
    side = max(gray.shape)
    if side <= MAX_SIDE:
        return gray
    shape = tuple(max(1, round(n * MAX_SIDE / side)) for n in gray.shape)
    return resize(gray, shape, anti_aliasing=True, preserve_range=True)
