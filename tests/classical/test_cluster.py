"""k-means colour clustering on tiny synthetic images with known answers."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

from seglab.classical import cluster
from seglab.classical.common import to_gray
from seglab.errors import ConfigError, DataError

# equal luminance (0.299 R + 0.587 G + 0.114 B): a gray threshold cannot tell them apart
RED = np.array([0.6, 0.0, 0.1])
GREEN = np.array([0.0, 0.299 * 0.6 / 0.587, 0.1])


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


def red_on_green(*, seed: int = 0, size: int = 64, centre=(20, 40)):
    """A red disc of radius 12 on green, same luminance, noise 0.05; returns (image, truth)."""
    yy, xx = np.mgrid[:size, :size]
    truth = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= 12**2
    rng = np.random.default_rng(seed)
    image = np.where(truth[..., None], RED, GREEN) + rng.normal(0, 0.05, (size, size, 3))
    return np.clip(image, 0, 1), truth


def test_red_and_green_have_the_same_gray_level():
    image, truth = red_on_green()
    gray = to_gray(image)
    assert abs(gray[truth].mean() - gray[~truth].mean()) < 0.01


def test_colours_learned_by_fit_kmeans_separate_what_gray_cannot():
    from skimage.filters import threshold_otsu

    train = [red_on_green(seed=s, centre=c) for s, c in ((1, (30, 30)), (2, (45, 20)))]
    params = cluster.fit_kmeans([im for im, _ in train], [m for _, m in train])
    assert np.allclose(params["object_colour"], RED, atol=0.03)
    assert np.allclose(params["background_colour"], GREEN, atol=0.03)

    image, truth = red_on_green()
    gray = to_gray(image)
    otsu_side = gray > threshold_otsu(gray)
    assert max(dice(otsu_side, truth), dice(~otsu_side, truth)) < 0.5
    for k, use_position in itertools.product((2, 3, 4), (False, True)):
        mask = cluster.kmeans(image, k=k, use_position=use_position, **params)
        assert dice(mask, truth) >= 0.95, (k, use_position)


def test_polarity_picks_the_brightest_darkest_or_smallest_cluster():
    rng = np.random.default_rng(0)
    image = np.full((48, 48), 0.2)
    image[:, 24:] = 0.5
    image[5:15, 30:40] = 0.9
    noisy = image + rng.normal(0, 0.03, image.shape)
    assert dice(cluster.kmeans(noisy, k=3, polarity="bright"), image == 0.9) >= 0.95
    assert dice(cluster.kmeans(noisy, k=3, polarity="dark"), image == 0.2) >= 0.95
    assert dice(cluster.kmeans(noisy, k=3), image == 0.9) >= 0.95  # auto: the smallest


def test_dark_disc_on_a_gray_image_with_dark_polarity():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    truth = (yy - 30) ** 2 + (xx - 34) ** 2 <= 12**2
    image = np.where(truth, 0.3, 0.7) + rng.normal(0, 0.05, truth.shape)
    assert dice(cluster.kmeans(image, k=2, polarity="dark"), truth) >= 0.95
    assert dice(cluster.kmeans(image, k=2), truth) >= 0.95


def test_subsampling_still_labels_every_pixel_and_is_seeded():
    image, truth = red_on_green(size=128, centre=(40, 80))
    first = cluster.kmeans(image, k=2, max_pixels=500, seed=3)
    assert dice(first, truth) >= 0.95
    assert np.array_equal(first, cluster.kmeans(image, k=2, max_pixels=500, seed=3))


def test_fit_kmeans_ignores_the_ignore_value_and_accepts_bool_masks():
    image = np.zeros((4, 4, 3))
    image[:2] = (1.0, 0.0, 0.0)
    image[2:, :2] = (0.0, 0.0, 1.0)  # ignored
    mask = np.zeros((4, 4), np.uint8)
    mask[:2] = 1
    mask[2:, :2] = 255
    params = cluster.fit_kmeans([image], [mask])
    assert params == {"object_colour": [1.0, 0.0, 0.0], "background_colour": [0.0, 0.0, 0.0]}
    as_bool = cluster.fit_kmeans([image[:2]], [np.array([[True] * 4, [False] * 4])])
    assert as_bool["background_colour"] == [1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("images", "masks", "message"),
    [
        ([np.zeros((4, 4))], [], "1 images but 0 masks"),
        ([], [], "at least one image"),
        ([np.zeros((4, 4))], [np.zeros((4, 5))], r"masks\[0\] has shape \(4, 5\)"),
        ([np.eye(4)], [np.zeros((4, 4))], "no object pixel"),
        ([np.eye(4)], [np.ones((4, 4))], "no background pixel"),
    ],
)
def test_fit_kmeans_rejects_bad_data_with_a_clear_message(images, masks, message):
    with pytest.raises(DataError, match=message):
        cluster.fit_kmeans(images, masks)


EDGE_CASES = {
    "constant": np.full((8, 8), 0.4),
    "constant_rgb_uint8": np.full((8, 8, 3), 200, np.uint8),
    "1x1": np.array([[0.3]]),
    "2x2": np.array([[0.0, 1.0], [1.0, 1.0]]),
    "3x3": np.arange(9.0).reshape(3, 3),
    "rgba": np.dstack([np.eye(6), np.zeros((6, 6)), np.eye(6), np.ones((6, 6))]),
    "uint16": (np.eye(7) * 60000).astype(np.uint16),
}


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("use_position", [False, True])
def test_edge_cases_give_a_bool_mask_of_the_image_size(case, use_position):
    image = EDGE_CASES[case]
    mask = cluster.kmeans(image, k=4, use_position=use_position)
    assert mask.dtype == bool
    assert mask.shape == image.shape[:2]
    if case.startswith("constant") or case == "1x1":
        assert not mask.any()


def test_a_uniformly_coloured_image_is_all_background_even_with_colours_given():
    params = {"object_colour": [1, 0, 0], "background_colour": [0, 1, 0]}
    assert not cluster.kmeans(np.full((5, 5, 3), (1.0, 0.0, 0.0)), **params).any()


def test_nan_pixels_warn_and_still_segment():
    image, truth = red_on_green()
    image[3, 3] = np.nan
    params = {"object_colour": RED.tolist(), "background_colour": GREEN.tolist()}
    with pytest.warns(RuntimeWarning, match="NaN"):
        mask = cluster.kmeans(image, k=2, **params)
    assert dice(mask, truth) >= 0.95


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": 1}, "k must be an integer >= 2, got 1"),
        ({"k": 2.0}, "k must be an integer"),
        ({"k": True}, "k must be an integer"),
        ({"max_pixels": 2, "k": 3}, "max_pixels must be an integer >= 3"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"polarity": "red"}, "polarity must be one of auto, bright, dark"),
        ({"position_weight": -0.5}, "position_weight must be a number >= 0"),
        ({"object_colour": [1, 0, 0]}, "give both object_colour and background_colour"),
        ({"object_colour": [1, 0], "background_colour": [0, 1, 0]}, "three finite numbers"),
        ({"object_colour": "red", "background_colour": [0, 1, 0]}, "three finite numbers"),
    ],
)
def test_bad_parameters_are_config_errors_naming_the_parameter(params, message):
    with pytest.raises(ConfigError, match=message):
        cluster.kmeans(np.eye(4), **params)


def test_grid_is_small_and_every_combination_runs():
    grid = cluster.GRIDS["kmeans"]
    signature = inspect.signature(cluster.kmeans)
    assert all(signature.parameters[p].kind is inspect.Parameter.KEYWORD_ONLY for p in grid)
    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    assert 2 <= len(combos) <= 12
    image, _ = red_on_green(size=32, centre=(10, 20))
    for params in combos:
        assert cluster.kmeans(image, **params).shape == (32, 32)
