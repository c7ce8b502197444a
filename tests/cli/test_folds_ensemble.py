"""``seglab train --folds``, and ensembles through ``seglab predict`` / ``evaluate``."""

from __future__ import annotations

import json

import pytest

from seglab.cli import main
from tests.builders import random_run, write_discs
from tests.predict.test_ensemble import folds_run


def test_predict_with_two_models_writes_the_ensemble_masks(tmp_path, capsys):
    data = write_discs(tmp_path / "discs", splits={"train": 2, "val": 3})
    runs = [random_run(tmp_path / f"r{i}", seed=i) for i in (1, 2)]
    out = tmp_path / "out"
    code = main(["predict", "--model", str(runs[0]), "--model", str(runs[1]), "--input",
                 str(data / "val" / "images"), "--out", str(out), "--backend", "onnxruntime",
                 "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["val0.png", "val1.png",
                                                                  "val2.png"]  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["members"] == [str(r) for r in runs]
    assert summary["backend"] == "onnxruntime"


def test_evaluate_of_a_folds_run_and_refusals(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    data = write_discs(tmp_path / "discs", splits={"train": 4, "val": 2})
    folder = folds_run(tmp_path / "folds", data)
    assert main(["evaluate", "--model", str(folder), "--backend", "torch", "--quiet"]) == 0
    summary = json.loads((folder / "evaluation" / "summary.json").read_text())
    assert summary["images"] == 2 and len(summary["members"]) == 2
    capsys.readouterr()
    assert main(["export", "--model", str(folder)]) == 2
    assert "give a fold run" in capsys.readouterr().err
    assert main(["train", "--data", str(data), "--folds", "2", "--resume", str(folder)]) == 2
    assert "not resumed as a whole" in capsys.readouterr().err


@pytest.mark.slow
def test_train_folds_prints_each_fold_and_the_mean_then_the_folds_predict(tmp_path, capsys):
    data = write_discs(tmp_path / "discs", splits={"train": 6, "val": 2})
    runs = tmp_path / "runs"
    code = main(["train", "--data", str(data), "--folds", "2", "--out", str(runs), "-m",
                 "base_width=4", "-m", "depth=2", "--epochs", "1", "--batch-size", "4",
                 "--augment", "none", "--workers", "0", "--optimizer", "adam", "--lr", "0.01",
                 "--scheduler", "none", "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    folds = json.loads((runs / "folds" / "folds.json").read_text())
    assert folds["finished"] == 2 and [r["run"] for r in folds["runs"]] == ["fold-1", "fold-2"]
    assert "fold 1/2" in out and "fold 2/2" in out and "2 of 2 folds" in out
    assert f"val_dice {folds['mean']:.4f} ± {folds['std']:.4f}" in out
    pred = tmp_path / "pred"
    code = main(["predict", "--model", str(runs / "folds"), "--input",
                 str(data / "val" / "images"), "--out", str(pred), "--quiet"])  # fmt: skip
    assert code == 0 and len(list((pred / "masks").glob("*.png"))) == 2
