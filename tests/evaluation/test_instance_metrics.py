"""Instance metrics on hand-made label images whose right answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.errors import DataError
from seglab.evaluation.instance_metrics import aji, counts, dsb_ap, dsb_mean_ap, overlaps


def _labels(*boxes: tuple[int, int, int, int, int], size: int = 20) -> np.ndarray:
    """A label image with ``(id, y0, x0, y1, x1)`` boxes painted in order."""
    out = np.zeros((size, size), np.int32)
    for ident, y0, x0, y1, x1 in boxes:
        out[y0:y1, x0:x1] = ident
    return out


TRUTH = _labels((1, 0, 0, 4, 4), (2, 10, 10, 14, 14))


def test_perfect_prediction_with_other_ids_scores_one():
    pred = np.where(TRUTH == 1, 7, np.where(TRUTH == 2, 30, 0))
    found = overlaps(TRUTH, pred)
    assert dsb_mean_ap(found) == 1.0 and aji(found) == 1.0
    assert counts(found) == counts(overlaps(TRUTH, TRUTH))
    c = counts(found)
    assert (c.found, c.missed, c.false, c.split, c.merged) == (2, 0, 0, 0, 0)


def test_one_missed_object():
    pred = np.where(TRUTH == 1, 1, 0)
    found = overlaps(TRUTH, pred)
    assert dsb_mean_ap(found) == 0.5  # TP 1, FN 1 at every threshold
    assert aji(found) == 16 / 32
    c = counts(found)
    assert (c.found, c.missed, c.false) == (1, 1, 0)


def test_one_object_split_in_two():
    truth = _labels((1, 0, 0, 4, 8))
    pred = _labels((1, 0, 0, 4, 4), (2, 0, 4, 4, 8))
    found = overlaps(truth, pred)
    assert np.allclose(found.iou, [[0.5, 0.5]])
    assert dsb_ap(found, 0.5) == 0.0  # IoU must be above the threshold: 0 TP, 2 FP, 1 FN
    c = counts(found)
    assert (c.split, c.merged, c.false, c.missed) == (1, 0, 2, 1)
    assert aji(found) == 16 / (32 + 16)  # one half paired, the other half unused


def test_two_objects_merged_into_one():
    truth = _labels((1, 0, 0, 4, 4), (2, 0, 4, 4, 8))
    pred = _labels((5, 0, 0, 4, 8))
    c = counts(overlaps(truth, pred))
    assert (c.split, c.merged, c.found) == (0, 1, 0)


def test_empty_against_empty_and_against_objects():
    empty = np.zeros((20, 20), np.int32)
    assert dsb_mean_ap(overlaps(empty, empty)) == 1.0 and aji(overlaps(empty, empty)) == 1.0
    assert dsb_mean_ap(overlaps(TRUTH, empty)) == 0.0 and aji(overlaps(TRUTH, empty)) == 0.0
    assert dsb_mean_ap(overlaps(empty, TRUTH)) == 0.0
    assert counts(overlaps(empty, TRUTH)).false == 2


def test_a_shifted_object_counts_only_at_the_lower_thresholds():
    truth = _labels((1, 0, 0, 10, 10))
    pred = _labels((1, 0, 1, 10, 11))  # IoU 90 / 110 = 0.818
    found = overlaps(truth, pred)
    assert dsb_ap(found, 0.8) == 1.0 and dsb_ap(found, 0.85) == 0.0
    assert dsb_mean_ap(found) == pytest.approx(7 / 10)  # 0.5 ... 0.8 of 10 thresholds


def test_label_images_of_different_sizes_are_refused():
    with pytest.raises(DataError, match="differ in size"):
        overlaps(TRUTH, TRUTH[:10])


def test_overlaps_agree_with_counting_each_pair():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, (16, 16)) * 3  # ids 3, 6, 9, 12 and background
    pred = rng.integers(1, 4, (16, 16))  # no background at all
    found = overlaps(truth, pred)
    for i, t in enumerate(found.true_ids):
        for j, p in enumerate(found.pred_ids):
            both = ((truth == t) & (pred == p)).sum()
            union = ((truth == t) | (pred == p)).sum()
            assert found.inter[i, j] == both and found.iou[i, j] == pytest.approx(both / union)
    assert list(found.true_ids) == [3, 6, 9, 12] and list(found.pred_ids) == [1, 2, 3]
