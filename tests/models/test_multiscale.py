"""Attention to scale (Chen et al., CVPR 2016): :class:`seglab.models.multiscale.MultiScale`."""

from __future__ import annotations

import pytest
import torch

from seglab.config import ModelConfig
from seglab.errors import ConfigError
from seglab.losses import create_loss
from seglab.models import create_model
from seglab.models.build import build_model, size_multiple
from seglab.models.multiscale import MultiScale, scaled_size
from seglab.train.module import OptimizationPlan, SegmentationModule


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("unet", num_classes=1, base_width=4, depth=2)


def test_an_attention_picking_scale_one_gives_the_plain_network():
    net = _net().eval()
    wrapped = MultiScale(net, 1, (1.0, 0.75, 0.5), multiple=4).eval()
    last = wrapped.attention[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([50.0, 0.0, 0.0]))  # softmax: all weight on scale 1
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(wrapped(x), net(x), rtol=1e-5, atol=1e-5)


def test_the_scale_weights_sum_to_one_per_pixel():
    wrapped = MultiScale(_net(), 1, (1.0, 0.5), multiple=4)
    fused, weights, outs = wrapped.fuse(torch.rand(2, 3, 32, 40))
    assert weights.shape == (2, 2, 32, 40) and fused.shape == (2, 1, 32, 40)
    torch.testing.assert_close(weights.sum(1), torch.ones(2, 32, 40))
    assert (weights >= 0).all() and len(outs) == 2


def test_training_exposes_one_aux_logit_map_per_scale_at_the_input_size():
    wrapped = MultiScale(_net(), 1, (1.0, 0.75, 0.5), multiple=4).train()
    wrapped(torch.rand(2, 3, 36, 44))
    assert wrapped.aux_logits is not None and len(wrapped.aux_logits) == 3
    assert all(out.shape == (2, 1, 36, 44) for out in wrapped.aux_logits)
    wrapped.eval()
    wrapped(torch.rand(1, 3, 36, 44))
    assert wrapped.aux_logits is None


def test_scaled_inputs_keep_the_networks_multiple():
    assert scaled_size(36, 0.75, 4) == 28 and scaled_size(36, 0.5, 4) == 20
    assert scaled_size(8, 0.1, 8) == 8
    # a depth-3 U-Net is built to take multiples of 8: every scale of 40 px is refitted
    net = build_model(
        ModelConfig(options={"base_width": 4, "depth": 3}, multiscale=[1, 0.75, 0.5]),
        in_channels=3,
        num_classes=2,
    )
    assert isinstance(net, MultiScale) and net.multiple == 8 and size_multiple(net) == 8
    assert net(torch.rand(1, 3, 40, 40)).shape == (1, 1, 40, 40)


def test_the_loss_adds_each_scales_loss():
    wrapped = MultiScale(_net(), 1, (1.0, 0.5), multiple=4).train()
    loss_fn = create_loss("bce_dice", num_classes=1)
    module = SegmentationModule(wrapped, loss_fn, OptimizationPlan())
    images = torch.rand(2, 3, 32, 32)
    masks = (torch.rand(2, 32, 32) > 0.5).long()
    logits = module(images)
    with_aux = module._loss(logits, masks, images)
    expected = loss_fn(logits, masks) + sum(loss_fn(out, masks) for out in wrapped.aux_logits)
    torch.testing.assert_close(with_aux, expected)
    wrapped.aux_logits = None
    assert with_aux > module._loss(logits, masks, images)
    with_aux.backward()
    assert wrapped.attention[0].weight.grad is not None


def test_scales_are_checked_and_maskrcnn_refuses_wrappers():
    with pytest.raises(ValueError, match="each in"):
        ModelConfig(multiscale=[1, 0])
    with pytest.raises(ConfigError, match="detections, not logits"):
        build_model(ModelConfig(name="maskrcnn", head="crf"), in_channels=3, num_classes=2)
