"""Pruning a trial from its validation curve: the pruners ``seglab tune`` offers and the
Lightning callback that reports a trial's curve to Optuna and stops the run when told.

A trial's curve is reported against the share of its time budget spent, in tenths (steps 10,
20, ... 100): every trial of a study has the same budget, and a time-driven run's schedule
follows that share (:mod:`seglab.train.timing`), so two trials are compared at the same point
of their schedules whatever their speed in epochs. The value reported at a step is the trial's
best so far (a val Dice on a dozen images is noisy; the best is what the run keeps).
"""

from __future__ import annotations

import math
import time
from typing import Any

import lightning.pytorch as pl

from seglab.errors import ConfigError

PRUNERS = ("median", "hyperband", "none")
STEPS = 10
"""Tenths of a trial's budget: the steps its curve is reported at."""


def make_pruner(name: str, *, startup: int = 2):
    """Optuna's pruner ``name``: ``median`` (a trial below the median of the others at the same
    share of its budget stops, after ``startup`` finished trials and 30 % of its budget),
    ``hyperband`` (successive halving at 10 %, 30 % and 90 % of the budget) or ``none``."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=startup, n_warmup_steps=30, interval_steps=10, n_min_trials=2
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=10, max_resource=100, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner {name!r}: expected one of {', '.join(PRUNERS)}")


class TrialReporter(pl.Callback):
    """Reports a run's best ``monitor`` so far to an Optuna ``trial`` at each tenth of
    ``budget`` seconds (counted from ``started``, a :func:`time.perf_counter` value) and stops
    training when the trial's pruner says so. ``stop_reason`` is then ``pruned`` (the run's
    status) and ``pruned_at`` the share of the budget spent."""

    def __init__(
        self, trial: Any, *, monitor: str, budget: float, started: float | None = None
    ) -> None:
        self.trial = trial
        self.monitor = monitor
        self.maximize = not monitor.endswith("loss")
        self.budget = float(budget)
        self.started = time.perf_counter() if started is None else started
        self.best: float | None = None
        self.reported = 0
        self.stop_reason: str | None = None
        self.pruned_at: float | None = None

    def share(self) -> float:
        """The share of the budget spent so far."""
        return (time.perf_counter() - self.started) / self.budget if self.budget > 0 else 1.0

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.stop_reason is not None:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        if math.isfinite(value) and (
            self.best is None or (value > self.best if self.maximize else value < self.best)
        ):
            self.best = value
        if self.best is None:
            return
        step = min(STEPS, int(self.share() * STEPS))
        for tenth in range(self.reported + 1, step + 1):
            self.trial.report(self.best, tenth * (100 // STEPS))
        if step <= self.reported:
            return
        self.reported = step
        # at the end of its budget a trial has nothing left to save: it finishes
        if step < STEPS and self.trial.should_prune():
            self.stop_reason, self.pruned_at = "pruned", self.share()
            trainer.should_stop = True
