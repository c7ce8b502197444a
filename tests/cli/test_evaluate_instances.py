"""``seglab evaluate`` on objects from the command line: label-image predictions scored and the
instance table printed; the table drawn from a hand-made result."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from rich.console import Console

from seglab.cli import main, render
from seglab.evaluation.scoring import EvaluationResult
from tests.evaluation.objects import write_label_predictions, write_objects_dataset


def test_evaluate_label_images_prints_the_instance_table(tmp_path, capsys):
    root = write_objects_dataset(tmp_path / "data")
    labels = write_label_predictions(tmp_path / "labels")
    out = tmp_path / "ev"
    args = ["evaluate", "--pred", str(labels), "--data", str(root), "--split", "all"]
    assert main([*args, "--out", str(out), "--worst", "3", "-q"]) == 0
    text = capsys.readouterr().out
    for words in ("DSB mean AP", "AP@0.5", "AP@0.75", "AJI", "COCO mask AP", "COCO box AP",
                  "found", "missed", "false", "split", "merged",
                  "worst 3 images by DSB mean AP"):  # fmt: skip
        assert words in text, words
    dsb = next(line for line in text.splitlines() if "DSB mean AP" in line and "0." in line)
    assert "0.5000" in dsb  # the mean over the five hand-made images
    lines = text.splitlines()
    counts = lines[next(i for i, line in enumerate(lines) if "predicted" in line) + 2]
    # true, predicted, found, missed, false, split, merged
    assert counts.replace("│", " ").split() == ["7", "6", "3", "4", "3", "1", "1"]
    worst = lines[next(i for i, line in enumerate(lines) if "DSB mAP" in line) + 2]
    assert worst.replace("│", " ").split()[2:] == ["0.3333", "0", "1", "2", "1", "0"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "instance" and len(summary["worst"]) == 3
    assert "wrote scores.csv, summary.json in" in " ".join(text.split())


def _text(result: EvaluationResult) -> str:
    console = Console(record=True, width=140, file=io.StringIO())
    render.print_evaluation(result, console)
    return console.export_text()


def test_instance_table_from_a_hand_made_result():
    stats = {"mean": 0.25, "median": 0.5, "std": 0.1, "min": 0.0, "max": 1.0}
    worst = {"image": "a.png", "dsb_map": 0.0, "aji": 0.125, "found": 0, "missed": 2,
             "false": 1, "split": 0, "merged": 1, "pred": "labels/a.png"}  # fmt: skip
    summary = {
        "model": "runs/cells", "task": "instance", "data": "cells/", "split": "val", "images": 2,
        "missing": ["b.png"], "worst": [worst],
        "metrics": {m: stats for m in ("dsb_map", "ap50", "ap75", "aji", "dice")},
        "counts": {"true_objects": 9, "pred_objects": 8, "found": 6, "missed": 3, "false": 2,
                   "split": 1, "merged": 1},
        "coco": {"mask": {"ap": 0.375, "ap50": 0.75, "ap75": math.nan},
                 "box": {"ap": 0.5, "ap50": 0.875, "ap75": 0.25},
                 "categories": "class-agnostic"},
    }  # fmt: skip
    text = _text(EvaluationResult(rows=[], summary=summary, out=Path("runs/cells/evaluation")))
    line = next(line for line in text.splitlines() if "DSB mean AP" in line and "0.2500" in line)
    assert "0.5000" in line and "1.0000" in line
    mask = next(line for line in text.splitlines() if "COCO mask AP@0.75" in line)
    assert "class-agnostic" in mask and mask.rstrip(" │").endswith("-")  # NaN shows as a dash
    assert "0.8750" in next(line for line in text.splitlines() if "COCO box AP@0.5" in line)
    assert "a.png" in text and "scored as predicting no object" in text
    assert "wrote scores.csv, summary.json, labels/ in runs/cells/evaluation" in text
