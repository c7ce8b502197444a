"""``--crf`` in prediction and evaluation: the dense CRF (:mod:`seglab.models.crf`) over each
image's probabilities, recorded in summary.json, refused for instance runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seglab.api import evaluate, load_model, predict
from seglab.cli import main
from seglab.errors import ConfigError
from seglab.io import read_mask
from seglab.predict.options import PredictOptions
from tests.builders import random_run, tiny_instance_run, write_image
from tests.conftest import copy_run


def _images(folder, count=2):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_image(folder / f"img{i}.png", 32, 40)
    return folder


def test_options_pass_crf_only_when_asked():
    assert "crf" not in PredictOptions().batch_options()
    assert PredictOptions(crf=True, crf_iterations=3).batch_options()["crf"] == {"iterations": 3}
    with pytest.raises(ConfigError, match="--crf-iterations"):
        PredictOptions(crf=True, crf_iterations=0)


def test_crf_changes_probabilities_not_shapes(tmp_path):
    model = load_model(random_run(tmp_path / "run"))
    image = np.random.default_rng(0).integers(0, 255, (30, 34, 3), dtype=np.uint8)
    plain = model.predict_proba(image)
    refined = model.predict_proba(image, crf=True)
    assert refined.shape == plain.shape == (30, 34)
    assert not np.allclose(refined, plain)
    assert ((refined >= 0) & (refined <= 1)).all()


def test_ensemble_predicts_with_crf(tmp_path):
    runs = [random_run(tmp_path / f"run{i}", seed=i) for i in range(2)]
    images = _images(tmp_path / "images")
    result = predict(runs, input=images, out=tmp_path / "out", crf=True, crf_iterations=2)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["crf"] == {"iterations": 2}
    assert len(summary["members"]) == 2
    assert read_mask(tmp_path / "out" / result.items[0].mask)[0].shape == (32, 40)


def test_instance_run_refuses_crf(tmp_path):
    run = tiny_instance_run(tmp_path / "run")
    images = _images(tmp_path / "images", 1)
    with pytest.raises(ConfigError, match="--crf"):
        predict(run, input=images, out=tmp_path / "out", crf=True)
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="--crf"):
        evaluate(run, data=tmp_path / "nothing", crf=True, out=None)


def test_pred_files_refuse_crf(tmp_path):
    with pytest.raises(ConfigError, match="--crf"):
        evaluate(pred=tmp_path / "masks", data=tmp_path / "data", crf=True, out=None)


@pytest.mark.slow
def test_predict_cli_with_crf_writes_masks_and_records_it(tiny_run, tmp_path):
    run_dir, root = tiny_run
    run = copy_run(run_dir, tmp_path / "run")
    out = tmp_path / "pred"
    code = main(
        [
            "predict",
            "--model",
            str(run),
            "--input",
            str(root / "val" / "images"),
            "--out",
            str(out),
            "--crf",
            "--crf-iterations",
            "3",
            "--quiet",
        ]
    )
    assert code in (0, None)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["crf"] == {"iterations": 3}
    assert summary["images"] == 6
    for item in summary["items"]:
        assert read_mask(out / item["mask"])[0].shape == (32, 32)
    plain = predict(run, input=root / "val" / "images", out=tmp_path / "plain")
    assert "crf" not in plain.to_dict()


@pytest.mark.slow
def test_evaluate_with_crf_scores_and_records_it(tiny_run, tmp_path):
    run_dir, root = tiny_run
    run = copy_run(run_dir, tmp_path / "run")
    plain = evaluate(run, data=root, out=None)
    refined = evaluate(run, data=root, out=tmp_path / "eval", crf=True)
    assert refined.summary["crf"] == {"iterations": 5}
    assert "crf" not in plain.summary
    assert len(refined.rows) == len(plain.rows) == 6
    # the discs are bright on dark: snapping to their edges keeps a trained run's masks good
    assert refined.summary["metrics"]["dice"]["mean"] > 0.7
    written = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert written["crf"] == {"iterations": 5}
