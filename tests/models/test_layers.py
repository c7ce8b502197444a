"""Activation / norm registries and the blocks built from them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import (
    ACTIVATIONS,
    NORMS,
    ConvNormAct,
    DoubleConv,
    get_activation,
    get_norm,
    group_count,
)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_builds_with_no_arguments(name):
    layer = get_activation(name)()
    assert isinstance(layer, nn.Module)
    assert torch.isfinite(layer(torch.linspace(-3, 3, 7))).all()


@pytest.mark.parametrize("name", list(NORMS))
@pytest.mark.parametrize("channels", [1, 3, 8, 64])
def test_every_norm_builds_from_the_channel_count(name, channels):
    layer = get_norm(name)(channels)
    x = torch.randn(2, channels, 4, 4)
    assert layer(x).shape == x.shape


@pytest.mark.parametrize(
    ("channels", "groups"), [(64, 32), (512, 32), (96, 32), (8, 4), (12, 6), (3, 1), (1, 1)]
)
def test_group_count_divides_the_channels_and_keeps_two_per_group(channels, groups):
    assert group_count(channels) == groups
    assert isinstance(get_norm("group")(channels), nn.GroupNorm)
    assert get_norm("group")(channels).num_groups == groups


@pytest.mark.parametrize(("lookup", "kind"), [(get_activation, "activation"), (get_norm, "norm")])
def test_unknown_names_list_the_valid_ones(lookup, kind):
    with pytest.raises(ConfigError, match=f"unknown {kind} 'swish'.*valid names: ") as info:
        lookup("swish")
    registry = ACTIVATIONS if kind == "activation" else NORMS
    assert all(name in str(info.value) for name in registry)


def test_conv_norm_act_takes_the_layer_classes():
    block = ConvNormAct(3, 6, norm_layer=nn.InstanceNorm2d, act_layer=nn.Tanh)
    assert [type(m) for m in block] == [nn.Conv2d, nn.InstanceNorm2d, nn.Tanh]
    assert block.conv.kernel_size == (3, 3)
    assert block(torch.randn(2, 3, 5, 7)).shape == (2, 6, 5, 7)


def test_double_conv_is_two_blocks_and_adds_dropout_only_when_asked():
    assert list(dict(DoubleConv(3, 4).named_children())) == ["conv1", "conv2"]
    with_dropout = DoubleConv(3, 4, dropout=0.3)
    assert isinstance(with_dropout.dropout, nn.Dropout2d)
    assert with_dropout.dropout.p == 0.3
