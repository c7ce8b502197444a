"""COCO ``segmentation`` of binary masks: polygons around the pixels, or RLE when they fall short.

pycocotools fills the pixels whose centres lie inside a polygon (pixel ``(x, y)`` covers
``[x, x+1) x [y, y+1)`` in COCO coordinates). The outline that OpenCV traces runs through the
centres of the boundary pixels, so :func:`mask_to_segmentation` grows it by half a pixel
(mitred corners) to cover them. An object with a hole, one whose outline has fewer than 3
points, or one whose polygon would cover it with IoU below :data:`MIN_POLYGON_IOU` is given as
compressed RLE instead, so nothing is lost.
"""

from __future__ import annotations

import cv2
import numpy as np

from seglab.data.rle import encode_coco_rle, polygons_to_mask
from seglab.errors import ConfigError

SEGMENTATIONS = ("polygon", "rle")
MIN_POLYGON_IOU = 0.9


def _unit_normals(edges: np.ndarray) -> np.ndarray:
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.divide(normals, length, out=np.zeros_like(normals), where=length > 0)


def _grow(points: np.ndarray, distance: float = 0.5) -> np.ndarray:
    """Move an outline through pixel centres outward by ``distance`` (mitred corners)."""
    pts = points.astype(np.float64) + 0.5  # pixel (x, y) covers [x, x+1) in COCO coordinates
    n1 = _unit_normals(pts - np.roll(pts, 1, axis=0))
    n2 = _unit_normals(np.roll(pts, -1, axis=0) - pts)
    normal = n1 + n2
    scale = np.maximum((n1 * normal).sum(axis=1, keepdims=True), 0.5)  # mitre, capped at 2x
    x, y = pts[:, 0], pts[:, 1]
    area = float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum())
    return pts + (1.0 if area > 0 else -1.0) * distance * normal / scale


def _polygons(mask: np.ndarray) -> list[list[float]] | None:
    """Polygons covering ``mask``, or None when it needs RLE (holes, tiny or poor fit)."""
    h, w = mask.shape
    found, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if hierarchy is None or (hierarchy[0][:, 3] >= 0).any():
        return None
    polys = []
    for contour in found:
        points = contour.reshape(-1, 2)
        if len(points) < 3:
            return None
        grown = _grow(points)
        grown[:, 0] = np.clip(grown[:, 0], 0, w)
        grown[:, 1] = np.clip(grown[:, 1], 0, h)
        polys.append([round(float(v), 2) for v in grown.ravel()])
    drawn = polygons_to_mask(polys, h, w).astype(bool)
    union = np.logical_or(drawn, mask).sum()
    if union == 0 or np.logical_and(drawn, mask).sum() / union < MIN_POLYGON_IOU:
        return None
    return polys


def mask_to_segmentation(mask: np.ndarray, *, segmentation: str = "polygon") -> list | dict:
    """COCO ``segmentation`` of one object's ``H x W`` binary mask.

    ``"polygon"`` gives a list of polygons ``[x1, y1, x2, y2, ...]`` when they represent the
    object faithfully (no holes, at least 3 points, IoU >= :data:`MIN_POLYGON_IOU`), else
    compressed RLE; ``"rle"`` always gives compressed RLE.

    >>> m = np.zeros((8, 8), np.uint8)
    >>> m[2:5, 3:7] = 1
    >>> mask_to_segmentation(m)
    [[3.0, 2.0, 3.0, 5.0, 7.0, 5.0, 7.0, 2.0]]
    """
    if segmentation not in SEGMENTATIONS:
        raise ConfigError(
            f"segmentation must be one of {', '.join(SEGMENTATIONS)}; got {segmentation!r}"
        )
    mask = np.asarray(mask) != 0
    if segmentation == "polygon":
        polys = _polygons(mask)
        if polys is not None:
            return polys
    return encode_coco_rle(mask)


def mask_bbox(mask: np.ndarray) -> list[float]:
    """COCO ``bbox`` ``[x, y, width, height]`` of the non-zero pixels of a non-empty mask.

    >>> m = np.zeros((8, 8), np.uint8)
    >>> m[2:5, 3:7] = 1
    >>> mask_bbox(m)
    [3.0, 2.0, 4.0, 3.0]
    """
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    return [float(x0), float(y0), float(xs.max() - x0 + 1), float(ys.max() - y0 + 1)]


__all__ = ["MIN_POLYGON_IOU", "SEGMENTATIONS", "mask_bbox", "mask_to_segmentation"]
