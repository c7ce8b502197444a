"""Tests of seglab.train.sizing: object-aware crops and the collate that pads a batch (the shared
helpers are tested in tests/core/test_arrays.py)."""

from __future__ import annotations

import numpy as np
import torch

from seglab.train.sizing import choose_crop, pad_collate, random_crop

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
