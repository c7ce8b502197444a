"""Segmentation losses on logits: pure torch functions and one thin ``nn.Module`` wrapper.

Conventions, shared by every loss here:

* ``logits`` are raw scores ``N x C x H x W`` (no activation). ``C == 1`` is binary (sigmoid),
  ``C >= 2`` is multiclass (softmax over the channels).
* ``target`` holds integer class indices ``N x H x W`` (``N x 1 x H x W`` is accepted). Binary
  foreground is any value ``!= 0`` (as in :mod:`seglab.evaluation.metrics`); multiclass values are
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
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError
from seglab.losses._inputs import Weights
from seglab.losses.contour import (
    active_contour,
    mumford_shah,
    supervised_ce,
    weighted_mumford_shah,
)
from seglab.losses.pixel import bce, cross_entropy, focal
from seglab.losses.region import dice_loss, jaccard, lovasz, tversky

__all__ = [
    "LOSSES",
    "LossSpec",
    "SegmentationLoss",
    "active_contour",
    "bce",
    "bce_dice",
    "ce_dice",
    "create_loss",
    "cross_entropy",
    "dice_loss",
    "focal",
    "jaccard",
    "lovasz",
    "mumford_shah",
    "tversky",
]


# ----------------------------------------------------------------------------- combinations


def bce_dice(
    logits: Tensor,
    target: Tensor,
    *,
    eps: float = 1.0,
    pos_weight: float | Tensor | None = None,
    ignore_index: int | None = IGNORE_INDEX,
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
    ignore_index: int | None = IGNORE_INDEX,
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
    "active_contour": LossSpec(
        {"active_contour": active_contour}, _BOTH, "length + region (Chen et al. 2019)"
    ),
    # the image term needs the input image: SegmentationLoss.needs_image tells the trainer
    "mumford_shah": LossSpec(
        {"ce": supervised_ce, "mumford_shah": weighted_mumford_shah},
        _BOTH,
        "cross-entropy + weighted Mumford-Shah of the image (Kim & Ye 2019)",
    ),
}

_TENSOR_OPTIONS = ("pos_weight", "class_weights")


def _split_options(spec: LossSpec, options: dict) -> dict[str, dict]:
    """Each term's share of ``options`` (the ones its function takes)."""
    return {
        term: {k: v for k, v in options.items() if k in _keywords(fn)}
        for term, fn in spec.terms.items()
    }


def _takes_image(fn: Callable) -> bool:
    """Whether a term needs the input image (a keyword ``image``: ``mumford_shah``)."""
    return "image" in _keywords(fn)


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

    :attr:`needs_image` is True when a term needs the network's input (``mumford_shah``):
    call ``loss(logits, target, image=images)`` then; every other loss is ``loss(logits,
    target)``, and the image keyword is only sent to the terms that take it.
    """

    def __init__(self, name: str, num_classes: int, options: dict):
        super().__init__()
        spec = LOSSES[name]
        self.name, self.num_classes = name, num_classes
        self._terms = spec.terms
        self._options = _split_options(spec, options)
        self.needs_image = any(_takes_image(fn) for fn in spec.terms.values())
        for key in _TENSOR_OPTIONS:  # buffers follow .to(device); not saved in checkpoints
            value = options.get(key)
            tensor = None if value is None else torch.as_tensor(value, dtype=torch.float32)
            self.register_buffer(key, tensor, persistent=False)
        self.last_terms: dict[str, Tensor] = {}

    def forward(self, logits: Tensor, target: Tensor, image: Tensor | None = None) -> Tensor:
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
            if _takes_image(fn):
                kwargs["image"] = image
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
    keywords = set().union(*(_keywords(fn) for fn in spec.terms.values()))
    valid = sorted(keywords - {not_here, "image"})
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
        if _takes_image(spec.terms[term]):
            kwargs = {**kwargs, "image": torch.zeros(1, 1, 1, 2)}
        spec.terms[term](probe, probe_target, **kwargs)
    return SegmentationLoss(name, num_classes, options)
