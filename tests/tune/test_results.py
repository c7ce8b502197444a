"""The study's files: study.csv, confidence.csv, best.yaml, study.json, plots."""

from __future__ import annotations

import csv
import json
import statistics

import optuna
import pytest
import yaml

from seglab.tune.results import confidence, trial_rows, write_results
from seglab.tune.space import build_space

SPACE = build_space({"optimizer": ["adam", "sgd"], "lr": {"low": 1e-3, "high": 1e-1, "log": True}})
DISTRIBUTIONS = {
    "optimizer": optuna.distributions.CategoricalDistribution(["adam", "sgd"]),
    "lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True),
}
# (optimizer, lr, score, state): adam beats sgd; lr 0.002 and 0.003 share the lowest third
TRIALS = [
    ("adam", 0.002, 0.80, "COMPLETE"),
    ("adam", 0.003, 0.70, "COMPLETE"),
    ("sgd", 0.05, 0.40, "COMPLETE"),
    ("sgd", 0.02, 0.30, "PRUNED"),
    ("adam", 0.01, None, "FAIL"),
]


def _study():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for number, (opt, lr, score, state) in enumerate(TRIALS):
        attrs = {"run": f"trials/trial-{number:03d}", "seconds": 10.0 + number}
        if score is not None:
            attrs["score"] = score
        if state == "FAIL":
            attrs["error"] = "loss not finite"
        if state == "PRUNED":
            attrs["pruned_at"] = 0.4
        study.add_trial(
            optuna.trial.create_trial(
                params={"optimizer": opt, "lr": lr},
                distributions=DISTRIBUTIONS,
                value=score if state == "COMPLETE" else None,
                state=optuna.trial.TrialState[state],
                user_attrs=attrs,
                intermediate_values={30: score} if state == "PRUNED" else None,
            )
        )
    return study


def test_confidence_groups_the_finished_trials_by_value():
    study = _study()
    rows = trial_rows(study.get_trials())
    best = rows[0]
    groups = {(g.param, g.value): g for g in confidence(rows, SPACE, best)}
    adam = groups[("optimizer", "adam")]
    assert adam.is_best and adam.scores == (0.80, 0.70)
    assert adam.mean == pytest.approx(0.75)
    assert adam.std == pytest.approx(statistics.stdev([0.8, 0.7]))
    sgd = groups[("optimizer", "sgd")]
    assert not sgd.is_best and sgd.scores == (0.40,) and sgd.std is None  # pruned left out
    low = groups[("lr", "0.001..0.0046")]  # the lowest third of 1e-3..1e-1 on a log scale
    assert low.is_best and low.scores == (0.80, 0.70)


def test_write_results_writes_every_file(tmp_path):
    study = _study()
    run = tmp_path / "trials" / "trial-000"
    run.mkdir(parents=True)
    run.joinpath("config.yaml").write_text(
        yaml.safe_dump({"data": {"path": "/d"}, "optimizer": "adam", "lr": 0.002,
                        "out": "studies/s/trials", "name": "trial-000", "overwrite": True})
    )  # fmt: skip
    info = {"name": "s", "direction": "maximize", "monitor": "val_dice"}
    content = write_results(study, SPACE, tmp_path, info, finished=True, plots=True)
    with open(tmp_path / "study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == [t[3] for t in TRIALS]
    assert list(rows[0])[:8] == ["number", "state", "score", "score_std", "seconds",
                                 "pruned_at", "run", "error"]  # fmt: skip
    assert rows[0]["optimizer"] == "adam" and float(rows[0]["lr"]) == 0.002
    assert rows[3]["pruned_at"] == "0.40" and rows[4]["error"] == "loss not finite"
    assert content["best"]["number"] == 0 and content["best"]["score"] == 0.80
    assert content["counts"] == {"complete": 3, "pruned": 1, "fail": 1, "running": 0}
    assert json.loads((tmp_path / "study.json").read_text())["best"]["run"] == "trials/trial-000"
    best = yaml.safe_load((tmp_path / "best.yaml").read_text())
    assert best == {"data": {"path": "/d"}, "optimizer": "adam", "lr": 0.002}  # no out/name
    assert "seglab train --config best.yaml" in (tmp_path / "best.yaml").read_text()
    assert set(content["importances"]) <= {"optimizer", "lr"}
    assert (tmp_path / "plots" / "history.png").stat().st_size > 1000
    assert (tmp_path / "confidence.csv").read_text().startswith("param,value,is_best,trials")


def test_a_study_with_no_finished_trial_has_no_best(tmp_path):
    study = optuna.create_study(direction="maximize")
    study.add_trial(
        optuna.trial.create_trial(
            params={}, distributions={}, state=optuna.trial.TrialState.FAIL,
            user_attrs={"error": "out of memory"},
        )
    )  # fmt: skip
    info = {"name": "s", "direction": "maximize", "monitor": "val_dice"}
    content = write_results(study, SPACE, tmp_path, info, finished=True, plots=True)
    assert content["best"] is None and content["importances"] == {}
    assert not (tmp_path / "best.yaml").exists() and not (tmp_path / "plots").exists()
