"""Reporting a trial's curve to Optuna by tenths of its budget, and stopping it when pruned."""

from __future__ import annotations

import time
from types import SimpleNamespace

import optuna
import pytest
import torch

from seglab.errors import ConfigError
from seglab.tune.pruning import TrialReporter, make_pruner


def _trainer(value: float | None):
    metrics = {} if value is None else {"val_dice": torch.tensor(value)}
    return SimpleNamespace(sanity_checking=False, callback_metrics=metrics, should_stop=False)


class _Always(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return True


def _reporter(pruner, *, spent: float, budget: float = 100.0):
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    started = time.perf_counter() - spent * budget
    return trial, TrialReporter(trial, monitor="val_dice", budget=budget, started=started)


def test_the_best_so_far_is_reported_at_each_tenth_passed():
    trial, reporter = _reporter(optuna.pruners.NopPruner(), spent=0.25)
    reporter.on_validation_end(_trainer(0.6), None)
    reporter.started -= 20.0  # 45 % spent now
    reporter.on_validation_end(_trainer(0.5), None)  # worse: the best so far stays 0.6
    frozen = trial.study.get_trials()[0]
    assert frozen.intermediate_values == pytest.approx({10: 0.6, 20: 0.6, 30: 0.6, 40: 0.6})
    assert reporter.stop_reason is None


def test_a_pruned_trial_stops_its_run_and_says_when():
    _, reporter = _reporter(_Always(), spent=0.35)
    trainer = _trainer(0.2)
    reporter.on_validation_end(trainer, None)
    assert trainer.should_stop and reporter.stop_reason == "pruned"
    assert reporter.pruned_at == pytest.approx(0.35, abs=0.02)


def test_a_trial_at_the_end_of_its_budget_is_not_pruned():
    _, reporter = _reporter(_Always(), spent=1.05)
    trainer = _trainer(0.2)
    reporter.on_validation_end(trainer, None)
    assert not trainer.should_stop and reporter.stop_reason is None


def test_no_score_yet_reports_nothing():
    trial, reporter = _reporter(_Always(), spent=0.5)
    reporter.on_validation_end(_trainer(None), None)
    assert trial.study.get_trials()[0].intermediate_values == {}


def test_median_pruner_compares_at_the_same_share_of_the_budget():
    study = optuna.create_study(direction="maximize", pruner=make_pruner("median", startup=2))
    for score in (0.8, 0.7):
        trial = study.ask()
        for step in range(10, 101, 10):
            trial.report(score, step)
        study.tell(trial, score)
    trial = study.ask()
    reporter = TrialReporter(
        trial, monitor="val_dice", budget=100.0, started=time.perf_counter() - 20.0
    )
    reporter.on_validation_end(_trainer(0.1), None)
    assert reporter.stop_reason is None  # 20 %: still warming up
    reporter.started -= 20.0
    reporter.on_validation_end(_trainer(0.1), None)
    assert reporter.stop_reason == "pruned"  # 40 %: below the median of the others


def test_unknown_pruner_names_the_flag():
    with pytest.raises(ConfigError, match="--pruner 'asha'"):
        make_pruner("asha")
