"""Active contours: a blurred disc is found by every method, the object side follows polarity,
every input survives."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from skimage.filters import gaussian

from seglab.classical import contour
from seglab.classical.contour import GRIDS, chan_vese, morph_chan_vese, morph_geodesic, snake
from seglab.errors import ConfigError

METHODS = {
    "snake": snake,
    "chan_vese": chan_vese,
    "morph_chan_vese": morph_chan_vese,
    "morph_geodesic": morph_geodesic,
}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


def blurred_disc(
    size=56, *, radius=14.0, centre=(30.5, 23.5), inside=0.8, outside=0.2, noise=0.05, seed=0
):
    """A disc (off centre) blurred by a Gaussian of sigma 2 with noise, and its true mask."""
    yy, xx = np.mgrid[:size, :size]
    truth = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2
    image = gaussian(np.where(truth, inside, outside), sigma=2.0)
    image += np.random.default_rng(seed).normal(0, noise, truth.shape)
    return image, truth


# Measured Dice on the bright disc (and the dark one with polarity="dark"), bound a bit below.
CASES = [
    ("snake", {"init": "threshold"}, 0.912, 0.85),
    ("snake", {"init": "circle"}, 0.941, 0.88),
    ("snake", {"init": "box"}, 0.96, 0.9),
    ("chan_vese", {}, 0.982, 0.95),
    ("morph_chan_vese", {}, 0.987, 0.95),
    ("morph_chan_vese", {"init": "threshold"}, 0.987, 0.95),
    ("morph_geodesic", {}, 0.976, 0.93),
    ("morph_geodesic", {"balloon": 1}, 0.976, 0.93),
]


@pytest.mark.parametrize(("name", "kwargs", "measured", "bound"), CASES)
def test_blurred_disc(name, kwargs, measured, bound):
    method = METHODS[name]
    image, truth = blurred_disc()
    for polarity in ("auto", "bright"):
        mask = method(image, polarity=polarity, **kwargs)
        assert mask.dtype == bool and mask.shape == truth.shape
        assert dice(mask, truth) >= bound
    dark, _ = blurred_disc(inside=0.2, outside=0.8)
    assert dice(method(dark, polarity="dark", **kwargs), truth) >= bound


@pytest.mark.parametrize("method", [chan_vese, morph_chan_vese])
def test_phase_side_follows_polarity(method):
    image, truth = blurred_disc()
    bright = method(image, polarity="bright")
    assert np.array_equal(method(image, polarity="dark"), ~bright)
    assert np.array_equal(method(image, polarity="auto"), bright)  # the smaller phase
    assert dice(method(1.0 - image, polarity="auto"), truth) >= 0.95


def test_geodesic_keeps_components_on_the_polarity_side():
    size = 64
    yy, xx = np.mgrid[:size, :size]
    bright = (yy - 20) ** 2 + (xx - 20) ** 2 <= 100
    dark = (yy - 42) ** 2 + (xx - 42) ** 2 <= 100
    image = gaussian(np.where(bright, 0.9, np.where(dark, 0.1, 0.5)), sigma=1.5)
    image += np.random.default_rng(0).normal(0, 0.03, image.shape)
    # measured 0.961, 0.964 and 0.962
    assert dice(morph_geodesic(image, polarity="bright"), bright) >= 0.9
    assert dice(morph_geodesic(image, polarity="dark"), dark) >= 0.9
    assert dice(morph_geodesic(image, polarity="auto"), bright | dark) >= 0.9


@pytest.mark.parametrize("name", list(METHODS))
def test_large_images_run_downscaled(name, monkeypatch):
    monkeypatch.setattr(contour, "MAX_SIDE", 32)
    image, truth = blurred_disc(size=64, radius=16.0, centre=(30.5, 33.5), noise=0.02)
    image = image[:, :60]  # not square
    mask = METHODS[name](image, polarity="bright")
    assert mask.shape == (64, 60) and mask.dtype == bool
    assert dice(mask, truth[:, :60]) >= 0.85


# --- every input survives ----------------------------------------------------------------------

rng = np.random.default_rng(7)
TINY = [rng.random((n, n)) for n in (1, 2, 3)] + [rng.random((1, 9)), rng.random((9, 2))]


@pytest.mark.parametrize("name", list(METHODS))
def test_edge_cases(name):
    method = METHODS[name]
    for image in (np.full((16, 16), 0.3), np.full((9, 9, 3), 200, np.uint8), np.zeros((1, 1))):
        out = method(image)
        assert out.dtype == bool and out.shape == image.shape[:2] and not out.any()
    for image in TINY:
        out = method(image)
        assert out.dtype == bool and out.shape == image.shape
    image, truth = blurred_disc(size=32, radius=8.0, centre=(15.5, 15.5))
    rgba = np.dstack([np.repeat(image[..., None], 3, 2), np.ones_like(image)])
    for case in (
        (rgba * 255).clip(0, 255).astype(np.uint8),
        (image * 65535).clip(0, 65535).astype(np.uint16),
    ):
        out = method(case)
        assert out.dtype == bool and out.shape == truth.shape and dice(out, truth) >= 0.7
    nan = image.copy()
    nan[3, 4] = np.nan
    nan[5, 6] = -np.inf
    with pytest.warns(RuntimeWarning, match="NaN"):
        out = method(nan)
    assert out.shape == truth.shape and dice(out, truth) >= 0.7


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("snake", {"polarity": "light"}, "polarity must be one of"),
        ("snake", {"init": "star"}, "init must be one of threshold, box, circle"),
        ("snake", {"gamma": 0}, "gamma must be a finite number > 0"),
        ("snake", {"iterations": 0}, "iterations must be an integer >= 1"),
        ("chan_vese", {"mu": -0.1}, "mu must be a finite number >= 0"),
        ("chan_vese", {"smooth": float("inf")}, "smooth must be a finite number"),
        ("morph_chan_vese", {"init": "circle"}, "init must be one of checkerboard, disk"),
        ("morph_chan_vese", {"smoothing": 1.5}, "smoothing must be an integer >= 0"),
        ("morph_geodesic", {"threshold": "high"}, "threshold must be a finite number"),
        ("morph_geodesic", {"sigma": 0}, "sigma must be a finite number > 0"),
        ("morph_geodesic", {"balloon": "out"}, "balloon must be a finite number"),
        ("morph_geodesic", {"init": "ring"}, "init must be one of auto, box, disk, threshold"),
    ],
)
def test_invalid_parameters(name, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        METHODS[name](np.zeros((4, 4)), **kwargs)


def test_grids_are_small_and_runnable():
    image, _ = blurred_disc(size=24, radius=6.0, centre=(11.5, 12.5))
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
