"""Tests of seglab.core.arrays: float conversion, channels, resizing, padding, round-up and
probabilities (the helpers training and prediction share)."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.core.arrays import (
    image_to_chw,
    image_to_float,
    match_channels,
    pad_to,
    pad_to_multiple,
    probabilities,
    resize_long_side,
    round_up,
)


def colour(rgb, dtype=np.uint8, h: int = 4, w: int = 5) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype), (h, w, len(rgb))).copy()


# --- match_channels -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_gray_to_rgb_repeats_the_channel(dtype):
    gray = np.arange(20, dtype=dtype).reshape(4, 5, 1)
    rgb = match_channels(gray, 3)
    assert rgb.shape == (4, 5, 3) and rgb.dtype == dtype
    for c in range(3):
        np.testing.assert_array_equal(rgb[..., c], gray[..., 0])


def test_two_dimensional_gray_becomes_three_channels():
    gray = np.arange(20, dtype=np.uint8).reshape(4, 5)
    rgb = match_channels(gray, 3)
    assert rgb.shape == (4, 5, 3)
    np.testing.assert_array_equal(rgb[..., 2], gray)
    assert match_channels(gray, 1).shape == (4, 5, 1)


def test_rgb_to_gray_is_bt601_luma_uint8():
    red = match_channels(colour((255, 0, 0)), 1)
    assert red.shape == (4, 5, 1) and red.dtype == np.uint8
    assert np.all(red == 76)  # 0.299 * 255 = 76.2
    assert np.all(match_channels(colour((0, 255, 0)), 1) == 150)  # 0.587 * 255 = 149.7
    assert np.all(match_channels(colour((0, 0, 255)), 1) == 29)  # 0.114 * 255 = 29.1
    assert np.all(match_channels(colour((255, 255, 255)), 1) == 255)


def test_rgb_to_gray_float32_keeps_dtype_and_scale():
    red = match_channels(colour((1.0, 0.0, 0.0), np.float32), 1)
    assert red.dtype == np.float32 and red.shape == (4, 5, 1)
    np.testing.assert_allclose(red, 0.299, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_rgba_to_rgb_drops_alpha(dtype):
    rgba = np.random.default_rng(0).integers(0, 256, (6, 7, 4)).astype(dtype)
    rgb = match_channels(rgba, 3)
    assert rgb.dtype == dtype
    np.testing.assert_array_equal(rgb, rgba[..., :3])


def test_rgba_to_gray_ignores_alpha():
    rgba = colour((255, 0, 0, 17))
    assert np.all(match_channels(rgba, 1) == 76)


def test_matching_channels_are_unchanged():
    rgb = colour((1, 2, 3))
    assert match_channels(rgb, 3) is rgb


# --- resize_long_side -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "size", "expected"),
    [
        ((50, 70), 35, (25, 35)),  # landscape, shrink
        ((70, 50), 35, (35, 25)),  # portrait, shrink
        ((10, 20), 40, (20, 40)),  # enlarge
        ((21, 64), 32, (10, 32)),  # 10.5 rounds to even
    ],
)
def test_resize_keeps_aspect_on_the_long_side(shape, size, expected):
    image = np.zeros((*shape, 3), np.uint8)
    mask = np.zeros(shape, np.int64)
    out, out_mask = resize_long_side(image, mask, size)
    assert out.shape == (*expected, 3)
    assert out_mask.shape == expected and out_mask.dtype == np.int64


@pytest.mark.parametrize("size", [None, 40])
def test_resize_to_none_or_same_size_is_unchanged(size):
    image = np.random.default_rng(0).integers(0, 256, (30, 40, 3)).astype(np.uint8)
    mask = np.zeros((30, 40), np.int64)
    out, out_mask = resize_long_side(image, mask, size)
    assert out is image and out_mask is mask


@pytest.mark.parametrize("size", [20, 97])
def test_resized_mask_holds_only_input_values(size):
    rng = np.random.default_rng(1)
    mask = rng.choice(np.array([0, 3, 255]), size=(37, 53))
    image = rng.integers(0, 256, (37, 53, 3)).astype(np.uint8)
    _, out = resize_long_side(image, mask, size)
    assert set(np.unique(out).tolist()) <= {0, 3, 255}
    assert set(np.unique(out).tolist()) == {0, 3, 255}  # nothing vanishes at this scale
    assert out.dtype == np.int64


def test_resized_mask_of_large_class_values_survives():
    mask = np.full((10, 10), 300, np.int64)
    mask[:5] = 0
    _, out = resize_long_side(np.zeros((10, 10, 3), np.uint8), mask, 5)
    assert set(np.unique(out).tolist()) == {0, 300}


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("size", [16, 64])
def test_resize_keeps_image_dtype_and_range(dtype, size):
    scale = 255 if dtype == np.uint8 else 1.0
    image = (np.random.default_rng(2).random((30, 40, 3)) * scale).astype(dtype)
    out, _ = resize_long_side(image, None, size)
    assert out.dtype == dtype
    assert out.min() >= 0 and out.max() <= scale


def test_resize_keeps_one_channel_as_h_w_1():
    image = np.full((30, 40, 1), 7, np.uint8)
    out, mask = resize_long_side(image, None, 20)
    assert out.shape == (15, 20, 1) and mask is None
    assert np.all(out == 7)


def test_resize_shrinks_by_area_averaging():
    image = np.zeros((4, 4, 1), np.float32)
    image[:2, :2] = 1.0  # one 2x2 block becomes one pixel of its mean
    image[0, 2] = 1.0
    out, _ = resize_long_side(image, None, 2)
    np.testing.assert_allclose(out[..., 0], [[1.0, 0.25], [0.0, 0.0]])


# --- padding --------------------------------------------------------------------------------


def test_pad_to_fills_image_0_and_mask_255():
    image = np.full((5, 7, 3), 9, np.uint8)
    mask = np.ones((5, 7), np.int64)
    out, out_mask = pad_to(image, mask, 8, 10)
    assert out.shape == (8, 10, 3) and out_mask.shape == (8, 10)
    assert out.dtype == np.uint8 and out_mask.dtype == np.int64
    np.testing.assert_array_equal(out[:5, :7], image)
    np.testing.assert_array_equal(out_mask[:5, :7], mask)
    assert np.all(out[5:] == 0) and np.all(out[:, 7:] == 0)
    assert np.all(out_mask[5:] == 255) and np.all(out_mask[:, 7:] == 255)


def test_pad_to_never_shrinks():
    image, mask = np.ones((5, 7, 3), np.uint8), np.ones((5, 7), np.int64)
    out, out_mask = pad_to(image, mask, 3, 4)
    assert out is image and out_mask is mask
    out, out_mask = pad_to(image, mask, 5, 9)  # only the width grows
    assert out.shape == (5, 9, 3) and np.all(out_mask[:, 7:] == 255)


def test_pad_to_without_mask():
    out, mask = pad_to(np.ones((2, 3, 1), np.float32), None, 4, 4)
    assert out.shape == (4, 4, 1) and mask is None and out.dtype == np.float32


@pytest.mark.parametrize(
    ("value", "multiple", "expected"), [(20, 16, 32), (32, 16, 32), (1, 32, 32), (33, 1, 33)]
)
def test_round_up(value, multiple, expected):
    assert round_up(value, multiple) == expected


def test_pad_to_multiple_rounds_each_side_up():
    image, mask = np.ones((20, 33, 3), np.uint8), np.zeros((20, 33), np.int64)
    out, out_mask = pad_to_multiple(image, mask, 16)
    assert out.shape == (32, 48, 3) and out_mask.shape == (32, 48)
    np.testing.assert_array_equal(out[:20, :33], image)
    assert np.all(out_mask[:20, :33] == 0)
    assert np.all(out_mask[20:] == 255) and np.all(out_mask[:, 33:] == 255)


def test_pad_to_multiple_of_a_multiple_is_unchanged():
    image, mask = np.ones((32, 48, 3), np.uint8), np.zeros((32, 48), np.int64)
    out, out_mask = pad_to_multiple(image, mask, 16)
    assert out is image and out_mask is mask


# --- float conversion -----------------------------------------------------------------------


def test_image_to_float_scales_by_the_dtype():
    np.testing.assert_allclose(image_to_float(np.array([[0, 51, 255]], np.uint8)), [[0, 0.2, 1]])
    np.testing.assert_allclose(image_to_float(np.array([[0, 65535]], np.uint16)), [[0.0, 1.0]])
    floats = np.array([[-1.5, 2.0]], np.float32)
    out = image_to_float(floats)
    np.testing.assert_array_equal(out, floats)  # float is taken as it is
    assert out is not floats and out.dtype == np.float32
    assert image_to_float(np.array([[1, 2]], np.uint8), np.float64).dtype == np.float64


def test_image_to_float_matches_the_old_uint8_division():
    image = np.random.default_rng(0).integers(0, 256, (9, 11, 3)).astype(np.uint8)
    np.testing.assert_array_equal(image_to_float(image), image.astype(np.float32) / 255.0)


def test_image_to_chw_is_contiguous_float32_channels_first():
    image = np.random.default_rng(0).integers(0, 256, (4, 5, 3)).astype(np.uint8)
    out = image_to_chw(image)
    assert out.shape == (3, 4, 5) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out[1], image[..., 1] / np.float32(255))


# --- probabilities --------------------------------------------------------------------------


def test_probabilities_sigmoid_of_one_channel():
    logits = np.array([-2.0, 0.0, 3.0], np.float32).reshape(1, 1, 1, 3)
    expected = 1 / (1 + np.exp([2.0, 0.0, -3.0]))
    np.testing.assert_allclose(probabilities(logits).ravel(), expected, rtol=1e-6)


def test_probabilities_softmax_over_channels_never_overflows():
    logits = np.random.default_rng(0).normal(0, 3, (2, 4, 5, 6)).astype(np.float32)
    logits[0, 0, 0, 0] = 1e4
    probs = probabilities(logits)
    assert probs.shape == logits.shape and np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert probs[0, 0, 0, 0] == pytest.approx(1.0)
    np.testing.assert_array_equal(probs.argmax(axis=1), logits.argmax(axis=1))
