"""``seglab.api`` called directly: tiny synthetic data with known answers, the defaults the CLI
has too (outputs land in the current folder, here a temporary one), typed results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import seglab.api as sl
from seglab.classical.compare import CompareResult, MethodScore
from seglab.errors import SeglabError
from tests.builders import coco_dataset, write_discs
from tests.conftest import copy_run


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    """Run the test in ``tmp_path``: the API's default output folders are relative."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_dataset_finds_the_bad_category_and_writes_the_json(tmp_path):
    coco_dataset(tmp_path / "good")
    assert sl.check_dataset(tmp_path / "good").ok
    coco_dataset(
        tmp_path / "bad",
        annotations=[{"id": 3, "image_id": 1, "category_id": 9, "segmentation": [[1, 1, 5, 5]]}],
    )
    report = sl.check_dataset(tmp_path / "bad", json_out=tmp_path / "out" / "report.json")
    assert not report.ok and "category_id" in str(report.errors[0])
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["ok"] is False and written["problems"][0]["severity"] == "error"


def test_data_functions_write_where_the_cli_does_by_default(in_tmp):
    summary = sl.write_sample(n_train=2, n_val=1, n_test=1, size=64)
    assert summary and (in_tmp / "sample" / "train" / "coco_annotations.json").is_file()
    paths = sl.preview_dataset("sample", num=2)
    assert [p.name for p in paths][-1] == "grid.png" and len(paths) == 3
    assert all(p.parent == Path("preview") for p in paths)
    sl.convert_dataset("sample")  # to mask folders, in converted/
    masks = sorted((in_tmp / "converted" / "train" / "masks").glob("*.png"))
    assert len(masks) == 2 and sl.check_dataset("converted").ok


def test_classical_segments_bright_discs(in_tmp):
    root = write_discs(in_tmp / "discs")
    summary = sl.classical("otsu", data=root)  # fitted on train, scored on val
    assert summary["images"] == 4 and summary["scores"]["dice"]["mean"] > 0.9
    assert len(list((in_tmp / "classical" / "masks").glob("*.png"))) == 4


def test_compare_returns_typed_scores_best_first(in_tmp):
    root = write_discs(in_tmp / "discs")
    result = sl.compare(root, methods=["otsu", "kmeans"], examples=1)
    assert isinstance(result, CompareResult)
    assert all(isinstance(r, MethodScore) for r in result.rows)
    assert [r.dice for r in result.rows] == sorted((r.dice for r in result.rows), reverse=True)
    otsu = next(r for r in result.rows if r.method == "otsu")
    assert otsu.dice > 0.9 and otsu.images == 4 and otsu.seconds_per_image >= 0
    assert isinstance(otsu.params, dict) and otsu.params["polarity"] == "bright"
    assert [f.name for f in result.files] == ["compare.csv", "compare.md", "examples.png"]
    assert all(f.parent == Path("compare") and f.is_file() for f in result.files)
    assert sl.DEFAULT_METHODS.split(",")[0] == "otsu"


def test_evaluate_perfect_predictions_and_its_output_defaults(in_tmp):
    root = write_discs(in_tmp / "discs")
    truth = root / "val" / "masks"
    nothing = sl.evaluate(pred=truth, data=root, out=None)  # None: scores only
    assert nothing.out is None and not (in_tmp / "evaluation").exists()
    assert [r["dice"] for r in nothing.rows] == [1.0] * 4
    assert nothing.summary["metrics"]["dice"]["mean"] == 1.0
    written = sl.evaluate(pred=truth, data=root)  # AUTO: evaluation/, as seglab evaluate
    assert Path(written.out) == Path("evaluation")
    assert (in_tmp / "evaluation" / "scores.csv").is_file()
    with pytest.raises(SeglabError, match="overwrite"):  # not a run's folder: not replaced
        sl.evaluate(pred=truth, data=root)


def test_evaluate_a_run_writes_and_replaces_its_own_evaluation(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    run = copy_run(run_dir, tmp_path / "run")
    first = sl.evaluate(run)
    assert Path(first.out) == run / "evaluation"
    assert first.summary["images"] == 6 and first.summary["metrics"]["dice"]["mean"] > 0.8
    again = sl.evaluate(run, worst=2)  # RUN/evaluation is the run's own: replaced
    assert len(again.summary["worst"]) == 2
    assert (
        json.loads((run / "evaluation" / "summary.json").read_text())["worst"]
        == (again.summary["worst"])
    )


def test_predict_and_load_model_find_the_discs(tiny_run, in_tmp):
    run_dir, root = tiny_run
    result = sl.predict(run_dir, input=root / "val" / "images")  # out: predictions/
    assert result.images == 6 and result.skipped == () and result.out == Path("predictions")
    assert json.loads((in_tmp / "predictions" / "summary.json").read_text()) == (
        json.loads(json.dumps(result.to_dict()))
    )
    from seglab.io import read_image, read_mask

    model = sl.load_model(run_dir, device="cpu")
    image, _ = read_image(root / "val" / "images" / "val0.png")
    truth, _ = read_mask(root / "val" / "masks" / "val0.png")
    mask = model.predict(image)
    agreement = ((mask != 0) == (truth != 0)).mean()
    assert mask.shape == truth.shape and agreement > 0.95


@pytest.mark.slow
def test_train_a_few_seconds_and_report(discs, tmp_path):
    result = sl.train(
        data=discs,
        model={"options": {"base_width": 4, "depth": 2}},
        out=tmp_path / "runs",
        epochs=1,
        batch_size=4,
        augment="none",
        workers=0,
        print_fn=None,
    )
    assert result.status == "completed" and result.epochs == 1
    assert (result.run_dir / "config.yaml").is_file() and result.model_path.is_file()
    assert result.best_score is None or not math.isnan(result.best_score)
    page = sl.report(result.run_dir)
    assert page == result.run_dir / "report.html" and "<html" in page.read_text().lower()
    assert np.isfinite(result.seconds)
