"""``seglab tune`` end to end on tiny discs: trials, results, best.yaml reruns, resume, seeds."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from seglab.api import train, tune
from seglab.tune.storage import open_storage
from seglab.tune.study import fail_stale

# every trial: 2 epochs of a width-8, depth-2 U-Net on 32 px discs (seconds)
FIXED = {
    "model": {"options": {"base_width": 8, "depth": 2}},
    "epochs": 2,
    "batch_size": 4,
    "workers": 0,
    "augment": "none",
    "scheduler": "none",
}
SPACE = "replace: true\noptimizer: [adam, sgd]\nlr: {low: 0.003, high: 0.03, log: true}\n"


def _space(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return path


def _rows(study_dir: Path) -> list[dict[str, str]]:
    with open(study_dir / "study.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_study_runs_its_trials_keeps_them_and_its_best_reruns(discs, tmp_path):
    lines: list[str] = []
    result = tune(
        discs, trials=3, trial_time="60s", space=_space(tmp_path), out=tmp_path / "studies",
        study="s", print_fn=lines.append, **FIXED,
    )  # fmt: skip
    study_dir = tmp_path / "studies" / "s"
    rows = _rows(study_dir)
    assert [r["number"] for r in rows] == ["0", "1", "2"] and result.ran == [0, 1, 2]
    assert {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"}
    for row in rows:  # every trial's run folder is kept, with its own summary
        summary = json.loads((study_dir / row["run"] / "summary.json").read_text())
        assert summary["best_score"] == pytest.approx(float(row["score"]), abs=1e-5)
        assert row["optimizer"] in ("adam", "sgd") and 0.003 <= float(row["lr"]) <= 0.03
    assert sum(line.startswith("trial ") for line in lines) == 3
    done = [r for r in rows if r["state"] == "COMPLETE"]
    best = max(done, key=lambda r: float(r["score"]))
    assert result.best["number"] == int(best["number"])
    assert result.best["score"] == pytest.approx(float(best["score"]), abs=1e-5)
    assert {"study.csv", "study.json", "best.yaml", "confidence.csv", "space.yaml"} <= set(
        result.files
    )
    info = json.loads((study_dir / "study.json").read_text())
    assert info["data"] == str(discs.resolve()) and info["monitor"] == "val_dice"
    assert info["counts"]["complete"] == len(done) and info["fixed"]["epochs"] == 2
    # best.yaml reruns the best trial: the same seed, settings and data give the same score
    rerun = train(study_dir / "best.yaml", out=tmp_path / "runs", print_fn=None)
    assert rerun.best_score == pytest.approx(result.best["score"], abs=1e-4)
    assert rerun.config.optimizer == best["optimizer"]

    # the same command again resumes the study: its three trials stay, two more run
    again = tune(
        discs, trials=5, trial_time="60s", space=_space(tmp_path), out=tmp_path / "studies",
        study="s", print_fn=None, **FIXED,
    )  # fmt: skip
    assert again.ran == [3, 4]
    assert _rows(study_dir)[:3] == rows
    assert json.loads((study_dir / "study.json").read_text())["started"] == info["started"]


@pytest.mark.slow
def test_a_new_study_with_the_same_seed_draws_the_same_trials(discs, tmp_path):
    params = []
    for name in ("a", "b"):
        tune(
            discs, trials=2, trial_time="60s", space=_space(tmp_path), out=tmp_path, study=name,
            print_fn=None, seed=7, **FIXED,
        )  # fmt: skip
        params.append([(r["optimizer"], r["lr"], r["score"]) for r in _rows(tmp_path / name)])
    assert params[0] == params[1]


@pytest.mark.slow
def test_a_trial_that_cannot_train_fails_with_its_reason_and_the_study_goes_on(discs, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("replace: true\nloss: [cross_entropy, dice]\n")  # CE is multiclass only
    result = tune(
        discs, trials=4, trial_time="60s", space=space, out=tmp_path, study="s",
        print_fn=None, **FIXED,
    )  # fmt: skip
    rows = _rows(tmp_path / "s")
    failed = [r for r in rows if r["loss"] == "cross_entropy"]
    assert failed and all(r["state"] == "FAIL" and "cross_entropy" in r["error"] for r in failed)
    assert any(r["state"] == "COMPLETE" for r in rows) and len(rows) == 4
    assert result.best["params"] == {"loss": "dice"}


def test_trials_left_running_by_a_killed_worker_are_marked_failed(tmp_path):
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    storage = open_storage(None, tmp_path).storage
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    gone, alive = study.ask(), study.ask()
    gone.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    alive.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    said: list[str] = []
    assert fail_stale(study, said.append) == [gone.number]
    states = {t.number: t.state.name for t in study.get_trials()}
    assert states == {gone.number: "FAIL", alive.number: "RUNNING"}
    assert "worker stopped" in study.get_trials()[gone.number].user_attrs["error"]
    assert said and str(gone.number) in said[0]


def test_a_study_folder_of_another_dataset_is_not_resumed(discs, tmp_path):
    from seglab.errors import ConfigError

    study_dir = tmp_path / "s"
    study_dir.mkdir()
    (study_dir / "study.json").write_text(json.dumps({"data": "/elsewhere"}))
    with pytest.raises(ConfigError, match="this study is of /elsewhere"):
        tune(discs, trials=1, trial_time="10s", out=tmp_path, study="s", print_fn=None)


def test_a_study_needs_an_end(discs, tmp_path):
    from seglab.errors import ConfigError

    with pytest.raises(ConfigError, match="--time-limit"):
        tune(discs, out=tmp_path, print_fn=None)
    with pytest.raises(ConfigError, match="--trial-time"):
        tune(discs, trials=3, out=tmp_path, print_fn=None)


@pytest.mark.slow
def test_folds_score_each_trial_by_cross_validation(discs, tmp_path):
    import yaml

    result = tune(
        discs, trials=2, trial_time="60s", space=_space(tmp_path), out=tmp_path, study="cv",
        folds=2, pruner="none", print_fn=None, **{**FIXED, "epochs": 1},
    )  # fmt: skip
    study_dir = tmp_path / "cv"
    for row in _rows(study_dir):
        folds = json.loads((study_dir / row["run"] / "folds.json").read_text())
        assert folds["folds"] == 2 and len(folds["runs"]) == 2
        assert float(row["score"]) == pytest.approx(folds["mean"], abs=1e-5)
        assert float(row["score_std"]) == pytest.approx(folds["std"], abs=1e-5)
    best = yaml.safe_load((study_dir / "best.yaml").read_text())
    assert best["data"]["folds"] == 2 and best["data"]["fold"] is None
    assert json.loads((study_dir / "study.json").read_text())["folds"] == 2
    rerun = train(study_dir / "best.yaml", out=tmp_path / "runs", print_fn=None)
    assert rerun.mean == pytest.approx(result.best["score"], abs=1e-4)  # a FoldsResult


@pytest.mark.slow
def test_refit_trains_the_best_settings_again_in_the_time_kept_for_it(discs, tmp_path):
    result = tune(
        discs, time_limit="70s", refit=0.4, trial_time="15s", space=_space(tmp_path),
        out=tmp_path, study="r", print_fn=None, **FIXED,
    )  # fmt: skip
    refit = result.summary["refit"]
    assert refit["run"] == "best" and refit["status"] == "completed"
    summary = json.loads((tmp_path / "r" / "best" / "summary.json").read_text())
    assert refit["score"] == pytest.approx(summary["best_score"])
    # the same settings, seed and epochs as the best trial: the same score again
    assert refit["score"] == pytest.approx(result.best["score"], abs=1e-4)
    rows = _rows(tmp_path / "r")
    assert sum(float(r["seconds"]) for r in rows) < 0.6 * 70  # the trials kept to their share
    from seglab.api import report

    page = report(tmp_path / "r").read_text()  # the research report shows the refit
    assert 'id="refit-card"' in page and f"{refit['score']:.4f}" in page
