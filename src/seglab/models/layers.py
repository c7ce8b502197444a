"""Building blocks of seglab's own networks, and the activations and norms a person can choose.

Blocks take layer *classes* (timm style ``norm_layer=nn.BatchNorm2d, act_layer=nn.ReLU``) rather
than names, so a new choice is one entry in :data:`ACTIVATIONS` or :data:`NORMS` and nothing else.
The registries hold hidden-layer choices only: networks return logits, and the output activation
(sigmoid for one class, softmax for several) belongs to the loss and to prediction.

Example
-------
>>> import torch
>>> block = ConvNormAct(3, 8, norm_layer=get_norm("group"), act_layer=get_activation("gelu"))
>>> block(torch.zeros(2, 3, 16, 16)).shape
torch.Size([2, 8, 16, 16])
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial

from torch import nn

from seglab.models._checks import lookup

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "ConvNormAct",
    "DoubleConv",
    "GroupNorm",
    "get_activation",
    "get_norm",
    "group_count",
    "layer_factories",
]

LayerFactory = Callable[..., nn.Module]


def group_count(num_channels: int, *, max_groups: int = 32) -> int:
    """The number of GroupNorm groups for ``num_channels``: the largest divisor of the channel
    count that is at most ``max_groups`` and leaves at least two channels per group (1 if none).

    >>> group_count(64), group_count(8), group_count(3)
    (32, 4, 1)
    """
    for groups in range(min(max_groups, num_channels // 2), 1, -1):
        if num_channels % groups == 0:
            return groups
    return 1


class GroupNorm(nn.GroupNorm):
    """GroupNorm built from the channel count alone (like ``nn.BatchNorm2d``), choosing the
    number of groups with :func:`group_count`."""

    def __init__(self, num_channels: int, *, max_groups: int = 32, eps: float = 1e-5):
        super().__init__(group_count(num_channels, max_groups=max_groups), num_channels, eps=eps)


ACTIVATIONS: dict[str, LayerFactory] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "prelu": nn.PReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}
"""Hidden-layer activations by name; each value is called with no arguments."""

NORMS: dict[str, LayerFactory] = {
    "batch": nn.BatchNorm2d,
    "instance": partial(nn.InstanceNorm2d, affine=True),
    "group": GroupNorm,
    "none": nn.Identity,
}
"""Normalisation layers by name; each value is called with the channel count."""


def get_activation(name: str) -> LayerFactory:
    """The activation class registered as ``name`` in :data:`ACTIVATIONS`.

    Raises
    ------
    ConfigError
        If ``name`` is not registered; the message lists the valid names.
    """
    return lookup("activation", name, ACTIVATIONS)


def get_norm(name: str) -> LayerFactory:
    """The normalisation factory registered as ``name`` in :data:`NORMS`.

    Raises
    ------
    ConfigError
        If ``name`` is not registered; the message lists the valid names.
    """
    return lookup("norm", name, NORMS)


class ConvNormAct(nn.Sequential):
    """``conv(kernel_size, same padding) -> norm -> activation``.

    The convolution keeps its bias even before a norm, as the seed's U-Net does, so the seed's
    parameter count is reproduced exactly.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int = 3,
        norm_layer: LayerFactory = nn.BatchNorm2d,
        act_layer: LayerFactory = nn.ReLU,
        bias: bool = True,
    ):
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(
                    in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias
                ),
                norm=norm_layer(out_channels),
                act=act_layer(),
            )
        )


class DoubleConv(nn.Sequential):
    """Two :class:`ConvNormAct` blocks (the seed's ``double_conv``), then optional channel dropout.

    ``dropout`` > 0 appends ``nn.Dropout2d(dropout)``, active in training mode only.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        norm_layer: LayerFactory = nn.BatchNorm2d,
        act_layer: LayerFactory = nn.ReLU,
        dropout: float = 0.0,
    ):
        layers = OrderedDict(
            conv1=ConvNormAct(
                in_channels, out_channels, norm_layer=norm_layer, act_layer=act_layer
            ),
            conv2=ConvNormAct(
                out_channels, out_channels, norm_layer=norm_layer, act_layer=act_layer
            ),
        )
        if dropout > 0:
            layers["dropout"] = nn.Dropout2d(dropout)
        super().__init__(layers)


def layer_factories(
    activation: str | LayerFactory, norm: str | LayerFactory
) -> dict[str, LayerFactory]:
    """``{"act_layer": ..., "norm_layer": ...}`` for a builder's ``activation`` and ``norm``,
    each a registered name (:data:`ACTIVATIONS`, :data:`NORMS`) or a class given as it is."""
    return {
        "act_layer": get_activation(activation) if isinstance(activation, str) else activation,
        "norm_layer": get_norm(norm) if isinstance(norm, str) else norm,
    }
