"""Tests of seglab.transforms.postprocess: specks, holes, lines, gaps, ignore pixels, classes."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.errors import ConfigError, DataError
from seglab.transforms import (
    clean_mask,
    closing,
    opening,
    remove_small_holes,
    remove_small_objects,
)

MASK_TRANSFORMS = [remove_small_objects, remove_small_holes, opening, closing]


def square_and_speck(dtype=np.int64, value=1) -> np.ndarray:
    """A 10x10 square and a 3-pixel speck far from it."""
    m = np.zeros((20, 20), dtype)
    m[2:12, 2:12] = value
    m[16, 15:18] = value
    return m


def test_remove_small_objects_drops_speck_keeps_square():
    m = square_and_speck()
    _, out = remove_small_objects(None, m, min_size=5)
    assert (out[16, 15:18] == 0).all()
    assert (out[2:12, 2:12] == 1).all()
    assert out.sum() == 100 and out.dtype == np.int64


def test_remove_small_objects_bool_mask_stays_bool():
    m = square_and_speck(bool, True)
    _, out = remove_small_objects(None, m, min_size=64)
    assert out.dtype == np.bool_ and out.sum() == 100


def test_remove_small_objects_min_size_is_strict():
    m = square_and_speck()
    assert remove_small_objects(None, m, min_size=3)[1][16, 15] == 1  # 3 pixels: not < 3
    assert remove_small_objects(None, m, min_size=4)[1][16, 15] == 0


def test_remove_small_holes_fills_2x2_hole():
    m = np.zeros((12, 12), np.int64)
    m[2:10, 2:10] = 1
    m[5:7, 5:7] = 0
    _, out = remove_small_holes(None, m, area_threshold=64)
    assert (out[2:10, 2:10] == 1).all() and out.sum() == 64
    _, kept = remove_small_holes(None, m, area_threshold=4)
    assert (kept[5:7, 5:7] == 0).all()  # a hole of 4 pixels is not < 4


def test_opening_removes_one_pixel_line():
    m = np.zeros((12, 12), np.int64)
    m[2:8, 2:8] = 1
    m[10, 1:11] = 1  # 1-px line
    _, out = opening(None, m, radius=1)
    assert (out[10] == 0).all()
    assert (out[3:7, 3:7] == 1).all()


def test_closing_fills_one_pixel_gap():
    m = np.zeros((12, 12), np.int64)
    m[2:10, 2:6] = 1
    m[2:10, 7:11] = 1  # gap at column 6
    _, out = closing(None, m, radius=1)
    assert (out[3:9, 6] == 1).all()
    assert (out[2:10, 2:6] == 1).all() and (out[2:10, 7:11] == 1).all()


def test_border_objects_are_not_shrunk_by_closing_or_grown_by_opening():
    m = np.zeros((8, 8), bool)
    m[:, :3] = True
    np.testing.assert_array_equal(closing(None, m, radius=2)[1], m)
    np.testing.assert_array_equal(opening(None, m, radius=1)[1], m)


@pytest.mark.parametrize(
    ("fn", "kwargs"),
    [
        (remove_small_objects, {"min_size": 64}),
        (remove_small_holes, {"area_threshold": 64}),
        (opening, {"radius": 2}),
        (closing, {"radius": 2}),
    ],
)
def test_ignore_pixels_are_preserved(fn, kwargs):
    m = np.zeros((16, 16), np.int64)
    m[2:10, 2:10] = 1
    m[5, 5] = 255  # ignore inside an object: not a hole to fill
    m[12, 2:14] = 255  # a thin ignore line: not opened away
    m[14, 14] = 255  # an ignore speck: not a small object
    m[2:10, 11] = 255  # ignore next to a gap: not closed over
    _, out = fn(None, m, **kwargs)
    np.testing.assert_array_equal(out == 255, m == 255)


def test_multiclass_masks_are_cleaned_per_class():
    m = np.zeros((20, 20), np.uint8)
    m[1:9, 1:9] = 1
    m[11:19, 11:19] = 2
    m[1, 15] = 2  # a class-2 speck
    m[15, 2] = 1  # a class-1 speck
    m[4:6, 4:6] = 2  # a class-2 island inside class 1: an object of its own
    _, out = remove_small_objects(None, m, min_size=4)
    assert out.dtype == np.uint8
    assert out[1, 15] == 0 and out[15, 2] == 0
    assert (out[4:6, 4:6] == 2).all()
    assert (out[11:19, 11:19] == 2).all()


def test_filling_holes_never_overwrites_another_class():
    m = np.zeros((10, 10), np.int64)
    m[1:9, 1:9] = 1
    m[4:6, 4:6] = 2  # a class-2 island in a class-1 "hole"
    m[2, 2] = 0  # a real hole
    _, out = remove_small_holes(None, m, area_threshold=10)
    assert (out[4:6, 4:6] == 2).all()
    assert out[2, 2] == 1


def test_closing_never_overwrites_another_class():
    m = np.zeros((10, 12), np.int64)
    m[2:8, 1:5] = 1
    m[2:8, 6:10] = 1
    m[2:8, 5] = 2  # class 2 in class 1's gap
    _, out = closing(None, m, radius=1)
    assert (out[2:8, 5] == 2).all()


def test_lower_class_wins_a_contested_gap():
    m = np.array(
        [
            [0, 2, 0, 0, 0],
            [1, 1, 2, 1, 0],
            [1, 2, 1, 2, 1],
            [1, 1, 2, 0, 1],
            [2, 0, 2, 1, 2],
        ]
    )  # the closings of class 1 and of class 2 both reach (3, 3) and (4, 1)
    _, out = closing(None, m, radius=1)
    assert out[3, 3] == 1 and out[4, 1] == 1


def test_image_passes_through_and_none_mask_stays_none():
    img = np.zeros((6, 6, 3), np.uint8)
    for fn in MASK_TRANSFORMS:
        out_img, out_mask = fn(img, None)
        assert out_img is img and out_mask is None


def test_mask_transforms_check_input():
    with pytest.raises(DataError, match="image is"):
        opening(np.zeros((4, 4)), np.zeros((4, 5), np.int64))
    with pytest.raises(DataError, match="threshold probabilities"):
        opening(None, np.zeros((4, 4), np.float32))
    with pytest.raises(DataError, match=">= 0"):
        opening(None, -np.ones((4, 4), np.int64))
    with pytest.raises(ConfigError, match="radius must be >= 0"):
        closing(None, np.zeros((4, 4), np.int64), radius=-1)


@pytest.mark.parametrize("fn", MASK_TRANSFORMS)
@pytest.mark.parametrize("shape", [(1, 1), (2, 2)])
def test_tiny_masks(fn, shape):
    m = np.ones(shape, np.int64)
    _, out = fn(np.zeros(shape), m)
    assert out.shape == shape


def test_clean_mask_combines_steps():
    m = np.zeros((24, 24), np.uint8)
    m[2:14, 2:14] = 7  # non-zero is foreground
    m[6:8, 6:8] = 0  # small hole
    m[20, 20] = 1  # speck
    m[3:13, 8] = 0  # a 1-px crack inside
    out = clean_mask(m, min_size=10, hole_size=10, close_radius=1)
    assert out.dtype == np.bool_
    expected = np.zeros((24, 24), bool)
    expected[2:14, 2:14] = True
    np.testing.assert_array_equal(out, expected)


def test_clean_mask_defaults_change_nothing():
    m = square_and_speck(bool, True)
    np.testing.assert_array_equal(clean_mask(m), m)


def test_clean_mask_open_radius():
    m = np.zeros((10, 10), bool)
    m[5, :] = True
    assert not clean_mask(m, open_radius=1).any()
