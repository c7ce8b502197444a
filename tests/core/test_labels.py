"""InstanceLabels: painting objects, reading label images, boxes and areas."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.core.labels import InstanceLabels, empty_labels, from_label_image, paint_labels
from seglab.errors import DataError


def _square(y: int, x: int, side: int, shape=(16, 16)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y : y + side, x : x + side] = True
    return mask


def test_ground_truth_overlaps_keep_the_small_object_visible():
    big, small = _square(0, 0, 10), _square(2, 2, 3)
    labels = paint_labels([small, big], [2, 1], 16, 16)
    assert labels.count == 2
    assert (labels.labels == 1).sum() == 9  # the small one, painted last, keeps its pixels
    assert (labels.labels == 2).sum() == 100 - 9
    assert labels.classes.tolist() == [2, 1]


def test_predictions_overlap_by_score_and_hidden_objects_are_dropped():
    a, b = _square(0, 0, 6), _square(0, 0, 4)
    labels = paint_labels([a, b], [1, 1], 16, 16, scores=[0.9, 0.5])
    # b lies inside a and scores lower: nothing of it is left, so it is not an object
    assert labels.count == 1 and labels.scores.tolist() == [pytest.approx(0.9)]


def test_boxes_areas_and_semantic_mask():
    labels = paint_labels([_square(1, 2, 3), _square(8, 9, 4)], [1, 3], 16, 16)
    assert labels.boxes().tolist() == [[2, 1, 5, 4], [9, 8, 13, 12]]
    assert labels.areas().tolist() == [9, 16]
    semantic = labels.semantic()
    assert semantic.dtype == np.int64 and set(np.unique(semantic)) == {0, 1, 3}


def test_label_images_of_any_ids_are_renumbered():
    image = np.zeros((4, 4), np.uint16)
    image[0, 0], image[1, 1], image[3, 3] = 700, 3, 700
    labels = from_label_image(image)
    assert labels.count == 2
    assert labels.labels[1, 1] == 1 and labels.labels[0, 0] == labels.labels[3, 3] == 2
    with pytest.raises(DataError, match="integers"):
        from_label_image(np.zeros((4, 4), np.float32), path="x.tif")


def test_empty_labels_and_checks():
    empty = empty_labels(3, 5)
    assert empty.count == 0 and empty.shape == (3, 5) and empty.boxes().shape == (0, 4)
    with pytest.raises(ValueError, match="scores"):
        InstanceLabels(np.zeros((2, 2), np.int32), np.ones(1, np.int64), np.ones(2, np.float32))
