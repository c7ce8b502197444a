"""Learning-rate schedules as functions of the run's progress, for runs that time drives.

With ``--time-limit`` (and no ``--epochs``) a run does not know its number of steps in advance:
its progress is the elapsed share of the budget, ``fraction`` in ``[0, 1]``.
:func:`time_schedule` turns a schedule of :data:`seglab.optim.SCHEDULERS` (same names, same
options, same defaults) into a :class:`TimeSchedule` that gives the learning rate (and, for
``onecycle``, the momentum) at a fraction and an optimizer step:

==========  ====================================================================================
cosine      ``eta_min + (lr - eta_min) * (1 + cos(pi * f)) / 2``
onecycle    from ``max_lr / div_factor`` up to ``max_lr`` over ``pct_start`` of the run, then down
            to ``max_lr / div_factor / final_div_factor`` (cosine or linear), momentum inverse
poly        ``lr * (1 - f) ** power``
step        x ``gamma`` at each third of the run, or every ``step_size`` passes over the data
none        constant
==========  ====================================================================================

At ``fraction = 1`` every schedule is at its final value: the schedule is complete however
long the run took. ``reduce_on_plateau`` follows validations, not time; it stays a torch
scheduler. A linear warmup (``warmup_steps``, or ``warmup_epochs`` in passes over the data)
multiplies the first steps by ``(k + 1) / (W + 1)`` as :func:`~seglab.optim.create_scheduler`
does.

>>> s = time_schedule("cosine", steps_per_pass=10)
>>> [round(s.lr(0.1, f, 100), 3) for f in (0.0, 0.5, 1.0)]
[0.1, 0.05, 0.0]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from seglab.errors import ConfigError
from seglab.optim.schedulers import _scheduler_spec, _warmup_length

STEP_DROPS = 3
"""``step`` without ``step_size``: the lr drops at each third of the run (as ``epochs // 3``)."""


def _anneal(start: float, end: float, share: float, strategy: str) -> float:
    """From ``start`` to ``end`` as ``share`` goes 0 -> 1 (torch's OneCycleLR annealing)."""
    share = min(1.0, max(0.0, share))
    if strategy == "linear":
        return start + (end - start) * share
    return end + (start - end) / 2.0 * (math.cos(math.pi * share) + 1.0)


@dataclass(frozen=True)
class TimeSchedule:
    """A schedule over the run's progress (module docstring); build with :func:`time_schedule`."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    warmup_steps: int = 0
    steps_per_pass: int = 1

    def lr(self, base_lr: float, fraction: float, step: int) -> float:
        """The learning rate at ``fraction`` of the run and optimizer step ``step`` (0-based)
        for a parameter group whose configured learning rate is ``base_lr``."""
        f = min(1.0, max(0.0, fraction))
        kw = self.options
        if self.name == "cosine":
            eta_min = kw["eta_min"]
            value = eta_min + (base_lr - eta_min) * (1.0 + math.cos(math.pi * f)) / 2.0
        elif self.name == "poly":
            value = base_lr * (1.0 - f) ** kw["power"]
        elif self.name == "step":
            value = base_lr * kw["gamma"] ** self._drops(f, step)
        elif self.name == "onecycle":
            value = self._onecycle(kw["max_lr"] or base_lr, f)
        else:  # none
            value = base_lr
        if step < self.warmup_steps:
            value *= (step + 1) / (self.warmup_steps + 1)
        return value

    def momentum(self, fraction: float) -> float | None:
        """``onecycle``'s momentum at ``fraction`` when it cycles it, else ``None``."""
        kw = self.options
        if self.name != "onecycle" or kw.get("cycle_momentum") is False:
            return None
        low, high = kw["base_momentum"], kw["max_momentum"]
        return self._phases(min(1.0, max(0.0, fraction)), [high, low, high, high])

    def _drops(self, fraction: float, step: int) -> int:
        size = self.options["step_size"]
        if size is None:
            return min(STEP_DROPS - 1, int(fraction * STEP_DROPS))
        return step // max(1, size * self.steps_per_pass)

    def _onecycle(self, max_lr: float, fraction: float) -> float:
        kw = self.options
        initial = max_lr / kw["div_factor"]
        final = initial / kw["final_div_factor"]
        return self._phases(fraction, [initial, max_lr, initial, final])

    def _phases(self, f: float, points: list[float]) -> float:
        """Anneal through ``points`` = (start, peak, valley, end): two phases ``start -> peak
        -> end``, or three (``three_phase``) ``start -> peak -> valley -> end``."""
        kw = self.options
        pct, strategy = kw["pct_start"], kw["anneal_strategy"]
        start, peak, valley, end = points
        if kw["three_phase"]:
            if f < pct:
                return _anneal(start, peak, f / pct, strategy)
            if f < 2 * pct:
                return _anneal(peak, valley, (f - pct) / pct, strategy)
            return _anneal(valley, end, (f - 2 * pct) / max(1e-12, 1 - 2 * pct), strategy)
        if f < pct:
            return _anneal(start, peak, f / pct, strategy)
        return _anneal(peak, end, (f - pct) / max(1e-12, 1 - pct), strategy)


TIME_SCHEDULES = ("cosine", "onecycle", "poly", "step", "none")
"""The schedules a time-driven run computes from its progress (``reduce_on_plateau`` is not
one of them: it follows validations)."""


def time_schedule(
    name: str,
    *,
    steps_per_pass: int,
    warmup_steps: int = 0,
    warmup_epochs: float = 0,
    **options: Any,
) -> TimeSchedule:
    """The schedule ``name`` over a run's progress; options as :func:`create_scheduler`'s.

    ``steps_per_pass``: optimizer steps per pass over the training data, which converts
    ``warmup_epochs`` and ``step``'s ``step_size`` (epochs) into steps.

    Raises
    ------
    ConfigError
        An unknown schedule or option (the valid ones are listed), ``reduce_on_plateau`` (not
        a function of time), or bad lengths.
    """
    spec = _scheduler_spec(name, options)
    if name not in TIME_SCHEDULES:
        raise ConfigError(
            f"scheduler {name!r} follows validations, not time; time_schedule takes "
            f"{', '.join(TIME_SCHEDULES)}"
        )
    warmup = _warmup_length(1, max(1, steps_per_pass), warmup_steps, warmup_epochs)
    kw = {**spec.options, **options}
    if name == "onecycle" and not 0 < kw["pct_start"] < (0.5 if kw["three_phase"] else 1):
        raise ConfigError(f"onecycle: pct_start must be in (0, 1), got {kw['pct_start']!r}")
    if name == "step" and kw["step_size"] is not None:
        size = kw["step_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"step_size must be a whole number of epochs >= 1, got {size!r}")
    if name == "onecycle" and kw["cycle_momentum"] is None:
        kw["cycle_momentum"] = True  # set against the optimizer by whoever applies it
    return TimeSchedule(name, kw, warmup, max(1, steps_per_pass))
