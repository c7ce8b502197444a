"""Weight initialisation schemes (the seed's Kaiming / Xavier choice), by name.

:func:`init_weights` re-initialises every convolution, transposed convolution and linear layer
inside a module (biases to zero; norm layers to weight 1, bias 0). :func:`initialise` applies a
scheme to a whole model but, when its encoder was loaded from pretrained weights, only to the
layers around the encoder (decoder and heads), so pretrained weights are never overwritten.

Example
-------
>>> from seglab.models import create_model
>>> model = create_model("unet", base_width=8)
>>> model = initialise(model, "kaiming_normal", pretrained_encoder=False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models._checks import lookup

__all__ = ["INITS", "NONLINEARITIES", "init_weights", "initialise"]

# (name torch.nn.init.calculate_gain knows, negative slope). GELU, SiLU and ELU have no gain of
# their own in PyTorch; ReLU's is the usual stand-in.
NONLINEARITIES: dict[str, tuple[str, float]] = {
    "relu": ("relu", 0.0),
    "leaky_relu": ("leaky_relu", 0.01),
    "prelu": ("leaky_relu", 0.25),
    "elu": ("relu", 0.0),
    "gelu": ("relu", 0.0),
    "silu": ("relu", 0.0),
    "tanh": ("tanh", 0.0),
    "sigmoid": ("sigmoid", 0.0),
    "linear": ("linear", 0.0),
}
"""Activation name -> the gain PyTorch's initialisers use for it."""

Initialiser = Callable[[torch.Tensor, str, float], object]


def _kaiming_normal(weight: torch.Tensor, nonlinearity: str, slope: float) -> None:
    nn.init.kaiming_normal_(weight, a=slope, mode="fan_in", nonlinearity=nonlinearity)


def _kaiming_uniform(weight: torch.Tensor, nonlinearity: str, slope: float) -> None:
    nn.init.kaiming_uniform_(weight, a=slope, mode="fan_in", nonlinearity=nonlinearity)


def _xavier_normal(weight: torch.Tensor, nonlinearity: str, slope: float) -> None:
    nn.init.xavier_normal_(weight, gain=nn.init.calculate_gain(nonlinearity, slope))


def _xavier_uniform(weight: torch.Tensor, nonlinearity: str, slope: float) -> None:
    nn.init.xavier_uniform_(weight, gain=nn.init.calculate_gain(nonlinearity, slope))


def _orthogonal(weight: torch.Tensor, nonlinearity: str, slope: float) -> None:
    nn.init.orthogonal_(weight, gain=nn.init.calculate_gain(nonlinearity, slope))


INITS: dict[str, Initialiser | None] = {
    "kaiming_normal": _kaiming_normal,
    "kaiming_uniform": _kaiming_uniform,
    "xavier_normal": _xavier_normal,
    "xavier_uniform": _xavier_uniform,
    "orthogonal": _orthogonal,
    "default": None,
}
"""Scheme name -> initialiser of a weight tensor; ``"default"`` keeps each layer's own init."""

_WEIGHTED = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)
_NORMS = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.SyncBatchNorm,
    nn.InstanceNorm1d,
    nn.InstanceNorm2d,
    nn.InstanceNorm3d,
    nn.GroupNorm,
    nn.LayerNorm,
)


def init_weights(module: nn.Module, scheme: str, *, nonlinearity: str = "relu") -> nn.Module:
    """Re-initialise the layers inside ``module`` with ``scheme``; returns ``module``.

    Convolution, transposed convolution and linear weights get the scheme (Kaiming with
    ``mode="fan_in"``, gains from ``nonlinearity``), their biases zero; norm layers get weight 1
    and bias 0. ``"default"`` changes nothing. Pass only the part to initialise, e.g.
    ``init_weights(model.decoder, "xavier_uniform")``; see :func:`initialise` for whole models.

    Raises
    ------
    ConfigError
        For an unknown ``scheme`` or ``nonlinearity``; the message lists the valid names.
    """
    _init_modules(module.modules(), scheme, nonlinearity)
    return module


def initialise(
    model: nn.Module, scheme: str, *, pretrained_encoder: bool, nonlinearity: str = "relu"
) -> nn.Module:
    """Apply ``scheme`` to ``model``, sparing its ``encoder`` if that holds pretrained weights.

    With ``pretrained_encoder=True`` every layer outside ``model.encoder`` (the decoder and heads
    seglab adds) is initialised and the encoder is left exactly as loaded. Zoo models expose
    ``.encoder`` (smp's encoder, torchvision's backbone).

    Raises
    ------
    ConfigError
        For an unknown scheme or nonlinearity, or ``pretrained_encoder=True`` on a model without
        an ``encoder`` module (such as seglab's own U-Net).
    """
    if not pretrained_encoder:
        return init_weights(model, scheme, nonlinearity=nonlinearity)
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ConfigError(
            f"{type(model).__name__} has no pretrained encoder to keep: "
            "call initialise(..., pretrained_encoder=False)"
        )
    kept = {id(m) for m in encoder.modules()}
    _init_modules((m for m in model.modules() if id(m) not in kept), scheme, nonlinearity)
    return model


def _init_modules(modules: Iterable[nn.Module], scheme: str, nonlinearity: str) -> None:
    initialiser = lookup("weight initialisation", scheme, INITS)
    gain_name, slope = lookup("nonlinearity", nonlinearity, NONLINEARITIES)
    if initialiser is None:
        return
    with torch.no_grad():
        for module in modules:
            if isinstance(module, _WEIGHTED):
                initialiser(module.weight, gain_name, slope)
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, _NORMS) and getattr(module, "weight", None) is not None:
                module.weight.fill_(1.0)
                if module.bias is not None:
                    module.bias.zero_()
