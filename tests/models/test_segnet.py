"""SegNet and DeconvNet: the decoder unpools to the encoder's argmax positions, output sizes,
and a tiny run from the CLI that trains, reloads and exports to ONNX."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from torch import nn

from seglab.errors import ConfigError
from seglab.models import create_model
from seglab.models.segnet import DeconvNet, SegNet
from tests.builders import write_discs

SMALL = {"base_width": 4, "depth": 3, "activation": "leaky_relu"}


def _hooked(model: nn.Module):
    """Record each pooling's (input, values, indices) and each unpooling's (input, output)."""
    pools, unpools = [], []
    model.pool.register_forward_hook(lambda m, i, o: pools.append((i[0], *o)))
    for unpool in model.unpools:
        unpool.register_forward_hook(lambda m, i, o: unpools.append((i[0], i[1], o)))
    return pools, unpools


@pytest.mark.parametrize("name", ["segnet", "deconvnet"])
def test_unpooling_puts_values_exactly_at_the_matching_poolings_argmax(name):
    torch.manual_seed(0)
    model = create_model(name, **SMALL).eval()
    pools, unpools = _hooked(model)
    with torch.no_grad():
        model(torch.rand(2, 3, 32, 48))
    assert len(pools) == len(unpools) == 3
    # decoder level k unpools with the indices of encoder level depth-1-k
    for (pool_in, _, indices), (coarse, used, out) in zip(reversed(pools), unpools, strict=True):
        assert used is indices  # no copy: the very indices the pooling returned
        assert out.shape == pool_in.shape  # back to the pooled map's size
        flat = out.flatten(2)
        # each coarse value lands at its argmax position...
        assert torch.equal(flat.gather(2, indices.flatten(2)), coarse.flatten(2))
        # ...and nowhere else: leaky ReLU leaves no exact zeros among the coarse values
        assert (coarse != 0).all()
        marked = torch.zeros_like(flat, dtype=torch.bool).scatter_(2, indices.flatten(2), True)
        assert torch.equal(flat != 0, marked)
        # the argmax positions are the maxima of the pooled input's 2x2 windows
        windows = nn.functional.max_pool2d(pool_in, 2)
        assert torch.equal(pool_in.flatten(2).gather(2, indices.flatten(2)), windows.flatten(2))


@pytest.mark.parametrize("cls", [SegNet, DeconvNet])
@pytest.mark.parametrize(("depth", "size"), [(1, (6, 10)), (2, (16, 12)), (3, (32, 24))])
def test_output_shape_is_the_input_shape_for_multiples_of_two_to_the_depth(cls, depth, size):
    model = cls(3, 2, base_width=4, depth=depth).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, *size)).shape == (1, 2, *size)


def test_no_skip_concatenation_and_deconvnet_densifies_with_transposed_convs():
    segnet, deconvnet = SegNet(base_width=4, depth=2), DeconvNet(base_width=4, depth=2)
    # widths mirror the encoder: no decoder block sees more channels than its level's width
    for stage, width in zip(segnet.decoder, [8, 4], strict=True):
        assert stage[0].conv.in_channels == width
    seg = [type(m) for m in segnet.decoder.modules()]
    dec = [type(m) for m in deconvnet.decoder.modules()]
    assert nn.Conv2d in seg and nn.ConvTranspose2d not in seg
    assert nn.ConvTranspose2d in dec and nn.Conv2d not in dec
    assert sum(isinstance(m, nn.MaxUnpool2d) for m in deconvnet.modules()) == 2


def test_defaults_are_the_papers_vgg16_widths():
    model = SegNet()
    assert model.depth == 5
    assert [stage[0].conv.out_channels for stage in model.encoder] == [64, 128, 256, 512, 512]


def test_bad_sizes_and_options_are_config_errors():
    with pytest.raises(ConfigError, match="multiples of 8, got 30x32"):
        SegNet(base_width=4, depth=3)(torch.zeros(1, 3, 30, 32))
    with pytest.raises(ConfigError, match="depth must be a positive integer"):
        create_model("segnet", depth=0)
    with pytest.raises(ConfigError, match="width_cap"):
        create_model("deconvnet", base_width=8, width_cap=4)
    with pytest.raises(ConfigError, match="unknown norm"):
        create_model("deconvnet", norm="bogus")


def train_cli(tmp_path, name: str, *options: str):
    """Train ``name`` for 2 epochs on 32x32 discs with ``seglab train``; the run folder."""
    from seglab.cli import main

    data = write_discs(tmp_path / "discs")
    runs = tmp_path / "runs"
    args = ["train", "--data", str(data), "--model", name, "--out", str(runs), "--epochs", "2",
            "--batch-size", "4", "--augment", "none", "--workers", "0", "--optimizer", "adam",
            "--lr", "0.01", "--scheduler", "none", "--quiet"]  # fmt: skip
    for option in options:
        args += ["-m", option]
    assert main(args) == 0
    run = runs / "train"
    with open(run / "metrics.csv") as f:
        losses = [float(row["train_loss"]) for row in csv.DictReader(f) if row.get("train_loss")]
    assert losses and all(math.isfinite(loss) for loss in losses)
    return run, data


@pytest.mark.slow
@pytest.mark.parametrize("name", ["segnet", "deconvnet"])
def test_trains_from_the_cli_reloads_and_exports_to_onnx(tmp_path, name):
    from seglab.api import load_model
    from seglab.predict.export import export_model

    run, _ = train_cli(tmp_path, name, "base_width=4", "depth=2")
    image = np.full((30, 27, 3), 40, np.uint8)  # not a multiple of 4: the engine pads
    mask = load_model(run, backend="torch").predict(image)
    assert mask.shape == image.shape[:2]
    result = export_model(run, out=tmp_path / "model.onnx")
    # the TorchScript-based exporter has no max_unpool2d: the dynamo exporter did it
    assert result.info["exporter"] == "dynamo" and result.info["architecture"] == name
    onnx_mask = load_model(run, backend="onnxruntime").predict(image)
    assert onnx_mask.shape == image.shape[:2]
