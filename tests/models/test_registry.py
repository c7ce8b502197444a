"""Every registered model: logits of the right shape, finite gradients, and it learns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seglab.config import MASKRCNN_MODELS
from seglab.errors import ConfigError
from seglab.models import MODELS, create_model, list_models, model_options

# Mask R-CNN takes a list of images and gives detections, not logits: tests/models/test_maskrcnn*
LOGIT_MODELS = [name for name in list_models() if name not in MASKRCNN_MODELS]
# Small but faithful: seglab's U-Net at width 8, the zoo with its default resnet18 / backbones.
SMALL = {"unet": {"base_width": 8}}
# smp's PAN needs its deepest features >= 8 px: 128 px inputs at the default depth.
SIZE = {"smp.pan": 128}


def _build(name, num_classes):
    torch.manual_seed(0)
    return create_model(name, num_classes=num_classes, **SMALL.get(name, {}))


def _batch(name, channels=3):
    size = SIZE.get(name, 64)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(2, channels, size, size, generator=generator)
    target = torch.zeros(2, 1, size, size)
    target[..., size // 4 : size // 2, :] = 1.0  # a band: easy to fit
    images[:, 0] += target[:, 0]
    return images, target


def test_list_models_is_the_registry():
    assert list_models() == list(MODELS)
    assert "unet" in list_models()


@pytest.mark.parametrize("num_classes", [1, 3])
@pytest.mark.parametrize("name", LOGIT_MODELS)
def test_forward_gives_logits_per_class_at_input_size(name, num_classes):
    model = _build(name, num_classes).eval()
    images, _ = _batch(name)
    with torch.no_grad():
        logits = model(images)
    assert isinstance(logits, torch.Tensor)
    assert logits.shape == (2, num_classes, *images.shape[-2:])
    assert torch.isfinite(logits).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", LOGIT_MODELS)
def test_gradients_are_finite_and_adam_lowers_the_loss(name):
    model = _build(name, 1).train()
    images, target = _batch(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(4):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(images), target)
        loss.backward()
        if step == 0:
            grads = [p.grad for p in model.parameters() if p.grad is not None]
            assert grads and all(torch.isfinite(g).all() for g in grads)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


@pytest.mark.parametrize("name", list_models())
def test_unknown_option_names_it_and_the_valid_ones(name):
    with pytest.raises(ConfigError, match=r"does not take the option.*'bogus'.*valid options: "):
        create_model(name, bogus=1)
    assert "in_channels" not in model_options(name)


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(ConfigError, match=r"unknown model 'resunet'; valid names: unet, smp\.unet"):
        create_model("resunet")
