"""Optimizers by name, each starting from its recommended settings.

:data:`OPTIMIZERS` maps a name to the torch class, the default learning rate and the other
defaults seglab uses, with where they come from. :func:`create_optimizer` builds one; the
options are the class's own keyword arguments (``betas``, ``eps``, ``momentum``...).

=========  =====  =============================================================================
name       lr     source of the defaults
=========  =====  =============================================================================
sgd        0.01   momentum 0.9: torchvision's segmentation reference recipe (lr 0.01, momentum
                  0.9 for FCN/DeepLabV3); torch's own default lr is 1e-3 without momentum
adam       1e-3   torch default = Kingma & Ba 2015
adamw      1e-3   torch default; weight_decay 0.01 (torch default, Loshchilov & Hutter 2019)
adamax     2e-3   torch default = Kingma & Ba 2015, section 7
radam      1e-3   torch default = Liu et al. 2020 (the seed ran RAdam at lr 0.005: pass lr=5e-3)
nadam      2e-3   torch default = Dozat 2016
asgd       1e-2   torch default
rmsprop    1e-3   Hinton's lecture 6e and the Keras/TF default (torch's 1e-2 is aggressive for
                  deep conv nets)
rprop      1e-2   torch default (etas 0.5/1.2 as Riedmiller & Braun 1993); a full-batch method:
                  noisy mini-batch gradient signs make it erratic
lbfgs      1.0    torch default, with line_search_fn "strong_wolfe" (torch: none) so that a step
                  cannot blow up; a full-batch method, see :func:`needs_closure`
=========  =====  =============================================================================

``sparseadam`` is refused: it only takes sparse gradients (``nn.Embedding(sparse=True)``),
which segmentation networks never produce.

>>> import torch
>>> net = torch.nn.Conv2d(3, 1, 3)
>>> opt = create_optimizer("sgd", net.parameters(), nesterov=True)
>>> opt.defaults["lr"], opt.defaults["momentum"], opt.defaults["nesterov"]
(0.01, 0.9, True)
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from seglab.errors import ConfigError


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer: its class, default lr, other defaults and their source."""

    cls: type[torch.optim.Optimizer]
    lr: float
    defaults: dict[str, Any] = field(default_factory=dict)
    source: str = ""


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        torch.optim.SGD,
        0.01,
        {"momentum": 0.9, "nesterov": False},
        "torchvision segmentation reference (lr 0.01, momentum 0.9)",
    ),
    "adam": OptimizerSpec(torch.optim.Adam, 1e-3, {}, "torch default (Kingma & Ba 2015)"),
    "adamw": OptimizerSpec(
        torch.optim.AdamW,
        1e-3,
        {"weight_decay": 0.01},
        "torch default (Loshchilov & Hutter 2019)",
    ),
    "adamax": OptimizerSpec(torch.optim.Adamax, 2e-3, {}, "torch default (Kingma & Ba 2015)"),
    "radam": OptimizerSpec(torch.optim.RAdam, 1e-3, {}, "torch default (Liu et al. 2020)"),
    "nadam": OptimizerSpec(torch.optim.NAdam, 2e-3, {}, "torch default (Dozat 2016)"),
    "asgd": OptimizerSpec(torch.optim.ASGD, 1e-2, {}, "torch default"),
    "rmsprop": OptimizerSpec(
        torch.optim.RMSprop, 1e-3, {}, "Hinton lecture 6e / Keras default (torch: 1e-2)"
    ),
    "rprop": OptimizerSpec(torch.optim.Rprop, 1e-2, {}, "torch default"),
    "lbfgs": OptimizerSpec(
        torch.optim.LBFGS,
        1.0,
        {"line_search_fn": "strong_wolfe"},
        "torch default lr, strong Wolfe line search",
    ),
}

_REFUSED = {
    "sparseadam": (
        "sparseadam only updates parameters with sparse gradients (nn.Embedding(sparse=True)); "
        "segmentation networks (convolutions, norms) produce dense gradients, so it cannot "
        "train them. Use 'adam' or 'adamw' instead"
    ),
}

# set by create_optimizer from its own arguments, never through **options
_RESERVED = ("params", "lr", "weight_decay")


def _options_of(cls: type) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", *_RESERVED)]


def create_optimizer(
    name: str,
    params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
    *,
    lr: float | None = None,
    weight_decay: float | None = None,
    **options: Any,
) -> torch.optim.Optimizer:
    """The optimizer ``name`` from :data:`OPTIMIZERS` over ``params``.

    Parameters
    ----------
    name:
        A key of :data:`OPTIMIZERS`.
    params:
        Parameters or parameter groups, as torch optimizers take them.
    lr:
        Learning rate; ``None`` takes the optimizer's recommended one (table above).
    weight_decay:
        L2 penalty (decoupled for adamw); ``None`` takes the recommended one: 0.01 for adamw,
        0 for the others. lbfgs has none.
    options:
        The torch class's other keyword arguments, over seglab's defaults.

    Raises
    ------
    ConfigError
        Unknown or refused name (the valid ones are listed), an option the optimizer does not
        take (its valid options are listed), or a value torch refuses.
    """
    if name in _REFUSED:
        raise ConfigError(_REFUSED[name])
    spec = OPTIMIZERS.get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), OPTIMIZERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown optimizer {name!r}{hint}; valid names: {', '.join(OPTIMIZERS)}")
    valid = _options_of(spec.cls)
    for key in options:
        if key not in valid:
            listed = [
                "lr",
                *(["weight_decay"] if spec.cls is not torch.optim.LBFGS else []),
                *valid,
            ]
            raise ConfigError(
                f"optimizer {name!r} has no option {key!r}; valid options: {', '.join(listed)}"
            )
    kwargs = {**spec.defaults, **options, "lr": spec.lr if lr is None else lr}
    if weight_decay is not None:
        if spec.cls is torch.optim.LBFGS and weight_decay != 0:
            raise ConfigError(
                "lbfgs has no weight_decay; leave it unset or add the penalty to the loss"
            )
        if spec.cls is not torch.optim.LBFGS:
            kwargs["weight_decay"] = weight_decay
    if not kwargs["lr"] > 0:
        raise ConfigError(f"lr must be > 0, got {kwargs['lr']!r}; {name} starts at {spec.lr}")
    try:
        return spec.cls(params, **kwargs)
    except ValueError as exc:  # torch's own range checks ("Invalid momentum value: -1")
        raise ConfigError(f"optimizer {name!r}: {exc}") from exc


def needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` must be given a closure (LBFGS).

    LBFGS evaluates the loss several times per step (``max_iter``, line search), so the
    training step must hand it a function that recomputes the loss and its gradients::

        def closure():
            optimizer.zero_grad()
            loss = loss_fn(model(images), masks)
            loss.backward()
            return loss

        loss = optimizer.step(closure)  # returns the first evaluation's loss

    Use the same batch inside the closure for the whole step. Lightning's automatic
    optimisation builds this closure itself, but refuses LBFGS under AMP (use precision 32);
    LBFGS is a full-batch method, best with large batches and no dropout noise. Other
    optimizers accept the closure too, so always passing one is also correct.
    """
    return isinstance(optimizer, torch.optim.LBFGS)
