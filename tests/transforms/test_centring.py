"""Tests of seglab.transforms.centring: the object ends in the middle, padding is ignore."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from seglab.errors import ConfigError, DataError
from seglab.transforms import Offset, centre, centre_offset, uncentre


def scene(h=20, w=30):
    """An image whose pixels say where they came from, and a mask with one blob near a corner."""
    image = np.arange(h * w, dtype=np.float32).reshape(h, w)
    mask = np.zeros((h, w), np.int64)
    mask[2:7, 3:6] = 1
    mask[0, 0] = 255  # ignore pixels are not objects
    return image, mask


def centre_of(mask: np.ndarray) -> np.ndarray:
    return np.asarray(ndimage.center_of_mass((mask != 0) & (mask != 255)))


@pytest.mark.parametrize("size", [(11, 15), (10, 14), 9, (40, 50)])
def test_crop_puts_objects_centre_of_mass_in_the_middle(size):
    image, mask = scene()
    out_img, out_mask = centre(image, mask, size=size)
    rows, cols = (size, size) if isinstance(size, int) else size
    assert out_img.shape == out_mask.shape == (rows, cols)
    middle = np.array([(rows - 1) / 2, (cols - 1) / 2])
    assert np.abs(centre_of(out_mask) - middle).max() <= 0.5
    # image and mask moved together: the image's pixel ids under the blob are the blob's
    assert set(out_img[out_mask == 1].astype(int)) == set(image[mask == 1].astype(int))


def test_crop_pads_image_with_fill_and_mask_with_ignore():
    image, mask = scene()
    out_img, out_mask = centre(image, mask, size=(11, 15), fill=-1)
    outside = out_img == -1
    assert outside.any()  # the blob is near the corner, so the window leaves the image
    assert (out_mask[outside] == 255).all()
    assert out_img.dtype == image.dtype and out_mask.dtype == mask.dtype


def test_pad_keeps_every_pixel_and_centres_exactly():
    image, mask = scene()
    out_img, out_mask = centre(image, mask, mode="pad")
    rows, cols = out_mask.shape
    assert rows >= 20 and cols >= 30
    np.testing.assert_allclose(centre_of(out_mask), [(rows - 1) / 2, (cols - 1) / 2])
    kept = out_img != 0
    assert sorted(out_img[kept].astype(int)) == list(range(1, 600))  # pixel 0 has id 0
    padding = out_mask.size - mask.size
    assert (out_mask == 255).sum() == padding + 1  # the padding, plus the ignore pixel


def test_pad_reaches_at_least_size():
    image, mask = scene()
    _, out_mask = centre(image, mask, mode="pad", size=64)
    assert min(out_mask.shape) >= 64
    rows, cols = out_mask.shape
    np.testing.assert_allclose(centre_of(out_mask), [(rows - 1) / 2, (cols - 1) / 2])


def test_no_object_or_no_mask_centres_on_the_image():
    image, _ = scene()
    same, none = centre(image, None)
    assert none is None
    np.testing.assert_array_equal(same, image)
    empty = np.zeros(image.shape, np.int64)
    out_img, out_mask = centre(image, empty)
    np.testing.assert_array_equal(out_img, image)
    np.testing.assert_array_equal(out_mask, empty)


def test_at_overrides_the_mask():
    image = np.zeros((9, 9), np.uint8)
    image[6, 2] = 9
    out, _ = centre(image, size=5, at=(6, 2))
    assert out[2, 2] == 9


def test_colour_image_and_bool_mask():
    image = np.zeros((8, 8, 3), np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[0:2, 0:2] = True
    out_img, out_mask = centre(image, mask, size=6, fill=7)
    assert out_img.shape == (6, 6, 3) and out_mask.dtype == np.bool_
    assert (out_img[0, 0] == 7).all() and not out_mask[0, 0]


def test_uncentre_maps_back():
    image, mask = scene()
    offset = centre_offset(image.shape, mask, size=(9, 9))
    assert isinstance(offset, Offset) and (offset.height, offset.width) == (9, 9)
    _, centred = centre(image, mask, size=(9, 9))
    back = uncentre(centred, offset, image.shape)
    seen = np.zeros(mask.shape, bool)
    seen[
        max(offset.top, 0) : offset.top + offset.height,
        max(offset.left, 0) : offset.left + offset.width,
    ] = True
    np.testing.assert_array_equal(back[seen], mask[seen])
    assert (back[~seen] == 255).all()
    probs = uncentre(np.ones((9, 9), np.float32), offset, image.shape, fill=0)
    assert probs.dtype == np.float32 and probs.sum() == seen.sum()


def test_offset_formula():
    image, mask = scene()
    offset = centre_offset(image.shape, mask, size=(11, 15))
    out_img, _ = centre(image, mask, size=(11, 15))
    r, c = 6, 7
    assert out_img[r, c] == image[r + offset.top, c + offset.left]


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (1, 1, 3)])
@pytest.mark.parametrize("mode", ["crop", "pad"])
def test_tiny_images(shape, mode):
    image = np.ones(shape, np.uint8)
    mask = np.ones(shape[:2], np.int64)
    out_img, out_mask = centre(image, mask, mode=mode, size=3)
    assert out_img.shape[:2] == out_mask.shape
    assert (out_mask == 1).sum() == mask.size


def test_errors_say_what_to_fix():
    image, mask = scene()
    with pytest.raises(ConfigError, match="mode must be one of crop, pad"):
        centre(image, mask, mode="shift")
    with pytest.raises(ConfigError, match="size"):
        centre(image, mask, size=0)
    with pytest.raises(ConfigError, match="at must be"):
        centre(image, mask, at=5)
    with pytest.raises(DataError, match="the image is 20 x 30"):
        centre(image, mask[:-1])
    with pytest.raises(DataError, match="offset is for"):
        uncentre(np.zeros((3, 3)), Offset(0, 0, 4, 4), (4, 4))
