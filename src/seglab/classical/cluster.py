"""Colour clustering: k-means [3] on the pixels' RGB (optionally plus position) features.

:func:`kmeans` clusters the pixels with scikit-learn's :class:`~sklearn.cluster.KMeans` and
decides which clusters are the object, either from the object and background colours learned on
training masks by :func:`fit_kmeans`, or from the polarity.

[3] N. Dhanachandra, K. Manglem and Y. J. Chanu, "Image segmentation using k-means clustering
algorithm and subtractive clustering algorithm", Procedia Computer Science, 54:764-771, 2015.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.cluster import KMeans

from seglab.classical.common import check_int, check_polarity, is_constant, to_rgb
from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError, DataError

GRIDS: dict[str, dict[str, list]] = {
    "kmeans": {"k": [2, 3, 4], "use_position": [False, True]},
}

_LUMA = np.array([0.299, 0.587, 0.114])


def _check_colour(name: str, colour) -> np.ndarray | None:
    if colour is None:
        return None
    try:
        arr = np.asarray(colour, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.empty(0)
    if arr.shape != (3,) or not np.isfinite(arr).all():
        raise ConfigError(
            f"{name} must be three finite numbers (mean R, G, B in [0, 1], as returned by "
            f"fit_kmeans), not {colour!r}"
        )
    return arr


def _features(rgb: np.ndarray, use_position: bool, position_weight: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    colour = rgb.reshape(-1, 3)
    if not use_position:
        return colour
    yy, xx = np.mgrid[0:h, 0:w]
    # positions scaled to [0, 1] like the colours, then weighted
    pos = np.stack([yy.ravel() / max(h - 1, 1), xx.ravel() / max(w - 1, 1)], axis=1)
    return np.hstack([colour, position_weight * pos])


def kmeans(
    image: np.ndarray,
    *,
    k: int = 3,
    use_position: bool = False,
    position_weight: float = 0.5,
    object_colour: Sequence[float] | None = None,
    background_colour: Sequence[float] | None = None,
    polarity: str = "auto",
    seed: int = 0,
    max_pixels: int = 20000,
) -> np.ndarray:
    """k-means colour segmentation [3]: cluster the pixels, keep the object-like clusters.

    The features are each pixel's RGB in [0, 1] (:func:`~seglab.classical.common.to_rgb`; gray
    images are repeated on three channels) and, with ``use_position``, its row and column scaled
    to [0, 1] and multiplied by ``position_weight``. :class:`sklearn.cluster.KMeans` (``n_init=3``,
    ``random_state=seed``) is fitted on at most ``max_pixels`` randomly chosen pixels and then
    assigns every pixel to its nearest centre. ``k`` is lowered to the number of distinct
    features in the sample when there are fewer.

    Which clusters are the object:

    * with ``object_colour`` and ``background_colour`` (from :func:`fit_kmeans`): every cluster
      whose centre's colour is closer to ``object_colour`` than to ``background_colour``; the
      polarity is then ignored;
    * otherwise by polarity: ``"bright"`` the cluster with the brightest centre (luminance),
      ``"dark"`` the darkest, ``"auto"`` the cluster with the fewest pixels.

    Images whose pixels all have the same colour give an all-``False`` mask.

    Parameters
    ----------
    image:
        ``H x W`` gray, ``H x W x 3`` RGB or ``H x W x 4`` RGBA array of any numeric dtype.
    k:
        Number of clusters (>= 2).
    use_position:
        Add the pixel coordinates to the features (clusters become spatially compact).
    position_weight:
        Weight of the coordinates relative to the colours (>= 0).
    object_colour, background_colour:
        Mean object and background RGB in [0, 1]; give both or neither.
    polarity:
        ``"bright"``, ``"dark"`` or ``"auto"``; used when no colours are given.
    seed:
        Seed of the subsample and of the k-means initialisation.
    max_pixels:
        Most pixels used to fit the centres (>= ``k``).

    Returns
    -------
    np.ndarray
        Boolean ``H x W`` mask, ``True`` on the object.

    Examples
    --------
    >>> img = np.zeros((8, 8, 3)); img[2:5, 2:5] = (1.0, 0.0, 0.0)
    >>> int(kmeans(img, k=2).sum())
    9
    """
    k = check_int("k", k, minimum=2)
    max_pixels = check_int("max_pixels", max_pixels, minimum=k)
    seed = check_int("seed", seed, minimum=0)
    check_polarity(polarity)
    if (
        isinstance(position_weight, bool)
        or not isinstance(position_weight, (int, float, np.integer, np.floating))
        or not np.isfinite(position_weight)
        or position_weight < 0
    ):
        raise ConfigError(f"position_weight must be a number >= 0, not {position_weight!r}")
    obj = _check_colour("object_colour", object_colour)
    bg = _check_colour("background_colour", background_colour)
    if (obj is None) != (bg is None):
        raise ConfigError(
            "give both object_colour and background_colour (e.g. from fit_kmeans) or neither"
        )

    rgb = to_rgb(image)
    h, w = rgb.shape[:2]
    if all(is_constant(rgb[..., c]) for c in range(3)):
        return np.zeros((h, w), dtype=bool)
    features = _features(rgb, bool(use_position), float(position_weight))
    rng = np.random.default_rng(seed)
    n = features.shape[0]
    sample = features[rng.choice(n, max_pixels, replace=False)] if n > max_pixels else features
    n_clusters = min(k, len(np.unique(sample, axis=0)))
    if n_clusters < 2:  # the sample missed the only other colour; treat as constant
        return np.zeros((h, w), dtype=bool)
    model = KMeans(n_clusters=n_clusters, n_init=3, random_state=seed).fit(sample)
    labels = model.predict(features).reshape(h, w)
    centres = model.cluster_centers_[:, :3]

    if obj is not None:
        closer = np.linalg.norm(centres - obj, axis=1) < np.linalg.norm(centres - bg, axis=1)
        return closer[labels]
    if polarity == "bright":
        chosen = int(np.argmax(centres @ _LUMA))
    elif polarity == "dark":
        chosen = int(np.argmin(centres @ _LUMA))
    else:
        chosen = int(np.argmin(np.bincount(labels.ravel(), minlength=n_clusters)))
    return labels == chosen


def fit_kmeans(images: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> dict:
    """Mean object and background colours of training images, as parameters for :func:`kmeans`.

    Parameters
    ----------
    images:
        Images in any form :func:`~seglab.classical.common.to_rgb` accepts.
    masks:
        One ``H x W`` mask per image: 0 background, any other value object, 255 ignored.

    Returns
    -------
    dict
        ``{"object_colour": [r, g, b], "background_colour": [r, g, b]}``, floats in [0, 1].

    Raises
    ------
    DataError
        When the lists differ in length, a mask's shape differs from its image's, or the masks
        hold no object pixel or no background pixel at all.
    """
    if len(images) != len(masks):
        raise DataError(f"got {len(images)} images but {len(masks)} masks; pass one mask per image")
    if len(images) == 0:
        raise DataError("fit_kmeans needs at least one image and its mask")
    sums = {True: np.zeros(3), False: np.zeros(3)}
    counts = {True: 0, False: 0}
    for i, (image, mask) in enumerate(zip(images, masks, strict=True)):
        rgb = to_rgb(image, name=f"images[{i}]")
        mask = np.asarray(mask)
        if mask.shape != rgb.shape[:2]:
            raise DataError(
                f"masks[{i}] has shape {mask.shape} but images[{i}] is {rgb.shape[:2]}; "
                "each mask must be H x W like its image"
            )
        valid = mask != IGNORE_INDEX
        inside = valid & (mask != 0)
        for is_object, where in ((True, inside), (False, valid & ~inside)):
            sums[is_object] += rgb[where].sum(axis=0)
            counts[is_object] += int(where.sum())
    for is_object, what in ((True, "object"), (False, "background")):
        if counts[is_object] == 0:
            raise DataError(
                f"the masks hold no {what} pixel (0 = background, 255 = ignored, else object); "
                f"fit_kmeans needs both object and background pixels"
            )
    return {
        "object_colour": np.round(sums[True] / counts[True], 4).tolist(),
        "background_colour": np.round(sums[False] / counts[False], 4).tolist(),
    }
