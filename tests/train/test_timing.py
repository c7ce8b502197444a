"""Time drives a run with a time limit (seglab.train.timing), on an injected clock: a machine
whose steps cost what the test says, a probe 3x wrong either way, a machine that slows down
half-way, an interrupted and resumed run, and DDP on CPU."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from seglab.api import train
from seglab.train import budget, recipe
from seglab.train.budget import training_end, validation_interval
from tests.builders import write_discs

pytestmark = pytest.mark.slow  # each test trains a tiny network for a few hundred steps

BUDGET = 60.0  # seconds on the fake clock
STEP_S = 0.25  # what one training step costs on the simulated machine
VAL_S = 0.125  # what one validation image costs (binary fractions: exact sums)


class FakeClock:
    """A clock that only the simulated machine moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Machine(pl.Callback):
    """Moves the fake clock as a machine with these costs would, and records each step's lr.

    ``slows_at``: from this share of the budget on, steps cost 3x (a busy machine).
    """

    def __init__(
        self,
        clock: FakeClock,
        *,
        slows_at: float | None = None,
        stop_at: int = -1,
        step_s: float = STEP_S,
    ):
        self.clock, self.slows_at, self.stop_at, self.step_s = clock, slows_at, stop_at, step_s
        self.start = clock.t
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.stop_at:
            raise KeyboardInterrupt
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

    def on_train_batch_end(self, trainer, *args):
        slow = self.slows_at is not None and self.clock.t - self.start > self.slows_at * BUDGET
        self.clock.t += self.step_s * (3 if slow else 1)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
        self.clock.t += VAL_S * len(batch[0])


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(budget, "now", fake)
    return fake


def probe_off_by(factor: float):
    """A probe that says steps and validation images cost ``factor`` x what they do."""

    def probe(config, **kwargs):
        return STEP_S * factor, VAL_S * factor

    return probe


def settings(root: Path, out: Path, **options) -> dict:
    return {
        "data": root,
        "model": {"name": "unet", "options": {"base_width": 4, "depth": 2}},
        "out": out,
        "batch_size": 4,
        "augment": "none",
        "workers": 0,
        "time_limit": BUDGET,
        "scheduler": "cosine",
        "deterministic": True,
        "print_fn": None,
        **options,
    }


def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    ("factor", "slows_at", "step_s"),
    [(1 / 3, None, STEP_S), (3.0, None, STEP_S), (1.0, 0.5, STEP_S), (1.0, None, 2.0)],
    ids=["probe-3x-optimistic", "probe-3x-pessimistic", "machine-slows-half-way", "long-steps"],
)
def test_the_run_ends_inside_its_budget_having_used_95_percent(
    discs, tmp_path, clock, monkeypatch, factor, slows_at, step_s
):
    monkeypatch.setattr(recipe, "timed_probe", probe_off_by(factor))
    machine = Machine(clock, slows_at=slows_at, step_s=step_s)
    result = train(callbacks=[machine], **settings(discs, tmp_path))
    spent = clock.t - machine.start
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert result.status == "completed"
    assert 0.95 * BUDGET <= spent <= BUDGET
    assert summary["budget_used"] == pytest.approx(spent / BUDGET, abs=1e-3)
    # the schedule is complete: the last steps ran at the final (cosine: zero) learning rate
    base = machine.lrs[0]
    assert machine.lrs[-1] < 0.01 * base and max(machine.lrs) == pytest.approx(base)
    assert all(a >= b for a, b in zip(machine.lrs, machine.lrs[1:], strict=False))
    table = rows(result.run_dir)
    assert 5 <= len(table) <= 20  # validations at a cadence set by time
    assert [int(r["epoch"]) for r in table] == list(range(1, len(table) + 1))
    assert summary["best_epoch"] in [int(r["epoch"]) for r in table]


def test_the_lr_finder_and_a_slow_setup_count_once(discs, tmp_path, clock, monkeypatch):
    def slow_probe(config, **kwargs):  # setup takes 10 s of the budget
        clock.t += 10.0
        return STEP_S, VAL_S

    monkeypatch.setattr(recipe, "timed_probe", slow_probe)
    machine = Machine(clock)
    result = train(callbacks=[machine], **settings(discs, tmp_path, lr_find=True))
    spent = clock.t - machine.start
    assert result.status == "completed"
    assert 0.95 * BUDGET <= spent <= BUDGET
    assert (result.run_dir / "plots" / "lr_find.png").is_file()


def test_validation_cadence_keeps_validation_under_a_tenth_of_the_budget():
    assert validation_interval(600, pause=1.0) == pytest.approx(training_end(600, pause=1) / 20)
    assert validation_interval(600, pause=10.0) == pytest.approx(100.0)  # 10 s of 100 s
    assert training_end(600, pause=10.0) == pytest.approx(600 - 12.5 - 2)
    assert training_end(10, pause=100.0) == pytest.approx(1.0)  # a tenth trains, whatever


def test_interrupted_and_resumed_run_is_the_uninterrupted_run(tmp_path, clock, monkeypatch):
    monkeypatch.setattr(recipe, "timed_probe", probe_off_by(1.0))
    root = write_discs(tmp_path / "d", splits={"train": 12, "val": 4})
    options = {"augment": "default", "crop_size": 24}
    whole_machine = Machine(clock)
    whole = train(callbacks=[whole_machine], **settings(root, tmp_path / "a", **options))
    cut = train(callbacks=[Machine(clock, stop_at=70)], **settings(root, tmp_path / "b", **options))
    assert cut.status == "interrupted"
    ckpt = cut.run_dir / "checkpoints" / "last.ckpt"
    done_steps = torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"]
    resumed_machine = Machine(clock)
    resumed = train(print_fn=None, resume=cut.run_dir, callbacks=[resumed_machine])
    assert resumed.status == "completed"
    a, b = rows(whole.run_dir), rows(resumed.run_dir)
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b]
    for key in ("lr", "train_loss", "val_dice"):
        assert [r[key] for r in a] == [r[key] for r in b], key
    # the resumed process took the steps the budget had left, at the same learning rates
    assert 0 < done_steps < len(whole_machine.lrs)
    assert resumed_machine.lrs == whole_machine.lrs[done_steps:]
    summary = json.loads((resumed.run_dir / "summary.json").read_text())
    assert 0.95 <= summary["budget_used"] <= 1.0


def test_time_driven_ddp_on_cpu_ends_in_its_budget(tmp_path):
    script = Path(sys.executable).parent / "seglab"
    root = write_discs(tmp_path / "d", splits={"train": 8, "val": 4})
    command = [str(script), "train", "--data", str(root), "-m", "base_width=4", "-m", "depth=2",
               "--time-limit", "40s", "--accelerator", "cpu", "--devices", "2", "--augment",
               "none", "--out", str(tmp_path / "runs"), "-q"]  # fmt: skip
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    run = tmp_path / "runs" / "train"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["budget_used"] <= 1.0
    assert len(rows(run)) >= 2
