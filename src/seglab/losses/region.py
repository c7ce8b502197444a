"""Region losses: soft Dice, Tversky, Jaccard (pooled over the batch per class) and Lovasz."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from segmentation_models_pytorch.losses import LovaszLoss
from torch import Tensor

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError
from seglab.losses._inputs import (
    Weights,
    as_class_weights,
    binary,
    check_eps,
    multiclass,
    no_weights_for_binary,
)


def _region_sums(logits: Tensor, target: Tensor, ignore_index: int | None, class_weights, loss):
    """Per-class batch sums ``(intersection, predicted, target)`` of soft probabilities."""
    if logits.ndim == 4 and logits.shape[1] == 1:
        no_weights_for_binary(class_weights, loss)
        z, t, valid = binary(logits, target, ignore_index, loss)
        p = torch.sigmoid(z) * valid
        p, t, w = p.unsqueeze(1), t.unsqueeze(1), None
    else:
        z, t, valid = multiclass(logits, target, ignore_index, loss)
        w = as_class_weights(class_weights, z.shape[1], z)
        mask = valid.unsqueeze(1)
        p = torch.softmax(z, dim=1) * mask
        t = F.one_hot(t, z.shape[1]).permute(0, 3, 1, 2).float() * mask
    dims = (0, 2, 3)
    return (p * t).sum(dims), p.sum(dims), t.sum(dims), w


def _class_mean(per_class: Tensor, weights: Tensor | None) -> Tensor:
    if weights is None:
        return per_class.mean()
    return (per_class * weights).sum() / weights.sum()


def dice_loss(
    logits: Tensor,
    target: Tensor,
    *,
    eps: float = 1.0,
    class_weights: Weights = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Soft Dice loss ``1 - (2 I + eps) / (P + T + eps)`` per class over the whole batch.

    ``I = sum(p * t)``, ``P = sum(p)``, ``T = sum(t)`` with ``p`` the sigmoid/softmax
    probabilities: the seed's ``f_score`` with ``beta=1`` (its ``eps`` default 1.0).
    """
    check_eps(eps)
    inter, psum, tsum, w = _region_sums(logits, target, ignore_index, class_weights, "dice")
    score = (2 * inter + eps) / (psum + tsum + eps).clamp_min(1e-7)
    return _class_mean(1 - score, w)


def tversky(
    logits: Tensor,
    target: Tensor,
    *,
    alpha: float = 0.3,
    beta: float = 0.7,
    eps: float = 1.0,
    class_weights: Weights = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Tversky loss ``1 - (I + eps) / (I + alpha FP + beta FN + eps)`` (Salehi et al. 2017).

    ``alpha`` weighs false positives, ``beta`` missed foreground; the defaults 0.3/0.7 are the
    paper's best for small lesions. ``alpha = beta = 0.5`` is :func:`dice_loss` with ``eps``
    doubled (``tversky(eps=e) == dice_loss(eps=2 e)``); ``alpha = beta = 1`` is :func:`jaccard`.
    """
    check_eps(eps)
    if not (alpha >= 0 and beta >= 0 and alpha + beta > 0):
        raise ConfigError(f"alpha and beta must be >= 0, not both 0; got {alpha!r}, {beta!r}")
    inter, psum, tsum, w = _region_sums(logits, target, ignore_index, class_weights, "tversky")
    fp, fn = psum - inter, tsum - inter
    score = (inter + eps) / (inter + alpha * fp + beta * fn + eps).clamp_min(1e-7)
    return _class_mean(1 - score, w)


def jaccard(
    logits: Tensor,
    target: Tensor,
    *,
    eps: float = 1.0,
    class_weights: Weights = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Soft Jaccard (IoU) loss ``1 - (I + eps) / (P + T - I + eps)`` per class over the batch."""
    check_eps(eps)
    inter, psum, tsum, w = _region_sums(logits, target, ignore_index, class_weights, "jaccard")
    score = (inter + eps) / (psum + tsum - inter + eps).clamp_min(1e-7)
    return _class_mean(1 - score, w)


def lovasz(
    logits: Tensor,
    target: Tensor,
    *,
    per_image: bool = False,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Lovász loss (Berman et al. 2018), a convex surrogate of the IoU, through smp's LovaszLoss.

    Binary logits: Lovász hinge; multiclass: Lovász-softmax averaged over the classes present
    in the target. ``per_image`` averages per image instead of pooling the batch (images with
    every pixel ignored are left out). Ignored pixels are removed before sorting, so they touch
    neither value nor gradient.
    """
    if logits.ndim == 4 and logits.shape[1] == 1:
        z, t, valid = binary(logits, target, ignore_index, "lovasz")
        return _lovasz("binary", z.unsqueeze(1), torch.where(valid, t.long(), -1), per_image)
    z, t, valid = multiclass(logits, target, ignore_index, "lovasz")
    return _lovasz("multiclass", z, torch.where(valid, t, -1), per_image)


def _lovasz(mode: str, z: Tensor, labels: Tensor, per_image: bool) -> Tensor:
    # smp returns an empty tensor, not 0, for a batch (or image) with every pixel ignored;
    # such images are left out of the per-image mean here
    fn = LovaszLoss(mode, per_image=False, ignore_index=-1)
    batches = [(z, labels)]
    if per_image:
        batches = [(z[i : i + 1], labels[i : i + 1]) for i in range(len(z))]
    losses = [fn(zi, li) for zi, li in batches if bool((li != -1).any())]
    return torch.stack(losses).mean() if losses else z.sum() * 0.0
