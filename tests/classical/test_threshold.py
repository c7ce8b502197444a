"""Thresholding methods on tiny synthetic images with known answers."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

from seglab.classical import threshold
from seglab.errors import ConfigError

METHODS = {name: getattr(threshold, name) for name in threshold.GRIDS}
GLOBAL = ["otsu", "multi_otsu", "li", "yen", "triangle"]
LOCAL = ["sauvola", "niblack"]
# Yen and the triangle method put the threshold in the tail of the background mode: on a
# noisy two-level image they keep ~2-4 % of the background, hence their lower bounds
GLOBAL_BOUND = {"otsu": 0.95, "multi_otsu": 0.95, "li": 0.95, "yen": 0.85, "triangle": 0.9}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


def two_level(fg: float, bg: float, *, seed: int = 0, size: int = 64, noise: float = 0.05):
    """A disc of radius 12 at ``fg`` on ``bg``, plus Gaussian noise; returns (image, truth)."""
    yy, xx = np.mgrid[:size, :size]
    truth = (yy - 30) ** 2 + (xx - 34) ** 2 <= 12**2
    rng = np.random.default_rng(seed)
    return np.where(truth, fg, bg) + rng.normal(0, noise, (size, size)), truth


def shaded(fg: float, bg: float, *, seed: int = 0):
    """Nine discs (reflectance ``fg`` on ``bg``) lit by a left-to-right ramp from 0.25 to 1."""
    yy, xx = np.mgrid[:96, :96]
    truth = np.zeros((96, 96), bool)
    for cy, cx in itertools.product((16, 48, 80), repeat=2):
        truth |= (yy - cy) ** 2 + (xx - cx) ** 2 <= 7**2
    light = 0.25 + 0.75 * xx / 95
    rng = np.random.default_rng(seed)
    return np.where(truth, fg, bg) * light + rng.normal(0, 0.03, (96, 96)), truth


@pytest.mark.parametrize("name", GLOBAL)
@pytest.mark.parametrize("seed", [0, 1])
def test_global_methods_find_a_bright_disc(name, seed):
    image, truth = two_level(0.7, 0.3, seed=seed)
    assert dice(METHODS[name](image, polarity="bright"), truth) >= GLOBAL_BOUND[name]
    assert dice(METHODS[name](image), truth) >= GLOBAL_BOUND[name]  # auto: the smaller side


@pytest.mark.parametrize("name", GLOBAL)
def test_global_methods_find_a_dark_disc(name):
    image, truth = two_level(0.3, 0.7)
    assert dice(METHODS[name](image, polarity="dark"), truth) >= GLOBAL_BOUND[name]
    assert dice(METHODS[name](image), truth) >= GLOBAL_BOUND[name]
    assert dice(METHODS[name](image, polarity="bright"), truth) < 0.1


@pytest.mark.parametrize("polarity", ["bright", "dark"])
def test_local_methods_follow_uneven_light_where_otsu_fails(polarity):
    fg, bg = (0.8, 0.4) if polarity == "bright" else (0.4, 0.8)
    image, truth = shaded(fg, bg)
    assert dice(threshold.otsu(image, polarity=polarity), truth) < 0.6
    assert dice(threshold.sauvola(image, polarity=polarity, window_size=31, k=0.2), truth) >= 0.8
    assert dice(threshold.niblack(image, polarity=polarity, window_size=31, k=0.5), truth) >= 0.9
    # auto: the residual from the local mean is skewed towards the (minority) object
    assert dice(threshold.niblack(image, window_size=31, k=0.5), truth) >= 0.9
    assert dice(threshold.sauvola(image, window_size=31, k=0.2), truth) >= 0.8


def test_multi_otsu_keeps_the_extreme_class_of_three():
    rng = np.random.default_rng(0)
    image = np.full((60, 60), 0.2)
    image[:, 30:] = 0.5
    image[10:20, 40:50] = 0.8
    top = image == 0.8
    image = image + rng.normal(0, 0.03, image.shape)
    assert dice(threshold.multi_otsu(image, polarity="bright"), top) >= 0.95
    assert dice(threshold.multi_otsu(image), top) >= 0.95  # the smaller extreme class
    assert dice(threshold.multi_otsu(image, polarity="dark"), image < 0.35) >= 0.95
    # plain Otsu puts the middle level with the top one
    assert dice(threshold.otsu(image, polarity="bright"), top) < 0.5


def test_multi_otsu_falls_back_to_otsu_with_too_few_levels():
    image = np.zeros((4, 4))
    image[:2, :2] = 1.0
    assert np.array_equal(threshold.multi_otsu(image, classes=4), image > 0.5)


def test_smoothing_helps_a_very_noisy_image():
    image, truth = two_level(0.7, 0.3, noise=0.25)
    assert dice(threshold.otsu(image, smooth=2.0), truth) > dice(threshold.otsu(image), truth)


EDGE_CASES = {
    "constant": np.full((8, 8), 0.4),
    "constant_rgb_uint8": np.full((8, 8, 3), 200, np.uint8),
    "1x1": np.array([[0.3]]),
    "2x2": np.array([[0.0, 1.0], [1.0, 1.0]]),
    "3x3": np.arange(9.0).reshape(3, 3),
    "rgba": np.dstack([np.eye(6), np.eye(6), np.eye(6), np.ones((6, 6))]),
    "uint16": (np.eye(7) * 60000).astype(np.uint16),
    "hx w x1": np.eye(5)[:, :, None],
}


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("name", METHODS)
def test_edge_cases_give_a_bool_mask_of_the_image_size(name, case):
    image = EDGE_CASES[case]
    mask = METHODS[name](image)
    assert mask.dtype == bool
    assert mask.shape == image.shape[:2]
    if case.startswith("constant") or case == "1x1":
        assert not mask.any()


@pytest.mark.parametrize("name", METHODS)
def test_nan_pixels_warn_and_still_segment(name):
    image, truth = two_level(0.7, 0.3)
    image[5, 5] = np.nan
    image[6, 6] = np.inf
    with pytest.warns(RuntimeWarning, match="NaN"):
        mask = METHODS[name](image, polarity="bright")
    assert mask.shape == truth.shape and mask.dtype == bool


@pytest.mark.parametrize("name", METHODS)
def test_all_nan_image_is_constant(name):
    with pytest.warns(RuntimeWarning):
        assert not METHODS[name](np.full((4, 4), np.nan)).any()


def test_rgb_and_uint8_inputs_match_the_gray_float_result():
    image, _ = two_level(0.7, 0.3)
    gray = np.clip(image, 0, 1)
    as_uint8 = np.round(gray * 255).astype(np.uint8)
    rgb = np.repeat(as_uint8[:, :, None], 3, axis=2)
    assert np.array_equal(threshold.otsu(as_uint8), threshold.otsu(rgb))


@pytest.mark.parametrize("name", METHODS)
def test_bad_polarity_is_a_config_error_listing_the_choices(name):
    with pytest.raises(ConfigError, match="polarity must be one of auto, bright, dark"):
        METHODS[name](np.eye(4), polarity="light")


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("otsu", {"smooth": -1.0}, "smooth"),
        ("li", {"smooth": "lots"}, "smooth"),
        ("multi_otsu", {"classes": 1}, "classes must be an integer from 2 to 5"),
        ("multi_otsu", {"classes": 2.5}, "classes"),
        ("sauvola", {"window_size": 16}, "odd integer >= 3, not 16; try 17"),
        ("niblack", {"window_size": 1}, "window_size"),
        ("niblack", {"k": float("nan")}, "k must be a finite number"),
    ],
)
def test_bad_parameters_name_the_parameter(name, params, message):
    with pytest.raises(ConfigError, match=message):
        METHODS[name](np.eye(4), **params)


@pytest.mark.parametrize("name", METHODS)
def test_grids_are_small_and_every_combination_runs(name):
    grid = threshold.GRIDS[name]
    signature = inspect.signature(METHODS[name])
    for param in grid:
        assert signature.parameters[param].kind is inspect.Parameter.KEYWORD_ONLY
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    assert 2 <= len(combos) <= 12
    assert grid["polarity"] == ["bright", "dark"]
    image, _ = two_level(0.7, 0.3, size=32)
    for params in combos:
        assert METHODS[name](image, **params).shape == (32, 32)
