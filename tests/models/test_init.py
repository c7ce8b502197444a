"""Initialisation schemes, and that a loaded pretrained encoder is never overwritten."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models import create_model
from seglab.models.init import INITS, NONLINEARITIES, init_weights, initialise
from seglab.models.unet import UNet

FAN_IN, FAN_OUT = 256 * 9, 256 * 9


def _big_conv():
    torch.manual_seed(0)
    return nn.Conv2d(256, 256, 3)


@pytest.mark.parametrize(
    ("scheme", "nonlinearity", "expected_std"),
    [
        ("kaiming_normal", "relu", math.sqrt(2 / FAN_IN)),
        ("kaiming_uniform", "relu", math.sqrt(2 / FAN_IN)),
        ("kaiming_normal", "tanh", 5 / 3 / math.sqrt(FAN_IN)),
        ("xavier_normal", "linear", math.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("xavier_uniform", "relu", math.sqrt(2) * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    ],
)
def test_schemes_give_the_textbook_spread(scheme, nonlinearity, expected_std):
    conv = init_weights(_big_conv(), scheme, nonlinearity=nonlinearity)
    assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.03)
    assert conv.weight.mean().abs().item() < expected_std / 20
    assert torch.count_nonzero(conv.bias) == 0


def test_orthogonal_rows_are_orthonormal_times_the_gain():
    conv = init_weights(nn.Conv2d(16, 8, 3), "orthogonal", nonlinearity="linear")
    rows = conv.weight.reshape(8, -1)
    torch.testing.assert_close(rows @ rows.T, torch.eye(8), atol=1e-5, rtol=0)


def test_default_leaves_every_weight_untouched():
    model = UNet(base_width=4, depth=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    init_weights(model, "default")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("scheme", [s for s in INITS if s != "default"])
def test_schemes_reach_convs_transposed_convs_linears_and_norms(scheme):
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ConvTranspose2d(4, 4, 2), nn.Linear(4, 2)
    )
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)
    init_weights(model, scheme)
    conv, norm, up, linear = model
    for layer in (conv, up, linear):
        assert not torch.all(layer.weight == 7.0)
        assert torch.count_nonzero(layer.bias) == 0
    assert torch.all(norm.weight == 1) and torch.all(norm.bias == 0)


@pytest.mark.parametrize("nonlinearity", list(NONLINEARITIES))
def test_every_nonlinearity_name_is_accepted(nonlinearity):
    init_weights(nn.Conv2d(3, 4, 3), "kaiming_uniform", nonlinearity=nonlinearity)


def test_unknown_scheme_or_nonlinearity_lists_the_valid_names():
    with pytest.raises(ConfigError, match=r"unknown weight initialisation 'he'.*kaiming_normal"):
        init_weights(nn.Conv2d(3, 4, 3), "he")
    with pytest.raises(ConfigError, match=r"unknown nonlinearity 'swish'.*leaky_relu"):
        init_weights(nn.Conv2d(3, 4, 3), "xavier_normal", nonlinearity="swish")


def test_initialise_spares_a_pretrained_smp_encoder_and_reaches_the_rest(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    source = create_model("smp.fpn").encoder.state_dict()
    path = tmp_path / "resnet18.safetensors"
    save_file(source, str(path))
    model = create_model("smp.fpn", encoder_weights=str(path))
    head = model.segmentation_head[0].weight.clone()
    initialise(model, "xavier_uniform", pretrained_encoder=True)
    for key, value in model.encoder.state_dict().items():
        assert torch.equal(value, source[key]), key
    assert not torch.equal(model.segmentation_head[0].weight, head)
    assert torch.count_nonzero(model.segmentation_head[0].bias) == 0


def test_initialise_whole_model_when_the_encoder_is_not_pretrained():
    torch.manual_seed(0)
    model = create_model("torchvision.lraspp_mobilenet_v3_large")
    first = model.encoder["0"][0].weight.clone()
    initialise(model, "orthogonal", pretrained_encoder=False)
    assert not torch.equal(model.encoder["0"][0].weight, first)
    backbone = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    initialise(model, "kaiming_normal", pretrained_encoder=True)
    assert all(torch.equal(backbone[k], v) for k, v in model.encoder.state_dict().items())


def test_initialise_refuses_to_keep_an_encoder_the_model_does_not_have():
    with pytest.raises(ConfigError, match="pretrained_encoder=False"):
        initialise(UNet(base_width=4), "kaiming_normal", pretrained_encoder=True)
