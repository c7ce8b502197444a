"""seglab's U-Net: the seed's network with its defaults, and every option."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models.layers import ACTIVATIONS, NORMS, get_activation, get_norm
from seglab.models.unet import UNet, build_unet, unet_widths

SEED_PARAMETERS = 14_788_929  # the seed notebook's UNet(3, 1), transposed-conv decoder


class _SeedDoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )


class _SeedUp(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin // 2, cin // 2, 2, stride=2)
        self.conv = _SeedDoubleConv(cin, cout)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.shape[2] - x1.shape[2], x2.shape[3] - x1.shape[3]
        x1 = F.pad(x1, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        return self.conv(torch.cat([x2, x1], dim=1))


class _SeedUNet(nn.Module):
    """The seed notebook's network, transcribed (its up blocks are built with bilinear=False)."""

    def __init__(self, n_channels, n_classes):
        super().__init__()
        self.inc = _SeedDoubleConv(n_channels, 64)
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), _SeedDoubleConv(a, b))
            for a, b in [(64, 128), (128, 256), (256, 512), (512, 512)]
        )
        self.ups = nn.ModuleList(
            _SeedUp(a, b) for a, b in [(1024, 256), (512, 128), (256, 64), (128, 64)]
        )
        self.outc = nn.Conv2d(64, n_classes, 1)

    def forward(self, x):
        xs = [self.inc(x)]
        for down in self.downs:
            xs.append(down(xs[-1]))
        x = xs.pop()
        for up in self.ups:
            x = up(x, xs.pop())
        return torch.sigmoid(self.outc(x))


def _count(model):
    return sum(p.numel() for p in model.parameters())


def test_defaults_reproduce_the_seed_widths_and_parameter_count():
    model = UNet()
    assert unet_widths(64, 4, 512) == [64, 128, 256, 512, 512]
    assert [down[1].conv2.conv.out_channels for down in model.downs] == [128, 256, 512, 512]
    assert [up.conv.conv2.conv.out_channels for up in model.ups] == [256, 128, 64, 64]
    assert all(isinstance(up.up, nn.ConvTranspose2d) for up in model.ups)
    assert _count(model) == SEED_PARAMETERS
    assert _count(build_unet()) == SEED_PARAMETERS


def test_defaults_compute_the_seeds_function_layer_for_layer():
    torch.manual_seed(0)
    seed, ours = _SeedUNet(3, 1).eval(), UNet().eval()
    seed_state = seed.state_dict()
    assert [v.shape for v in seed_state.values()] == [v.shape for v in ours.state_dict().values()]
    ours.load_state_dict(dict(zip(ours.state_dict(), seed_state.values(), strict=True)))
    x = torch.randn(1, 3, 35, 42)
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(ours(x)), seed(x))


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
@pytest.mark.parametrize("size", [(37, 45), (33, 64), (16, 17)])
def test_any_input_size_gives_logits_of_that_size(upsampling, size):
    model = UNet(2, 3, base_width=4, upsampling=upsampling)
    assert model(torch.randn(2, 2, *size)).shape == (2, 3, *size)


def test_bilinear_upsampling_has_no_transposed_convs_and_fewer_parameters():
    bilinear = UNet(base_width=8, upsampling="bilinear")
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in bilinear.modules())
    assert all(up.up.mode == "bilinear" and up.up.align_corners for up in bilinear.ups)
    assert _count(bilinear) < _count(UNet(base_width=8))


def test_depth_and_width_cap_shape_the_network():
    model = UNet(base_width=8, depth=2, width_cap=12)
    assert len(model.downs) == len(model.ups) == 2
    assert [down[1].conv2.conv.out_channels for down in model.downs] == [12, 12]
    assert model(torch.randn(2, 3, 9, 11)).shape == (2, 1, 9, 11)


def _backward_is_finite(model, size=(24, 20)):
    x = torch.randn(2, 3, *size)
    out = model(x)
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    return torch.isfinite(out).all() and all(
        g is not None and torch.isfinite(g).all() for g in grads
    )


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_trains_without_nans(activation):
    model = UNet(base_width=4, depth=2, act_layer=get_activation(activation))
    assert any(isinstance(m, get_activation(activation)) for m in model.modules())
    assert _backward_is_finite(model)


@pytest.mark.parametrize("norm", list(NORMS))
def test_every_norm_trains_without_nans(norm):
    model = build_unet(base_width=4, depth=2, norm=norm)
    assert _backward_is_finite(model)


def test_dropout_acts_in_training_only():
    torch.manual_seed(0)
    model = UNet(base_width=4, depth=2, dropout=0.5)
    assert sum(isinstance(m, nn.Dropout2d) for m in model.modules()) == 3  # bottleneck + 2 ups
    x = torch.randn(2, 3, 16, 16)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))
    assert not any(isinstance(m, nn.Dropout2d) for m in UNet(base_width=4).modules())


def test_too_small_input_says_the_minimum():
    with pytest.raises(ConfigError, match="at least 16 pixels"):
        UNet(base_width=4)(torch.randn(1, 3, 15, 40))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"upsampling": "nearest"}, "valid names: transpose, bilinear"),
        ({"depth": 0}, "depth must be a positive integer"),
        ({"base_width": 64, "width_cap": 32}, "width_cap"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": "half"}, r"dropout must be in \[0, 1\), got 'half'"),  # not a TypeError
        ({"depth": 13}, "depth must be at most 12"),  # not 2**13 px inputs and a long build
        ({"act_layer": "relu"}, "get_activation"),
    ],
)
def test_bad_options_raise_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        UNet(**options)


def test_builder_takes_names_or_classes():
    model = build_unet(base_width=4, activation=nn.SiLU, norm="group")
    assert any(isinstance(m, nn.SiLU) for m in model.modules())
    assert any(isinstance(m, get_norm("group")) for m in model.modules())
    with pytest.raises(ConfigError, match="unknown norm 'layer'"):
        build_unet(norm="layer")
