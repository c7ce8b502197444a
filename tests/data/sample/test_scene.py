"""Synthetic scenes: well-formed polygons, reproducible, not trivial, objects small and visible."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.filters import threshold_otsu

from seglab.data.rle import polygons_to_mask
from seglab.data.sample.scene import generate_scene
from seglab.errors import ConfigError


def rasterise(polygons: list[list[float]], size: int) -> np.ndarray:
    """Union of the polygons' masks, as COCO loaders compute them."""
    return polygons_to_mask(polygons, size, size).astype(bool)


def dice(pred: np.ndarray, target: np.ndarray) -> float:
    total = pred.sum() + target.sum()
    return 1.0 if total == 0 else 2 * float((pred & target).sum()) / total


def test_generate_scene_shapes_and_polygons():
    for seed in range(6):
        image, polygons = generate_scene(np.random.default_rng(seed), size=256)
        assert image.shape == (256, 256, 3) and image.dtype == np.uint8
        assert 0 <= len(polygons) <= 4
        for polygon in polygons:
            xy = np.asarray(polygon).reshape(-1, 2)
            assert len(polygon) >= 6 and len(polygon) % 2 == 0
            assert xy.min() >= 0 and xy.max() <= 256
        again, _ = generate_scene(np.random.default_rng(seed), size=256)
        assert np.array_equal(image, again)


def test_otsu_threshold_does_poorly():
    scores = []
    for seed in range(10):
        image, polygons = generate_scene(np.random.default_rng(100 + seed))
        target = rasterise(polygons, 512)
        gray = image.astype(np.float32) @ np.float32([0.2125, 0.7154, 0.0721])
        bright = gray > threshold_otsu(gray)
        scores.append(max(dice(bright, target), dice(~bright, target)))
    assert np.mean(scores) < 0.4


def test_objects_are_small_and_visible():
    fractions = []
    for seed in range(10):
        image, polygons = generate_scene(np.random.default_rng(200 + seed))
        for polygon in polygons:
            mask = rasterise([polygon], 512)
            fractions.append(mask.mean())
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ~mask
            inside, outside = image[mask].astype(float), image[ring].astype(float)
            assert np.abs(inside.mean(0) - outside.mean(0)).max() > 3 or inside.std() > 10
    assert fractions and max(fractions) < 0.03


@pytest.mark.parametrize("size", [32, 63, 64.0, True, "512"])
def test_generate_scene_rejects_bad_sizes(size):
    with pytest.raises(ConfigError, match="size must be an integer >= 64"):
        generate_scene(np.random.default_rng(0), size=size)
