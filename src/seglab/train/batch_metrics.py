"""Per-image validation scores on logits, in torch (one pass over the batch, no host sync).

* :func:`image_scores`: Dice and IoU of each image at a probability threshold, the seed's Dice
  definition (``2|A∩B| / (|A|+|B|)`` per image, then the mean over images; an image with no
  object in the truth and none predicted scores ``empty_score``, 1 by default). Multiclass: the
  mean over the foreground classes ``1..K-1``, a class absent from both the truth and the
  prediction of that image scoring ``empty_score`` (as
  :func:`seglab.evaluation.metrics.class_scores`).
* :func:`soft_dice`: the seed's ``dice_no_threshold`` -- Dice of the probabilities over the
  whole batch, no threshold.


Pixels whose target is 255 count nowhere. These agree with :mod:`seglab.evaluation.metrics`
(numpy), which
``seglab evaluate`` uses on files.

>>> import torch
>>> logits = torch.tensor([[[[5.0, -5.0], [-5.0, -5.0]]]])
>>> target = torch.tensor([[[1, 1], [0, 0]]])
>>> dice, iou = image_scores(logits, target)
>>> round(float(dice[0]), 3), round(float(iou[0]), 3)
(0.667, 0.5)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from seglab.core.constants import IGNORE_INDEX


def predict_classes(logits: Tensor, threshold: float = 0.5) -> Tensor:
    """``N x H x W`` class indices: ``sigmoid > threshold`` for one channel, else argmax."""
    if logits.shape[1] == 1:
        cut = math.log(threshold / (1.0 - threshold))
        return (logits[:, 0] > cut).long()
    return logits.argmax(1)


def image_scores(
    logits: Tensor, target: Tensor, *, threshold: float = 0.5, empty_score: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Dice and IoU per image (two ``N`` float tensors), see the module docstring."""
    if target.ndim == 4:
        target = target[:, 0]
    valid = target != IGNORE_INDEX
    pred = predict_classes(logits.detach(), threshold)
    num_classes = max(2, logits.shape[1])
    dims = (1, 2)
    dice_sum = torch.zeros(pred.shape[0], device=pred.device)
    iou_sum = torch.zeros_like(dice_sum)
    fill = torch.full_like(dice_sum, empty_score)
    for cls in range(1, num_classes):
        is_pred = (pred == cls) & valid
        is_true = (target == cls) & valid if logits.shape[1] > 1 else (target != 0) & valid
        inter = (is_pred & is_true).sum(dims).float()
        total = is_pred.sum(dims).float() + is_true.sum(dims).float()
        present = total > 0
        dice_sum += torch.where(present, 2 * inter / total.clamp(min=1), fill)
        union = total - inter
        iou_sum += torch.where(present, inter / union.clamp(min=1), fill)
    return dice_sum / (num_classes - 1), iou_sum / (num_classes - 1)


def soft_dice(logits: Tensor, target: Tensor, *, eps: float = 1e-7) -> Tensor:
    """The seed's Dice without threshold: ``2 sum(p t) / (sum(p) + sum(t))`` over the batch
    (foreground probability ``p``; multiclass: the mean over foreground classes)."""
    if target.ndim == 4:
        target = target[:, 0]
    valid = (target != IGNORE_INDEX).unsqueeze(1).float()
    logits = logits.detach().float()
    if logits.shape[1] == 1:
        probs = torch.sigmoid(logits)
        truth = ((target != 0) & (target != IGNORE_INDEX)).unsqueeze(1).float()
    else:
        probs = torch.softmax(logits, 1)[:, 1:]
        classes = torch.arange(1, logits.shape[1], device=target.device).view(1, -1, 1, 1)
        truth = (target.unsqueeze(1) == classes).float()
    probs, truth = probs * valid, truth * valid
    dims = (0, 2, 3)
    inter = (probs * truth).sum(dims)
    total = probs.sum(dims) + truth.sum(dims)
    return (2 * inter / (total + eps)).mean()


THRESHOLDS = tuple(round(0.1 + 0.05 * k, 2) for k in range(17))
"""The probability thresholds (0.1, 0.15, ... 0.9) a binary run scores at every validation, to
choose its own: a weighted loss (``pos_weight``) or rare objects move the best one far from 0.5
(on the sample set, 0.7 and above)."""


def threshold_dice(logits: Tensor, target: Tensor, thresholds=THRESHOLDS) -> Tensor:
    """``N x T`` per-image Dice of one-channel ``logits`` at each of ``thresholds``."""
    return torch.stack([image_scores(logits, target, threshold=t)[0] for t in thresholds], 1)


def choose_threshold(
    means: list[float], thresholds=THRESHOLDS, *, default: float = 0.5, min_gain: float = 0.002
) -> tuple[float, float]:
    """``(threshold, mean Dice)``: the threshold whose mean val Dice is highest, unless it beats
    ``default``'s by less than ``min_gain`` (a choice that buys nothing is not made).

    >>> choose_threshold([0.70, 0.72, 0.71], (0.4, 0.5, 0.6))
    (0.5, 0.72)
    >>> choose_threshold([0.75, 0.72, 0.71], (0.4, 0.5, 0.6))
    (0.4, 0.75)
    """
    scores = dict(zip(thresholds, means, strict=True))
    best = max(thresholds, key=lambda t: (scores[t], t == default))
    if default in scores and scores[best] - scores[default] < min_gain:
        best = default
    return best, scores[best]
