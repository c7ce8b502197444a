"""Superpixels: labels as building blocks, object masks from superpixel means, every input
survives."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

from seglab.classical.superpixel import GRIDS, felzenszwalb, slic, superpixels
from seglab.errors import ConfigError

METHODS = {"slic": slic, "felzenszwalb": felzenszwalb}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


def two_level(size=64, *, inside=0.7, outside=0.3, noise=0.1, seed=0):
    """An ellipse on a background, two gray levels plus Gaussian noise, and its true mask."""
    yy, xx = np.mgrid[:size, :size]
    truth = (yy - 30) ** 2 / 18**2 + (xx - 36) ** 2 / 12**2 <= 1
    image = np.where(truth, inside, outside) + np.random.default_rng(seed).normal(
        0, noise, truth.shape
    )
    return image, truth


@pytest.mark.parametrize("method", ["slic", "felzenszwalb"])
def test_superpixel_labels(method):
    image, _ = two_level()
    labels = superpixels(image, method=method)
    assert labels.dtype == np.int32 and labels.shape == image.shape
    assert labels.min() == 1
    assert set(np.unique(labels)) == set(range(1, labels.max() + 1))


def test_superpixel_counts_follow_parameters():
    image, _ = two_level()
    few, many = (superpixels(image, n_segments=n).max() for n in (20, 200))
    assert few < many and 100 <= many <= 300  # measured 20 -> ~16, 200 -> ~155
    small, large = (superpixels(image, method="felzenszwalb", scale=s).max() for s in (5, 500))
    assert large < small


# Measured Dice on the noisy two-level image: slic 0.962 / 0.971 (dark), felzenszwalb 0.981 / 0.967.
@pytest.mark.parametrize("name", list(METHODS))
def test_two_level_noisy_image(name):
    method = METHODS[name]
    image, truth = two_level()
    for polarity in ("auto", "bright"):
        mask = method(image, polarity=polarity)
        assert mask.dtype == bool and mask.shape == truth.shape
        assert dice(mask, truth) >= 0.92
    dark, _ = two_level(inside=0.3, outside=0.7)
    assert dice(method(dark, polarity="dark"), truth) >= 0.92
    assert dice(method(dark, polarity="bright"), truth) < 0.1


def test_colour_is_used_for_superpixels():
    _, truth = two_level()
    image = np.zeros((*truth.shape, 3))
    image[truth] = (0.8, 0.2, 0.2)  # red on green, about the same gray level
    image[~truth] = (0.2, 0.6, 0.2)
    for method in ("slic", "felzenszwalb"):
        labels = superpixels(image, method=method)
        inside = np.bincount(labels[truth], minlength=labels.max() + 1)
        majority = (inside / np.maximum(np.bincount(labels.ravel()), 1))[labels] > 0.5
        # superpixels follow the colour edge (measured: slic 0.946, felzenszwalb 1.0)
        assert dice(majority, truth) >= 0.9


# --- every input survives ----------------------------------------------------------------------

rng = np.random.default_rng(7)
TINY = [rng.random((n, n)) for n in (1, 2, 3)] + [rng.random((1, 9))]


@pytest.mark.parametrize("name", list(METHODS))
def test_edge_cases(name):
    method = METHODS[name]
    for image in (np.full((16, 16), 0.3), np.full((9, 9, 3), 200, np.uint8), np.zeros((1, 1))):
        out = method(image)
        assert out.dtype == bool and out.shape == image.shape[:2] and not out.any()
    for image in TINY:
        out = method(image)
        assert out.dtype == bool and out.shape == image.shape
        labels = superpixels(image, method=name)
        assert labels.shape == image.shape and labels.min() == 1
    image, truth = two_level(noise=0.03)
    rgba = np.dstack([np.repeat(image[..., None], 3, 2), np.ones_like(image)])
    for case in (
        (rgba * 255).clip(0, 255).astype(np.uint8),
        (image * 65535).clip(0, 65535).astype(np.uint16),
        image * 1000.0,
    ):
        out = method(case)
        assert out.dtype == bool and out.shape == truth.shape and dice(out, truth) >= 0.9
    nan = image.copy()
    nan[3, 4] = np.nan
    nan[5, 6] = np.inf
    with pytest.warns(RuntimeWarning, match="NaN"):
        out = method(nan)
    assert out.shape == truth.shape and dice(out, truth) >= 0.9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "quickshift"}, "method must be one of slic, felzenszwalb"),
        ({"n_segments": 0}, "n_segments must be an integer >= 1"),
        ({"compactness": 0}, "compactness must be a finite number > 0"),
        ({"scale": -5}, "scale must be a finite number > 0"),
        ({"sigma": float("nan")}, "sigma must be a finite number >= 0"),
        ({"min_size": True}, "min_size must be an integer >= 1"),
    ],
)
def test_invalid_parameters(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        superpixels(np.zeros((4, 4)), **kwargs)
    with pytest.raises(ValueError, match="polarity must be one of"):
        slic(np.zeros((4, 4)), polarity="up")


def test_grids_are_small_and_runnable():
    image, _ = two_level(size=32)
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
