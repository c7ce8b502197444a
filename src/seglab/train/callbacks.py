"""Callbacks that write the run folder and keep a run inside its budget.

* :class:`RunWriter`: one ``metrics.csv`` row per epoch, a printed epoch line, the best weights
  by ``monitor`` as ``model.safetensors`` + ``model.json`` (written atomically, so an
  interrupted run never leaves half a file), and, on Ctrl-C, ``checkpoints/last.ckpt`` when no
  epoch has finished yet.
* :class:`TimeBudget`: stops before an epoch that would not finish within ``--time-limit``
  (estimated from the epochs so far), or at once when the limit is passed mid-epoch.
* :class:`AtomicCheckpointIO`: checkpoints written beside their place and renamed into it.
* :class:`EpochSeed`: reseeds torch before each batch from ``(seed, epoch, batch)`` so dropout
  and other torch randomness are the same after a resume.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from seglab.core.files import atomic_write
from seglab.models.card import ModelCard
from seglab.train.batch_metrics import THRESHOLDS, choose_threshold
from seglab.train.timing import budget_line

COLUMNS = (
    "epoch",
    "lr",
    "train_loss",
    "val_loss",
    "val_dice",
    "val_soft_dice",
    "val_iou",
    "seconds",
    "val_dice_sd",
)
"""The columns of ``metrics.csv``, in order. ``epoch`` counts from 1, as every message does;
``val_dice_sd`` is the spread (standard deviation) of the per-image val Dice."""

METRICS = ("train_loss", "val_loss", "val_dice", "val_soft_dice", "val_iou", "val_dice_sd")
"""The columns of ``metrics.csv`` read from the epoch's logged metrics."""

INSTANCE_COLUMNS = ("val_ap",)
"""What an instance run's ``metrics.csv`` adds: ``val_ap``, the val images' mean DSB-2018 mean
AP (IoU 0.5:0.05:0.95) at the card's default cut."""

ADVERSARIAL_COLUMNS = ("adv_d_loss", "adv_g_loss")
"""What an adversarial run's (``--adversarial``) ``metrics.csv`` adds: the epoch means of the
discriminator's loss and of the segmenter's adversarial term (before its weight)."""


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """Save ``model``'s weights as safetensors (atomically)."""
    from safetensors.torch import save_model

    atomic_write(path, lambda tmp: save_model(model, str(tmp)))


def _value(metrics: dict[str, Any], key: str) -> float:
    value = metrics.get(key)
    return float(value) if value is not None else math.nan


class RunWriter(pl.Callback):
    """Writes ``metrics.csv``, the best ``model.safetensors`` + ``model.json`` and prints epochs.

    ``card`` is what rebuilds the model (:class:`~seglab.models.card.ModelCard`, made by
    :func:`seglab.models.build.model_card`); it is written stamped with the best epoch, score
    and ``monitor``. ``print_fn`` receives one line per epoch (``None``: quiet).
    """

    def __init__(
        self,
        run_dir: Path,
        card: ModelCard,
        *,
        monitor: str = "val_dice",
        print_fn: Callable[[str], None] | None = None,
        budget: Any = None,
    ):
        self.run_dir = Path(run_dir)
        self.card = card
        extra = INSTANCE_COLUMNS if card.task == "instance" else ()
        self.columns, self.metrics = (*COLUMNS, *extra), (*METRICS, *extra)
        self.monitor = monitor
        self.mode = "min" if monitor.endswith("loss") else "max"
        self.print_fn = print_fn
        self.budget = budget  # a TimeDriven budget: epoch lines say how much of it is spent
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.threshold: dict[str, float] | None = None  # chosen on val at the best epoch
        self._epoch_start = 0.0
        self._lr = math.nan
        self._pruned = False

    # -- state kept in checkpoints, so a resumed run knows its best so far
    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "threshold": self.threshold}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
        self.best_epoch = state_dict.get("best_epoch")
        self.threshold = state_dict.get("threshold")

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        # the module, not the card, knows of a discriminator (it is no part of the model)
        if getattr(pl_module, "adversary", None) is not None and "adv_d_loss" not in self.columns:
            self.columns = (*self.columns, *ADVERSARIAL_COLUMNS)
            self.metrics = (*self.metrics, *ADVERSARIAL_COLUMNS)

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.csv"

    def _prune(self, finished: int) -> None:
        """Keep the rows of the first ``finished`` epochs (a resumed run redoes the rest)."""
        rows = []
        if self.metrics_path.exists():
            with open(self.metrics_path, newline="") as f:
                # a row a killed process left half-written (older runs) has no whole epoch
                rows = [r for r in csv.DictReader(f) if str(r.get("epoch")).isdigit()]
            # older runs counted epochs from 0 in metrics.csv
            first = 0 if rows and rows[0].get("epoch") == "0" else 1
            rows = [r for r in rows if int(r["epoch"]) < finished + first]
        atomic_write(self.metrics_path, lambda tmp: _write_rows(tmp, rows, self.columns))
        self._pruned = True

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self._pruned and trainer.is_global_zero:  # the loop state is restored by now
            self._prune(trainer.current_epoch)
        self._epoch_start = time.perf_counter()
        optimizers = trainer.optimizers
        self._lr = float(optimizers[0].param_groups[0]["lr"]) if optimizers else math.nan

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = trainer.callback_metrics
        epoch = trainer.current_epoch + 1  # counted from 1 in every file and message
        row: dict[str, Any] = {"epoch": epoch, "lr": self._lr}
        row.update({key: _value(metrics, key) for key in self.metrics})
        row["seconds"] = time.perf_counter() - self._epoch_start
        line = {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
        with open(self.metrics_path, newline="") as f:
            rows = list(csv.DictReader(f))
        # rewritten whole and renamed into place: a process killed here leaves the old file
        atomic_write(self.metrics_path, lambda tmp: _write_rows(tmp, [*rows, line], self.columns))
        value = row.get(self.monitor, math.nan)
        if self.monitor not in row or math.isnan(value):  # no validation: follow the train loss
            value = row["train_loss"]
        improved = not math.isnan(value) and (
            self.best is None or (value > self.best if self.mode == "max" else value < self.best)
        )
        if improved:
            self.best, self.best_epoch = value, epoch
            self.save_best(pl_module)
        if self.print_fn is not None:
            self.print_fn(self._line(trainer, row, improved))

    def save_best(self, pl_module: pl.LightningModule) -> None:
        """Write the module's network as the run's best model, with its ``model.json`` (and
        the threshold chosen on this validation, when the module scored several).

        The card is written first: a process killed between the two files leaves weights only
        beside a card (a first best epoch killed there leaves a card and no weights, which
        readers refuse by name), so wherever ``model.safetensors`` is, ``predict`` works."""
        card = self.card.with_best(self.best_epoch, self.best, self.monitor)
        means = getattr(pl_module, "threshold_means", None)
        if means is not None:
            chosen, score = choose_threshold(means, default=card.threshold)
            default = (
                means[THRESHOLDS.index(card.threshold)] if card.threshold in THRESHOLDS else None
            )
            self.threshold = {"chosen": chosen, "val_dice": score, "val_dice_default": default}
            card = replace(card, threshold=chosen)
        card.write(self.run_dir / "model.json")
        save_weights(pl_module.model, self.run_dir / "model.safetensors")

    def _line(self, trainer: pl.Trainer, row: dict[str, Any], improved: bool) -> str:
        if self.budget is not None and hasattr(self.budget, "used"):
            parts = [f"epoch {row['epoch']} ({budget_line(self.budget)})"]
        else:
            total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else "?"
            parts = [f"epoch {row['epoch']}/{total}"]
        parts.append(f"lr {row['lr']:.3g}")
        names = {
            "train_loss": "train loss",
            "val_loss": "val loss",
            "val_dice": "val Dice",
            "val_iou": "IoU",
            "val_ap": "val AP",
        }
        for key, label in names.items():
            if key in row and not math.isnan(row[key]):
                parts.append(f"{label} {row[key]:.4f}")
        parts.append(f"{row['seconds']:.1f} s")
        return "  ".join(parts) + ("  * best" if improved else "")

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        last = self.run_dir / "checkpoints" / "last.ckpt"
        if isinstance(exception, KeyboardInterrupt) and not last.exists():
            trainer.save_checkpoint(last)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, writing ``NAME.tmp`` beside the checkpoint and renaming it
    into place. Lightning's own goes through a temporary file of fsspec's in the system's temp
    folder, then a move, which is a copy when that folder is on another file system: a process
    killed during it would leave half a ``last.ckpt``."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def _write_rows(path: Path, rows: list[dict[str, Any]], columns: tuple[str, ...] = COLUMNS) -> None:
    """``metrics.csv``'s header (``columns``) and ``rows`` to ``path``."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


class TimeBudget(pl.Callback):
    """A cap on a run with ``--epochs`` and ``--time-limit``: stop training when the next epoch
    would not finish within ``seconds`` of the fit's start, or mid-epoch when what is left is
    the validation that follows (the slowest so far, else ``first_val``, with a quarter more).
    """

    def __init__(self, seconds: float, *, first_val: float = 0.0):
        self.seconds = seconds
        self.start = 0.0
        self.epoch_start = 0.0
        self.longest = 0.0
        self.val = first_val
        self._val_start: float | None = None
        self.stopped_early = False

    def elapsed(self) -> float:
        """Seconds since the fit started."""
        return time.perf_counter() - self.start

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_start = time.perf_counter()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._val_start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._val_start is not None:
            self.val = max(self.val, time.perf_counter() - self._val_start)
            self._val_start = None

    def _stop(self, trainer: pl.Trainer, decision: bool) -> None:
        # rank 0's clock decides for every process (as Lightning's Timer), so DDP ranks agree
        if trainer.world_size > 1:
            decision = bool(trainer.strategy.broadcast(decision))
        if decision:
            self.stopped_early = True
            trainer.should_stop = True

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        self._stop(trainer, self.elapsed() + 1.25 * self.val > self.seconds)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.longest = max(self.longest, time.perf_counter() - self.epoch_start)
        self._stop(trainer, self.elapsed() + self.longest > self.seconds)


class EpochSeed(pl.Callback):
    """Reseed torch from ``(seed, epoch, batch)`` before every training batch, so dropout and
    other torch randomness are the same after a resume, wherever the run was cut."""

    def __init__(self, seed: int):
        self.seed = seed

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        torch.manual_seed((self.seed * 100_003 + trainer.current_epoch) * 1_000_003 + batch_idx)
