"""Tests of seglab.train.sizing: channels, resizing, object-aware crops, padding, collate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seglab.train.sizing import (
    choose_crop,
    match_channels,
    pad_collate,
    pad_to,
    pad_to_multiple,
    random_crop,
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


# --- crops ----------------------------------------------------------------------------------


def corner_object(size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A 3x3 object far in the bottom-left corner of an empty ``size`` square."""
    mask = np.zeros((size, size), np.int64)
    mask[250:253, 2:5] = 1
    image = np.zeros((size, size, 3), np.uint8)
    image[mask == 1] = 200
    return image, mask


def test_object_crops_always_contain_the_small_object():
    image, mask = corner_object()
    rng = np.random.default_rng(0)
    for _ in range(50):
        crop, crop_mask = random_crop(image, mask, 64, rng, object_prob=1.0)
        assert crop.shape == (64, 64, 3) and crop_mask.shape == (64, 64)
        assert (crop_mask == 1).any()
        np.testing.assert_array_equal(crop[crop_mask == 1], 200)  # image and mask aligned


def test_uniform_crops_mostly_miss_the_small_object():
    _, mask = corner_object()
    rng = np.random.default_rng(0)
    corners = [choose_crop(mask, 64, rng, 0.0) for _ in range(50)]
    hits = sum(bool((mask[y : y + 64, x : x + 64] == 1).any()) for y, x in corners)
    assert hits <= 5  # ~0.1 % of uniform crops contain it
    assert len(set(corners)) >= 45
    ys, xs = zip(*corners, strict=True)
    assert min(ys) >= 0 and max(ys) <= 192 and min(xs) >= 0 and max(xs) <= 192
    assert max(ys) - min(ys) > 96 and max(xs) - min(xs) > 96  # spread over the image


def test_object_crops_place_the_object_in_the_central_half():
    mask = np.zeros((256, 256), np.int64)
    mask[128, 128] = 1
    rng = np.random.default_rng(3)
    for _ in range(50):
        y, x = choose_crop(mask, 64, rng, 1.0)
        assert 16 <= 128 - y <= 48 and 16 <= 128 - x <= 48


def test_object_crop_without_objects_falls_back_to_uniform():
    mask = np.zeros((100, 100), np.int64)
    mask[:50] = 255  # ignore pixels are no objects
    rng = np.random.default_rng(0)
    corners = {choose_crop(mask, 32, rng, 1.0) for _ in range(20)}
    assert len(corners) > 10


def test_crop_of_a_small_image_is_padded():
    image = np.full((20, 30, 3), 5, np.uint8)
    mask = np.ones((20, 30), np.int64)
    crop, crop_mask = random_crop(image, mask, 64, np.random.default_rng(0), object_prob=0.5)
    assert crop.shape == (64, 64, 3) and crop_mask.shape == (64, 64)
    np.testing.assert_array_equal(crop[:20, :30], image)
    assert np.all(crop_mask[:20, :30] == 1)
    assert np.all(crop_mask[20:] == 255) and np.all(crop_mask[:, 30:] == 255)
    assert np.all(crop[20:] == 0) and np.all(crop[:, 30:] == 0)


def test_crop_pads_only_the_short_side():
    image, mask = np.ones((20, 100, 3), np.uint8), np.zeros((20, 100), np.int64)
    crop, crop_mask = random_crop(image, mask, 32, np.random.default_rng(0))
    assert crop.shape == (32, 32, 3)
    assert np.all(crop_mask[:20] == 0) and np.all(crop_mask[20:] == 255)


def test_crop_size_none_is_unchanged():
    image, mask = corner_object(64)
    out, out_mask = random_crop(image, mask, None, np.random.default_rng(0), object_prob=1.0)
    assert out is image and out_mask is mask


def test_object_crops_choose_the_class_uniformly():
    mask = np.zeros((256, 256), np.int64)
    mask[4:6, 4:6] = 1  # 4 px
    mask[150:250, 150:250] = 2  # 10000 px: by pixel, class 1 would get 0.04 % of the crops
    rng = np.random.default_rng(0)
    tiny = 0
    for _ in range(200):
        y, x = choose_crop(mask, 64, rng, 1.0)
        window = mask[y : y + 64, x : x + 64]
        assert (window > 0).any()
        tiny += bool((window == 1).any())
    assert 70 <= tiny <= 130  # ~ binomial(200, 0.5)


def test_same_seed_gives_the_same_crop():
    image = np.random.default_rng(0).integers(0, 256, (128, 96, 3)).astype(np.uint8)
    mask = np.zeros((128, 96), np.int64)
    mask[10:20, 70:80] = 1
    for prob in (0.0, 0.5, 1.0):
        a = random_crop(image, mask, 48, np.random.default_rng(11), object_prob=prob)
        b = random_crop(image, mask, 48, np.random.default_rng(11), object_prob=prob)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    corners = {choose_crop(mask, 48, np.random.default_rng(seed), 0.0) for seed in range(10)}
    assert len(corners) > 5


# --- pad_collate ----------------------------------------------------------------------------


def test_pad_collate_pads_mixed_sizes_to_the_multiple():
    a = (torch.rand(3, 20, 30), torch.ones(20, 30, dtype=torch.int64))
    b = (torch.rand(3, 33, 17), torch.full((33, 17), 2, dtype=torch.int64))
    images, masks = pad_collate(16)([a, b])
    assert images.shape == (2, 3, 48, 32) and masks.shape == (2, 48, 32)
    assert images.dtype == torch.float32 and masks.dtype == torch.int64
    assert torch.equal(images[0, :, :20, :30], a[0])
    assert torch.equal(images[1, :, :33, :17], b[0])
    assert torch.equal(masks[0, :20, :30], a[1]) and torch.equal(masks[1, :33, :17], b[1])
    assert (images[0, :, 20:] == 0).all() and (images[0, :, :, 30:] == 0).all()
    assert (images[1, :, 33:] == 0).all() and (images[1, :, :, 17:] == 0).all()
    assert (masks[0, 20:] == 255).all() and (masks[0, :, 30:] == 255).all()
    assert (masks[1, 33:] == 255).all() and (masks[1, :, 17:] == 255).all()


def test_pad_collate_without_multiple_pads_to_the_largest():
    a = (torch.rand(1, 5, 9), torch.zeros(5, 9, dtype=torch.int64))
    b = (torch.rand(1, 7, 3), torch.zeros(7, 3, dtype=torch.int64))
    images, masks = pad_collate()([a, b])
    assert images.shape == (2, 1, 7, 9) and masks.shape == (2, 7, 9)
    assert int((masks == 255).sum()) == 2 * 7 * 9 - 5 * 9 - 7 * 3


def test_pad_collate_of_equal_sizes_is_a_stack():
    batch = [(torch.rand(3, 32, 32), torch.randint(0, 2, (32, 32))) for _ in range(3)]
    images, masks = pad_collate(32)(batch)
    assert torch.equal(images, torch.stack([i for i, _ in batch]))
    assert torch.equal(masks, torch.stack([m for _, m in batch]))
