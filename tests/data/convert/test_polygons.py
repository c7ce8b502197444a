"""Mask -> COCO segmentation: polygons that cover the pixels exactly, RLE where they cannot."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from seglab.data.convert.polygons import MIN_POLYGON_IOU, mask_bbox, mask_to_segmentation
from seglab.data.rle import decode_coco_rle, polygons_to_mask
from seglab.errors import ConfigError


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def draw_back(seg: list | dict, h: int, w: int) -> np.ndarray:
    """The pixels a COCO reader gets back from ``seg``."""
    return (decode_coco_rle(seg) if isinstance(seg, dict) else polygons_to_mask(seg, h, w)) > 0


def test_mask_to_segmentation_small_objects_use_rle():
    dot = np.zeros((16, 16), np.uint8)
    dot[5, 5] = 1
    assert isinstance(mask_to_segmentation(dot), dict)
    line = np.zeros((16, 16), np.uint8)
    line[3, 2:12] = 1
    seg = mask_to_segmentation(line)
    assert iou(draw_back(seg, 16, 16), line > 0) >= 0.9
    assert isinstance(mask_to_segmentation(line, segmentation="rle"), dict)
    with pytest.raises(ConfigError, match="polygon, rle"):
        mask_to_segmentation(line, segmentation="mesh")


def test_rectangle_polygon_is_grown_by_half_a_pixel_and_draws_back_exactly():
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 3:7] = 1
    seg = mask_to_segmentation(mask)
    assert seg == [[3.0, 2.0, 3.0, 5.0, 7.0, 5.0, 7.0, 2.0]]  # the pixels' outer edges
    np.testing.assert_array_equal(draw_back(seg, 8, 8), mask > 0)


def test_polygons_cover_discs_and_the_image_border():
    mask = np.zeros((40, 50), np.uint8)
    cv2.circle(mask, (12, 14), 9, 1, -1)
    cv2.circle(mask, (49, 0), 12, 1, -1)  # cut by the image border
    seg = mask_to_segmentation(mask)
    assert isinstance(seg, list) and len(seg) == 2
    for poly in seg:
        xy = np.asarray(poly).reshape(-1, 2)
        assert xy.min() >= 0 and xy[:, 0].max() <= 50 and xy[:, 1].max() <= 40
    assert iou(draw_back(seg, 40, 50), mask > 0) >= MIN_POLYGON_IOU


def test_holes_fall_back_to_exact_rle():
    mask = np.zeros((32, 32), np.uint8)
    cv2.circle(mask, (16, 16), 12, 1, -1)
    cv2.circle(mask, (16, 16), 5, 0, -1)
    seg = mask_to_segmentation(mask)
    assert isinstance(seg, dict)
    np.testing.assert_array_equal(draw_back(seg, 32, 32), mask > 0)


def test_mask_bbox_is_the_pixel_extent():
    mask = np.zeros((10, 12), bool)
    mask[3, 4] = mask[7, 9] = True
    assert mask_bbox(mask) == [4.0, 3.0, 6.0, 5.0]
    assert all(isinstance(v, float) for v in mask_bbox(mask))
