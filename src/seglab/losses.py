"""Segmentation losses on logits: pure torch functions and one thin ``nn.Module`` wrapper.

Conventions, shared by every loss here:

* ``logits`` are raw scores ``N x C x H x W`` (no activation). ``C == 1`` is binary (sigmoid),
  ``C >= 2`` is multiclass (softmax over the channels).
* ``target`` holds integer class indices ``N x H x W`` (``N x 1 x H x W`` is accepted). Binary
  foreground is any value ``!= 0`` (as in :mod:`seglab.metrics`); multiclass values are
  ``0..C-1``.
* Pixels whose target is ``ignore_index`` (255; ``None`` turns it off) contribute nothing: not to
  the value and not to the gradient, whatever their logits hold (even inf or NaN).
* Pixel losses (``bce``, ``cross_entropy``, ``focal``) are the mean over the pixels that are not
  ignored; with ``class_weights`` the weighted mean, as :func:`torch.nn.functional.cross_entropy`.
* Region losses (``dice_loss``, ``jaccard``, ``tversky``) pool the whole batch per class, like the
  seed's ``BCEDiceLoss``; the multiclass value is the (weighted) mean over all ``C`` classes,
  background included: give the background ``class_weights`` 0 to leave it out. The smoothing
  ``eps`` (seed: 1.0) keeps a class absent from both prediction and target at loss 0 and still
  penalises predictions of a class that is absent from the target.
* Small objects in large images: ``pos_weight`` (binary) and ``class_weights`` (multiclass) raise
  the weight of rare foreground pixels in the pixel losses; ``tversky`` with ``beta > alpha``
  weighs missed foreground more than false alarms.
* A batch whose pixels are all ignored gives 0 (with a graph), never NaN. Losses are computed in
  float32 whatever the logits' dtype (AMP).

>>> import torch
>>> logits = torch.tensor([[[[9.0, -9.0], [9.0, -9.0]]]])  # N x 1 x 2 x 2, near-perfect
>>> target = torch.tensor([[[1, 0], [1, 0]]])
>>> round(float(dice_loss(logits, target, eps=0.0)), 3)
0.0
>>> loss = create_loss("bce_dice", num_classes=1)
>>> total = loss(logits, target)
>>> sorted(loss.last_terms)
['bce', 'dice']
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from segmentation_models_pytorch.losses import LovaszLoss
from torch import Tensor, nn

from seglab.errors import ConfigError, DataError

Weights = Sequence[float] | Tensor | None


# ----------------------------------------------------------------------------- input checks


def _prepare(logits: Tensor, target: Tensor, ignore_index: int | None):
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


def _binary(logits: Tensor, target: Tensor, ignore_index: int | None, loss: str):
    logits, target, valid = _prepare(logits, target, ignore_index)
    if logits.shape[1] != 1:
        raise ConfigError(
            f"{loss} is a binary loss (logits N x 1 x H x W) but the logits have "
            f"{logits.shape[1]} channels; use cross_entropy or ce_dice for multiclass"
        )
    return logits[:, 0], ((target != 0) & valid).float(), valid


def _multiclass(logits: Tensor, target: Tensor, ignore_index: int | None, loss: str):
    logits, target, valid = _prepare(logits, target, ignore_index)
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


def _pos_weight(pos_weight: float | Tensor | None, like: Tensor) -> Tensor | None:
    if pos_weight is None:
        return None
    if not isinstance(pos_weight, Tensor) and not pos_weight > 0:
        raise ConfigError(
            f"pos_weight must be > 0, got {pos_weight!r}; e.g. background/foreground pixel ratio"
        )
    return torch.as_tensor(pos_weight, dtype=torch.float32, device=like.device)


def _class_weights(class_weights: Weights, num_classes: int, like: Tensor) -> Tensor | None:
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


def _no_weights_for_binary(class_weights: Weights, loss: str) -> None:
    if class_weights is not None:
        raise ConfigError(
            f"{loss}: class_weights is for multiclass logits (C >= 2); "
            "binary segmentation weighs the foreground with pos_weight"
        )


def _weighted_mean(values: Tensor, weights: Tensor) -> Tensor:
    """``sum(w * v) / sum(w)``, 0 when every weight is 0 (all pixels ignored)."""
    total = weights.sum()
    return (values * weights).sum() / torch.where(total > 0, total, 1.0)


def _check_eps(eps: float) -> None:
    if not eps >= 0:
        raise ConfigError(f"eps must be >= 0, got {eps!r}; the seed used eps=1.0")


# ----------------------------------------------------------------------------- pixel losses


def bce(
    logits: Tensor,
    target: Tensor,
    *,
    pos_weight: float | Tensor | None = None,
    ignore_index: int | None = 255,
) -> Tensor:
    """Binary cross-entropy with logits, mean over the pixels that are not ignored.

    ``pos_weight`` multiplies the loss of foreground pixels (torch's ``pos_weight``): set it
    near the background/foreground pixel ratio so that small objects are not drowned out.
    """
    z, t, valid = _binary(logits, target, ignore_index, "bce")
    per_pixel = F.binary_cross_entropy_with_logits(
        z, t, pos_weight=_pos_weight(pos_weight, z), reduction="none"
    )
    return _weighted_mean(per_pixel, valid.float())


def cross_entropy(
    logits: Tensor,
    target: Tensor,
    *,
    class_weights: Weights = None,
    ignore_index: int | None = 255,
) -> Tensor:
    """Softmax cross-entropy, (weighted) mean over the pixels that are not ignored.

    Equals ``F.cross_entropy(logits, target, weight=class_weights, ignore_index=...)`` but gives
    0 instead of NaN when every pixel is ignored.
    """
    z, t, valid = _multiclass(logits, target, ignore_index, "cross_entropy")
    w = _class_weights(class_weights, z.shape[1], z)
    per_pixel = F.cross_entropy(z, t, reduction="none")
    weights = valid.float() if w is None else valid.float() * w[t]
    return _weighted_mean(per_pixel, weights)


def focal(
    logits: Tensor,
    target: Tensor,
    *,
    gamma: float = 2.0,
    pos_weight: float | Tensor | None = None,
    class_weights: Weights = None,
    ignore_index: int | None = 255,
) -> Tensor:
    """Focal loss (Lin et al. 2017): ``(1 - p_t) ** gamma * CE``, sigmoid or softmax.

    Easy pixels (``p_t`` near 1) count less. ``gamma=0`` gives :func:`bce` (binary, with the
    same ``pos_weight``) or :func:`cross_entropy` (multiclass, same ``class_weights``);
    ``pos_weight`` plays the role of the paper's alpha balance.
    """
    if not gamma >= 0:
        raise ConfigError(f"gamma must be >= 0, got {gamma!r}; 2.0 is the paper's choice")
    if logits.ndim == 4 and logits.shape[1] == 1:
        _no_weights_for_binary(class_weights, "focal")
        z, t, valid = _binary(logits, target, ignore_index, "focal")
        ce = F.binary_cross_entropy_with_logits(z, t, reduction="none")
        pw = _pos_weight(pos_weight, z)
        weights = valid.float() if pw is None else valid.float() * (1 + (pw - 1) * t)
        count = valid.float()  # normalised by pixel count, as bce with pos_weight
        modulated = (1 - torch.exp(-ce)).clamp_min(0) ** gamma * ce * weights
        return _weighted_mean(modulated, count)
    if pos_weight is not None:
        raise ConfigError("focal: pos_weight is for binary logits; use class_weights")
    z, t, valid = _multiclass(logits, target, ignore_index, "focal")
    w = _class_weights(class_weights, z.shape[1], z)
    ce = F.cross_entropy(z, t, reduction="none")
    weights = valid.float() if w is None else valid.float() * w[t]
    return _weighted_mean((1 - torch.exp(-ce)).clamp_min(0) ** gamma * ce, weights)


# ----------------------------------------------------------------------------- region losses


def _region_sums(logits: Tensor, target: Tensor, ignore_index: int | None, class_weights, loss):
    """Per-class batch sums ``(intersection, predicted, target)`` of soft probabilities."""
    if logits.ndim == 4 and logits.shape[1] == 1:
        _no_weights_for_binary(class_weights, loss)
        z, t, valid = _binary(logits, target, ignore_index, loss)
        p = torch.sigmoid(z) * valid
        p, t, w = p.unsqueeze(1), t.unsqueeze(1), None
    else:
        z, t, valid = _multiclass(logits, target, ignore_index, loss)
        w = _class_weights(class_weights, z.shape[1], z)
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
    ignore_index: int | None = 255,
) -> Tensor:
    """Soft Dice loss ``1 - (2 I + eps) / (P + T + eps)`` per class over the whole batch.

    ``I = sum(p * t)``, ``P = sum(p)``, ``T = sum(t)`` with ``p`` the sigmoid/softmax
    probabilities: the seed's ``f_score`` with ``beta=1`` (its ``eps`` default 1.0).
    """
    _check_eps(eps)
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
    ignore_index: int | None = 255,
) -> Tensor:
    """Tversky loss ``1 - (I + eps) / (I + alpha FP + beta FN + eps)`` (Salehi et al. 2017).

    ``alpha`` weighs false positives, ``beta`` missed foreground; the defaults 0.3/0.7 are the
    paper's best for small lesions. ``alpha = beta = 0.5`` is :func:`dice_loss` with ``eps``
    doubled (``tversky(eps=e) == dice_loss(eps=2 e)``); ``alpha = beta = 1`` is :func:`jaccard`.
    """
    _check_eps(eps)
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
    ignore_index: int | None = 255,
) -> Tensor:
    """Soft Jaccard (IoU) loss ``1 - (I + eps) / (P + T - I + eps)`` per class over the batch."""
    _check_eps(eps)
    inter, psum, tsum, w = _region_sums(logits, target, ignore_index, class_weights, "jaccard")
    score = (inter + eps) / (psum + tsum - inter + eps).clamp_min(1e-7)
    return _class_mean(1 - score, w)


def lovasz(
    logits: Tensor,
    target: Tensor,
    *,
    per_image: bool = False,
    ignore_index: int | None = 255,
) -> Tensor:
    """Lovász loss (Berman et al. 2018), a convex surrogate of the IoU, through smp's LovaszLoss.

    Binary logits: Lovász hinge; multiclass: Lovász-softmax averaged over the classes present
    in the target. ``per_image`` averages per image instead of pooling the batch (images with
    every pixel ignored are left out). Ignored pixels are removed before sorting, so they touch
    neither value nor gradient.
    """
    if logits.ndim == 4 and logits.shape[1] == 1:
        z, t, valid = _binary(logits, target, ignore_index, "lovasz")
        return _lovasz("binary", z.unsqueeze(1), torch.where(valid, t.long(), -1), per_image)
    z, t, valid = _multiclass(logits, target, ignore_index, "lovasz")
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


# ----------------------------------------------------------------------------- combinations


def bce_dice(
    logits: Tensor,
    target: Tensor,
    *,
    eps: float = 1.0,
    pos_weight: float | Tensor | None = None,
    ignore_index: int | None = 255,
) -> Tensor:
    """The seed's ``BCEDiceLoss(eps=1.0)``: ``bce + (1 - soft Dice)``, binary.

    On logits ``z`` this equals the seed's loss of the probabilities ``sigmoid(z)`` its U-Net
    returned: ``BCE(sigmoid(z), t) + 1 - (2 sum(p t) + eps) / (sum(p) + sum(t) + eps)``, sums
    over the whole batch. Taking logits is numerically safer (no log of 0).
    """
    return bce(logits, target, pos_weight=pos_weight, ignore_index=ignore_index) + dice_loss(
        logits, target, eps=eps, ignore_index=ignore_index
    )


def ce_dice(
    logits: Tensor,
    target: Tensor,
    *,
    eps: float = 1.0,
    class_weights: Weights = None,
    ignore_index: int | None = 255,
) -> Tensor:
    """``cross_entropy + dice_loss`` for multiclass logits; ``class_weights`` go to both."""
    options = {"class_weights": class_weights, "ignore_index": ignore_index}
    return cross_entropy(logits, target, **options) + dice_loss(logits, target, eps=eps, **options)


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class LossSpec:
    """A registered loss: its named terms (summed) and which logits it takes."""

    terms: dict[str, Callable[..., Tensor]]
    modes: tuple[str, ...]  # "binary" (num_classes == 1), "multiclass" (num_classes >= 2)
    summary: str


_BOTH = ("binary", "multiclass")

LOSSES: dict[str, LossSpec] = {
    "bce": LossSpec({"bce": bce}, ("binary",), "binary cross-entropy (pos_weight)"),
    "cross_entropy": LossSpec({"ce": cross_entropy}, ("multiclass",), "softmax cross-entropy"),
    "dice": LossSpec({"dice": dice_loss}, _BOTH, "soft Dice over the batch"),
    "jaccard": LossSpec({"jaccard": jaccard}, _BOTH, "soft Jaccard (IoU)"),
    "tversky": LossSpec({"tversky": tversky}, _BOTH, "Tversky (alpha FP, beta FN)"),
    "focal": LossSpec({"focal": focal}, _BOTH, "focal loss (gamma)"),
    "lovasz": LossSpec({"lovasz": lovasz}, _BOTH, "Lovasz hinge / softmax"),
    "bce_dice": LossSpec({"bce": bce, "dice": dice_loss}, ("binary",), "the seed's BCEDiceLoss"),
    "ce_dice": LossSpec(
        {"ce": cross_entropy, "dice": dice_loss}, ("multiclass",), "cross-entropy + Dice"
    ),
}

_TENSOR_OPTIONS = ("pos_weight", "class_weights")


def _split_options(spec: LossSpec, options: dict) -> dict[str, dict]:
    """Each term's share of ``options`` (the ones its function takes)."""
    return {
        term: {k: v for k, v in options.items() if k in _keywords(fn)}
        for term, fn in spec.terms.items()
    }


def _keywords(fn: Callable) -> set[str]:
    return {
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


class SegmentationLoss(nn.Module):
    """A registered loss with its options fixed: ``loss(logits, target) -> total``.

    Built by :func:`create_loss`. The total is the sum of the loss's terms (``bce_dice``:
    ``bce`` and ``dice``); after each call :attr:`last_terms` maps each term's name to its
    value (a detached 0-d tensor on the logits' device), so that a NaN guard can say which
    term went bad. Calling ``.item()`` on them synchronises the GPU: do it only when reporting.
    """

    def __init__(self, name: str, num_classes: int, options: dict):
        super().__init__()
        spec = LOSSES[name]
        self.name, self.num_classes = name, num_classes
        self._terms = spec.terms
        self._options = _split_options(spec, options)
        for key in _TENSOR_OPTIONS:  # buffers follow .to(device); not saved in checkpoints
            value = options.get(key)
            tensor = None if value is None else torch.as_tensor(value, dtype=torch.float32)
            self.register_buffer(key, tensor, persistent=False)
        self.last_terms: dict[str, Tensor] = {}

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        if logits.ndim != 4 or logits.shape[1] != self.num_classes:
            raise ConfigError(
                f"loss {self.name!r} was created for num_classes={self.num_classes} but the "
                f"logits have shape {tuple(logits.shape)}; the model's output channels must "
                "equal num_classes (1 for binary segmentation)"
            )
        values = {}
        for term, fn in self._terms.items():
            kwargs = dict(self._options[term])
            for key in _TENSOR_OPTIONS:
                if key in kwargs:
                    kwargs[key] = getattr(self, key)
            values[term] = fn(logits, target, **kwargs)
        self.last_terms = {k: v.detach() for k, v in values.items()}
        return sum(values.values())

    def extra_repr(self) -> str:
        options = {k: v for o in self._options.values() for k, v in o.items()}
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(options.items()))
        return f"{self.name!r}, num_classes={self.num_classes}" + (f", {shown}" if shown else "")


def create_loss(name: str, *, num_classes: int, **options) -> SegmentationLoss:
    """The loss ``name`` from :data:`LOSSES` as an ``nn.Module`` for ``num_classes`` outputs.

    ``num_classes=1`` means binary logits (N x 1 x H x W); ``>= 2`` multiclass softmax logits.
    ``options`` are the keyword options of the loss's functions (each term gets those it
    takes: ``bce_dice`` sends ``pos_weight`` to ``bce`` and ``eps`` to ``dice_loss``).

    Raises
    ------
    ConfigError
        Unknown name (the valid ones are listed), an option no term takes (the valid options
        are listed), a loss that does not fit ``num_classes``, or a bad option value.

    >>> create_loss("ce_dice", num_classes=3, class_weights=[0.2, 1, 1])
    SegmentationLoss('ce_dice', num_classes=3, class_weights=[0.2, 1.0, 1.0])
    """
    spec = LOSSES.get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), LOSSES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown loss {name!r}{hint}; valid names: {', '.join(LOSSES)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be an integer >= 1 (1 = binary), got {num_classes!r}")
    mode = "binary" if num_classes == 1 else "multiclass"
    if mode not in spec.modes:
        other = {"bce": "cross_entropy", "bce_dice": "ce_dice"}
        swap = other.get(name) or {v: k for k, v in other.items()}[name]
        need = "num_classes=1 (binary)" if mode == "multiclass" else "num_classes >= 2"
        raise ConfigError(
            f"loss {name!r} needs {need}, got num_classes={num_classes}; use {swap!r} instead"
        )
    not_here = "class_weights" if mode == "binary" else "pos_weight"
    valid = sorted(set().union(*(_keywords(fn) for fn in spec.terms.values())) - {not_here})
    hints = {
        ("binary", "class_weights"): " for binary logits (weigh foreground with pos_weight: "
        "bce, focal, bce_dice)",
        ("binary", "pos_weight"): " (to favour small objects use tversky with beta > alpha, "
        "or bce_dice with pos_weight)",
        ("multiclass", "pos_weight"): " for multiclass logits (use class_weights)",
    }
    for key in options:
        if key not in valid:
            raise ConfigError(
                f"loss {name!r} has no option {key!r}{hints.get((mode, key), '')}; "
                f"valid options: {', '.join(valid)}"
            )
    if options.get("class_weights") is not None:
        options["class_weights"] = [float(v) for v in options["class_weights"]]
    # the functions check option values (and class_weights' length) on a tiny dummy batch
    probe, probe_target = torch.zeros(1, num_classes, 1, 2), torch.zeros(1, 1, 2, dtype=torch.long)
    for term, kwargs in _split_options(spec, options).items():
        spec.terms[term](probe, probe_target, **kwargs)
    return SegmentationLoss(name, num_classes, options)


__all__ = [
    "LOSSES",
    "LossSpec",
    "SegmentationLoss",
    "bce",
    "bce_dice",
    "ce_dice",
    "create_loss",
    "cross_entropy",
    "dice_loss",
    "focal",
    "jaccard",
    "lovasz",
    "tversky",
]
