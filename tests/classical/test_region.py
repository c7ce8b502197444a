"""Watershed methods: touching objects separated, instance labels, every input survives."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

from seglab.classical import region
from seglab.classical.region import GRIDS, compact_watershed, watershed
from seglab.errors import ConfigError

METHODS = {"watershed": watershed, "compact_watershed": compact_watershed}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


def discs(
    centres=((24, 22), (24, 42)),
    levels=(0.8, 0.8),
    *,
    shape=(48, 64),
    radius=12,
    background=0.2,
    noise=0.03,
    seed=0,
):
    """A noisy image of discs (two overlapping by default) and each disc's true mask."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, background)
    truths = []
    for (cy, cx), level in zip(centres, levels, strict=True):
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        image[inside] = level
        truths.append(inside)
    image += np.random.default_rng(seed).normal(0, noise, shape)
    return image, truths


def coverage(labels: np.ndarray, truth: np.ndarray) -> float:
    """Largest fraction of ``truth`` covered by a single label."""
    return max(
        (float((labels == k)[truth].mean()) for k in range(1, labels.max() + 1)), default=0.0
    )


@pytest.mark.parametrize("method", [watershed, compact_watershed])
def test_distance_markers_separate_touching_discs(method):
    image, truths = discs()
    labels = method(image)
    assert labels.dtype == np.int32 and labels.shape == image.shape
    assert labels.max() == 2 and set(np.unique(labels)) == {0, 1, 2}
    # measured: 0.97 and 0.94 of each disc in one label; union Dice 0.996
    assert all(coverage(labels, t) >= 0.85 for t in truths)
    assert dice(labels > 0, truths[0] | truths[1]) >= 0.9
    first = np.bincount(labels[truths[0]]).argmax()
    second = np.bincount(labels[truths[1]]).argmax()
    assert first != second


def test_gradient_markers_split_along_edges_only():
    # Different brightness: an edge runs between the discs, so they are separated
    # (measured: 0.92 and 0.99 coverage, union Dice 0.995).
    image, truths = discs(levels=(0.6, 0.9))
    labels = watershed(image, markers="gradient")
    assert labels.max() == 2
    assert all(coverage(labels, t) >= 0.85 for t in truths)
    assert dice(labels > 0, truths[0] | truths[1]) >= 0.9
    # Same brightness: no edge between them, one object (measured union Dice 0.995).
    image, truths = discs()
    labels = watershed(image, markers="gradient")
    assert labels.max() == 1
    assert dice(labels > 0, truths[0] | truths[1]) >= 0.9


def test_compact_gradient_watershed():
    # measured: 0.91 and 0.97 coverage, union Dice 0.965
    image, truths = discs(levels=(0.6, 0.9))
    labels = compact_watershed(image, markers="gradient")
    assert labels.max() == 2
    assert all(coverage(labels, t) >= 0.85 for t in truths)
    assert dice(labels > 0, truths[0] | truths[1]) >= 0.9


@pytest.mark.parametrize("markers", ["distance", "gradient"])
def test_separate_discs_get_one_label_each(markers):
    image, truths = discs(
        ((24, 14), (24, 48), (24, 82)), (0.8, 0.8, 0.8), shape=(48, 96), radius=10
    )
    labels = watershed(image, markers=markers)
    assert labels.max() == 3
    assert all(coverage(labels, t) >= 0.95 for t in truths)  # measured >= 0.987


@pytest.mark.parametrize("polarity", ["dark", "auto"])
def test_dark_discs(polarity):
    image, truths = discs(levels=(0.2, 0.2), background=0.8)
    labels = watershed(image, polarity=polarity)
    assert labels.max() == 2
    assert dice(labels > 0, truths[0] | truths[1]) >= 0.9  # measured 0.996
    bright = watershed(image, polarity="bright")
    assert dice(bright > 0, truths[0] | truths[1]) < 0.2


def test_min_distance_controls_splitting():
    image, _ = discs()
    assert watershed(image, min_distance=30).max() == 1


# --- every input survives ----------------------------------------------------------------------

rng = np.random.default_rng(7)
TINY = {f"{n}x{n}": rng.random((n, n)) for n in (1, 2, 3)}


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("markers", ["distance", "gradient"])
def test_edge_cases(name, markers):
    method = METHODS[name]
    for image in (np.full((16, 16), 0.3), np.full((9, 9, 3), 200, np.uint8), np.zeros((1, 1))):
        out = method(image, markers=markers)
        assert out.dtype == np.int32 and out.shape == image.shape[:2] and not out.any()
    for image in TINY.values():
        out = method(image, markers=markers)
        assert out.dtype == np.int32 and out.shape == image.shape
    image, _ = discs()
    rgba = np.dstack([np.repeat(image[..., None], 3, 2), np.ones_like(image)])
    cases = [
        (rgba * 255).clip(0, 255).astype(np.uint8),
        (image * 65535).clip(0, 65535).astype(np.uint16),
    ]
    for case in cases:
        out = method(case, markers=markers)
        assert out.dtype == np.int32 and out.shape == image.shape and out.max() >= 1
    nan = image.copy()
    nan[3, 4] = np.nan
    nan[5, 6] = np.inf
    with pytest.warns(RuntimeWarning, match="NaN"):
        out = method(nan, markers=markers)
    assert out.shape == image.shape and out.max() >= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"polarity": "up"}, "polarity must be one of"),
        ({"markers": "peaks"}, "markers must be one of distance, gradient"),
        ({"min_distance": 0}, "min_distance must be an integer >= 1"),
        ({"min_distance": 2.5}, "min_distance must be an integer"),
        ({"smooth": -1}, "smooth must be a finite number >= 0"),
        ({"compactness": float("nan")}, "compactness must be a finite number"),
    ],
)
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        watershed(np.zeros((4, 4)), **kwargs)


def test_compact_watershed_needs_positive_compactness():
    with pytest.raises(ConfigError, match="use watershed for 0"):
        compact_watershed(np.zeros((4, 4)), compactness=0)
    with pytest.raises(ValueError, match="compactness"):
        compact_watershed(np.zeros((4, 4)), compactness=-1)


def test_grids_are_small_and_runnable():
    image, _ = discs(shape=(24, 32), centres=((12, 11), (12, 21)), radius=6)
    assert set(GRIDS) == set(METHODS)
    for name, grid in GRIDS.items():
        method = METHODS[name]
        keyword = {
            p.name
            for p in inspect.signature(method).parameters.values()
            if p.kind is p.KEYWORD_ONLY
        }
        assert set(grid) <= keyword and grid["polarity"] == ["bright", "dark"]
        combos = list(itertools.product(*grid.values()))
        assert len(combos) <= 12
        for values in combos:
            out = method(image, **dict(zip(grid, values, strict=True)))
            assert out.shape == image.shape
    assert region.MARKERS == ("distance", "gradient")
