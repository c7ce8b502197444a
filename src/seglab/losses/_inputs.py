"""Checking and preparing logits, targets and weights for the losses (shared by every loss)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from seglab.errors import ConfigError, DataError

Weights = Sequence[float] | Tensor | None


def prepare(logits: Tensor, target: Tensor, ignore_index: int | None):
    """Checked float32 logits (ignored pixels set to 0), int64 target and the valid mask."""
    if not isinstance(logits, Tensor) or logits.ndim != 4:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise DataError(f"logits must be a tensor N x C x H x W, got {shape}")
    if not isinstance(target, Tensor):
        raise DataError(f"target must be a tensor N x H x W, got {type(target).__name__}")
    if target.ndim == 4 and target.shape[1] == 1:
        target = target[:, 0]
    n, _, h, w = logits.shape
    if tuple(target.shape) != (n, h, w):
        raise DataError(
            f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}; "
            f"expected N x H x W = {(n, h, w)} (resize masks with nearest interpolation)"
        )
    if target.is_floating_point() or target.is_complex():
        raise DataError(
            f"target must hold integer class indices, got dtype {target.dtype}; "
            "convert the mask with mask.long()"
        )
    target = target.long()
    if ignore_index is None:
        valid = torch.ones_like(target, dtype=torch.bool)
    else:
        valid = target != ignore_index
    # ignored pixels see a constant 0: their logits reach neither the value nor the gradient
    logits = torch.where(valid.unsqueeze(1), logits.float(), 0.0)
    return logits, target, valid


def binary(logits: Tensor, target: Tensor, ignore_index: int | None, loss: str):
    logits, target, valid = prepare(logits, target, ignore_index)
    if logits.shape[1] != 1:
        raise ConfigError(
            f"{loss} is a binary loss (logits N x 1 x H x W) but the logits have "
            f"{logits.shape[1]} channels; use cross_entropy or ce_dice for multiclass"
        )
    return logits[:, 0], ((target != 0) & valid).float(), valid


def multiclass(logits: Tensor, target: Tensor, ignore_index: int | None, loss: str):
    logits, target, valid = prepare(logits, target, ignore_index)
    c = logits.shape[1]
    if c < 2:
        raise ConfigError(
            f"{loss} needs multiclass logits (N x C x H x W, C >= 2) but got 1 channel; "
            "use bce or bce_dice for binary segmentation"
        )
    bad = valid & ((target < 0) | (target >= c))
    if bool(bad.any()):
        values = torch.unique(target[bad])[:5].tolist()
        raise DataError(
            f"target holds class indices {values} outside 0..{c - 1} (ignore_index is "
            f"{ignore_index}); set num_classes to cover every class in the masks or map those "
            "values to the ignore index"
        )
    return logits, torch.where(valid, target, 0), valid


def as_pos_weight(pos_weight: float | Tensor | None, like: Tensor) -> Tensor | None:
    if pos_weight is None:
        return None
    if not isinstance(pos_weight, Tensor) and not pos_weight > 0:
        raise ConfigError(
            f"pos_weight must be > 0, got {pos_weight!r}; e.g. background/foreground pixel ratio"
        )
    return torch.as_tensor(pos_weight, dtype=torch.float32, device=like.device)


def as_class_weights(class_weights: Weights, num_classes: int, like: Tensor) -> Tensor | None:
    if class_weights is None:
        return None
    if not isinstance(class_weights, Tensor):
        values = [float(v) for v in class_weights]
        if any(v < 0 for v in values) or sum(values) <= 0:
            raise ConfigError(
                f"class_weights must be >= 0 with a positive sum, got {values}; e.g. [0.1, 1, 1]"
            )
        class_weights = torch.tensor(values)
    if class_weights.shape != (num_classes,):
        raise ConfigError(
            f"class_weights has {class_weights.numel()} values but the logits have "
            f"{num_classes} classes; give one weight per class, background first"
        )
    return class_weights.to(device=like.device, dtype=torch.float32)


def no_weights_for_binary(class_weights: Weights, loss: str) -> None:
    if class_weights is not None:
        raise ConfigError(
            f"{loss}: class_weights is for multiclass logits (C >= 2); "
            "binary segmentation weighs the foreground with pos_weight"
        )


def weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    """``sum(w * v) / sum(w)``, 0 when every weight is 0 (all pixels ignored)."""
    total = weights.sum()
    return (values * weights).sum() / torch.where(total > 0, total, 1.0)


def check_eps(eps: float) -> None:
    if not eps >= 0:
        raise ConfigError(f"eps must be >= 0, got {eps!r}; the seed used eps=1.0")
