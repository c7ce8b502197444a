"""Metrics with hand-computed answers, the empty-vs-empty convention, ignore pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seglab.errors import DataError
from seglab.evaluation.metrics import binary_scores, class_scores, confusion, dice, iou


def test_known_answers():
    pred = np.array([[1, 1, 0, 0], [0, 0, 0, 0]])
    target = np.array([[0, 1, 1, 0], [0, 0, 0, 0]])
    assert confusion(pred, target) == (1, 1, 1)
    s = binary_scores(pred, target)
    assert s == {"dice": 0.5, "iou": 1 / 3, "precision": 0.5, "recall": 0.5}
    assert dice(pred * 255, target) == 0.5  # any nonzero value is foreground
    assert iou(pred, target) == pytest.approx(1 / 3)


def test_empty_vs_empty_convention():
    zero = np.zeros((4, 4), np.uint8)
    assert binary_scores(zero, zero)["dice"] == 1.0
    assert binary_scores(zero, zero, empty_score=0.0)["dice"] == 0.0
    assert math.isnan(dice(zero, zero, empty_score=math.nan))
    one = zero.copy()
    one[0, 0] = 1
    assert binary_scores(zero, one) == {"dice": 0.0, "iou": 0.0, "precision": 0.0, "recall": 0.0}
    assert binary_scores(one, zero)["recall"] == 0.0


def test_ignored_pixels_do_not_count():
    target = np.array([[1, 255, 0]])
    pred = np.array([[1, 1, 0]])
    assert dice(pred, target) == 1.0
    assert dice(pred, target, ignore_index=None) == pytest.approx(2 * 2 / (2 + 2))


def test_class_scores_mean_over_classes():
    target = np.array([[1, 1, 2, 2]])
    pred = np.array([[1, 1, 1, 2]])
    s = class_scores(pred, target, 3)
    assert s["dice/1"] == pytest.approx(2 * 2 / 5)
    assert s["dice/2"] == pytest.approx(2 * 1 / 3)
    assert s["dice"] == pytest.approx((0.8 + 2 / 3) / 2)


def test_shape_mismatch_says_how_to_fix():
    with pytest.raises(DataError, match="resize the prediction"):
        dice(np.zeros((2, 2)), np.zeros((3, 3)))
