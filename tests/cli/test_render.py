"""The rendering of every command's result: what a user reads, from hand-made results."""

from __future__ import annotations

import io
import math
from pathlib import Path

from rich.console import Console

from seglab.classical.compare import CompareResult, MethodScore
from seglab.cli import render
from seglab.evaluation.run import EvaluationResult
from seglab.predict.run import PredictedImage, PredictResult
from seglab.train.rundir import TrainResult
from tests.builders import coco_dataset


def _text(draw, *args, width: int = 120, **kwargs) -> str:
    """What ``draw(*args, console, **kwargs)`` shows on a terminal ``width`` columns wide."""
    console = Console(record=True, width=width, file=io.StringIO())
    draw(*args, console, **kwargs)
    return console.export_text()


def _score(method: str, dice: float, seconds: float) -> MethodScore:
    return MethodScore(method, dice, 0.05, dice - 0.1, 0.8, 0.7, seconds, 3, {"sigma": 1})


def test_compare_table_rounds_to_three_decimals_and_lists_the_files():
    result = CompareResult(
        rows=(_score("otsu", 0.9, 0.0012), _score("kmeans", 0.5, 0.25)),
        files=(Path("cmp/compare.csv"), Path("cmp/compare.md")),
    )
    text = _text(render.print_compare, result)
    assert "val split, mean over images" in text
    otsu, kmeans = (line for line in text.splitlines() if "otsu" in line or "kmeans" in line)
    assert "0.900 ± 0.050" in otsu and "0.800" in otsu and "0.001" in otsu
    assert "0.500 ± 0.050" in kmeans and "0.250" in kmeans
    assert text.index("otsu") < text.index("kmeans")  # the result's order, best first
    assert "wrote cmp/compare.csv\nwrote cmp/compare.md" in text


def test_check_report_shows_splits_problems_and_the_verdict(tmp_path):
    from seglab.api import check_dataset

    coco_dataset(
        tmp_path / "bad",
        annotations=[{"id": 3, "image_id": 1, "category_id": 9, "segmentation": [[1, 1, 5, 5]]}],
    )
    text = _text(render.print_check_report, check_dataset(tmp_path / "bad"), width=200)
    assert "images" in text and "2 listed, 2 readable" in text
    assert "1 errors, 0 warnings" in text and "annotations[0] (id=3).category_id" in text
    assert "data check FAILED" in text
    short = _text(render.print_check_report, check_dataset(tmp_path / "bad"), max_problems=0)
    assert "... 1 more (use --max-problems or --json)" in short


def test_classical_summary_names_parameters_scores_and_masks():
    stats = {"mean": 0.91234, "median": 0.9, "std": 0.01}
    summary = {
        "method": "otsu",
        "params": {"polarity": "bright"},
        "tuned": False,
        "fitted_on": 4,
        "scores": {m: stats for m in ("dice", "iou", "precision", "recall")},
        "seconds_per_image": 0.0123,
        "images": 2,
        "skipped": ["a.png"],
    }
    text = _text(render.print_classical_summary, summary, Path("out"))
    assert "otsu (polarity=bright)" in text and "fitted on 4 training images" in text
    assert "0.9123" in text and "2 masks in out/masks, 0.012 s/image" in text
    assert "1 images skipped (see warnings)" in text
    bare = {"method": "li", "params": {}, "images": 1}
    assert (
        _text(render.print_classical_summary, bare, Path("o"))
        == "li (defaults)\n1 masks in o/masks\n"
    )


def _evaluation(out: Path | None, classes: int = 1) -> EvaluationResult:
    stats = {"mean": 0.75, "median": 0.8, "std": 0.1, "min": math.nan, "max": 1.0}
    metrics = {"dice": stats, "iou": stats}
    return EvaluationResult(
        rows=[],
        summary={
            "model": "runs/train",
            "data": "discs",
            "split": "val",
            "images": 6,
            "metrics": metrics,
            "per_class": {f"class{i}": metrics for i in range(classes)},
            "worst": [{"image": "val3.png", "dice": 0.25, "iou": None, "pred": "masks/val3.png"}],
            "missing": ["val5.png"],
            "skipped": [],
        },
        out=out,
    )


def test_evaluation_tables_worst_images_and_files():
    text = _text(render.print_evaluation, _evaluation(Path("runs/train/evaluation")))
    assert "runs/train on discs (val, 6 images)" in text
    assert "0.7500" in text and "0.8000" in text and " - " in text  # nan shown as -
    assert "worst 1 images by Dice" in text and "val3.png" in text and "0.2500" in text
    assert "1 images had no prediction and were scored as empty predictions" in text
    assert "wrote scores.csv, summary.json, masks/ in runs/train/evaluation" in text
    assert "class1" not in text  # one class: no per-class rows
    several = _text(render.print_evaluation, _evaluation(None, classes=2))
    assert "class0" in several and "class1" in several and "wrote" not in several


def _prediction(**changes) -> PredictResult:
    values = dict(
        out=Path("predictions"),
        model="runs/train",
        backend="torch",
        input="in/",
        images=2,
        skipped=(),
        seconds=1.25,
        images_per_second=1.6,
        classes=("background", "object"),
        threshold=0.5,
        tta=False,
        tile=None,
        overlap=None,
        resize="fit",
        rle_csv=None,
        coco_json=None,
        items=(PredictedImage("a.png", "in/a.png", "masks/a.png", 0.1),),
    )
    return PredictResult(**{**values, **changes})


def test_predictions_line_files_and_skipped_images():
    text = _text(render.print_predictions, _prediction())
    assert text == "2 images predicted in 1.2 s (1.6 images/s, torch); masks in predictions/masks\n"
    skipped = tuple(f"bad{i}.png" for i in range(7))
    text = _text(
        render.print_predictions,
        _prediction(images_per_second=None, rle_csv="v.csv", coco_json="v.json", skipped=skipped),
    )
    assert "2 images predicted in 1.2 s; masks in" in text
    assert "RLE CSV: v.csv\nCOCO JSON: v.json" in text
    assert (
        "7 unreadable images skipped: bad0.png, bad1.png, bad2.png, bad3.png, bad4.png ..." in text
    )


def test_train_result_and_data_lines():
    result = TrainResult(Path("runs/train"), "time limit", 3, 2, 0.8, "val_dice", 61.4)
    text = _text(render.print_train_result, result)
    assert text == "time limit after 3 epochs in 61 s; run folder: runs/train\n"
    paths = [Path("pv/a.png"), Path("pv/b.png"), Path("pv/grid.png")]
    assert _text(render.print_preview, paths) == "wrote 2 previews and pv/grid.png\n"
    sample = _text(render.print_sample, {"train": 3}, Path("s"))
    assert sample.startswith("wrote the sample dataset to s\n") and "'train': 3" in sample
    converted = _text(render.print_conversion, {"images": 5}, "masks", Path("m"))
    assert converted.startswith("converted to masks in m\n") and "'images': 5" in converted
