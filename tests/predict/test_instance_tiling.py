"""Mask R-CNN's tiling and painting on a fake detector with known objects: every object kept
once and whole, also where it straddles a tile border; masks resampled to the image's size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from seglab.predict.instance_tiling import (
    Detections,
    detect_images,
    layout_windows,
    paint_detections,
    window_cores,
)

Rect = tuple[int, int, int, int]  # y0, x0, y1, x1 (ends exclusive), image pixels


def fake_detector(objects: list[Rect], calls: list | None = None):
    """A detector that sees, in each window, the visible part of every object (its box clipped
    to the window, as a real network sees a cut object), scores decreasing with the index."""

    def detect(windows):
        out = []
        for window in windows:
            top, left = int(window[0, 0, 0]), int(window[1, 0, 0])  # the window's corner
            height, width = window.shape[1:]
            boxes, scores, classes, masks = [], [], [], []
            for k, (y0, x0, y1, x1) in enumerate(objects):
                vy0, vy1 = max(y0, top) - top, min(y1, top + height) - top
                vx0, vx1 = max(x0, left) - left, min(x1, left + width) - left
                if vy1 <= vy0 or vx1 <= vx0:
                    continue
                mask = np.zeros((height, width), np.float32)
                mask[vy0:vy1, vx0:vx1] = 1.0
                boxes.append([vx0, vy0, vx1, vy1])
                scores.append(0.9 - 0.001 * k)
                classes.append(1 + k % 2)
                masks.append(mask)
            if calls is not None:
                calls.append((top, left, height, width))
            out.append((
                np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                np.array(classes, np.int64), np.array(masks, np.float32).reshape(-1, height, width),
            ))  # fmt: skip
        return out

    return detect


def coordinates_image(height: int, width: int) -> np.ndarray:
    """A 2-channel image holding each pixel's row and column: a window knows where it is."""
    rows, cols = np.mgrid[:height, :width].astype(np.float32)
    return np.stack([rows, cols])


def truth_labels(objects: list[Rect], height: int, width: int) -> np.ndarray:
    labels = np.zeros((height, width), np.int32)
    for k, (y0, x0, y1, x1) in enumerate(objects):
        labels[y0:y1, x0:x1] = k + 1
    return labels


def test_cores_split_each_axis_once_at_the_middle_of_each_overlap():
    assert window_cores([0, 32], 64, 96) == [(0.0, 48.0), (48.0, 96.0)]
    assert window_cores([0], 64, 40) == [(0.0, 40.0)]
    cores = window_cores([0, 24, 48, 56], 32, 88)
    assert cores[0][0] == 0 and cores[-1][1] == 88
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cores))  # contiguous, no overlap


def test_an_object_straddling_a_tile_border_is_kept_once_and_whole():
    height, width = 40, 96
    objects = [
        (10, 40, 26, 56),  # across the middle of the overlap (x 32..64, middle 48)
        (12, 58, 24, 70),  # across window 1's right edge: window 1 sees a sliver of it
        (5, 10, 15, 20),  # window 1 only
        (20, 80, 30, 90),  # window 2 only
    ]
    calls: list = []
    found = detect_images(
        fake_detector(objects, calls), [coordinates_image(height, width)], tile=64, overlap=0.5
    )[0]
    assert sorted(calls) == [(0, 0, 40, 64), (0, 32, 40, 64)]  # two windows, one row
    assert found.count == len(objects)
    objects_out = paint_detections(found, (height, width), (height, width))
    truth = truth_labels(objects, height, width)
    assert objects_out.count == len(objects)
    for k in range(1, len(objects) + 1):  # every object found whole: the same pixels
        ids = np.unique(objects_out.labels[truth == k])
        assert len(ids) == 1 and ids[0] > 0
        assert ((objects_out.labels == ids[0]) == (truth == k)).all()


def test_a_grid_of_tiles_finds_every_object_no_larger_than_the_overlap_once():
    rng = np.random.default_rng(0)
    height, width, side = 100, 130, 12
    objects: list[Rect] = []
    taken = np.zeros((height, width), bool)
    while len(objects) < 40:
        h, w = (int(v) for v in rng.integers(3, side + 1, 2))
        y, x = int(rng.integers(0, height - h)), int(rng.integers(0, width - w))
        if not taken[max(0, y - 1) : y + h + 1, max(0, x - 1) : x + w + 1].any():
            taken[y : y + h, x : x + w] = True
            objects.append((y, x, y + h, x + w))
    image = coordinates_image(height, width)
    found = detect_images(fake_detector(objects), [image], tile=32, overlap=0.5, batch_size=3)[0]
    assert len(layout_windows(height, width, 32, 0.5)) > 20
    painted = paint_detections(found, (height, width), (height, width))
    truth = truth_labels(objects, height, width)
    assert painted.count == len(objects)
    assert ((painted.labels > 0) == (truth > 0)).all()
    pairs = {(int(t), int(p)) for t, p in zip(truth.ravel(), painted.labels.ravel(), strict=True)}
    assert len(pairs) == len(objects) + 1  # one predicted id per true object, and background
    # without tiles: the same objects
    whole = detect_images(fake_detector(objects), [image])[0]
    assert whole.count == len(objects)


def test_images_of_several_sizes_batch_by_shape():
    calls: list = []
    images = [coordinates_image(20, 30), coordinates_image(24, 24), coordinates_image(20, 30)]
    found = detect_images(fake_detector([(2, 2, 8, 8)], calls), images, batch_size=4)
    assert [f.count for f in found] == [1, 1, 1]
    assert len(calls) == 3


def _one(box, score, crop, origin, cls=1) -> tuple:
    return box, score, cls, crop, origin


def _detections(*items) -> Detections:
    return Detections(
        boxes=np.array([i[0] for i in items], np.float32).reshape(-1, 4),
        scores=np.array([i[1] for i in items], np.float32),
        classes=np.array([i[2] for i in items], np.int64),
        crops=tuple(np.asarray(i[3], np.float32) for i in items),
        origins=np.array([i[4] for i in items], np.int64).reshape(-1, 2),
    )


def test_masks_are_resampled_to_the_image_size():
    crop = np.zeros((10, 10), np.float32)
    crop[1:9, 1:9] = 1.0  # network pixels 8..15 of a 32 px image, with a pixel of margin
    found = _detections(_one([8, 8, 16, 16], 0.9, crop, (7, 7)))
    objects = paint_detections(found, (32, 32), (64, 64))
    expected = np.zeros((64, 64), bool)
    expected[16:32, 16:32] = True  # twice the size, the half-pixel grid of cv2.resize
    assert objects.count == 1 and ((objects.labels == 1) == expected).all()
    smaller = paint_detections(found, (32, 32), (16, 16))
    assert (smaller.labels == 1).sum() == 16  # 4 x 4


def test_the_higher_score_wins_a_pixel_and_small_objects_are_dropped():
    square = np.ones((6, 6), np.float32)
    found = _detections(
        _one([0, 0, 6, 6], 0.6, square, (0, 0), cls=1),
        _one([3, 3, 9, 9], 0.9, square, (3, 3), cls=2),
        _one([12, 12, 13, 13], 0.7, np.ones((1, 1), np.float32), (12, 12)),
        _one([14, 0, 15, 4], 0.8, np.full((4, 1), 0.4, np.float32), (0, 14)),  # under 0.5
    )
    objects = paint_detections(found, (16, 16), (16, 16), min_area=2)
    assert objects.count == 2
    best = objects.labels[3:9, 3:9]
    assert (best == best[0, 0]).all()  # the 0.9 object keeps all its pixels
    assert objects.classes[best[0, 0] - 1] == 2 and objects.scores.max() == pytest.approx(0.9)
    assert (objects.labels > 0).sum() == 36 + 36 - 9


def test_nothing_found_is_an_empty_label_image():
    found = detect_images(fake_detector([]), [coordinates_image(20, 30)], tile=16)[0]
    objects = paint_detections(found, (20, 30), (40, 60))
    assert objects.count == 0 and objects.shape == (40, 60)
