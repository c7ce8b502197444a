"""Tests of seglab.transforms.preprocess: tiny synthetic images with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.errors import ConfigError, DataError
from seglab.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    bilateral,
    clahe,
    equalize,
    gamma,
    gaussian,
    median,
    nl_means,
    normalize,
    stretch,
)

IMAGE_TRANSFORMS = [
    gaussian,
    median,
    bilateral,
    nl_means,
    stretch,
    equalize,
    clahe,
    gamma,
    normalize,
]


def noisy_flat(shape=(32, 32), level=128.0, sd=20.0, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(level + rng.normal(0, sd, shape), 0, 255).astype(np.uint8)


def step_edge(h=24, w=32, lo=50, hi=200, sd=0.0, seed=0) -> np.ndarray:
    """Left half ``lo``, right half ``hi``: the edge lies between columns w/2 - 1 and w/2."""
    img = np.full((h, w), lo, np.float64)
    img[:, w // 2 :] = hi
    img += np.random.default_rng(seed).normal(0, sd, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def edge_column(img: np.ndarray) -> np.ndarray:
    """Per row, the column after which the steepest rise happens."""
    return np.argmax(np.diff(img.astype(np.float64), axis=1), axis=1)


# --- denoising ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "kwargs"),
    [
        (gaussian, {"sigma": 1.0}),
        (median, {"size": 3}),
        (bilateral, {}),
        (nl_means, {"h": 20.0}),
    ],
)
@pytest.mark.parametrize("channels", [None, 3])
def test_denoise_reduces_noise(fn, kwargs, channels):
    shape = (32, 32) if channels is None else (32, 32, channels)
    img = noisy_flat(shape)
    out, _ = fn(img, **kwargs)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert out.std() < 0.6 * img.std()
    assert abs(out.mean() - img.mean()) < 3


@pytest.mark.parametrize(
    ("fn", "kwargs"), [(gaussian, {"sigma": 1.0}), (median, {"size": 3}), (nl_means, {"h": 20.0})]
)
def test_denoise_float_reduces_noise(fn, kwargs):
    img = noisy_flat().astype(np.float32) / 255
    out, _ = fn(img, **kwargs)
    assert out.dtype == np.float32
    assert out.std() < 0.6 * img.std()


@pytest.mark.parametrize(
    ("fn", "kwargs"), [(gaussian, {"sigma": 1.5}), (median, {"size": 5}), (bilateral, {})]
)
def test_denoise_keeps_step_edge_position(fn, kwargs):
    img = step_edge(sd=8.0)
    out, _ = fn(img, **kwargs)
    assert (edge_column(out) == 15).all()


def test_bilateral_keeps_edge_sharper_than_gaussian():
    img = step_edge(sd=8.0)
    smooth, _ = gaussian(img, sigma=2.0)
    kept, _ = bilateral(img, d=9, sigma_color=40.0, sigma_space=5.0)

    def jump(x):
        return float(x[:, 16].astype(float).mean() - x[:, 15].astype(float).mean())

    assert jump(kept) > 1.5 * jump(smooth)
    assert jump(kept) > 100


def test_median_removes_salt_and_pepper_exactly():
    img = np.full((9, 9), 100, np.uint8)
    img[4, 4], img[2, 6] = 255, 0
    out, _ = median(img, size=3)
    assert (out == 100).all()


def test_median_float_large_window_uses_fallback():
    img = np.zeros((9, 9), np.float32)
    img[4, 4] = 1.0
    out, _ = median(img, size=7)
    assert out.dtype == np.float32 and (out == 0).all()


def test_gaussian_sigma_zero_is_identity():
    img = noisy_flat((5, 6, 3))
    out, _ = gaussian(img, sigma=0)
    np.testing.assert_array_equal(out, img)


# --- contrast -------------------------------------------------------------------------------


def test_stretch_maps_percentiles_to_full_range():
    img = np.arange(50, 150, dtype=np.uint8).reshape(10, 10)
    lo, hi = np.percentile(img, [10, 90])
    out, _ = stretch(img, low=10, high=90)
    assert (out[img <= lo] == 0).all()
    assert (out[img >= hi] == 255).all()
    assert (np.diff(out.ravel().astype(int)) >= 0).all()  # monotone


def test_stretch_float_goes_to_unit_range():
    img = np.linspace(0.2, 0.4, 100, dtype=np.float32).reshape(10, 10)
    out, _ = stretch(img, low=0, high=100)
    assert out.dtype == np.float32
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1.0)


def test_stretch_joint_keeps_grey_grey_and_per_channel_does_not():
    grey = np.linspace(60, 120, 64).reshape(8, 8)
    img = np.stack([grey, grey, grey * 0.5], axis=-1).astype(np.uint8)
    joint, _ = stretch(img, low=0, high=100)
    split, _ = stretch(img, low=0, high=100, per_channel=True)
    assert joint[..., 2].max() < 255  # the blue channel stays darker than the others
    assert split[..., 2].max() == 255


def ecdf_error(out: np.ndarray, top: float) -> float:
    """Largest gap between the CDF at each output level and the line level / top."""
    values = np.sort(out.ravel().astype(np.float64))
    levels = np.unique(values)
    cdf = np.searchsorted(values, levels, side="right") / values.size
    return float(np.abs(cdf - levels / top)[:-1].max())


def test_equalize_flattens_histogram():
    rng = np.random.default_rng(1)
    img = np.clip(rng.normal(120, 6, (64, 64)), 0, 255).astype(np.uint8)
    assert ecdf_error(img, 255) > 0.3
    out, _ = equalize(img)
    assert out.dtype == np.uint8
    assert ecdf_error(out, 255) < 0.03


def test_equalize_float_flattens_histogram():
    rng = np.random.default_rng(1)
    img = rng.normal(0.5, 0.02, (64, 64)).astype(np.float32)
    out, _ = equalize(img)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    assert ecdf_error(out, 1.0) < 0.03


@pytest.mark.parametrize("fn", [equalize, clahe])
def test_colour_contrast_works_on_luminance(fn):
    rng = np.random.default_rng(2)
    grey = rng.integers(100, 140, (16, 16)).astype(np.uint8)
    img = np.stack([grey] * 3, axis=-1)
    out, _ = fn(img)
    assert out.std() > img.std()
    spread = out.astype(int).max(axis=2) - out.astype(int).min(axis=2)
    assert spread.max() <= 2  # grey pixels stay grey: no hue shift
    split, _ = fn(np.dstack([grey, grey // 2, grey]), per_channel=True)
    assert split[..., 1].max() > 150  # per channel, the dark green channel is stretched too


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_clahe_raises_local_contrast(dtype):
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:64, 0:64]
    img = 110 + 10 * ((yy // 4 + xx // 4) % 2) + rng.normal(0, 1, (64, 64))
    img = img.astype(np.uint8) if dtype == np.uint8 else (img / 255).astype(np.float32)
    out, _ = clahe(img, clip_limit=3.0, tile_grid=4)
    assert out.dtype == dtype
    scale = 255 if dtype == np.uint8 else 1.0
    # contrast of each 8x8 block (local), before and after
    before = img.astype(float).reshape(8, 8, 8, 8).std(axis=(1, 3)).mean() / scale
    after = out.astype(float).reshape(8, 8, 8, 8).std(axis=(1, 3)).mean() / scale
    assert after > 2 * before


def test_clahe_tile_grid_pair():
    img = noisy_flat((20, 30), sd=5)
    out, _ = clahe(img, tile_grid=(2, 3))
    assert out.shape == img.shape


def test_gamma_known_values():
    out, _ = gamma(np.array([[0.25, 1.0, 0.0]], np.float32), gamma=0.5)
    np.testing.assert_allclose(out, [[0.5, 1.0, 0.0]], rtol=1e-6)
    assert out.dtype == np.float32
    out8, _ = gamma(np.array([[64, 255, 0]], np.uint8), gamma=0.5)
    assert out8.dtype == np.uint8
    assert out8.tolist() == [[round(255 * (64 / 255) ** 0.5), 255, 0]]


def test_gamma_refuses_negative_floats_with_a_fix():
    with pytest.raises(DataError, match="stretch"):
        gamma(np.array([[-0.5, 0.5]], np.float32), gamma=2.0)


@pytest.mark.parametrize("fn", [stretch, equalize, clahe])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_contrast_leaves_constant_image_unchanged(fn, dtype):
    img = np.full((8, 8, 3), 7, dtype)
    out, _ = fn(img)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, img)


# --- normalisation --------------------------------------------------------------------------


def test_normalize_zscore_mean_zero_std_one_per_channel():
    rng = np.random.default_rng(4)
    img = rng.integers(0, 255, (16, 16, 3)).astype(np.uint8)
    out, _ = normalize(img, mode="zscore")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=(0, 1)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1)), 1, atol=1e-4)


def test_normalize_minmax_gives_unit_range():
    img = np.array([[10, 20], [30, 50]], np.uint8)
    out, _ = normalize(img, mode="minmax")
    np.testing.assert_allclose(out, [[0, 0.25], [0.5, 1.0]], atol=1e-6)


def test_normalize_imagenet_known_value():
    img = np.empty((2, 2, 3), np.uint8)
    img[...] = np.rint(np.asarray(IMAGENET_MEAN) * 255 + np.asarray(IMAGENET_STD) * 255)
    out, _ = normalize(img, mode="imagenet")
    np.testing.assert_allclose(out, 1.0, atol=0.02)


def test_normalize_fixed_mean_std():
    img = np.full((2, 2, 2), 0.75, np.float32)
    out, _ = normalize(img, mode="fixed", mean=[0.5, 0.25], std=0.25)
    np.testing.assert_allclose(out[0, 0], [1.0, 2.0])


@pytest.mark.parametrize("mode", ["minmax", "zscore"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_normalize_constant_image_gives_zeros_not_nan(mode, dtype):
    out, _ = normalize(np.full((4, 4, 3), 9, dtype), mode=mode)
    assert np.isfinite(out).all() and (out == 0).all()


def test_normalize_imagenet_on_grey_says_what_to_do():
    with pytest.raises(DataError, match="convert the image to RGB"):
        normalize(np.zeros((4, 4), np.uint8), mode="imagenet")


def test_normalize_option_errors():
    with pytest.raises(ConfigError, match="mode must be one of"):
        normalize(np.zeros((2, 2)), mode="unit")
    with pytest.raises(ConfigError, match="needs mean and std"):
        normalize(np.zeros((2, 2)), mode="fixed")
    with pytest.raises(ConfigError, match="only used with mode 'fixed'"):
        normalize(np.zeros((2, 2)), mode="zscore", mean=0.5)
    with pytest.raises(ConfigError, match="std must be > 0"):
        normalize(np.zeros((2, 2)), mode="fixed", mean=0.5, std=0)


# --- rules shared by every image transform --------------------------------------------------


@pytest.mark.parametrize("fn", IMAGE_TRANSFORMS)
def test_mask_is_returned_identical(fn):
    img = noisy_flat((12, 12, 3), sd=30)
    mask = np.zeros((12, 12), np.int64)
    mask[3:8, 3:8] = 1
    mask[0, :] = 255
    before = mask.copy()
    _, out = fn(img, mask)
    assert out is mask
    np.testing.assert_array_equal(out, before)
    assert fn(img, None)[1] is None


@pytest.mark.parametrize("fn", IMAGE_TRANSFORMS)
def test_uint16_is_read_as_float_in_unit_range(fn):
    img16 = (noisy_flat((10, 10, 3), sd=30).astype(np.uint16) * 257).astype(np.uint16)
    out16, _ = fn(img16)
    out32, _ = fn(img16.astype(np.float32) / 65535)
    assert out16.dtype == np.float32
    np.testing.assert_allclose(out16, out32, atol=1e-6)


@pytest.mark.parametrize("fn", IMAGE_TRANSFORMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_gives_float32(fn, dtype):
    img = noisy_flat((10, 10, 3), sd=30).astype(dtype) / 255
    out, _ = fn(img)
    assert out.dtype == np.float32 and out.shape == img.shape and np.isfinite(out).all()


@pytest.mark.parametrize("fn", IMAGE_TRANSFORMS)
@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (1, 1, 3), (2, 2, 3), (2, 2, 4), (2, 2, 1)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_tiny_images_keep_their_layout(fn, shape, dtype):
    img = np.arange(np.prod(shape)).reshape(shape).astype(dtype)
    out, _ = fn(img)
    assert out.shape == shape
    assert out.dtype == (np.float32 if fn is normalize else dtype)
    assert np.isfinite(out.astype(np.float64)).all()


@pytest.mark.parametrize("fn", [gaussian, median, bilateral, nl_means, stretch, normalize])
def test_other_channel_counts_are_filtered_per_channel(fn):
    img = noisy_flat((10, 10, 5), sd=30)
    out, _ = fn(img)
    assert out.shape == img.shape


def test_alpha_is_passed_through():
    img = noisy_flat((10, 10, 4), sd=30)
    out, _ = gaussian(img, sigma=2.0)
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    assert not np.array_equal(out[..., :3], img[..., :3])
    norm, _ = normalize(img, mode="zscore")
    np.testing.assert_allclose(norm[..., 3], img[..., 3] / 255, atol=1e-7)


def test_bool_image_is_read_as_uint8():
    img = np.zeros((6, 6), bool)
    img[2:4, 2:4] = True
    out, _ = gaussian(img, sigma=0)
    assert out.dtype == np.uint8 and out.max() == 255


def test_nan_is_replaced_by_channel_median_with_a_warning():
    img = np.full((5, 5, 3), 0.5, np.float32)
    img[..., 1] = 0.25
    img[2, 2, :] = np.nan
    img[0, 0, 0] = np.inf
    with pytest.warns(RuntimeWarning, match="NaN/Inf"):
        out, _ = gaussian(img, sigma=0)
    np.testing.assert_array_equal(out[2, 2], [0.5, 0.25, 0.5])
    assert out[0, 0, 0] == 0.5


def test_all_nan_image_becomes_zeros():
    with pytest.warns(RuntimeWarning):
        out, _ = normalize(np.full((3, 3), np.nan), mode="zscore")
    assert (out == 0).all()


def test_bad_input_is_a_data_error():
    with pytest.raises(DataError, match="H x W"):
        gaussian(np.zeros((2, 2, 2, 2)))
    with pytest.raises(DataError, match="at least one pixel"):
        gaussian(np.zeros((0, 4)))
    with pytest.raises(DataError, match="numeric"):
        gaussian(np.array([["a"]]))
    with pytest.raises(DataError, match="nearest-neighbour"):
        gaussian(np.zeros((4, 4)), np.zeros((4, 5), np.int64))


@pytest.mark.parametrize(
    ("fn", "kwargs", "match"),
    [
        (gaussian, {"sigma": -1}, "sigma must be >= 0"),
        (gaussian, {"sigma": "big"}, "sigma must be a number"),
        (median, {"size": 4}, "odd"),
        (median, {"size": 2.5}, "integer"),
        (bilateral, {"d": 0}, "d must be >= 1"),
        (nl_means, {"h": 0}, "h must be > 0"),
        (stretch, {"low": 90, "high": 10}, "above low"),
        (clahe, {"tile_grid": (1, 2, 3)}, "pair"),
        (clahe, {"per_channel": "yes"}, "true or false"),
        (gamma, {"gamma": 0}, "gamma must be > 0"),
    ],
)
def test_bad_options_are_config_errors(fn, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        fn(np.zeros((4, 4), np.uint8), **kwargs)
