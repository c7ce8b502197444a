"""Learning-rate schedules by name, with an optional linear warmup.

:func:`create_scheduler` returns a :class:`ScheduledLR`: the torch scheduler, when to step it
(``interval``: ``"step"`` after every optimizer step, ``"epoch"`` after every validation) and,
for ``reduce_on_plateau``, the metric to step it with (``monitor``). That is what Lightning's
``lr_scheduler`` config needs: :meth:`ScheduledLR.lightning_config`.

=================  ========  ===============================================================
name               interval  schedule (defaults)
=================  ========  ===============================================================
reduce_on_plateau  epoch     x ``factor`` when ``monitor`` has not improved for ``patience``
                             epochs, then ``cooldown`` epochs of rest; the seed's factor 0.2,
                             patience 2, cooldown 2, mode min on ``val_loss``
cosine             step      cosine from the lr to ``eta_min`` (0) over the run
onecycle           step      Smith's one-cycle: up to ``max_lr`` (the optimizer's lr) over
                             ``pct_start`` (0.3) of the run, then down to lr / 25 / 1e4
poly               step      ``lr * (1 - t / T) ** power``, power 0.9 (DeepLab)
step               step      x ``gamma`` (0.1) every ``step_size`` epochs (epochs // 3)
none               step      constant
=================  ========  ===============================================================

Lengths are given in epochs and converted with ``steps_per_epoch`` (optimizer steps per epoch:
batches / gradient accumulation); step-interval schedules must not be stepped more than
``epochs * steps_per_epoch`` times (onecycle raises, cosine would rise again).

Warmup (``warmup_steps`` or ``warmup_epochs``, not both): the lr rises linearly as
``lr * (k + 1) / (W + 1)`` for ``k = 0..W-1`` and the schedule above runs over what remains
(``SequentialLR`` of ``LinearLR`` and the schedule). ``onecycle`` has its own warmup: the
warmup length becomes its ``pct_start``. ``reduce_on_plateau`` is stepped once per epoch, so
its warmup is counted in epochs (``warmup_steps`` rounded up to whole epochs): the validation
results of warmup epochs are not compared, and the patience count starts after the warmup.

>>> import torch
>>> opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
>>> s = create_scheduler("cosine", opt, epochs=2, steps_per_epoch=5, warmup_steps=2)
>>> s.interval, s.monitor
('step', None)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch.optim import lr_scheduler as sched

from seglab.errors import ConfigError


class ScheduledLR(NamedTuple):
    """A scheduler and how the training loop must step it."""

    scheduler: sched.LRScheduler
    interval: str  # "step" or "epoch"
    monitor: str | None  # metric passed to scheduler.step(value); None: step() with no value

    @property
    def needs_metric(self) -> bool:
        """Whether ``scheduler.step`` takes the monitored metric (reduce_on_plateau)."""
        return self.monitor is not None

    def lightning_config(self) -> dict[str, Any]:
        """The ``lr_scheduler`` dict for ``LightningModule.configure_optimizers``."""
        config: dict[str, Any] = {
            "scheduler": self.scheduler,
            "interval": self.interval,
            "frequency": 1,
        }
        if self.monitor is not None:
            config["monitor"] = self.monitor
        return config


class WarmupReduceLROnPlateau(sched.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` after ``warmup_epochs`` epochs of linear warmup.

    The first ``warmup_epochs`` calls of ``step(metric)`` raise the lr to
    ``lr * (k + 1) / (warmup_epochs + 1)`` and ignore the metric (an lr still climbing
    would look like a plateau); later calls are plain ``ReduceLROnPlateau`` steps.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, warmup_epochs: int, **kwargs: Any):
        super().__init__(optimizer, **kwargs)
        self.warmup_epochs = warmup_epochs
        self.warmup_done = 0
        self.target_lrs = [group["lr"] for group in optimizer.param_groups]
        self._set_warmup_lr()

    def _set_warmup_lr(self) -> None:
        factor = (self.warmup_done + 1) / (self.warmup_epochs + 1)
        for group, lr in zip(self.optimizer.param_groups, self.target_lrs, strict=True):
            group["lr"] = lr * factor
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        if self.warmup_done < self.warmup_epochs:
            self.warmup_done += 1
            self.last_epoch += 1
            self._set_warmup_lr()
            return
        super().step(metrics)


# ----------------------------------------------------------------------------- builders
# each takes (optimizer, total steps after warmup, steps_per_epoch, epochs, **options)


def _cosine(opt, total, steps_per_epoch, epochs, *, eta_min):
    return sched.CosineAnnealingLR(opt, T_max=total, eta_min=eta_min)


def _poly(opt, total, steps_per_epoch, epochs, *, power):
    return sched.PolynomialLR(opt, total_iters=total, power=power)


def _step(opt, total, steps_per_epoch, epochs, *, step_size, gamma):
    step_size = max(1, epochs // 3) if step_size is None else step_size
    if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
        raise ConfigError(f"step_size must be a whole number of epochs >= 1, got {step_size!r}")
    return sched.StepLR(opt, step_size=step_size * steps_per_epoch, gamma=gamma)


def _none(opt, total, steps_per_epoch, epochs):
    return sched.ConstantLR(opt, factor=1.0, total_iters=0)


def _onecycle(opt, total, steps_per_epoch, epochs, *, max_lr, cycle_momentum, **kw):
    if max_lr is None:
        max_lr = [group["lr"] for group in opt.param_groups]
    if cycle_momentum is None:  # cycle it where the optimizer has one (torch raises otherwise)
        defaults = opt.defaults
        cycle_momentum = "betas" in defaults or defaults.get("momentum", 0) > 0
    return sched.OneCycleLR(
        opt, max_lr=max_lr, total_steps=total, cycle_momentum=cycle_momentum, **kw
    )


@dataclass(frozen=True)
class SchedulerSpec:
    """A registered schedule: its builder, its options with defaults, when it is stepped."""

    build: Callable[..., sched.LRScheduler] | None  # None: reduce_on_plateau (built apart)
    options: dict[str, Any]
    interval: str


SCHEDULERS: dict[str, SchedulerSpec] = {
    "reduce_on_plateau": SchedulerSpec(
        None,
        {
            "monitor": "val_loss",
            "mode": "min",
            "factor": 0.2,
            "patience": 2,
            "cooldown": 2,
            "threshold": 1e-4,
            "threshold_mode": "rel",
            "min_lr": 0.0,
        },
        "epoch",
    ),
    "cosine": SchedulerSpec(_cosine, {"eta_min": 0.0}, "step"),
    "onecycle": SchedulerSpec(
        _onecycle,
        {
            "max_lr": None,
            "pct_start": 0.3,
            "anneal_strategy": "cos",
            "div_factor": 25.0,
            "final_div_factor": 1e4,
            "three_phase": False,
            "cycle_momentum": None,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
        "step",
    ),
    "poly": SchedulerSpec(_poly, {"power": 0.9}, "step"),
    "step": SchedulerSpec(_step, {"step_size": None, "gamma": 0.1}, "step"),
    "none": SchedulerSpec(_none, {}, "step"),
}


def _count(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def create_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int,
    warmup_steps: int = 0,
    warmup_epochs: float = 0,
    **options: Any,
) -> ScheduledLR:
    """The schedule ``name`` from :data:`SCHEDULERS` on ``optimizer`` (see the module docs).

    Parameters
    ----------
    name:
        A key of :data:`SCHEDULERS`.
    optimizer:
        The optimizer whose ``lr`` is the base (for onecycle: the peak) learning rate.
    epochs, steps_per_epoch:
        Length of the run; ``steps_per_epoch`` counts optimizer steps.
    warmup_steps, warmup_epochs:
        Linear warmup length, in optimizer steps or in (possibly fractional) epochs.
    options:
        The schedule's options (table in the module docs); unknown ones raise.

    Raises
    ------
    ConfigError
        Unknown name or option (the valid ones are listed), bad lengths, a warmup as long as
        the run, or a value torch refuses.
    """
    spec = _scheduler_spec(name, options)
    warmup = _warmup_length(epochs, steps_per_epoch, warmup_steps, warmup_epochs)
    kw = {**spec.options, **options}
    try:
        return _build_schedule(
            spec,
            optimizer,
            kw,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            warmup=warmup,
            pct_start_given="pct_start" in options,
        )
    except (ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"scheduler {name!r}: {exc}") from exc


def _scheduler_spec(name: str, options: dict[str, Any]) -> SchedulerSpec:
    """The registered schedule ``name``; a ConfigError listing the valid names or options."""
    spec = SCHEDULERS.get(name)
    if spec is None:
        close = difflib.get_close_matches(str(name), SCHEDULERS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown scheduler {name!r}{hint}; valid names: {', '.join(SCHEDULERS)}")
    for key in options:
        if key not in spec.options:
            valid = ", ".join(["warmup_steps", "warmup_epochs", *spec.options])
            raise ConfigError(f"scheduler {name!r} has no option {key!r}; valid options: {valid}")
    return spec


def _warmup_length(
    epochs: int, steps_per_epoch: int, warmup_steps: int, warmup_epochs: float
) -> int:
    """Check the run and warmup lengths; return the warmup in optimizer steps."""
    _count("epochs", epochs, minimum=1)
    _count("steps_per_epoch", steps_per_epoch, minimum=1)
    _count("warmup_steps", warmup_steps, minimum=0)
    if isinstance(warmup_epochs, bool) or not warmup_epochs >= 0:
        raise ConfigError(f"warmup_epochs must be >= 0, got {warmup_epochs!r}")
    if warmup_steps and warmup_epochs:
        raise ConfigError("give warmup_steps or warmup_epochs, not both")
    return warmup_steps or round(warmup_epochs * steps_per_epoch)


def _build_schedule(
    spec: SchedulerSpec,
    optimizer: torch.optim.Optimizer,
    kw: dict[str, Any],
    *,
    epochs: int,
    steps_per_epoch: int,
    warmup: int,
    pct_start_given: bool,
) -> ScheduledLR:
    """Build the schedule with its warmup (see the module docs); torch may raise ValueError."""
    total = epochs * steps_per_epoch
    if spec.build is None:
        monitor = kw.pop("monitor")
        return ScheduledLR(
            _plateau(optimizer, warmup, steps_per_epoch, epochs, kw), "epoch", monitor
        )
    if warmup >= total:
        raise ConfigError(
            f"warmup ({warmup} steps) must be shorter than the run ({epochs} epochs x "
            f"{steps_per_epoch} steps = {total}); shorten the warmup"
        )
    if spec.build is _onecycle and warmup:
        if pct_start_given:
            raise ConfigError("onecycle: give pct_start or a warmup, not both")
        kw["pct_start"] = warmup / total
        return ScheduledLR(_onecycle(optimizer, total, steps_per_epoch, epochs, **kw), "step", None)
    if spec.build is _onecycle or not warmup:
        return ScheduledLR(
            spec.build(optimizer, total, steps_per_epoch, epochs, **kw), "step", None
        )
    ramp = sched.LinearLR(optimizer, start_factor=1 / (warmup + 1), total_iters=warmup)
    main = spec.build(optimizer, total - warmup, steps_per_epoch, epochs, **kw)
    combined = sched.SequentialLR(optimizer, [ramp, main], milestones=[warmup])
    return ScheduledLR(combined, "step", None)


def _plateau(optimizer, warmup_steps, steps_per_epoch, epochs, kw) -> sched.ReduceLROnPlateau:
    warmup_epochs = math.ceil(warmup_steps / steps_per_epoch)
    if warmup_epochs >= epochs:
        raise ConfigError(
            f"warmup ({warmup_epochs} epochs) must be shorter than the run ({epochs} epochs)"
        )
    if warmup_epochs:
        return WarmupReduceLROnPlateau(optimizer, warmup_epochs=warmup_epochs, **kw)
    return sched.ReduceLROnPlateau(optimizer, **kw)
