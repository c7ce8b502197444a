"""ReSeg and its ReNet layer: one layer sees the whole image, the sweeps' shapes, the U-Net's
ReNet context, and tiny runs from the CLI that train, reload and export to ONNX."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seglab.errors import ConfigError
from seglab.models import create_model
from seglab.models.reseg import ReNet, ReNetContext, ReSeg
from seglab.models.unet import UNet
from tests.models.test_segnet import train_cli


def _far_corner_change(layer: nn.Module, size: int = 16, channels: int = 3) -> float:
    """How strongly ``layer``'s output at the bottom-right pixel depends on the top-left input
    pixel: the gradient between them, in float64 (a GRU's influence fades along a sweep, so a
    finite float32 perturbation can round away over 16 steps; the dependence does not)."""
    torch.manual_seed(0)
    layer = layer.double()
    x = torch.rand(1, channels, size, size, dtype=torch.float64, requires_grad=True)
    layer(x)[..., -1, -1].sum().backward()
    return x.grad[..., 0, 0].abs().max().item()


def test_one_renet_layer_sees_the_whole_image_where_a_conv_stack_of_its_depth_does_not():
    torch.manual_seed(0)
    renet = ReNet(3, 4).eval()
    assert _far_corner_change(renet) > 1e-12
    # the same depth of convolutions (two 3x3 layers, as ReNet is two sweeps) reaches 2 px
    convs = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1))
    assert _far_corner_change(convs) == 0.0


def test_renet_sweeps_rows_then_columns_with_bidirectional_grus():
    renet = ReNet(5, 6)
    assert renet.rows.bidirectional and renet.columns.bidirectional
    assert renet.rows.batch_first and renet.columns.batch_first
    assert renet.columns.input_size == 12 and renet.out_channels == 12
    seen = []
    renet.rows.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    renet.columns.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape)))
    assert renet(torch.rand(2, 5, 7, 9)).shape == (2, 12, 7, 9)
    # H*N rows of length W, then W*N columns of length H
    assert seen == [(2 * 7, 9, 5), (2 * 9, 7, 12)]


def test_renet_rows_are_the_gru_over_each_row():
    torch.manual_seed(0)
    renet = ReNet(2, 3).eval()
    x = torch.rand(1, 2, 4, 5)
    with torch.no_grad():
        rows, _ = renet.rows(x[0].permute(1, 2, 0))  # H sequences of length W
        columns, _ = renet.columns(rows.transpose(0, 1))  # W sequences of length H
        assert torch.allclose(renet(x)[0], columns.permute(2, 1, 0), atol=1e-6)


@pytest.mark.parametrize("upsampling", ["transpose", "bilinear"])
@pytest.mark.parametrize("layers", [1, 2])
def test_reseg_gives_logits_at_input_size(upsampling, layers):
    model = create_model(
        "reseg", num_classes=3, base_width=4, depth=2, hidden=4, renet_layers=layers,
        upsampling=upsampling,
    ).eval()  # fmt: skip
    assert model.depth == 2 and len(model.renets) == layers
    with torch.no_grad():
        assert model(torch.rand(2, 3, 16, 24)).shape == (2, 3, 16, 24)


def test_reseg_bad_sizes_and_options_are_config_errors():
    with pytest.raises(ConfigError, match="multiples of 4, got 18x16"):
        ReSeg(base_width=4, depth=2, hidden=4)(torch.zeros(1, 3, 18, 16))
    with pytest.raises(ConfigError, match="hidden must be a positive integer"):
        create_model("reseg", hidden=0)
    with pytest.raises(ConfigError, match="unknown ReSeg upsampling 'nearest'"):
        create_model("reseg", upsampling="nearest")


def test_renet_context_keeps_the_shape_and_adds_global_context():
    block = ReNetContext(8).eval()
    assert block(torch.rand(2, 8, 6, 10)).shape == (2, 8, 6, 10)
    assert _far_corner_change(block, channels=8) > 1e-12


def test_unet_context_none_is_the_plain_unet_and_renet_adds_a_bottleneck_block():
    torch.manual_seed(0)
    plain = UNet(3, 1, base_width=4, depth=2)
    torch.manual_seed(0)
    default = create_model("unet", base_width=4, depth=2, context=None)
    assert plain.context is None and plain.state_dict().keys() == default.state_dict().keys()
    pairs = zip(plain.state_dict().values(), default.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    model = create_model("unet", base_width=4, depth=2, context="renet")
    assert isinstance(model.context, ReNetContext) and model.context.proj.out_channels == 16
    assert model(torch.rand(1, 3, 20, 12)).shape == (1, 1, 20, 12)
    with pytest.raises(ConfigError, match="unknown UNet context 'lstm'"):
        create_model("unet", context="lstm")


def test_unet_with_renet_context_trains():
    torch.manual_seed(0)
    model = create_model("unet", base_width=4, depth=2, context="renet").train()
    images = torch.rand(4, 3, 16, 16)
    target = torch.zeros(4, 1, 16, 16)
    target[..., 4:12, 4:12] = 1.0
    images[:, 0] += target[:, 0]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(images), target)
        loss.backward()
        assert model.context.renet.rows.weight_ih_l0.grad.abs().sum() > 0  # the GRUs learn too
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < 0.8 * losses[0], losses


@pytest.mark.slow
def test_reseg_trains_from_the_cli_reloads_and_exports_to_onnx(tmp_path):
    from seglab.api import load_model
    from seglab.predict.export import export_model

    run, _ = train_cli(tmp_path, "reseg", "base_width=4", "depth=2", "hidden=4")
    image = np.full((30, 27, 3), 40, np.uint8)
    assert load_model(run, backend="torch").predict(image).shape == image.shape[:2]
    result = export_model(run, out=tmp_path / "model.onnx")
    assert result.info["architecture"] == "reseg"  # ONNX has a bidirectional GRU
    assert load_model(run, backend="onnxruntime").predict(image).shape == image.shape[:2]


@pytest.mark.slow
def test_unet_with_renet_context_trains_from_the_cli_and_reloads(tmp_path):
    from seglab.api import load_model

    run, _ = train_cli(tmp_path, "unet", "base_width=4", "depth=2", "context=renet")
    model = load_model(run, backend="torch")
    assert model.predict(np.full((32, 32, 3), 40, np.uint8)).shape == (32, 32)
