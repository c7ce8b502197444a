"""Histogram bundling on tiny synthetic images with known answers."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
from skimage.filters import threshold_otsu

from seglab.classical import histogram as hist
from seglab.classical.common import to_gray
from seglab.errors import ConfigError


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


def three_level(*, seed: int = 0, size: int = 64, noise: float = 0.05):
    """Background 0.2 (left half), a 0.5 band (right half), a 0.8 disc inside the band.

    Returns (image, bottom, top): the masks of the darkest and the brightest level.
    """
    yy, xx = np.mgrid[:size, :size]
    image = np.full((size, size), 0.2)
    image[:, size // 2 :] = 0.5
    top = (yy - size // 4) ** 2 + (xx - 3 * size // 4) ** 2 <= (size // 8) ** 2
    image[top] = 0.8
    bottom = image == 0.2
    rng = np.random.default_rng(seed)
    return image + rng.normal(0, noise, image.shape), bottom, top


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_levels_give_the_bundle_on_the_polarity_side(seed):
    image, bottom, top = three_level(seed=seed)
    assert len(hist.find_valleys(image)) == 2
    assert dice(hist.histogram(image, polarity="bright"), top) >= 0.97
    assert dice(hist.histogram(image, polarity="dark"), bottom) >= 0.97
    assert dice(hist.histogram(image), top) >= 0.97  # auto: the smaller extreme bundle


def test_valleys_lie_between_the_levels():
    image, _, _ = three_level()
    low, high = hist.find_valleys(image)
    assert 0.25 < low < 0.45 and 0.55 < high < 0.75


def test_two_levels_bright_and_dark_discs():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    truth = (yy - 30) ** 2 + (xx - 34) ** 2 <= 12**2
    noise = rng.normal(0, 0.05, truth.shape)
    assert dice(hist.histogram(np.where(truth, 0.7, 0.3) + noise, polarity="bright"), truth) >= 0.95
    assert dice(hist.histogram(np.where(truth, 0.3, 0.7) + noise, polarity="dark"), truth) >= 0.95
    assert dice(hist.histogram(np.where(truth, 0.3, 0.7) + noise), truth) >= 0.95


def test_unimodal_histogram_falls_back_to_otsu():
    image = np.random.default_rng(0).normal(0.5, 0.1, (64, 64))
    assert hist.find_valleys(image) == []
    assert np.array_equal(hist.histogram(image, polarity="bright"), image > threshold_otsu(image))
    assert np.array_equal(hist.histogram(image, polarity="dark"), image <= threshold_otsu(image))


@pytest.mark.parametrize("size", [16, 64, 256])
def test_noise_alone_makes_no_modes(size):
    rng = np.random.default_rng(size)
    assert hist.find_valleys(rng.random((size, size))) == []
    assert hist.find_valleys(rng.normal(0.5, 0.1, (size, size))) == []


def test_quantised_narrow_range_makes_no_comb_of_modes():
    # 40 uint8 levels spread over 256 bins would leave every other bin empty
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(100, 10, (256, 256)), 0, 255).astype(np.uint8)
    assert hist.find_valleys(to_gray(image), smooth=1.0) == []


def test_three_noiseless_levels_are_three_bundles():
    image = np.zeros((20, 20))
    image[:10] = 0.5
    image[:5, :5] = 1.0
    assert len(hist.find_valleys(image)) == 2
    assert np.array_equal(hist.histogram(image, polarity="bright"), image == 1.0)
    assert np.array_equal(hist.histogram(image, polarity="dark"), image == 0.0)
    assert np.array_equal(hist.histogram(image), image == 1.0)


def test_modes_of_a_few_pixels_are_not_told_from_count_noise():
    # 100 pixels are too few for modes to stand out of the Poisson noise of the counts: the
    # histogram counts as unimodal and Otsu's threshold splits it
    image = np.zeros((10, 10))
    image[:5] = 0.5
    image[:2, :2] = 1.0
    assert hist.find_valleys(image) == []
    assert np.array_equal(hist.histogram(image, polarity="dark"), image == 0)


EDGE_CASES = {
    "constant": np.full((8, 8), 0.4),
    "constant_rgb_uint8": np.full((8, 8, 3), 200, np.uint8),
    "1x1": np.array([[0.3]]),
    "2x2": np.array([[0.0, 1.0], [1.0, 1.0]]),
    "3x3": np.arange(9.0).reshape(3, 3),
    "rgba": np.dstack([np.eye(6), np.eye(6), np.eye(6), np.ones((6, 6))]),
    "uint16": (np.eye(7) * 60000).astype(np.uint16),
}


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("polarity", ["auto", "bright", "dark"])
def test_edge_cases_give_a_bool_mask_of_the_image_size(case, polarity):
    image = EDGE_CASES[case]
    mask = hist.histogram(image, polarity=polarity)
    assert mask.dtype == bool
    assert mask.shape == image.shape[:2]
    if case.startswith("constant") or case == "1x1":
        assert not mask.any()


def test_two_by_two_splits_its_two_values():
    image = np.array([[0.0, 1.0], [1.0, 1.0]])
    assert np.array_equal(hist.histogram(image, polarity="dark"), image == 0)
    assert np.array_equal(hist.histogram(image), image == 0)


def test_nan_pixels_warn_and_still_segment():
    image, _, top = three_level()
    image[0, 0] = np.nan
    with pytest.warns(RuntimeWarning, match="NaN"):
        mask = hist.histogram(image, polarity="bright")
    assert dice(mask, top) >= 0.95


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"polarity": "both"}, "polarity must be one of auto, bright, dark"),
        ({"bins": 1}, "bins must be an integer >= 2"),
        ({"bins": 10.5}, "bins must be an integer"),
        ({"smooth": -1}, "smooth must be a finite number >= 0"),
        ({"min_prominence": 2.0}, r"fraction in \[0, 1\]"),
        ({"min_prominence": None}, "min_prominence"),
    ],
)
def test_bad_parameters_are_config_errors_naming_the_parameter(params, message):
    with pytest.raises(ConfigError, match=message):
        hist.histogram(np.eye(4), **params)


def test_grid_is_small_and_every_combination_runs():
    grid = hist.GRIDS["histogram"]
    signature = inspect.signature(hist.histogram)
    assert all(signature.parameters[p].kind is inspect.Parameter.KEYWORD_ONLY for p in grid)
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    assert 2 <= len(combos) <= 12
    assert grid["polarity"] == ["bright", "dark"]
    image, _, _ = three_level(size=32)
    for params in combos:
        assert hist.histogram(image, **params).shape == (32, 32)
