"""``seglab evaluate``: known scores on hand-made masks, a trained run, and predictions that
round-trip through the RLE CSV, the COCO results JSON and a mask folder."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import seglab
from seglab.api import classical, evaluate, load_model
from seglab.cli import main
from seglab.config import DataConfig
from seglab.errors import ConfigError, DataError
from seglab.evaluation.metrics import dice
from seglab.io import read_mask, write_mask
from seglab.predict.formats import (
    coco_entries,
    rle_rows,
    write_coco_results,
    write_rle_predictions,
)
from tests.builders import write_discs

METRIC_COLUMNS = ("dice", "iou", "precision", "recall")


def _scores(rows: list[dict]) -> dict[str, tuple]:
    """Per-image scores without the path columns, keyed by image."""
    return {
        r["image"]: tuple(v for k, v in r.items() if k not in ("image_path", "pred")) for r in rows
    }


@pytest.fixture
def handmade(tmp_path: Path) -> tuple[Path, Path]:
    """A val split of four 8x8 images and their predictions, whose scores are known:
    ``full`` perfect, ``missed`` an empty prediction of a square, ``nothing`` empty vs empty,
    ``half`` half of the square found (Dice 2/3, IoU 1/2, precision 1, recall 1/2)."""
    root, pred = tmp_path / "data", tmp_path / "pred"
    square = np.zeros((8, 8), np.uint8)
    square[2:6, 2:6] = 255
    half = square.copy()
    half[2:6, 4:6] = 0
    empty = np.zeros_like(square)
    for name, truth, guess in (
        ("full", square, square),
        ("missed", square, empty),
        ("nothing", empty, empty),
        ("half", square, half),
    ):
        Image.fromarray(np.dstack([truth] * 3)).save(
            _mkdir(root / "val" / "images") / f"{name}.png"
        )
        Image.fromarray(truth).save(_mkdir(root / "val" / "masks") / f"{name}.png")
        write_mask(pred / f"{name}.png", guess)
    return root, pred


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_known_scores_and_the_empty_score_convention(handmade, tmp_path):
    root, pred = handmade
    assert seglab.evaluate is evaluate  # the top-level name is the API function
    rows = {r["image"]: r for r in evaluate(pred=pred, data=root, out=None).rows}
    assert [rows["full"][m] for m in METRIC_COLUMNS] == [1.0, 1.0, 1.0, 1.0]
    assert [rows["missed"][m] for m in METRIC_COLUMNS] == [0.0, 0.0, 0.0, 0.0]
    assert [rows["nothing"][m] for m in METRIC_COLUMNS] == [1.0, 1.0, 1.0, 1.0]
    assert [rows["half"][m] for m in METRIC_COLUMNS] == pytest.approx([2 / 3, 0.5, 1.0, 0.5])

    means = {}
    for empty in (1.0, 0.0, "nan"):
        result = evaluate(pred=pred, data=root, empty_score=empty, out=None)
        nothing = next(r for r in result.rows if r["image"] == "nothing")
        means[str(empty)] = result.summary["metrics"]["dice"]["mean"]
        assert result.summary["empty_score"] == float(empty) or math.isnan(nothing["dice"])
    assert means["1.0"] == pytest.approx((1 + 0 + 1 + 2 / 3) / 4)
    assert means["0.0"] == pytest.approx((1 + 0 + 0 + 2 / 3) / 4)
    assert means["nan"] == pytest.approx((1 + 0 + 2 / 3) / 3)  # left out of the mean

    result = evaluate(
        pred=pred, data=root, empty_score="nan", out=tmp_path / "ev", worst=2, progress=True
    )
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())  # valid JSON: no NaN
    assert summary["empty_score"] is None and summary["images"] == 4
    assert [r["image"] for r in summary["worst"]] == ["missed", "half"]
    assert summary["per_class"]["foreground"]["dice"]["mean"] == pytest.approx(means["nan"])
    header = (tmp_path / "ev" / "scores.csv").read_text().splitlines()[0]
    assert header == "image,dice,iou,precision,recall,truth_fraction,pred_fraction,image_path,pred"
    assert rows["half"]["truth_fraction"] == 16 / 64 and rows["half"]["pred_fraction"] == 8 / 64
    errors = {"false_alarms": 0, "missed": 1, "perfect_empty": 1, "below_half": 1}
    assert summary["errors"] == errors
    square = read_mask(pred / "full.png")[0]
    write_mask(pred / "nothing.png", square)  # something predicted where there is nothing
    errors = {"false_alarms": 1, "missed": 1, "perfect_empty": 0, "below_half": 2}
    assert evaluate(pred=pred, data=root, out=None).summary["errors"] == errors
    with pytest.raises(ConfigError, match="empty_score"):
        evaluate(pred=pred, data=root, empty_score=2, out=None)


def test_missing_predictions_count_as_empty_and_are_listed(handmade):
    root, pred = handmade
    (pred / "full.png").rename(pred.parent / "full.png")
    with pytest.warns(RuntimeWarning, match=r"no prediction for 1 image.*full"):
        result = evaluate(pred=pred, data=root, out=None)
    assert result.summary["missing"] == ["full"]
    assert next(r for r in result.rows if r["image"] == "full")["dice"] == 0.0
    assert result.summary["images"] == 4 and result.summary["skipped"] == []
    (pred.parent / "full.png").rename(pred / "full.png")
    (pred / "half.png").write_bytes(b"not a png")
    with pytest.warns(RuntimeWarning, match=r"skipped: .*half\.png"):
        result = evaluate(pred=pred, data=root, out=None)
    assert result.summary["images"] == 3 and result.summary["skipped"] == [str(pred / "half.png")]


def test_model_scores_equal_dice_computed_independently(tiny_run, tmp_path):
    run_dir, root = tiny_run
    result = evaluate(run_dir, out=tmp_path / "ev", worst=3)  # the run's data and val split
    model = load_model(run_dir)
    expected = {}
    for path in sorted((root / "val" / "images").glob("*.png")):
        image = np.asarray(Image.open(path))
        truth = np.asarray(Image.open(root / "val" / "masks" / path.name))
        expected[path.stem] = dice(model.predict(image), truth)
    assert {r["image"]: r["dice"] for r in result.rows} == pytest.approx(expected)
    summary = result.summary
    assert summary["metrics"]["dice"]["mean"] == pytest.approx(np.mean(list(expected.values())))
    assert summary["model"] == str(run_dir) and summary["split"] == "val"
    assert summary["images"] == 6 and summary["threshold"] == model.threshold
    assert len(summary["worst"]) == 3
    assert summary["worst"][0]["dice"] == pytest.approx(min(expected.values()))
    written, _ = read_mask(tmp_path / "ev" / result.rows[0]["pred"])
    assert set(np.unique(written)) <= {0, 255}
    np.testing.assert_array_equal(
        written != 0, model.predict(np.asarray(Image.open(result.rows[0]["image_path"]))) != 0
    )


def test_predictions_round_trip_through_csv_json_and_masks(tiny_run, tmp_path):
    run_dir, root = tiny_run
    model = load_model(run_dir)
    paths = sorted((root / "val" / "images").glob("*.png"))
    images = [np.asarray(Image.open(path)) for path in paths]
    inside = np.concatenate(
        [
            model.predict_proba(image)[np.asarray(Image.open(root / "val" / "masks" / p.name)) > 0]
            for image, p in zip(images, paths, strict=True)
        ]
    )
    threshold = float(np.quantile(inside, 0.3))  # a threshold that misses some of the discs
    reference = evaluate(run_dir, data=root, threshold=threshold, out=None)
    csv_rows, entries = [], []
    for i, (path, image) in enumerate(zip(paths, images, strict=True)):
        probs = model.predict_proba(image)
        mask = model.to_mask(probs, threshold=threshold)
        csv_rows += rle_rows(path.name, mask, model.classes)
        entries += coco_entries(path.name, mask, model.classes, i + 1, probs=probs)
        write_mask(tmp_path / "masks" / path.name, (mask * 255).astype(np.uint8))
    csv = write_rle_predictions(tmp_path / "pred.csv", csv_rows, model.classes)
    coco = write_coco_results(tmp_path / "pred.json", entries)
    expected = _scores(reference.rows)
    assert min(r["dice"] for r in reference.rows) < 1.0  # not trivially perfect
    for pred in (csv, coco, tmp_path / "masks"):
        result = evaluate(pred=pred, data=root, out=None)
        assert _scores(result.rows) == expected, pred
        assert result.summary["missing"] == [] and result.summary["pred"] == str(pred)


def test_multiclass_predictions_round_trip(tmp_path):
    root = write_discs(tmp_path / "discs", splits={"val": 6}, classes=2, seed=3)
    classes = ["background", "cat", "dog"]
    truths = {p.stem: read_mask(p)[0].astype(np.int64) for p in (root / "val" / "masks").glob("*")}
    csv_rows, entries = [], []
    for i, (name, truth) in enumerate(sorted(truths.items())):
        guess = np.roll(truth, i % 2, axis=1)  # every other one shifted by a pixel
        if i == 2:
            guess = np.where(truth > 0, 3 - truth, 0)  # the right place, the other class
        csv_rows += rle_rows(f"{name}.png", guess, classes)
        entries += coco_entries(f"{name}.png", guess, classes, i)
        write_mask(tmp_path / "masks" / f"{name}.png", guess)
    config = DataConfig(path=root, classes=classes)
    results = [
        evaluate(pred=p, data=config, out=None)
        for p in (
            write_rle_predictions(tmp_path / "p.csv", csv_rows, classes),
            write_coco_results(tmp_path / "p.json", entries),
            tmp_path / "masks",
        )
    ]
    assert _scores(results[0].rows) == _scores(results[1].rows) == _scores(results[2].rows)
    rows = {r["image"]: r for r in results[0].rows}
    assert "dice/cat" in rows["val0"] and "dice/dog" in rows["val0"]
    assert rows["val0"]["dice"] == 1.0  # not shifted
    assert rows["val1"]["dice"] < 1.0  # shifted
    assert rows["val2"]["dice"] == 0.0  # cat for dog (or dog for cat): both classes wrong
    per_class = results[0].summary["per_class"]
    assert set(per_class) == {"cat", "dog"}
    assert per_class["cat"]["dice"]["mean"] == pytest.approx(
        np.mean([r["dice/cat"] for r in results[0].rows])
    )


def test_split_all_scores_every_labelled_split(tiny_run, tmp_path):
    _, root = tiny_run
    for split in ("train", "val"):  # the truth as predictions, in one folder
        for mask in (root / split / "masks").glob("*.png"):
            shutil.copy(mask, _mkdir(tmp_path / "truth") / mask.name)
    result = evaluate(pred=tmp_path / "truth", data=root, split="all", out=None)
    assert result.summary["images"] == 30 and result.summary["missing"] == []
    assert {r["image"].split("/")[0] for r in result.rows} == {"train", "val"}
    assert result.summary["metrics"]["dice"]["min"] == 1.0
    assert (
        evaluate(pred=tmp_path / "truth", data=root, split="train", out=None).summary["images"]
        == 24
    )


def test_classical_masks_score_the_same_through_evaluate(tiny_run, tmp_path):
    _, root = tiny_run
    summary = classical("otsu", data=root, out=tmp_path / "otsu")
    result = evaluate(pred=tmp_path / "otsu" / "masks", data=root, out=None)
    assert result.summary["images"] == summary["images"] == 6
    assert result.summary["metrics"]["dice"]["mean"] == pytest.approx(
        summary["scores"]["dice"]["mean"]
    )


def test_malformed_predictions_and_bad_arguments_raise(handmade, tmp_path):
    root, pred = handmade
    bad = tmp_path / "bad.csv"
    bad.write_text("img_id,rle_mask\nfull.png,1 2 3\n")
    with pytest.raises(DataError, match=r"bad\.csv: line 2"):
        evaluate(pred=bad, data=root, out=None)
    outside = tmp_path / "outside.csv"
    outside.write_text("img_id,rle_mask\nfull.png,60 10\n")  # past the 8x8 image
    with pytest.raises(DataError, match=r"outside\.csv: img_id 'full.png'"):
        evaluate(pred=outside, data=root, out=None)
    with pytest.raises(ConfigError, match="exactly one of model"):
        evaluate(data=root, out=None)
    with pytest.raises(ConfigError, match="exactly one of model"):
        evaluate("run", pred=pred, data=root, out=None)
    with pytest.raises(ConfigError, match="give the labelled dataset"):
        evaluate(pred=pred, out=None)
    with pytest.raises(ConfigError, match="unknown split 'dev'"):
        evaluate(pred=pred, data=root, split="dev", out=None)
    with pytest.raises(DataError, match="no 'train' split"):
        evaluate(pred=pred, data=root, split="train", out=None)
    with pytest.raises(ConfigError, match="--worst -1: expected a whole number"):
        evaluate(pred=pred, data=root, worst=-1, out=None)
    with pytest.raises(ConfigError, match=r"--threshold 2 is outside \[0, 1\]"):
        evaluate("no-run", data=root, threshold=2, out=None)  # before the run is read
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--out .* is a file, not a folder"):
        evaluate(pred=pred, data=root, out=tmp_path / "file" / "eval")


def test_cli_end_to_end_exits_1_on_an_unreadable_image(tiny_run, tmp_path, capsys):
    run_dir, root = tiny_run
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    assert main(["evaluate", "--model", str(run), "--quiet", "--worst", "2"]) == 0
    out = capsys.readouterr().out
    assert "dice" in out and "worst 2 images" in out and "evaluation" in out
    summary = json.loads((run / "evaluation" / "summary.json").read_text())
    assert summary["images"] == 6 and len(summary["worst"]) == 2
    assert len(list((run / "evaluation" / "masks").glob("*.png"))) == 6
    assert main(["evaluate", "--model", str(run), "-q"]) == 0  # its own folder: replaced
    summary_of_run = json.loads((run / "evaluation" / "summary.json").read_text())

    data = tmp_path / "data"
    shutil.copytree(root, data)
    (data / "val" / "images" / "val1.png").write_bytes(b"not a png")
    args = ["evaluate", "--model", str(run), "--data", str(data), "--out", str(tmp_path / "ev")]
    assert main([*args, "-q"]) == 1
    err = " ".join(capsys.readouterr().err.split())  # main logs its warnings on its console
    assert "1 unreadable images skipped" in err and "val1.png: the file holds text" in err
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["images"] == 5 and summary["skipped"][0].endswith("val1.png")
    assert main([*args, "-q"]) == 2  # not empty: --overwrite needed

    pred_args = ["evaluate", "--pred", str(run / "evaluation" / "masks"), "--data", str(root)]
    assert main([*pred_args, "--out", str(tmp_path / "p"), "--empty-score", "nan", "-q"]) == 0
    scored = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert scored["metrics"]["dice"] == summary_of_run["metrics"]["dice"]
