"""Pixel losses: binary and softmax cross-entropy, focal loss (mean over pixels not ignored)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError
from seglab.losses._inputs import (
    Weights,
    as_class_weights,
    as_pos_weight,
    binary,
    multiclass,
    no_weights_for_binary,
    weighted_mean,
)


def bce(
    logits: Tensor,
    target: Tensor,
    *,
    pos_weight: float | Tensor | None = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Binary cross-entropy with logits, mean over the pixels that are not ignored.

    ``pos_weight`` multiplies the loss of foreground pixels (torch's ``pos_weight``): set it
    near the background/foreground pixel ratio so that small objects are not drowned out.
    """
    z, t, valid = binary(logits, target, ignore_index, "bce")
    per_pixel = F.binary_cross_entropy_with_logits(
        z, t, pos_weight=as_pos_weight(pos_weight, z), reduction="none"
    )
    return weighted_mean(per_pixel, valid.float())


def cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    class_weights: Weights = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Softmax cross-entropy, (weighted) mean over the pixels that are not ignored.

    Equals ``F.cross_entropy(logits, target, weight=class_weights, ignore_index=...)`` but gives
    0 instead of NaN when every pixel is ignored.
    """
    z, t, valid = multiclass(logits, target, ignore_index, "cross_entropy")
    w = as_class_weights(class_weights, z.shape[1], z)
    per_pixel = F.cross_entropy(z, t, reduction="none")
    weights = valid.float() if w is None else valid.float() * w[t]
    return weighted_mean(per_pixel, weights)


def focal(
    logits: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    pos_weight: float | Tensor | None = None,
    class_weights: Weights = None,
    ignore_index: int | None = IGNORE_INDEX,
) -> Tensor:
    """Focal loss (Lin et al. 2017): ``(1 - p_t) ** gamma * CE``, sigmoid or softmax.

    Easy pixels (``p_t`` near 1) count less. ``gamma=0`` gives :func:`bce` (binary, with the
    same ``pos_weight``) or :func:`cross_entropy` (multiclass, same ``class_weights``);
    ``pos_weight`` plays the role of the paper's alpha balance.
    """
    if not gamma >= 0:
        raise ConfigError(f"gamma must be >= 0, got {gamma!r}; 2.0 is the paper's choice")
    if logits.ndim == 4 and logits.shape[1] == 1:
        no_weights_for_binary(class_weights, "focal")
        z, t, valid = binary(logits, target, ignore_index, "focal")
        ce = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        pw = as_pos_weight(pos_weight, z)
        weights = valid.float() if pw is None else valid.float() * (1 + (pw - 1) * t)
        count = valid.float()  # normalised by pixel count, as bce with pos_weight
        modulated = (1 - torch.exp(-ce)).clamp_min(0) ** gamma * ce * weights
        return weighted_mean(modulated, count)
    if pos_weight is not None:
        raise ConfigError("focal: pos_weight is for binary logits; use class_weights")
    z, t, valid = multiclass(logits, target, ignore_index, "focal")
    w = as_class_weights(class_weights, z.shape[1], z)
    ce = F.cross_entropy(z, t, reduction="none")
    weights = valid.float() if w is None else valid.float() * w[t]
    return weighted_mean((1 - torch.exp(-ce)).clamp_min(0) ** gamma * ce, weights)
