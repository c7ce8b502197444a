"""End-to-end training runs on tiny disc datasets: the run folder, resume, stopping rules,
bad losses, interrupts, the CLI and every registered choice."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file

from seglab.api import train
from seglab.cli import main
from seglab.errors import ConfigError, SeglabError
from seglab.losses import LOSSES
from seglab.models import ACTIVATIONS, INITS
from seglab.optim import OPTIMIZERS
from seglab.train.module import NonFiniteLoss
from tests.builders import TINY_UNET, tiny_train_settings, write_discs

pytestmark = pytest.mark.slow  # every test here trains a network end to end

TINY = TINY_UNET


def fast(root: Path, out: Path, **options):
    """A run of a 4-wide U-Net on 32 px discs, quiet, seconds long."""
    return train(print_fn=None, **{**tiny_train_settings(root, out), **options})


def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_run_folder_holds_config_metrics_checkpoint_model_plots_and_verdict(discs, tmp_path):
    result = fast(discs, tmp_path / "runs", epochs=3)
    run = result.run_dir
    assert run == tmp_path / "runs" / "train"
    assert result.status == "completed" and result.epochs == 3
    stored = yaml.safe_load((run / "config.yaml").read_text())
    assert stored["epochs"] == 3 and stored["model"]["options"] == TINY["options"]
    table = rows(run)
    assert [int(r["epoch"]) for r in table] == [1, 2, 3]
    assert list(table[0]) == [
        "epoch", "lr", "train_loss", "val_loss", "val_dice", "val_soft_dice", "val_iou", "seconds",
        "val_dice_sd",
    ]  # fmt: skip
    for r in table:
        assert all(math.isfinite(float(v)) for v in r.values())
        assert 0 <= float(r["val_dice"]) <= 1 and float(r["lr"]) == pytest.approx(0.01)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    info = json.loads((run / "model.json").read_text())
    assert info["format"] == "seglab.model/1" and info["architecture"] == "unet"
    assert info["classes"] == ["background", "foreground"] or len(info["classes"]) == 2
    assert info["out_channels"] == 1 and info["in_channels"] == 3
    best = max(range(3), key=lambda i: float(table[i]["val_dice"]))
    assert info["best_epoch"] == best + 1 == result.best_epoch
    assert info["best_score"] == pytest.approx(float(table[best]["val_dice"]), abs=1e-5)
    weights = load_file(run / "model.safetensors")
    assert any(k.endswith("weight") for k in weights)
    assert sorted(p.name for p in (run / "plots").glob("*.png")) == [
        "dice.png",
        "loss.png",
        "lr.png",
    ]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["best_epoch"] == best + 1
    assert summary["verdict"]["kind"] in (
        "overfitting",
        "underfitting",
        "still improving",
        "good fit",
    )
    # a second run does not overwrite the first
    assert fast(discs, tmp_path / "runs", epochs=1).run_dir.name == "train-2"


def test_a_small_unet_learns_bright_discs(tmp_path):
    root = write_discs(tmp_path / "d", splits={"train": 24, "val": 6})
    result = fast(root, tmp_path / "runs", epochs=12, model={"options": {"base_width": 8}})
    assert result.best_score > 0.8, rows(result.run_dir)


class InterruptAt(pl.Callback):
    """Ctrl-C at the start of epoch ``epoch`` (batch ``batch``)."""

    def __init__(self, epoch: int, batch: int = 0):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise KeyboardInterrupt


def _state(run: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    return ckpt["state_dict"]


def test_interrupt_then_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    root = write_discs(tmp_path / "d", splits={"train": 12, "val": 4})
    options = {
        "epochs": 3,
        "deterministic": True,
        "augment": "default",
        "crop_size": 24,
        "model": {"options": {"base_width": 4, "depth": 2, "dropout": 0.2}},
        "scheduler": "cosine",
    }
    whole = fast(root, tmp_path / "a", **options)
    cut = train(
        print_fn=None,
        callbacks=[InterruptAt(epoch=2, batch=1)],
        **{**tiny_train_settings(root, tmp_path / "b"), **options},
    )
    assert cut.status == "interrupted" and cut.epochs == 2
    resumed = train(print_fn=None, resume=cut.run_dir)
    assert resumed.run_dir == cut.run_dir and resumed.epochs == 3
    a, b = _state(whole.run_dir), _state(resumed.run_dir)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert [r["train_loss"] for r in rows(whole.run_dir)] == [
        r["train_loss"] for r in rows(resumed.run_dir)
    ]


def test_ctrl_c_in_the_first_epoch_still_saves_last_ckpt(discs, tmp_path):
    result = train(
        print_fn=None, callbacks=[InterruptAt(0, 1)], **tiny_train_settings(discs, tmp_path)
    )
    assert result.status == "interrupted"
    assert (result.run_dir / "checkpoints" / "last.ckpt").is_file()
    assert json.loads((result.run_dir / "summary.json").read_text())["status"] == "interrupted"


def test_resume_of_a_folder_that_is_not_a_run_says_so(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(SeglabError, match=r"nothing to resume: no config\.yaml"):
        train(print_fn=None, resume=tmp_path / "run")


def test_resume_before_the_first_checkpoint_starts_the_run_again_in_its_folder(discs, tmp_path):
    first = train(**tiny_train_settings(discs, tmp_path / "runs"), print_fn=None)
    (first.run_dir / "checkpoints" / "last.ckpt").unlink()  # as if killed before it was written
    (first.run_dir / "model.json.tmp").write_text("{half")  # and killed mid-write
    said = []
    again = train(resume=first.run_dir, print_fn=said.append)
    assert again.run_dir == first.run_dir and again.epochs == 2
    assert any("restarting" in line and "from the beginning" in line for line in said)
    assert not (first.run_dir / "model.json.tmp").exists()
    assert (first.run_dir / "checkpoints" / "last.ckpt").is_file()


def test_a_relative_data_path_is_stored_absolute_and_resumes_from_anywhere(
    discs, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = fast(Path("discs"), Path("runs"), epochs=1)
    stored = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert stored["data"]["path"] == str(discs.resolve())
    monkeypatch.chdir(tmp_path / "runs")  # resumed from another folder
    resumed = train(print_fn=None, resume=Path("train"), epochs=2)
    assert resumed.epochs == 2


def test_a_resume_finds_a_relative_data_path_of_an_older_run(discs, tmp_path, monkeypatch):
    from seglab.train.plans import _started_in

    run = fast(discs, tmp_path / "runs", epochs=1).run_dir
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["path"], config["out"] = "discs", "runs"  # as written before
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(discs / "train")
    assert _started_in(Path("runs"), run) == tmp_path
    assert train(print_fn=None, resume=run, epochs=2).epochs == 2


def test_a_resume_whose_data_moved_says_to_pass_data_and_takes_it(discs, tmp_path):
    run = fast(discs, tmp_path / "runs", epochs=1).run_dir
    moved = discs.rename(tmp_path / "moved")
    with pytest.raises(SeglabError, match="--data PATH") as error:
        train(print_fn=None, resume=run, epochs=2)
    assert error.value.path == str(run / "config.yaml") and error.value.field == "data.path"
    assert train(print_fn=None, resume=run, epochs=2, data=moved).epochs == 2


@pytest.mark.parametrize(
    ("out", "run", "started"),
    [
        ("runs", "/p/runs/train", "/p"),
        ("a/runs", "/p/a/runs/train", "/p"),
        (".", "/p/train", "/p"),
        ("runs", "/p/other/train", None),  # the run folder was moved
        ("/abs/runs", "/abs/runs/train", None),  # absolute: nothing to find
    ],
)
def test_started_in_undoes_a_relative_out(out, run, started):
    from seglab.train.plans import _started_in

    found = _started_in(Path(out), Path(run))
    assert found == (None if started is None else Path(started))


def test_a_damaged_checkpoint_is_refused_before_lightning_reads_it(discs, tmp_path):
    run = fast(discs, tmp_path / "runs", epochs=1).run_dir
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    with pytest.raises(SeglabError, match="damaged") as error:
        train(print_fn=None, resume=run, epochs=2)
    assert error.value.path == str(ckpt)


def test_device_options_are_checked_before_the_data_is_read(tmp_path):
    with pytest.raises(ConfigError, match="--accelerator 'abacus'"):
        train(print_fn=None, data=tmp_path / "nowhere", out=tmp_path, accelerator="abacus")


def test_early_stopping_stops_when_the_monitored_value_stops_improving(discs, tmp_path):
    # lr so small that nothing changes: val loss never improves after the first epoch
    result = fast(
        discs,
        tmp_path,
        epochs=20,
        patience=2,
        monitor="val_loss",
        optimizer="sgd",
        lr=1e-12,
        model={"options": {"base_width": 4, "depth": 2, "norm": "none"}},
    )
    assert result.status == "early stopping"
    assert result.epochs == 3 and result.best_epoch == 1


def test_every_file_and_message_counts_epochs_from_one(discs, tmp_path):
    lines: list[str] = []
    result = train(print_fn=lines.append, **{**tiny_train_settings(discs, tmp_path), "epochs": 4})
    run = result.run_dir
    table = rows(run)
    best_row = max(table, key=lambda r: float(r["val_dice"]))
    best = int(best_row["epoch"])
    summary = json.loads((run / "summary.json").read_text())
    card = json.loads((run / "model.json").read_text())
    assert [int(r["epoch"]) for r in table] == [1, 2, 3, 4]
    assert summary["best_epoch"] == card["best_epoch"] == result.best_epoch == best
    assert summary["verdict"]["best_epoch"] == best
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == [
        "1/4", "2/4", "3/4", "4/4",
    ]  # fmt: skip
    starred = [line for line in lines if line.startswith("epoch ") and "* best" in line]
    assert starred[-1].startswith(f"epoch {best}/4")
    assert any(line.startswith("best val_dice") and f"at epoch {best}:" in line for line in lines)
    assert f"at epoch {best} " in summary["verdict"]["message"]


def test_a_binary_run_chooses_its_threshold_on_val_unless_given_one(discs, tmp_path):
    from seglab.train.batch_metrics import THRESHOLDS

    lines: list[str] = []
    result = train(
        print_fn=lines.append, **{**tiny_train_settings(discs, tmp_path / "a"), "epochs": 3}
    )
    summary = json.loads((result.run_dir / "summary.json").read_text())
    card = json.loads((result.run_dir / "model.json").read_text())
    choice = summary["threshold"]
    assert choice["chosen"] == card["threshold"] and card["threshold"] in THRESHOLDS
    assert choice["val_dice"] >= choice["val_dice_default"]
    assert choice["chosen"] == 0.5 or choice["val_dice"] - choice["val_dice_default"] >= 0.002
    assert any(line.startswith(f"threshold {choice['chosen']:g} chosen on val") for line in lines)
    given = fast(discs, tmp_path / "b", epochs=2, threshold=0.6)
    assert json.loads((given.run_dir / "model.json").read_text())["threshold"] == 0.6
    assert json.loads((given.run_dir / "summary.json").read_text())["threshold"] is None


def test_time_limit_stops_in_time_and_keeps_the_best(discs, tmp_path):
    result = fast(discs, tmp_path, epochs=10_000, time_limit="3s")
    assert result.status == "time limit"
    assert 1 <= result.epochs < 10_000
    assert result.seconds < 3 + 4  # a step and a validation past the limit, not more epochs
    assert result.model_path.is_file()


class Poison(pl.Callback):
    """Fill the first weight with NaN after step ``step``."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.model.parameters()).fill_(float("nan"))


def test_nan_loss_stops_within_one_step_naming_step_and_terms(discs, tmp_path):
    settings = tiny_train_settings(discs, tmp_path)
    settings["epochs"] = 5
    with pytest.raises(NonFiniteLoss) as info:
        train(print_fn=None, callbacks=[Poison(step=3)], **settings)
    message = str(info.value)
    assert "step 3 " in message and "bce=nan" in message and "dice=nan" in message
    run = tmp_path / "train"
    assert (run / "checkpoints" / "last.ckpt").is_file()  # epoch 0 (2 steps) finished
    assert all(torch.isfinite(v).all() for v in load_file(run / "model.safetensors").values())
    assert json.loads((run / "summary.json").read_text())["status"].startswith("stopped")


class OutOfMemory(pl.Callback):
    def on_train_batch_start(self, *args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_suggests_a_smaller_batch(discs, tmp_path):
    with pytest.raises(SeglabError, match=r"--batch-size 2"):
        train(print_fn=None, callbacks=[OutOfMemory()], **tiny_train_settings(discs, tmp_path))


def test_images_of_mixed_and_odd_sizes_train_without_collate_errors(tmp_path):
    root = tmp_path / "mixed"
    rng = np.random.default_rng(0)
    for split, sizes in (("train", [(30, 45), (37, 21), (33, 33), (17, 50)]), ("val", [(23, 41)])):
        for i, (h, w) in enumerate(sizes):
            for sub in ("images", "masks"):
                (root / split / sub).mkdir(parents=True, exist_ok=True)
            mask = np.zeros((h, w), np.uint8)
            mask[h // 4 : h // 2, w // 4 : w // 2] = 255
            image = rng.integers(0, 80, (h, w, 3)).astype(np.uint8)
            image[mask > 0] = 200
            Image.fromarray(image).save(root / split / "images" / f"{i}.png")
            Image.fromarray(mask).save(root / split / "masks" / f"{i}.png")
    result = fast(root, tmp_path / "runs", epochs=1, batch_size=2)
    assert result.epochs == 1
    # an encoder of stride 32 on sizes like 37 x 21: padded to multiples of 32 automatically
    smp = {"name": "smp.linknet", "options": {"encoder": "resnet18", "encoder_depth": 5}}
    result = fast(root, tmp_path / "runs", epochs=1, batch_size=2, model=smp)
    info = json.loads((result.run_dir / "model.json").read_text())
    assert info["input"]["multiple"] == 32 and result.epochs == 1


def test_multiclass_masks_train_with_softmax_and_ce_dice(tmp_path):
    root = write_discs(tmp_path / "d", classes=2, splits={"train": 8, "val": 4})
    result = fast(root, tmp_path / "runs", epochs=1)
    info = json.loads((result.run_dir / "model.json").read_text())
    assert info["num_classes"] == 3 and info["out_channels"] == 3
    assert result.config.loss == "ce_dice"


@pytest.mark.parametrize("name", [n for n in OPTIMIZERS])
def test_every_optimizer_trains_without_nan(discs, tmp_path, name):
    result = fast(discs, tmp_path, epochs=1, optimizer=name, lr=None, limit_train_batches=2)
    assert math.isfinite(float(rows(result.run_dir)[0]["train_loss"]))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_trains_without_nan(discs, tmp_path, activation):
    model = {"options": {"base_width": 4, "depth": 2, "activation": activation}}
    result = fast(discs, tmp_path, epochs=1, model=model, limit_train_batches=2)
    assert math.isfinite(float(rows(result.run_dir)[0]["train_loss"]))


@pytest.mark.parametrize("init", list(INITS))
def test_every_initialisation_trains_without_nan(discs, tmp_path, init):
    result = fast(discs, tmp_path, epochs=1, model={**TINY, "init": init}, limit_train_batches=2)
    assert math.isfinite(float(rows(result.run_dir)[0]["train_loss"]))


@pytest.mark.parametrize("loss", [n for n, spec in LOSSES.items() if "binary" in spec.modes])
def test_every_binary_loss_trains_without_nan(discs, tmp_path, loss):
    result = fast(discs, tmp_path, epochs=1, loss=loss, limit_train_batches=2)
    assert math.isfinite(float(rows(result.run_dir)[0]["train_loss"]))


@pytest.mark.parametrize("loss", [n for n, spec in LOSSES.items() if "multiclass" in spec.modes])
def test_every_multiclass_loss_trains_without_nan(tmp_path, loss):
    root = write_discs(tmp_path / "d", classes=2, splits={"train": 4, "val": 2})
    result = fast(root, tmp_path / "runs", epochs=1, loss=loss, limit_train_batches=1)
    assert math.isfinite(float(rows(result.run_dir)[0]["train_loss"]))


def test_lr_find_saves_its_plot_and_uses_the_suggestion(discs, tmp_path):
    result = fast(discs, tmp_path, epochs=1, lr_find=True)
    assert (result.run_dir / "plots" / "lr_find.png").is_file()


def test_unknown_option_in_a_config_file_names_the_file_and_field(discs, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"data": {"path": str(discs)}, "epoch": 3}))
    with pytest.raises(ConfigError, match=r"run\.yaml: epoch: unknown field"):
        train(path, print_fn=None)


def test_cli_trains_from_flags_and_from_a_config_file(discs, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {"path": str(discs)},
                "model": TINY,
                "epochs": 1,
                "batch_size": 4,
                "augment": "none",
                "out": str(tmp_path / "runs"),
            }
        )
    )
    code = main(["train", "--config", str(path), "--epochs", "2", "--lr", "0.01", "-q"])
    assert code == 0
    run = tmp_path / "runs" / "train"
    assert len(rows(run)) == 2  # the flag overrides the file
    assert yaml.safe_load((run / "config.yaml").read_text())["lr"] == 0.01
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "run folder" in out
    code = main(["train", "--data", str(discs), "--optimizer", "sparseadam", "-q", "--out",
                 str(tmp_path / "refused")])  # fmt: skip
    assert code == 2
    assert "sparse" in capsys.readouterr().err
    assert not (tmp_path / "refused" / "train").exists()  # no empty run folder left behind


def test_two_process_ddp_on_cpu_writes_one_run_folder(discs, tmp_path):
    import os
    import subprocess
    import sys

    script = Path(sys.executable).parent / "seglab"
    command = [str(script), "train", "--data", str(discs), "-m", "base_width=4", "-m", "depth=2",
               "--epochs", "2", "--accelerator", "cpu", "--devices", "2", "--augment", "none",
               "--out", str(tmp_path / "runs"), "-q"]  # fmt: skip
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["train"]
    assert len(rows(tmp_path / "runs" / "train")) == 2
    assert done.stdout.count("run folder") == 1
