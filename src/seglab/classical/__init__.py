"""Classical segmentation: thresholds, histogram, k-means, watershed, active contours,
superpixels — scored with the same code as the networks.

Every method is a function ``method(image, *, polarity="auto", **options) -> mask`` (bool; for
the watershed methods, int labels with one label per object). Input rules (dtypes, RGBA, NaN,
constant and tiny images) are in :mod:`seglab.classical.common`. :data:`METHODS` is the registry
the CLI and the tuner use: each entry knows its function, its small tuning grid and, for k-means,
how to learn from training labels.

>>> from seglab.classical import METHODS, otsu
>>> sorted(METHODS)[:3]
['chan_vese', 'compact_watershed', 'felzenszwalb']
"""

from __future__ import annotations

from functools import partial

from seglab.classical import cluster, contour, histogram, region, superpixel, threshold
from seglab.classical.cluster import fit_kmeans, kmeans
from seglab.classical.contour import chan_vese, morph_chan_vese, morph_geodesic, snake
from seglab.classical.fit import ClassicalMethod, fit_method
from seglab.classical.histogram import histogram as histogram_segment
from seglab.classical.region import compact_watershed, watershed
from seglab.classical.superpixel import felzenszwalb, slic, superpixels
from seglab.classical.threshold import li, multi_otsu, niblack, otsu, sauvola, triangle, yen
from seglab.errors import ConfigError


def _method(name: str, function, grids: dict, **kw) -> ClassicalMethod:
    return ClassicalMethod(name, function, grids[name], **kw)


# the marker choice is a method of its own in the registry, not a tuning knob
_WATERSHED_GRID = {k: v for k, v in region.GRIDS["watershed"].items() if k != "markers"}

METHODS: dict[str, ClassicalMethod] = {
    m.name: m
    for m in (
        _method("otsu", otsu, threshold.GRIDS, summary="global Otsu threshold"),
        _method("multi_otsu", multi_otsu, threshold.GRIDS, summary="multi-level Otsu"),
        _method("li", li, threshold.GRIDS, summary="Li's minimum cross-entropy threshold"),
        _method("yen", yen, threshold.GRIDS, summary="Yen's maximum correlation threshold"),
        _method("triangle", triangle, threshold.GRIDS, summary="triangle threshold"),
        _method("sauvola", sauvola, threshold.GRIDS, summary="local Sauvola threshold"),
        _method("niblack", niblack, threshold.GRIDS, summary="local Niblack threshold"),
        _method(
            "histogram",
            histogram_segment,
            histogram.GRIDS,
            summary="histogram modes and valleys (bundles)",
        ),
        _method(
            "kmeans",
            kmeans,
            cluster.GRIDS,
            fit=fit_kmeans,
            summary="k-means on colour (+ position)",
        ),
        ClassicalMethod(
            "watershed",
            partial(watershed, markers="distance"),
            _WATERSHED_GRID,
            output="labels",
            summary="watershed from distance-transform markers",
        ),
        ClassicalMethod(
            "watershed_gradient",
            partial(watershed, markers="gradient"),
            _WATERSHED_GRID,
            output="labels",
            summary="watershed on the gradient from its minima",
        ),
        _method(
            "compact_watershed",
            compact_watershed,
            region.GRIDS,
            output="labels",
            summary="compact watershed",
        ),
        _method("snake", snake, contour.GRIDS, summary="active contour (Kass et al.)"),
        _method("chan_vese", chan_vese, contour.GRIDS, summary="Chan-Vese level set"),
        _method(
            "morph_chan_vese", morph_chan_vese, contour.GRIDS, summary="morphological Chan-Vese"
        ),
        _method(
            "morph_geodesic",
            morph_geodesic,
            contour.GRIDS,
            summary="morphological geodesic active contour",
        ),
        _method("slic", slic, superpixel.GRIDS, summary="SLIC superpixels, thresholded"),
        _method("felzenszwalb", felzenszwalb, superpixel.GRIDS, summary="Felzenszwalb superpixels"),
    )
}


def get_method(name: str) -> ClassicalMethod:
    """The registered method called ``name``; an unknown name lists the valid ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(
            f"unknown classical method {name!r}; choose one of: {', '.join(METHODS)}"
        ) from None


__all__ = [
    "METHODS",
    "ClassicalMethod",
    "chan_vese",
    "compact_watershed",
    "felzenszwalb",
    "fit_kmeans",
    "fit_method",
    "get_method",
    "histogram_segment",
    "kmeans",
    "li",
    "morph_chan_vese",
    "morph_geodesic",
    "multi_otsu",
    "niblack",
    "otsu",
    "sauvola",
    "slic",
    "snake",
    "superpixels",
    "triangle",
    "watershed",
    "yen",
]
