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
                 "--multiscale", "1,0.5", "--multiscale-option", "aux_weight=0.5", "--head",
                 "crf", "--head-option", "iterations=2", "-m", "base_width=4,depth=2",
                 "--epochs", "2", "--batch-size", "4", "--augment", "none", "--optimizer",
                 "adam", "--lr", "0.01", "--scheduler", "none", "--workers", "0",
                 "--quiet"]) == 0  # fmt: skip
    run = out / "ms"
    card = json.loads((run / "model.json").read_text())
    assert card["multiscale"] == [1.0, 0.5] and card["head"] == "crf"
    assert card["head_options"] == {"iterations": 2}
    assert card["multiscale_options"] == {"aux_weight": 0.5}
    losses = (run / "metrics.csv").read_text()
    assert "nan" not in losses.lower()
    model = load_model(run)
    image, _ = read_image(next((discs / "val" / "images").iterdir()))
    probs = model.predict_proba(image)
    assert probs.shape == image.shape[:2] and np.isfinite(probs).all()
    assert model.predict(image).shape == image.shape[:2]


class _Fixed(torch.nn.Module):
    """A "network" whose logits are given: what a head does to them is then known."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1, -1, -1)


def _small_objects() -> tuple[torch.Tensor, torch.Tensor]:
    """A 48 px image of four 8x8 bright objects (a small nucleus's size in the nuclei set) and
    a network fairly sure of them (logits +-3)."""
    mask = torch.zeros(1, 1, 48, 48)
    for y, x in ((4, 4), (4, 30), (28, 10), (30, 30)):
        mask[..., y : y + 8, x : x + 8] = 1
    image = (0.2 + 0.6 * mask).expand(1, 3, -1, -1)
    return image, 6 * mask - 3


def test_a_new_crf_head_keeps_small_objects_that_the_prediction_time_crf_erases():
    """The head starts near the identity (a tenth of the pairwise weights), so training does
    not begin by erasing every small object (nuclei from the prediction-time weights: val
    Dice 0 after 2 minutes); the same CRF at full strength smooths these objects away."""
    image, logits = _small_objects()
    objects = logits > 0
    kept = CRFHead(_Fixed(logits), 1)(image) > 0
    assert (kept & objects).sum() / (kept | objects).sum() > 0.9
    full = CRFHead(_Fixed(logits), 1, appearance_weight=5.0, smoothness_weight=3.0)
    assert (full(image) > 0)[objects].float().mean() < 0.1


def test_head_and_multiscale_options_reach_the_wrappers():
    net = build_model(
        ModelConfig(options={"base_width": 4, "depth": 2}, multiscale=[1, 0.5],
                    multiscale_options={"aux_weight": 0.25, "hidden": 8}, head="crf",
                    head_options={"iterations": 2, "theta_alpha": 40}),
        in_channels=3, num_classes=2,
    )  # fmt: skip
    assert net.crf.iterations == 2 and net.crf.theta_alpha == 40
    assert net.aux_weight == 0.25 and net.net.attention[0].out_channels == 8
    levelset = build_model(
        ModelConfig(options={"base_width": 4, "depth": 2}, head="levelset",
                    head_options={"iterations": 7, "mu": 0.5}),
        in_channels=3, num_classes=2,
    )  # fmt: skip
    assert levelset.refine.iterations == 7 and levelset.refine.mu == 0.5


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"head": "crf", "head_options": {"sigma": 3}}, r"model.head_options: unknown sigma.*"
         r"iterations"),
        ({"head": "crf", "head_options": {"filter_size": 4}}, r"model.head_options: filter_size"),
        ({"head": "levelset", "head_options": {"dt": 0}}, r"model.head_options: dt"),
        ({"multiscale": [1, 0.5], "multiscale_options": {"scales": [1]}},
         r"model.multiscale_options: unknown scales.*aux_weight"),
    ],
)  # fmt: skip
def test_a_wrapper_option_it_does_not_take_is_named(changes, match):
    with pytest.raises(ConfigError, match=match):
        build_model(ModelConfig(options={"base_width": 4, "depth": 2}, **changes),
                    in_channels=3, num_classes=2)  # fmt: skip


def test_wrapper_options_need_their_wrapper():
    with pytest.raises(ValueError, match="add --head"):
        ModelConfig(head_options={"iterations": 2})
    with pytest.raises(ValueError, match="add --multiscale"):
        ModelConfig(multiscale_options={"aux_weight": 0.5})


def test_the_card_keeps_the_wrapper_options(tmp_path):
    import json

    from seglab.config import TrainConfig
    from seglab.errors import DataError
    from seglab.models.card import read_card

    model = ModelConfig(options={"base_width": 4, "depth": 2}, head="levelset",
                        head_options={"iterations": 3})  # fmt: skip
    card = model_card(TrainConfig(model=model), in_channels=3, classes=["bg", "disc"],
                      multiple=4, preprocess=None)  # fmt: skip
    card.write(tmp_path / "model.json")
    assert build_network(read_card(tmp_path / "model.json")).refine.iterations == 3
    data = json.loads((tmp_path / "model.json").read_text())
    data["head_options"] = {"iterations": -1}
    (tmp_path / "model.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="head_options") as caught:
        build_network(read_card(tmp_path / "model.json"))
    assert caught.value.field == "head_options"


def test_the_cli_refuses_head_options_without_a_head(tmp_path, capsys):
    from seglab.cli import main

    code = main(["train", "--data", str(tmp_path), "--head-option", "iterations=2"])
    assert code == 2
    assert "add --head crf|levelset" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    "flags",
    [["--multiscale", "1,0.5"], ["--head", "crf"], ["--head", "levelset"],
     ["--multiscale", "1,0.5", "--head", "crf", "--head-option", "iterations=2"]],
    ids=["multiscale", "crf", "levelset", "multiscale+crf"],
)  # fmt: skip
def test_wrapped_networks_export_to_onnx_with_the_same_probabilities(discs, tmp_path, flags):
    import numpy as np

    from seglab import load_model
    from seglab.cli import main
    from seglab.predict.export import export_model

    out = tmp_path / "runs"
    assert main(["train", "--data", str(discs), "--out", str(out), "--name", "w", "--epochs",
                 "1", "-m", "base_width=4,depth=2", "--batch-size", "4", "--augment", "none",
                 "--workers", "0", "--quiet", *flags]) == 0  # fmt: skip
    export_model(out / "w", out=tmp_path / "w.onnx")
    image = np.random.default_rng(0).integers(0, 255, (30, 27, 3), dtype=np.uint8)
    torch_probs = load_model(out / "w", backend="torch").predict_proba(image)
    onnx_probs = load_model(out / "w", backend="onnxruntime").predict_proba(image)
    np.testing.assert_allclose(onnx_probs, torch_probs, atol=1e-4)
