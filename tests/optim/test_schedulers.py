"""Learning-rate sequences of every schedule on a dummy optimizer, warmup, errors."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from seglab.errors import ConfigError
from seglab.optim import SCHEDULERS, WarmupReduceLROnPlateau, create_optimizer, create_scheduler


def _optimizer(lr: float = 1.0, name: str = "sgd") -> torch.optim.Optimizer:
    return create_optimizer(name, [torch.zeros(1, requires_grad=True)], lr=lr)


def _lrs(name, steps, *, metrics=None, lr=1.0, optimizer="sgd", **kw):
    """The lr used at each of ``steps`` steps (metrics: one per epoch step, for plateau)."""
    opt = _optimizer(lr, optimizer)
    plan = create_scheduler(name, opt, **kw)
    out = []
    for i in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step(lambda: torch.zeros(()))
        if plan.needs_metric:
            plan.scheduler.step(metrics[i])
        else:
            plan.scheduler.step()
    return out


def test_reduce_on_plateau_seed_defaults():
    opt = _optimizer(0.005)
    plan = create_scheduler("reduce_on_plateau", opt, epochs=32, steps_per_epoch=10)
    assert (plan.interval, plan.monitor, plan.needs_metric) == ("epoch", "val_loss", True)
    s = plan.scheduler
    assert (s.factor, s.patience, s.cooldown, s.mode) == (0.2, 2, 2, "min")
    assert plan.lightning_config() == {
        "scheduler": s,
        "interval": "epoch",
        "frequency": 1,
        "monitor": "val_loss",
    }


def test_reduce_on_plateau_drops_after_patience_then_cools_down():
    # val loss never improves after the first epoch: drop after patience + 1 = 3 bad epochs,
    # then 2 cooldown epochs in which bad epochs are not counted, then 3 bad epochs again
    lrs = _lrs("reduce_on_plateau", 12, metrics=[1.0] * 12, epochs=12, steps_per_epoch=1)
    assert lrs == pytest.approx([1, 1, 1, 1, 0.2, 0.2, 0.2, 0.2, 0.2, 0.04, 0.04, 0.04])
    improving = _lrs(
        "reduce_on_plateau", 6, metrics=[5, 4, 3, 2, 1, 0], epochs=6, steps_per_epoch=1
    )
    assert improving == [1.0] * 6
    # mode max for a score, e.g. val_dice
    lrs = _lrs(
        "reduce_on_plateau",
        6,
        metrics=[0.5] * 6,
        epochs=6,
        steps_per_epoch=1,
        mode="max",
        monitor="val_dice",
        patience=0,
        cooldown=0,
        factor=0.5,
    )
    assert lrs == pytest.approx([1, 1, 0.5, 0.25, 0.125, 0.0625])


def test_reduce_on_plateau_warmup_in_epochs():
    # warmup_steps=3 with 2 steps per epoch rounds up to 2 warmup epochs
    opt = _optimizer(1.0)
    plan = create_scheduler("reduce_on_plateau", opt, epochs=10, steps_per_epoch=2, warmup_steps=3)
    assert isinstance(plan.scheduler, WarmupReduceLROnPlateau)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        plan.scheduler.step(1.0)  # flat loss: warmup epochs are not counted as bad
    assert lrs == pytest.approx([1 / 3, 2 / 3, 1, 1, 1, 1, 0.2, 0.2])
    state = plan.scheduler.state_dict()
    again = create_scheduler("reduce_on_plateau", _optimizer(1.0), epochs=10, steps_per_epoch=2)
    again.scheduler.load_state_dict(state)
    assert again.scheduler.num_bad_epochs == plan.scheduler.num_bad_epochs


def test_cosine_ends_near_eta_min():
    lrs = _lrs("cosine", 20, epochs=4, steps_per_epoch=5, eta_min=0.01)
    expected = [0.01 + 0.99 * (1 + math.cos(math.pi * k / 20)) / 2 for k in range(20)]
    assert lrs == pytest.approx(expected)
    assert lrs[-1] == pytest.approx(0.01, abs=0.01)


@pytest.mark.parametrize("name", [n for n in SCHEDULERS if n not in ("reduce_on_plateau",)])
def test_warmup_ramps_linearly_from_near_zero(name):
    warm = 4
    lrs = _lrs(name, 20, epochs=4, steps_per_epoch=5, warmup_steps=warm)
    if name == "onecycle":  # its own warmup, from lr / 25, peaking at the end of the warmup
        assert lrs[0] == pytest.approx(1 / 25)
        assert max(lrs) == pytest.approx(1.0) and lrs.index(max(lrs)) == warm - 1
        return
    assert lrs[:warm] == pytest.approx([(k + 1) / (warm + 1) for k in range(warm)])
    assert lrs[warm] == pytest.approx(1.0)
    assert all(b > a for a, b in itertools.pairwise(lrs[: warm + 1]))


def test_cosine_after_warmup_runs_over_the_rest():
    lrs = _lrs("cosine", 20, epochs=4, steps_per_epoch=5, warmup_epochs=1)
    rest = [(1 + math.cos(math.pi * k / 15)) / 2 for k in range(15)]
    assert lrs[5:] == pytest.approx(rest)


def test_poly_step_none_onecycle_sequences():
    poly = _lrs("poly", 10, epochs=2, steps_per_epoch=5)
    assert poly == pytest.approx([(1 - k / 10) ** 0.9 for k in range(10)])
    step = _lrs("step", 12, epochs=6, steps_per_epoch=2)  # step_size epochs // 3 = 2 epochs
    assert step == pytest.approx([1] * 4 + [0.1] * 4 + [0.01] * 4)
    step = _lrs("step", 6, epochs=6, steps_per_epoch=1, step_size=1, gamma=0.5)
    assert step == pytest.approx([1, 0.5, 0.25, 0.125, 0.0625, 0.03125])
    assert _lrs("none", 5, epochs=1, steps_per_epoch=5) == [1.0] * 5
    one = _lrs("onecycle", 10, epochs=2, steps_per_epoch=5, lr=0.1)
    assert one[0] == pytest.approx(0.1 / 25)
    assert max(one) == pytest.approx(0.1)
    assert one[-1] == pytest.approx(0.1 / 25 / 1e4)


@pytest.mark.parametrize("optimizer", ["rprop", "asgd", "lbfgs", "adam"])
def test_onecycle_cycles_momentum_only_where_there_is_one(optimizer):
    lrs = _lrs("onecycle", 10, epochs=1, steps_per_epoch=10, optimizer=optimizer)
    assert max(lrs) == pytest.approx(1.0)  # peak at step 0.3 * 10 - 1 = 2
    opt = _optimizer(1.0, optimizer)
    create_scheduler("onecycle", opt, epochs=1, steps_per_epoch=10)
    if optimizer == "adam":  # beta1 is cycled, starting at max_momentum
        assert opt.param_groups[0]["betas"][0] == pytest.approx(0.95)


def test_step_interval_and_lightning_config():
    plan = create_scheduler("poly", _optimizer(), epochs=2, steps_per_epoch=3)
    assert (plan.interval, plan.monitor, plan.needs_metric) == ("step", None, False)
    assert "monitor" not in plan.lightning_config()
    assert plan.lightning_config()["interval"] == "step"


@pytest.mark.parametrize(
    ("name", "kw", "message"),
    [
        ("cosin", {}, r"did you mean 'cosine'.*valid names: reduce_on_plateau, cosine"),
        ("cosine", {"T_max": 3}, r"no option 'T_max'.*valid options: warmup_steps.*eta_min"),
        ("poly", {"warmup_steps": 20}, "shorter than the run"),
        ("reduce_on_plateau", {"warmup_epochs": 4}, "shorter than the run"),
        ("cosine", {"warmup_steps": 2, "warmup_epochs": 1}, "not both"),
        ("onecycle", {"warmup_steps": 2, "pct_start": 0.5}, "pct_start or a warmup"),
        ("reduce_on_plateau", {"factor": 2.0}, "scheduler 'reduce_on_plateau'.*1.0"),
        ("step", {"step_size": 0}, "step_size must be"),
        ("cosine", {"epochs": 0}, "epochs must be an integer >= 1"),
        ("cosine", {"steps_per_epoch": 1.5}, "steps_per_epoch must be an integer"),
    ],
)
def test_bad_names_and_options(name, kw, message):
    kw = {"epochs": 4, "steps_per_epoch": 4, **kw}
    with pytest.raises(ConfigError, match=message):
        create_scheduler(name, _optimizer(), **kw)
