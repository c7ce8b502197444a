"""Cross-validation (``seglab train --folds K``): the fold configs, the folds summary, a fold
that fails, and K tiny runs end to end."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
import yaml

from seglab.api import train
from seglab.config import train_config
from seglab.errors import ConfigError, DataError
from seglab.train.folds import (
    fold_configs,
    is_folds_run,
    read_folds,
    summarise_folds,
    train_folds,
)
from seglab.train.rundir import TrainResult
from tests.builders import tiny_train_settings, write_discs


def _result(run_dir: Path, score: float | None, fold: int, *, status="completed") -> TrainResult:
    config = train_config(data={"path": "d", "folds": 3, "fold": fold})
    return TrainResult(
        run_dir, status, 4, None if score is None else 2, score, "val_dice", 1.5, config=config
    )


def test_fold_configs_set_each_fold_its_name_folder_budget_and_one_device():
    config = train_config(data="d", out="runs", name="cv", time_limit="6m", seed=5, epochs=None)
    configs = fold_configs(config, 3)
    assert [c.data.fold for c in configs] == [1, 2, 3]
    assert {c.data.folds for c in configs} == {3}
    assert [c.name for c in configs] == ["fold-1", "fold-2", "fold-3"]
    assert {c.out for c in configs} == {Path("runs/cv")}
    assert {c.time_limit for c in configs} == {120.0}
    assert {(c.seed, c.data.seed, c.devices) for c in configs} == {(5, 0, 1)}  # as given
    elsewhere = fold_configs(train_config(data="d"), 2, run_dir="x/folds-2")
    assert {c.out for c in elsewhere} == {Path("x/folds-2")}
    assert fold_configs(train_config(data="d"), 2)[0].time_limit is None


@pytest.mark.parametrize(
    ("changes", "folds", "message"),
    [({}, 1, "2 or more"), ({"resume": "runs/train"}, 2, "not resumed as a whole"),
     ({"devices": 2}, 2, "one device"), ({"devices": "0,1"}, 2, "one device"),
     ({"num_nodes": 2}, 2, "one device")],
)  # fmt: skip
def test_fold_configs_refuse_what_cannot_work(changes, folds, message):
    with pytest.raises(ConfigError, match=message):
        fold_configs(train_config(data="d", **changes), folds)


def test_the_folds_summary_holds_each_fold_and_the_mean_and_sample_std(tmp_path):
    runs = [tmp_path / f"fold-{i}" for i in (1, 2, 3)]
    results = [
        _result(run, s, i) for i, (run, s) in enumerate(zip(runs, (0.5, 0.7, 0.9), strict=True), 1)
    ]
    summary = summarise_folds(tmp_path, results)
    assert summary.folds == 3 and summary.status == "completed"
    assert summary.mean == pytest.approx(0.7) and summary.std == pytest.approx(0.2)  # ddof=1
    assert (summary.min, summary.max) == (0.5, 0.9)
    data = read_folds(tmp_path)
    assert data["folds"] == 3 and data["finished"] == 3 and data["monitor"] == "val_dice"
    assert [r["run"] for r in data["runs"]] == ["fold-1", "fold-2", "fold-3"]  # relative
    assert [r["best_score"] for r in data["runs"]] == [0.5, 0.7, 0.9]
    assert data["mean"] == pytest.approx(0.7) and data["std"] == pytest.approx(0.2)
    assert (data["min"], data["max"]) == (0.5, 0.9)
    with open(tmp_path / "folds.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["fold"] for r in rows] == ["1", "2", "3"] and rows[1]["best_score"] == "0.7"
    assert is_folds_run(tmp_path) and not is_folds_run(tmp_path / "fold-1")


def test_a_fold_without_a_score_and_a_single_score_leave_the_std_out(tmp_path):
    summary = summarise_folds(tmp_path, [_result(tmp_path / "a", 0.6, 1)], folds=3)
    assert summary.mean == 0.6 and summary.std is None and summary.status == "incomplete"
    summary = summarise_folds(
        tmp_path, [_result(tmp_path / "a", 0.6, 1), _result(tmp_path / "b", None, 2)], folds=2
    )
    assert summary.scores == [0.6, None] and summary.mean == 0.6 and summary.std is None
    assert json.loads((tmp_path / "folds.json").read_text())["std"] is None
    with pytest.raises(DataError, match="not a folds run"):
        read_folds(tmp_path / "nowhere")


def _fake_train(fail_at: int | None, calls: list):
    """A stand-in for ``seglab.train.run.train``: makes the fold's folder and reports a score
    of ``0.1 * fold``; fold ``fail_at`` raises as a run with bad data would."""

    def fake(config, *, print_fn=print, progress=False, callbacks=None):
        calls.append(config)
        if config.data.fold == fail_at:
            raise DataError("an unreadable image", path="img.png")
        run = config.out / config.name
        run.mkdir(parents=True)
        return TrainResult(run, "completed", 2, 1, 0.1 * config.data.fold, "val_dice", 0.5,
                           config=config)  # fmt: skip

    return fake


def test_a_failing_fold_stops_the_folds_after_writing_those_finished(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr("seglab.train.run.train", _fake_train(2, calls))
    config = train_config(data={"path": tmp_path, "folds": 3}, out=tmp_path / "runs")
    with pytest.raises(DataError, match="unreadable"):
        train_folds(config, 3, print_fn=None)
    assert len(calls) == 2  # fold 3 never started
    data = read_folds(tmp_path / "runs" / "folds")
    assert data["finished"] == 1 and data["folds"] == 3 and data["status"] == "incomplete"
    assert data["runs"][0]["run"] == "fold-1" and data["mean"] == pytest.approx(0.1)


def test_a_first_fold_that_fails_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("seglab.train.run.train", _fake_train(1, []))
    config = train_config(data={"path": tmp_path, "folds": 2}, out=tmp_path / "runs")
    with pytest.raises(DataError):
        train_folds(config, 2, print_fn=None)
    assert not (tmp_path / "runs" / "folds").exists()  # the next try is not folds-2


def test_train_dispatches_folds_and_writes_the_folds_config(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr("seglab.train.run.train", _fake_train(None, calls))
    lines: list[str] = []
    result = train(data={"path": "d", "folds": 2}, out=tmp_path, name="cv", time_limit=60,
                   print_fn=lines.append)  # fmt: skip
    assert result.run_dir == tmp_path / "cv" and result.folds == 2
    assert [c.data.fold for c in calls] == [1, 2] and {c.time_limit for c in calls} == {30.0}
    assert result.mean == pytest.approx(0.15) and result.std == pytest.approx(
        statistics.stdev([0.1, 0.2])
    )
    stored = yaml.safe_load((tmp_path / "cv" / "config.yaml").read_text())
    assert stored["data"]["folds"] == 2 and stored["data"]["fold"] is None
    assert Path(stored["data"]["path"]).is_absolute()
    assert not (tmp_path / "cv" / "checkpoints").exists()
    assert lines[0].startswith("fold 1/2") and "val_dice 0.1500 ± 0.0707" in lines[-1]
    again = train(tmp_path / "cv" / "config.yaml", out=tmp_path, name="cv", print_fn=None)
    assert again.run_dir == tmp_path / "cv-2"  # --config of a folds run trains the folds again


def test_a_folds_run_is_not_resumed_as_a_whole(tmp_path):
    (tmp_path / "folds.json").write_text("{}")
    with pytest.raises(ConfigError, match="resume an unfinished fold"):
        train(resume=tmp_path, print_fn=None)
    with pytest.raises(ConfigError, match="not resumed as a whole"):
        train(data={"path": "d", "folds": 2}, resume=tmp_path / "x", print_fn=None)


@pytest.mark.slow
def test_two_folds_train_end_to_end_and_summarise_their_best_scores(tmp_path):
    root = write_discs(tmp_path / "discs", splits={"train": 8, "val": 2})
    settings = tiny_train_settings(root, tmp_path / "runs", epochs=2)
    result = train(print_fn=None, **{**settings, "data": {"path": root, "folds": 2}})
    run = tmp_path / "runs" / "folds"
    assert result.run_dir == run and len(result.results) == 2
    assert sorted(p.name for p in run.iterdir()) == [
        "config.yaml", "fold-1", "fold-2", "folds.csv", "folds.json",
    ]  # fmt: skip
    best = []
    for fold in (1, 2):
        summary = json.loads((run / f"fold-{fold}" / "summary.json").read_text())
        config = yaml.safe_load((run / f"fold-{fold}" / "config.yaml").read_text())
        assert summary["status"] == "completed" and summary["epochs"] == 2
        assert config["data"]["folds"] == 2 and config["data"]["fold"] == fold
        assert (run / f"fold-{fold}" / "model.safetensors").is_file()
        best.append(summary["best_score"])
    data = read_folds(run)
    assert [r["best_score"] for r in data["runs"]] == best == result.scores
    assert data["mean"] == pytest.approx(statistics.fmean(best))
    assert data["std"] == pytest.approx(statistics.stdev(best))
