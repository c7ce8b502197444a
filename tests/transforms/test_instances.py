"""Interiors and borders: the targets of a border network and the cut back into objects."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.evaluation.instance_metrics import dsb_mean_ap, overlaps
from seglab.transforms.instances import (
    CutSettings,
    border_target,
    cut_instances,
    decode_ids,
    encode_ids,
)


def _touching(shape=(16, 24)) -> np.ndarray:
    labels = np.zeros(shape, np.int64)
    labels[2:12, 2:10], labels[2:12, 10:20] = 1, 2
    return labels


def _ideal_probs(target: np.ndarray, channels: int) -> np.ndarray:
    return np.stack([(target == c).astype(np.float32) for c in range(channels)])


def test_touching_objects_are_parted_by_a_border():
    target = border_target(_touching(), np.array([1, 1]), width=1)
    assert set(np.unique(target)) == {0, 1, 2}
    # the two columns where the objects meet are border, so the interiors do not touch
    assert (target[3:11, 9:11] == 2).all()
    assert (target[3:11, 3:9] == 1).all()


def test_the_cut_of_ideal_probabilities_gives_the_objects_back():
    truth = _touching()
    target = border_target(truth, np.array([1, 1]), width=1)
    found = cut_instances(_ideal_probs(target, 3))
    assert found.count == 2
    assert dsb_mean_ap(overlaps(truth, found.labels)) == pytest.approx(1.0)


def test_classes_come_from_the_interiors_and_small_objects_go():
    truth = _touching()
    truth[13:15, 21:23] = 3  # a 2 x 2 speck: all border, no interior
    target = border_target(truth, np.array([1, 2, 1]), width=1)
    found = cut_instances(_ideal_probs(target, 4))
    assert sorted(found.classes.tolist()) == [1, 1, 2]  # the speck is an object of its own
    assert cut_instances(_ideal_probs(target, 4), CutSettings(min_area=5)).count == 2


def test_no_foreground_is_no_object():
    probs = np.zeros((3, 8, 8), np.float32)
    probs[0] = 1.0
    assert cut_instances(probs).count == 0


def test_ids_keep_255_free_for_ignored_pixels():
    ids = np.array([0, 1, 254, 255, 256, 70_000])
    encoded = encode_ids(ids)
    assert 255 not in encoded.tolist()
    padded = np.append(encoded, 255)
    labels, ignored = decode_ids(padded)
    assert labels.tolist() == [*ids.tolist(), 0] and ignored.tolist() == [False] * 6 + [True]
    target = border_target(
        labels.reshape(1, -1), np.ones(70_000, np.int64), ignored=ignored.reshape(1, -1)
    )
    assert target[0, -1] == 255
