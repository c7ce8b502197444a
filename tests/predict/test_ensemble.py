"""Ensembles: several runs (or a folds run) predicting the mean of their probabilities."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from seglab.api import evaluate, load_model, predict
from seglab.config import train_config
from seglab.errors import ConfigError, DataError
from seglab.predict import EnsembleModel, LoadedModel, load_ensemble
from seglab.predict.export import export_model
from seglab.train.rundir import write_config
from tests.builders import random_run, tiny_instance_run, write_discs


def folds_run(folder: Path, data: Path, *, folds: int = 2) -> Path:
    """A folds run folder as ``seglab train --folds`` leaves it: ``config.yaml`` with
    ``data.folds``, ``fold-i`` runs (random weights) and ``folds.json``."""
    for fold in range(1, folds + 1):
        run = random_run(folder / f"fold-{fold}", seed=fold, threshold=0.3 + 0.2 * fold)
        config = train_config(data={"path": data, "folds": folds, "fold": fold})
        write_config(config, run / "config.yaml")
    write_config(train_config(data={"path": data, "folds": folds}), folder / "config.yaml")
    runs = [{"fold": i, "run": f"fold-{i}", "best_score": 0.5} for i in range(1, folds + 1)]
    (folder / "folds.json").write_text(json.dumps({"folds": folds, "runs": runs}))
    return folder


@pytest.fixture
def images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    # two sizes: members resize back to each image's own before the mean
    return [
        rng.integers(0, 255, (32, 32, 3), np.uint8),
        rng.integers(0, 255, (27, 41, 3), np.uint8),
    ]


def test_an_ensemble_predicts_exactly_the_mean_of_its_members(tmp_path, images):
    runs = [random_run(tmp_path / f"r{i}", seed=i, threshold=t) for i, t in ((1, 0.4), (2, 0.6))]
    model = load_model(runs, backend="torch")
    assert isinstance(model, EnsembleModel) and model.runs == runs
    members = [load_model(run, backend="torch") for run in runs]
    for image, probs in zip(images, model.predict_proba_batch(images), strict=True):
        expected = np.mean([m.predict_proba(image) for m in members], axis=0)
        assert probs.shape == image.shape[:2] == expected.shape
        np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
        assert not np.allclose(probs, members[0].predict_proba(image))  # both count
    assert model.threshold == pytest.approx(0.5)  # the mean of 0.4 and 0.6
    assert "mean of the members' thresholds" in model.info["threshold_rule"]
    probs = model.predict_proba(images[0], tta=True)
    expected = np.mean([m.predict_proba(images[0], tta=True) for m in members], axis=0)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(model.predict(images[0]), (model.predict_proba(images[0]) > 0.5))


def test_a_multiclass_ensemble_takes_the_most_probable_class_of_the_mean(tmp_path, images):
    classes = ("background", "a", "b")
    runs = [random_run(tmp_path / f"r{i}", seed=i, classes=classes) for i in (1, 2)]
    model = load_ensemble(runs, backend="torch")
    members = [load_model(run, backend="torch") for run in runs]
    probs = model.predict_proba(images[1])
    expected = np.mean([m.predict_proba(images[1]) for m in members], axis=0)
    assert probs.shape == (3, 27, 41) and not model.binary
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(model.predict(images[1]), expected.argmax(0))


def test_a_folds_run_means_its_fold_runs(tmp_path, images):
    folder = folds_run(tmp_path / "folds", tmp_path / "data")
    model = load_model(folder, backend="torch")
    assert isinstance(model, EnsembleModel) and model.run_dir == folder
    assert model.runs == [folder / "fold-1", folder / "fold-2"] and model.name == str(folder)
    assert model.threshold == pytest.approx(0.6)  # the mean of 0.5 and 0.7
    one = load_model([folder / "fold-1"], backend="torch")  # a list of one run is that run
    assert isinstance(one, LoadedModel)


def test_members_that_disagree_are_refused_naming_the_run(tmp_path):
    first = random_run(tmp_path / "first", seed=1)
    other_classes = random_run(tmp_path / "other", seed=2, classes=("background", "cell"))
    other, first_ = re.escape(str(other_classes)), re.escape(str(first))
    with pytest.raises(ConfigError, match=rf"{other} has classes .*cell.* but {first_}"):
        load_model([first, other_classes])
    grey = random_run(tmp_path / "grey", seed=3, in_channels=1)
    grey_ = re.escape(str(grey))
    with pytest.raises(ConfigError, match=rf"{grey_} has input channels 1 but {first_} has 3"):
        load_model([first, grey])
    instance = re.escape(str(tiny_instance_run(tmp_path / "objects")))
    with pytest.raises(ConfigError, match=rf"{instance} is an instance run.*one instance run"):
        load_model([first, tmp_path / "objects"])
    with pytest.raises(ConfigError, match="given twice"):
        load_model([first, tmp_path / "first" / "model.json"])
    with pytest.raises(ConfigError, match="no model given"):
        load_model([])
    with pytest.raises(DataError, match="missing"):
        load_model([first, tmp_path / "nothing"])


def test_each_member_runs_in_onnx_runtime(tmp_path, images):
    runs = [random_run(tmp_path / f"r{i}", seed=i) for i in (1, 2)]
    onnx = load_model(runs, backend="onnxruntime")
    assert onnx.backend == "onnxruntime"
    assert all((run / "model.onnx").is_file() for run in runs)  # one export per member
    eager = load_model(runs, backend="torch")
    np.testing.assert_allclose(
        onnx.predict_proba(images[1]), eager.predict_proba(images[1]), rtol=0, atol=1e-4
    )


def test_predict_writes_masks_and_lists_the_members(tmp_path):
    data = write_discs(tmp_path / "discs", splits={"train": 2, "val": 3})
    runs = [random_run(tmp_path / f"r{i}", seed=i) for i in (1, 2)]
    result = predict(runs, input=data / "val" / "images", out=tmp_path / "out", backend="torch")
    assert result.images == 3 and result.members == tuple(str(r) for r in runs)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["members"] == [str(r) for r in runs]
    assert summary["model"] == f"{runs[0]} + {runs[1]}" and summary["threshold"] == 0.5
    assert len(list((tmp_path / "out" / "masks").glob("*.png"))) == 3
    single = predict(runs[0], input=data / "val" / "images", out=tmp_path / "one", backend="torch")
    assert "members" not in json.loads((tmp_path / "one" / "summary.json").read_text())
    assert single.members is None


def test_evaluate_scores_a_folds_run_on_the_val_split_on_disk(tmp_path):
    data = write_discs(tmp_path / "discs", splits={"train": 4, "val": 3})
    folder = folds_run(tmp_path / "folds", data)
    result = evaluate(folder, backend="torch", progress=False)
    assert result.out == folder / "evaluation" and result.summary["images"] == 3
    assert result.summary["members"] == [str(folder / "fold-1"), str(folder / "fold-2")]
    assert {row["image"] for row in result.rows} == {"val0", "val1", "val2"}
    assert result.summary["threshold"] == pytest.approx(0.6)


def test_a_folds_run_without_a_val_split_on_disk_is_not_scored_on_its_training_images(tmp_path):
    data = write_discs(tmp_path / "discs", splits={"train": 4, "test": 2})
    folder = folds_run(tmp_path / "folds", data)
    with pytest.raises(ConfigError, match=r"no val split on disk.*--split test"):
        evaluate(folder, backend="torch", out=None)
    result = evaluate(folder, split="test", backend="torch", out=None)
    assert result.summary["images"] == 2
    fold = evaluate(folder / "fold-1", backend="torch", out=None)  # a fold: its own val part
    assert fold.summary["images"] == 2


def test_an_ensemble_is_not_exported_as_one(tmp_path):
    folder = folds_run(tmp_path / "folds", tmp_path / "data")
    with pytest.raises(DataError, match=r"a folds run.*give a fold run"):
        export_model(folder)
    with pytest.raises(ConfigError, match="2 runs given where one is needed"):
        export_model([folder / "fold-1", folder / "fold-2"])
