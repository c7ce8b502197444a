"""Tests of seglab.core.zoom: where to zoom on small objects, how much, and the zoomed view."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.core.overlay import IGNORE_COLOUR, overlay
from seglab.core.zoom import (
    FALSE_ALARM_COLOUR,
    HIT_COLOUR,
    MISSED_COLOUR,
    Box,
    zoom_box,
    zoom_factor,
    zoom_view,
)


def square_mask(*squares: tuple[int, int, int], size: int = 512, value: int = 1) -> np.ndarray:
    """A ``size x size`` mask with ``value`` on each ``(top, left, side)`` square."""
    mask = np.zeros((size, size), np.int64)
    for top, left, side in squares:
        mask[top : top + side, left : left + side] = value
    return mask


def test_zoom_box_of_one_small_object_adds_the_margin():
    truth = square_mask((100, 200, 10))
    box = zoom_box(truth, truth)
    assert box == Box(92, 192, 118, 218)  # 8 px around rows 100-109, columns 200-209
    assert (box.height, box.width) == (26, 26)
    assert truth[box.top : box.bottom, box.left : box.right].sum() == truth.sum()
    assert zoom_box(truth, np.zeros_like(truth)) == box  # a missed object: around the truth
    assert zoom_box(None, truth) == box  # no truth: around the prediction
    assert zoom_box(truth, truth, margin=3) == Box(97, 197, 113, 213)


def test_zoom_box_is_clipped_at_the_borders():
    assert zoom_box(None, square_mask((0, 0, 10))) == Box(0, 0, 18, 18)
    assert zoom_box(None, square_mask((505, 507, 5))) == Box(497, 499, 512, 512)
    wide = np.zeros((80, 300), np.int64)
    wide[70:80, 0:20] = 1  # at the bottom left corner of a wide image
    assert zoom_box(wide, wide) == Box(62, 0, 80, 28)


def test_zoom_box_is_the_joint_box_of_truth_and_prediction():
    truth = square_mask((100, 200, 10))
    pred = square_mask((104, 215, 10))  # shifted 4 down, 15 right: 14 x 25 together
    assert zoom_box(truth, pred) == Box(92, 192, 122, 233)


@pytest.mark.parametrize(
    "truth, pred",
    [
        (square_mask((100, 100, 200)), square_mask((100, 100, 200))),  # large and right
        (square_mask((100, 100, 200)), square_mask()),  # large and missed
        (square_mask((0, 0, 128)), square_mask((0, 0, 128))),  # a quarter of the side is large
        (square_mask((10, 10, 10), (300, 300, 200)), square_mask((10, 10, 10))),  # one large
        (square_mask(), square_mask()),  # both empty
        (square_mask((5, 5, 20), value=255), square_mask()),  # only ignored pixels
    ],
)
def test_no_zoom_for_large_objects_or_none(truth, pred):
    assert zoom_box(truth, pred) is None


def test_small_objects_far_apart_zoom_on_the_largest_error():
    truth = square_mask((20, 20, 10), (400, 400, 10), (200, 30, 6))
    pred = square_mask((20, 20, 10), (400, 400, 4))  # 84 px missed at (400, 400); 36 at (200, 30)
    pred[300:303, 300:303] = 1  # a 9 px false alarm
    assert zoom_box(truth, pred) == Box(392, 392, 418, 418)
    # no errors at all: the largest object
    objects = square_mask((20, 20, 10), (400, 400, 12))
    assert zoom_box(objects, objects) == Box(392, 392, 420, 420)
    # close enough together: their joint box
    near = square_mask((100, 100, 10), (130, 140, 10))
    assert zoom_box(near, near) == Box(88, 88, 152, 162)  # 40 x 50, margin 50 // 4 = 12


def test_zoom_box_checks_shapes():
    with pytest.raises(ValueError, match=r"truth shape \(4, 4\) differs from pred shape"):
        zoom_box(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="H x W"):
        zoom_box(None, np.zeros((4, 4, 3)))


def test_zoom_factor_fits_the_side():
    assert zoom_factor(Box(92, 192, 118, 218), 256) == 9  # 26 px: 9 x 26 = 234 <= 256
    assert zoom_factor(Box(0, 0, 18, 40), 256) == 6
    assert zoom_factor(Box(0, 0, 512, 1024), 256) == 0.25  # larger than the side: shrunk


def test_zoom_view_enlarges_with_crisp_pixels_and_agreement_colours():
    image = np.full((512, 512, 3), 100, np.uint8)
    truth = square_mask((100, 200, 10))
    pred = square_mask((100, 205, 10))  # columns 200-204 missed, 210-214 false alarms
    box = zoom_box(truth, pred)
    assert box == Box(92, 192, 118, 223)
    tile = zoom_view(image, truth, pred, box, factor=3, num_classes=2)
    assert tile.shape == (26 * 3, 31 * 3, 3) and tile.dtype == np.uint8
    blocks = tile.reshape(26, 3, 31, 3, 3)
    assert (blocks == blocks[:, :1, :, :1]).all()  # every image pixel a 3 x 3 square
    pixels = blocks[:, 0, :, 0]  # back to one value per image pixel

    def at(y, x):  # a pixel of the image, in the zoom
        return pixels[y - box.top, x - box.left].tolist()

    def tinted(colour):
        return np.rint(0.5 * 100 + 0.5 * np.asarray(colour, float)).astype(np.uint8).tolist()

    assert at(105, 202) == tinted(MISSED_COLOUR)
    assert at(105, 207) == tinted(HIT_COLOUR)
    assert at(105, 212) == tinted(FALSE_ALARM_COLOUR)
    assert at(95, 195) == [100, 100, 100]  # the margin: the image as it is
    truth[100, 207] = 255
    assert zoom_view(image, truth, pred, box, factor=1, num_classes=2)[8, 15].tolist() == tinted(
        IGNORE_COLOUR
    )


def test_zoom_view_without_truth_shows_the_predicted_classes_and_can_shrink():
    image = np.full((64, 64, 3), 100, np.uint8)
    pred = square_mask((10, 10, 4), size=64, value=2)
    box = Box(6, 6, 18, 18)
    tile = zoom_view(image, None, pred, box, factor=2, num_classes=3)
    expected = overlay(image[6:18, 6:18], pred[6:18, 6:18], num_classes=3, alpha=0.5)
    assert (tile[::2, ::2] == expected).all()
    small = zoom_view(image, None, pred, Box(0, 0, 64, 32), factor=0.5, num_classes=3)
    assert small.shape == (32, 16, 3)


def test_zoom_view_rejects_bad_boxes_and_masks():
    image, mask = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.int64)
    with pytest.raises(ValueError, match="outside"):
        zoom_view(image, mask, mask, Box(0, 0, 9, 4), factor=2, num_classes=2)
    with pytest.raises(ValueError, match="outside"):
        zoom_view(image, mask, mask, Box(4, 4, 4, 6), factor=2, num_classes=2)
    with pytest.raises(ValueError, match="height x width"):
        zoom_view(image, mask[:4], mask, Box(0, 0, 4, 4), factor=2, num_classes=2)
    with pytest.raises(ValueError, match="factor"):
        zoom_view(image, mask, mask, Box(0, 0, 4, 4), factor=0, num_classes=2)
