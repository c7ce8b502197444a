"""Tests of seglab.train.batch_metrics: per-image Dice/IoU and soft Dice, checked against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seglab.evaluation.metrics import binary_scores, class_scores
from seglab.train.batch_metrics import image_scores, predict_classes, soft_dice

BIG = 10.0


def binary_logits(pred: list[list[int]]) -> torch.Tensor:
    """``1 x 1 x H x W`` logits that predict exactly ``pred`` at threshold 0.5."""
    p = torch.tensor(pred, dtype=torch.float32)
    return torch.where(p > 0, BIG, -BIG)[None, None]


def scores(logits, target, **options) -> tuple[list[float], list[float]]:
    dice, iou = image_scores(logits, target, **options)
    return dice.tolist(), iou.tolist()


# --- known answers --------------------------------------------------------------------------


def test_binary_scores_by_hand():
    logits = binary_logits([[1, 1, 0], [0, 0, 0]])
    target = torch.tensor([[[0, 1, 0], [0, 1, 0]]])
    dice, iou = scores(logits, target)
    assert dice == pytest.approx([0.5]) and iou == pytest.approx([1 / 3])


def test_scores_are_per_image_not_pooled():
    logits = torch.cat([binary_logits([[1, 1, 1, 1]]), binary_logits([[1, 0, 0, 0]])])
    target = torch.tensor([[[1, 1, 1, 1]], [[0, 0, 0, 1]]])
    dice, iou = scores(logits, target)
    assert dice == [1.0, 0.0] and iou == [1.0, 0.0]


def test_any_nonzero_target_is_foreground_in_binary():
    logits = binary_logits([[1, 1, 0]])
    dice, _ = scores(logits, torch.tensor([[[1, 7, 0]]]))
    assert dice == [1.0]


def test_empty_truth_and_empty_prediction_score_empty_score():
    logits = binary_logits([[0, 0], [0, 0]]).repeat(2, 1, 1, 1)
    target = torch.zeros(2, 2, 2, dtype=torch.int64)
    assert scores(logits, target) == ([1.0, 1.0], [1.0, 1.0])
    assert scores(logits, target, empty_score=0.0) == ([0.0, 0.0], [0.0, 0.0])
    dice, iou = image_scores(logits, target, empty_score=math.nan)
    assert torch.isnan(dice).all() and torch.isnan(iou).all()


def test_one_side_empty_scores_zero_whatever_empty_score():
    target = torch.tensor([[[0, 1]]])
    assert scores(binary_logits([[0, 0]]), target, empty_score=1.0) == ([0.0], [0.0])
    assert scores(binary_logits([[1, 0]]), torch.tensor([[[0, 0]]])) == ([0.0], [0.0])


def test_multiclass_scores_by_hand():
    # class 1: pred {0,1}, truth {0,1,2} -> Dice 4/5, IoU 2/3; class 2: pred {2,3}, truth {3}
    pred = torch.tensor([[1, 1, 2, 2]])
    target = torch.tensor([[[1, 1, 1, 2]]])
    logits = torch.nn.functional.one_hot(pred, 3).permute(2, 0, 1)[None].float() * BIG
    dice, iou = scores(logits, target)
    assert dice == pytest.approx([(4 / 5 + 2 / 3) / 2])
    assert iou == pytest.approx([(2 / 3 + 1 / 2) / 2])


def test_multiclass_absent_class_scores_empty_score():
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 1, 0, 0] = BIG  # predicts class 1 at one pixel, class 2 nowhere
    target = torch.tensor([[[1, 1], [0, 0]]])
    dice, iou = scores(logits, target)
    assert dice == pytest.approx([(2 / 3 + 1) / 2]) and iou == pytest.approx([(1 / 2 + 1) / 2])
    dice, iou = scores(logits, target, empty_score=0.0)
    assert dice == pytest.approx([1 / 3]) and iou == pytest.approx([1 / 4])


def test_ignored_pixels_count_nowhere():
    target = torch.tensor([[[1, 1, 255, 0], [255, 0, 0, 255]]])
    logits = binary_logits([[1, 0, 0, 0], [0, 0, 0, 0]])
    expected = scores(logits, target)
    assert expected[0] == pytest.approx([2 / 3]) and expected[1] == pytest.approx([1 / 2])
    ignored = target == 255
    for value in (BIG, -BIG, 0.3):
        changed = logits.clone()
        changed[0, 0][ignored[0]] = value
        assert scores(changed, target) == expected
        assert soft_dice(changed, target) == pytest.approx(float(soft_dice(logits, target)))


def test_all_ignored_image_scores_empty_score():
    target = torch.full((1, 2, 2), 255)
    assert scores(binary_logits([[1, 1], [1, 1]]), target) == ([1.0], [1.0])


def test_threshold_is_strict():
    cut = math.log(0.7 / 0.3)  # logit(0.7)
    logits = torch.tensor([[[[cut, BIG]]]])
    target = torch.tensor([[[0, 1]]])
    assert predict_classes(logits, 0.7).tolist() == [[[0, 1]]]
    assert scores(logits, target, threshold=0.7)[0] == [1.0]
    above = torch.nextafter(logits, torch.full_like(logits, math.inf))
    assert predict_classes(above, 0.7).tolist() == [[[1, 1]]]
    assert scores(above, target, threshold=0.7)[0] == pytest.approx([2 / 3])
    assert predict_classes(torch.zeros(1, 1, 1, 1)).tolist() == [[[0]]]  # p = 0.5 at 0.5


def test_threshold_moves_the_cut():
    logits = torch.tensor([[[[0.5, 2.0]]]])  # p = 0.62, 0.88
    assert predict_classes(logits, 0.5).tolist() == [[[1, 1]]]
    assert predict_classes(logits, 0.7).tolist() == [[[0, 1]]]
    assert predict_classes(logits, 0.9).tolist() == [[[0, 0]]]


def test_targets_with_a_channel_axis_are_accepted():
    rng = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 1, 8, 8, generator=rng)
    target = torch.randint(0, 2, (3, 8, 8), generator=rng)
    a, b = image_scores(logits, target), image_scores(logits, target[:, None])
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert float(soft_dice(logits, target[:, None])) == float(soft_dice(logits, target))


# --- agreement with seglab.evaluation.metrics (numpy)


def random_batch(classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    channels = 1 if classes == 2 else classes
    logits = torch.from_numpy(rng.normal(0, 2, (6, channels, 16, 16)).astype(np.float32))
    target = rng.integers(0, classes, (6, 16, 16))
    target[rng.random((6, 16, 16)) < 0.1] = 255
    # image 4: empty truth and empty prediction; multiclass image 5: class 2 absent from both
    target[4][target[4] != 255] = 0
    logits[4, :] = -BIG
    if classes > 2:
        logits[4, 0] = BIG
        target[5][target[5] == 2] = 0
        logits[5, 2] = -BIG
    return logits, torch.from_numpy(target)


@pytest.mark.parametrize("empty_score", [1.0, 0.0])
def test_binary_scores_agree_with_numpy(empty_score):
    logits, target = random_batch(2, seed=0)
    dice, iou = image_scores(logits, target, empty_score=empty_score)
    pred = (torch.sigmoid(logits[:, 0]) > 0.5).numpy()
    for i in range(len(target)):
        ref = binary_scores(pred[i], target[i].numpy(), empty_score=empty_score)
        assert float(dice[i]) == pytest.approx(ref["dice"], abs=1e-6)
        assert float(iou[i]) == pytest.approx(ref["iou"], abs=1e-6)
    assert float(dice[4]) == empty_score


@pytest.mark.parametrize("empty_score", [1.0, 0.0])
def test_multiclass_scores_agree_with_numpy(empty_score):
    logits, target = random_batch(3, seed=1)
    dice, iou = image_scores(logits, target, empty_score=empty_score)
    pred = logits.argmax(1).numpy()
    assert not (pred[5] == 2).any() and not (target[5] == 2).any()
    for i in range(len(target)):
        ref = class_scores(pred[i], target[i].numpy(), 3, empty_score=empty_score)
        assert float(dice[i]) == pytest.approx(ref["dice"], abs=1e-6)
        assert float(iou[i]) == pytest.approx(ref["iou"], abs=1e-6)
    assert float(dice[4]) == empty_score


def test_threshold_agrees_with_numpy_on_probabilities():
    logits, target = random_batch(2, seed=2)
    dice, _ = image_scores(logits, target, threshold=0.8)
    pred = (torch.sigmoid(logits[:, 0]).double() > 0.8).numpy()
    for i in range(len(target)):
        ref = binary_scores(pred[i], target[i].numpy())["dice"]
        assert float(dice[i]) == pytest.approx(ref, abs=1e-6)


# --- soft Dice ------------------------------------------------------------------------------


def test_soft_dice_by_hand():
    logits = torch.tensor([[[[0.0, math.log(3.0)]]]])  # p = 0.5, 0.75
    target = torch.tensor([[[1, 0]]])
    assert float(soft_dice(logits, target)) == pytest.approx(2 * 0.5 / (0.5 + 0.75 + 1))


def test_soft_dice_pools_over_the_batch():
    logits = torch.tensor([[[[BIG, -BIG]]], [[[-BIG, -BIG]]]])
    target = torch.tensor([[[1, 0]], [[0, 1]]])
    # pooled: 2 * 1 / (1 + 2) = 2/3 (per-image means would give (1 + 0) / 2)
    assert float(soft_dice(logits, target)) == pytest.approx(2 / 3, abs=1e-4)


def test_soft_dice_multiclass_is_the_mean_over_foreground_classes():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1, (2, 3, 4, 4)).astype(np.float32)
    target = rng.integers(0, 3, (2, 4, 4))
    target[0, 0, :2] = 255
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    valid = target != 255
    expected = []
    for c in (1, 2):
        p, t = probs[:, c] * valid, (target == c) & valid
        expected.append(2 * (p * t).sum() / (p.sum() + t.sum()))
    got = soft_dice(torch.from_numpy(logits), torch.from_numpy(target))
    assert float(got) == pytest.approx(np.mean(expected), abs=1e-6)


def test_soft_dice_of_confident_right_answers_is_one():
    target = torch.tensor([[[0, 1], [1, 0]]])
    logits = torch.where(target[:, None] > 0, 20.0, -20.0)
    assert float(soft_dice(logits, target)) == pytest.approx(1.0, abs=1e-6)
    assert float(soft_dice(-logits, target)) == pytest.approx(0.0, abs=1e-6)
