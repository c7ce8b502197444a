"""Time drives a run that has a time limit and no fixed number of epochs.

The run's progress is the elapsed share of its budget, measured on this machine as it goes --
not a number of epochs planned from a timed probe, which a busy machine makes 2-3x wrong either
way. :class:`TimeDriven` is the Lightning callback that does it:

* **the schedule** (:mod:`seglab.optim.curves`) sets the learning rate of every optimizer step
  from the fraction ``elapsed / training time``, so it is complete (at its final value) when
  the training time is up, however fast the steps were;
* **validation by time**: a training "epoch" is a round that ends when a validation is due
  (:class:`RoundSignal` stops the train sampler, :class:`seglab.train.data.RoundSampler`); the
  interval keeps validation under a tenth of the budget
  (:func:`seglab.train.budget.validation_interval`);
* **the end**: training stops when what is left of the budget is the margin the final
  validation, the checkpoint, the model and the plots need (measured from the rounds so far:
  :func:`seglab.train.budget.training_end`), a step early when the next one would end past
  it, so the run ends inside the budget having used nearly all of it;
* **resume**: the budget spent, the measured costs and the schedule's progress are in the
  callback's state, saved in every checkpoint.

Under DDP, rank 0's clock decides for every process (progress and stops are broadcast), so
every rank steps with the same learning rate and ends rounds at the same batch.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl

from seglab.optim.curves import TimeSchedule
from seglab.train import budget as _budget


class RoundSignal:
    """Shared by :class:`TimeDriven` (which sets it) and the train sampler (which reads it):
    ``over`` ends the current round, so Lightning validates; ``round`` counts the rounds
    finished, which numbers the sampler's passes (restored from the checkpoint on resume,
    before Lightning starts iterating -- it does so before it sets the sampler's epoch)."""

    def __init__(self) -> None:
        self.over = False
        self.round = 0


class TimeDriven(pl.Callback):
    """Drive a run by its time budget (module docstring).

    Parameters
    ----------
    seconds:
        The budget: the whole run, from ``started`` (the clock when the run began, so setup
        counts) to the summary.
    signal:
        Set to end a round; the train sampler watches it.
    schedule:
        The learning-rate schedule over progress, or ``None`` when another schedule (e.g.
        ``reduce_on_plateau``) or none sets the learning rate.
    started:
        ``budget.now()`` (:mod:`seglab.train.budget`) when the run started.
    first_pause:
        Estimated seconds of one validation with its checkpoint, until one is measured.
    clock:
        Replaces ``budget.now`` (tests); ``None`` reads ``budget.now()`` at each call.
    """

    def __init__(
        self,
        seconds: float,
        signal: RoundSignal,
        *,
        schedule: TimeSchedule | None = None,
        started: float | None = None,
        first_pause: float = 1.0,
        clock: Callable[[], float] | None = None,
    ):
        self.seconds = float(seconds)
        self.signal = signal
        self.schedule = schedule
        self._clock = clock
        self.started = self.clock() if started is None else started
        self.spent_before = 0.0  # budget spent by earlier processes of this run (resume)
        self.pause = max(0.0, first_pause)  # the last validation + best-model writing
        self.save = 0.0  # slowest checkpoint so far
        self.measured = False
        self.fraction = 0.0  # schedule progress, monotone
        self.step = 0.0  # a training step's seconds (moving average, loading included)
        self._last_step_end: float | None = None
        self.round_start = self.started
        self._pause_start: float | None = None
        self._save_start: float | None = None
        self.stopped = False
        # a checkpoint of this very callback (Lightning's lr finder restores one before the
        # fit) restores nothing: the budget already counts that time
        self._token = uuid.uuid4().hex

    def clock(self) -> float:
        return (self._clock or _budget.now)()

    # -- the budget
    def elapsed(self) -> float:
        """Seconds of the budget spent, earlier processes of the run included."""
        return self.spent_before + self.clock() - self.started

    def training_end(self) -> float:
        """The elapsed seconds at which training stops, from the last pause measured."""
        return _budget.training_end(self.seconds, pause=self.pause + self.save)

    def interval(self) -> float:
        """Seconds of training between validations."""
        return _budget.validation_interval(self.seconds, pause=self.pause + self.save)

    def used(self) -> float:
        """The share of the budget spent so far."""
        return self.elapsed() / self.seconds

    # -- checkpointed state
    def state_dict(self) -> dict[str, Any]:
        return {
            "spent": self.elapsed(),
            "pause": self.pause,
            "save": self.save,
            "measured": self.measured,
            "fraction": self.fraction,
            "rounds": self.signal.round,
            "step": self.step,
            "token": self._token,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("token") == self._token:
            return
        self.spent_before = float(state_dict.get("spent", 0.0))
        self.pause = float(state_dict.get("pause", self.pause))
        self.save = float(state_dict.get("save", 0.0))
        self.measured = bool(state_dict.get("measured", False))
        self.fraction = float(state_dict.get("fraction", 0.0))
        self.signal.round = int(state_dict.get("rounds", 0))
        self.step = float(state_dict.get("step", 0.0))

    # -- hooks
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self._apply(trainer)  # the stored progress: 0, or where a resumed run stopped

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.signal.over = False
        self.round_start = self.clock()
        self._last_step_end = None
        if self._save_start is not None:  # the checkpoint written after the last validation
            self.save = max(self.save, self.round_start - self._save_start)
            self._save_start = None

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        now = self.clock()
        since = now - (self._last_step_end if self._last_step_end is not None else self.round_start)
        self.step = since if self.step == 0 else 0.7 * self.step + 0.3 * since
        self._last_step_end = now
        self._decide(trainer)
        self._apply(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._pause_start = self.clock()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after the validation and the best model's writing (RunWriter comes first), before
        # the checkpoint (Lightning runs ModelCheckpoint last): measured here, the pause is in
        # the checkpoint, so a resumed run budgets as the uninterrupted one did
        end = self.clock()
        self.signal.round += 1
        if self._pause_start is not None:
            # the latest: the first validation also reads and decodes the val images once
            self.pause = end - self._pause_start
            self.measured = True
            self._pause_start = None
        self._save_start = end

    # -- decisions
    def _decide(self, trainer: pl.Trainer) -> None:
        """Rank 0 decides the progress, the end of the round and of training; every rank
        takes its decision."""
        elapsed = self.elapsed()
        end = self.training_end()
        # the progress at the end of the next step, which that step's learning rate is for
        fraction = max(self.fraction, min(1.0, (elapsed + self.step) / end))
        stop = elapsed + self.step >= end  # the next step would end past it
        round_over = stop or self.clock() - self.round_start >= self.interval()
        if trainer.world_size > 1:
            fraction, stop, round_over = trainer.strategy.broadcast((fraction, stop, round_over))
        self.fraction = fraction
        if round_over:
            self.signal.over = True
        if stop:
            self.stopped = True
            trainer.should_stop = True

    def _apply(self, trainer: pl.Trainer) -> None:
        """The schedule's learning rate (and momentum) for the next optimizer step."""
        if self.schedule is None:
            return
        step = trainer.global_step
        momentum = self.schedule.momentum(self.fraction)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = self.schedule.lr(group["initial_lr"], self.fraction, step)
                if momentum is not None:
                    _set_momentum(group, momentum)


def _set_momentum(group: dict[str, Any], momentum: float) -> None:
    """``onecycle``'s momentum on a parameter group that has one (Adam's beta1 or SGD's)."""
    if "betas" in group:
        group["betas"] = (momentum, *group["betas"][1:])
    elif group.get("momentum", 0) > 0:
        group["momentum"] = momentum


def budget_line(budget: TimeDriven) -> str:
    """``"38% of 600 s"``: the share of the budget spent, for the epoch lines."""
    return f"{math.floor(100 * budget.used())}% of {budget.seconds:.0f} s"
