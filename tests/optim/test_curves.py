"""Schedules over a run's progress agree with torch's step schedules and end at their final
value (seglab.optim.curves)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.optim import lr_scheduler as sched

from seglab.errors import ConfigError
from seglab.optim.curves import TIME_SCHEDULES, time_schedule

STEPS = 400


def torch_lrs(make, lr: float = 0.1) -> list[float]:
    """The lr of each of ``STEPS`` steps of a torch scheduler."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr, momentum=0.9)
    scheduler = make(opt)
    lrs = []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize(
    ("name", "options", "make"),
    [
        ("cosine", {}, lambda o: sched.CosineAnnealingLR(o, T_max=STEPS)),
        ("cosine", {"eta_min": 0.01}, lambda o: sched.CosineAnnealingLR(o, STEPS, eta_min=0.01)),
        ("poly", {"power": 0.9}, lambda o: sched.PolynomialLR(o, total_iters=STEPS, power=0.9)),
        ("none", {}, lambda o: sched.ConstantLR(o, factor=1.0, total_iters=0)),
    ],
)
def test_a_schedule_over_progress_is_torchs_schedule_over_steps(name, options, make):
    curve = time_schedule(name, steps_per_pass=10, **options)
    expected = torch_lrs(make)
    got = [curve.lr(0.1, k / STEPS, k) for k in range(STEPS)]
    assert got == pytest.approx(expected, abs=1e-9)


def test_onecycle_follows_torch_within_a_step():
    curve = time_schedule("onecycle", steps_per_pass=10)
    expected = torch_lrs(lambda o: sched.OneCycleLR(o, max_lr=0.1, total_steps=STEPS))
    # torch's phases end at steps pct * T - 1 and T - 1: the same curve, a step apart
    got = [curve.lr(0.1, k / (STEPS - 1), k) for k in range(STEPS)]
    assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 0.1 * 2 / STEPS * 3
    assert curve.lr(0.1, 0.0, 0) == pytest.approx(0.1 / 25)
    assert curve.lr(0.1, 0.3, 100) == pytest.approx(0.1)
    assert curve.momentum(0.0) == pytest.approx(0.95) and curve.momentum(0.3) == pytest.approx(0.85)
    assert curve.momentum(1.0) == pytest.approx(0.95)


@pytest.mark.parametrize("name", TIME_SCHEDULES)
def test_every_schedule_is_complete_at_the_end_of_the_run(name):
    curve = time_schedule(name, steps_per_pass=10)
    final = {"cosine": 0.0, "onecycle": 0.1 / 25 / 1e4, "poly": 0.0, "step": 0.1 * 0.1**2}
    assert curve.lr(0.1, 1.0, 10_000) == pytest.approx(final.get(name, 0.1))
    assert curve.lr(0.1, 1.7, 10_000) == curve.lr(0.1, 1.0, 10_000)  # past the end: held


def test_step_drops_at_each_third_or_every_step_size_passes():
    thirds = time_schedule("step", steps_per_pass=10)
    assert [thirds.lr(1.0, f, 0) for f in (0.0, 0.34, 0.67, 0.99)] == pytest.approx(
        [1.0, 0.1, 0.01, 0.01]
    )
    passes = time_schedule("step", steps_per_pass=10, step_size=2, gamma=0.5)
    assert [passes.lr(1.0, 0.5, k) for k in (0, 19, 20, 40)] == [1.0, 1.0, 0.5, 0.25]


def test_warmup_ramps_the_first_steps_then_follows_the_curve():
    curve = time_schedule("cosine", steps_per_pass=10, warmup_steps=3)
    assert [curve.lr(1.0, 0.0, k) for k in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1, 1])
    passes = time_schedule("none", steps_per_pass=10, warmup_epochs=0.5)  # 5 steps
    assert passes.warmup_steps == 5
    assert math.isclose(passes.lr(1.0, 0.9, 2), 0.5)


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("reduce_on_plateau", {}, "follows validations"),
        ("cosinus", {}, "did you mean 'cosine'"),
        ("cosine", {"T_max": 3}, "no option 'T_max'"),
        ("onecycle", {"pct_start": 1.5}, "pct_start"),
        ("step", {"step_size": 0}, "step_size"),
        ("cosine", {"warmup_steps": 2, "warmup_epochs": 1}, "not both"),
    ],
)
def test_bad_schedules_are_refused_with_the_fix(name, options, match):
    with pytest.raises(ConfigError, match=match):
        time_schedule(name, steps_per_pass=10, **options)
