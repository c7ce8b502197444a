"""Adversarial training (Luc et al. 2016, seglab.train.adversarial): the discriminator's loss,
the two alternating steps, the start epoch, and end-to-end runs (train, predict, resume, a
time limit)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from seglab.api import train
from seglab.errors import ConfigError
from seglab.train.adversarial import (
    AdversarialPlan,
    Discriminator,
    discriminator_loss,
    generator_loss,
    truth_map,
)
from seglab.train.module import OptimizationPlan, SegmentationModule
from tests.builders import tiny_train_settings


def test_the_discriminator_loss_is_zero_when_it_is_right_and_large_when_it_is_wrong():
    big = torch.full((3,), 1e4)
    assert float(discriminator_loss(big, -big)) == pytest.approx(0.0, abs=1e-6)
    assert float(discriminator_loss(-big, big)) > 1e3
    assert float(generator_loss(big)) == pytest.approx(0.0, abs=1e-6)  # D fooled: no penalty


def test_the_truth_map_is_one_hot_with_the_prediction_at_ignored_pixels():
    masks = torch.tensor([[[0, 1], [2, 255]]])
    probs = torch.full((1, 3, 2, 2), 1 / 3)
    truth = truth_map(masks, probs)
    assert truth[0, :, 0, 0].tolist() == [1, 0, 0] and truth[0, :, 1, 0].tolist() == [0, 0, 1]
    assert torch.allclose(truth[0, :, 1, 1], probs[0, :, 1, 1])
    binary = truth_map(torch.tensor([[[0, 1]]]), torch.full((1, 1, 1, 2), 0.5))
    assert binary.flatten().tolist() == [0.0, 1.0]


def test_a_discriminator_gives_one_logit_per_image_at_any_size():
    disc = Discriminator(3 + 2, width=4)
    for side in (16, 37):
        assert disc(torch.rand(2, 3, side, side), torch.rand(2, 2, side, side)).shape == (2,)


def _fit(start: int, tmp_path: Path):
    """A 1-epoch fit of a tiny segmenter + discriminator on 4 random 16 px pairs; the module
    and both networks' weights before it."""
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from seglab.losses import create_loss

    torch.manual_seed(0)
    net = torch.nn.Conv2d(1, 2, 3, padding=1)
    disc = Discriminator(1 + 2, width=4)
    module = SegmentationModule(
        net,
        create_loss("ce_dice", num_classes=2),
        OptimizationPlan(optimizer="adam", lr=0.01),
        adversary=AdversarialPlan(disc, weight=0.1, start=start),
    )
    data = TensorDataset(torch.rand(4, 1, 16, 16), torch.randint(0, 2, (4, 16, 16)))
    before = (net.weight.detach().clone(), disc.head.weight.detach().clone())
    trainer = pl.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, accelerator="cpu", default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(module, DataLoader(data, batch_size=2))
    return trainer, module, before


def test_a_training_step_updates_the_segmenter_and_the_discriminator(tmp_path):
    trainer, module, (net_w, disc_w) = _fit(1, tmp_path)
    assert not torch.equal(module.model.weight, net_w)
    assert not torch.equal(module.discriminator.head.weight, disc_w)
    assert trainer.global_step == 2  # one step per batch: the discriminator's is not counted
    logged = trainer.callback_metrics
    assert math.isfinite(float(logged["adv_d_loss"])) and math.isfinite(float(logged["adv_g_loss"]))


def test_before_the_start_epoch_the_discriminator_is_not_trained(tmp_path):
    trainer, module, (net_w, disc_w) = _fit(2, tmp_path)
    assert not torch.equal(module.model.weight, net_w)
    assert torch.equal(module.discriminator.head.weight, disc_w)
    assert "adv_d_loss" not in trainer.callback_metrics


def test_adversarial_refuses_what_it_does_not_support(discs, tmp_path):
    for changes in ({"accumulate": 2}, {"optimizer": "lbfgs"}, {"lr_find": True}):
        with pytest.raises(ConfigError, match="--adversarial"):
            train(print_fn=None, **tiny_train_settings(discs, tmp_path, adversarial=0.1, **changes))


def test_adversarial_refuses_mask_rcnn(tmp_path):
    from seglab.config import ModelConfig, TrainConfig
    from seglab.train.parts import refuse_adversarial

    config = TrainConfig(task="instance", model=ModelConfig(name="maskrcnn"), adversarial=0.1)
    with pytest.raises(ConfigError, match="--adversarial: Mask R-CNN has no label map"):
        refuse_adversarial(config)


def _rows(run: Path) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_an_adversarial_run_trains_predicts_and_resumes(discs, tmp_path):
    from seglab.api import load_model

    settings = tiny_train_settings(discs, tmp_path, adversarial=0.1, scheduler="cosine")
    result = train(print_fn=None, **settings)
    rows = _rows(result.run_dir)
    assert len(rows) == 2
    for row in rows:
        for key in ("train_loss", "adv_d_loss", "adv_g_loss"):
            assert math.isfinite(float(row[key])), (key, row)
    model = load_model(result.run_dir)
    image = torch.rand(32, 32).numpy()
    assert model.predict(image) is not None
    ckpt = torch.load(result.run_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert any(k.startswith("discriminator.") for k in ckpt["state_dict"])
    assert len(ckpt["optimizer_states"]) == 2
    resumed = train(print_fn=None, resume=result.run_dir, epochs=3)
    assert resumed.epochs == 3
    rows = _rows(resumed.run_dir)
    assert len(rows) == 3 and math.isfinite(float(rows[-1]["adv_d_loss"]))


@pytest.mark.slow
def test_a_time_limited_adversarial_run_uses_its_budget(discs, tmp_path):
    settings = tiny_train_settings(discs, tmp_path, adversarial=0.1, time_limit="20s")
    del settings["epochs"]
    result = train(print_fn=None, **settings)
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert 0.5 < summary["budget_used"] < 1.5  # not a timing test: the run ends near its budget
    assert all(math.isfinite(float(r["adv_d_loss"])) for r in _rows(result.run_dir))


@pytest.mark.slow
def test_an_adversarial_run_trains_in_two_ddp_processes(discs, tmp_path):
    """Two optimisers under manual optimisation with DDP: the discriminator's and the
    segmenter's backward passes each synchronise, and rank 0 alone writes the run."""
    import os
    import subprocess
    import sys

    command = [str(Path(sys.executable).parent / "seglab"), "train", "--data", str(discs),
               "-m", "base_width=4,depth=2", "--epochs", "2", "--accelerator", "cpu",
               "--devices", "2", "--augment", "none", "--adversarial", "0.1", "--out",
               str(tmp_path / "runs"), "-q"]  # fmt: skip
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(tmp_path / "runs" / "train")
    assert len(rows) == 2
    assert all(math.isfinite(float(r["adv_d_loss"])) for r in rows)
