"""Trainable heads after any model's logits: a ConvCRF (:class:`seglab.models.crf.CRFHead`) and
Chan-Vese level-set steps (:class:`seglab.models.levelset.LevelSetHead`)."""

from __future__ import annotations

import pytest
import torch

from seglab.config import ModelConfig
from seglab.errors import ConfigError
from seglab.losses import create_loss
from seglab.models.build import build_model, build_network, model_card
from seglab.models.crf import CRFHead
from seglab.models.levelset import LevelSetHead
from seglab.train.module import OptimizationPlan, SegmentationModule


def _batch(classes: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    masks = torch.zeros(2, 32, 32, dtype=torch.long)
    masks[:, 8:24, 8:24] = classes
    images = 0.2 + 0.6 * (masks[:, None] > 0).float().expand(-1, 3, -1, -1)
    return images + 0.05 * torch.rand_like(images), masks


def _module(head: str, num_classes: int = 2) -> SegmentationModule:
    torch.manual_seed(0)
    net = build_model(
        ModelConfig(options={"base_width": 4, "depth": 2}, head=head),
        in_channels=3,
        num_classes=num_classes,
    )
    binary = num_classes == 2
    loss = create_loss(
        "bce_dice" if binary else "ce_dice", num_classes=1 if binary else num_classes
    )
    return SegmentationModule(net, loss, OptimizationPlan())


@pytest.mark.parametrize("num_classes", [2, 3])
def test_the_crf_heads_weights_get_gradients_in_a_training_step(num_classes):
    module = _module("crf", num_classes)
    head = module.model
    assert isinstance(head, CRFHead)
    images, masks = _batch(num_classes - 1)
    logits = module(images)
    assert logits.shape == (2, 1 if num_classes == 2 else num_classes, 32, 32)
    loss = module._loss(logits, masks, images)
    loss.backward()
    for param in (head.crf.appearance_weight, head.crf.smoothness_weight, head.crf.compatibility):
        assert param.grad is not None and torch.isfinite(param.grad).all()
        assert param.grad.abs().sum() > 0
    before = head.crf.appearance_weight.detach().clone()
    torch.optim.SGD(module.parameters(), lr=0.1).step()
    assert head.crf.appearance_weight.detach() != before


def test_the_level_set_head_trains_without_nan():
    module = _module("levelset")
    assert isinstance(module.model, LevelSetHead)
    images, masks = _batch()
    optimizer = torch.optim.Adam(module.parameters(), lr=0.01)
    for _ in range(5):
        optimizer.zero_grad()
        loss = module._loss(module(images), masks, images)
        loss.backward()
        assert torch.isfinite(loss)
        assert all(torch.isfinite(p.grad).all() for p in module.parameters() if p.grad is not None)
        optimizer.step()


def test_the_level_set_head_needs_a_binary_model():
    with pytest.raises(ConfigError, match="binary"):
        build_model(ModelConfig(head="levelset"), in_channels=3, num_classes=3)


def test_the_card_rebuilds_the_wrapped_network(tmp_path):
    from seglab.config import TrainConfig
    from seglab.models.card import read_card

    config = TrainConfig(
        model=ModelConfig(options={"base_width": 4, "depth": 2}, multiscale=[1, 0.5], head="crf")
    )
    card = model_card(config, in_channels=3, classes=["bg", "disc"], multiple=4, preprocess=None)
    card.write(tmp_path / "model.json")
    again = read_card(tmp_path / "model.json")
    assert again.multiscale == (1.0, 0.5) and again.head == "crf"
    net = build_model(config.model, in_channels=3, num_classes=2)
    rebuilt = build_network(again)
    assert rebuilt.state_dict().keys() == net.state_dict().keys()
    plain = model_card(TrainConfig(), in_channels=3, classes=["bg", "disc"], multiple=4,
                       preprocess=None)  # fmt: skip
    assert "multiscale" not in plain.to_dict() and "head" not in plain.to_dict()


@pytest.mark.slow
def test_train_with_multiscale_and_a_crf_head_then_load_and_predict(discs, tmp_path):
    import json

    import numpy as np

    from seglab import load_model
    from seglab.cli import main
    from seglab.io import read_image

    out = tmp_path / "runs"
    assert main(["train", "--data", str(discs), "--out", str(out), "--name", "ms",
                 "--multiscale", "1,0.5", "--head", "crf", "-m", "base_width=4,depth=2",
                 "--epochs", "2", "--batch-size", "4", "--augment", "none", "--optimizer",
                 "adam", "--lr", "0.01", "--scheduler", "none", "--workers", "0",
                 "--quiet"]) == 0  # fmt: skip
    run = out / "ms"
    card = json.loads((run / "model.json").read_text())
    assert card["multiscale"] == [1.0, 0.5] and card["head"] == "crf"
    losses = (run / "metrics.csv").read_text()
    assert "nan" not in losses.lower()
    model = load_model(run)
    image, _ = read_image(next((discs / "val" / "images").iterdir()))
    probs = model.predict_proba(image)
    assert probs.shape == image.shape[:2] and np.isfinite(probs).all()
    assert model.predict(image).shape == image.shape[:2]
