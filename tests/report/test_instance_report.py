"""The report of an instance run: the objects' metrics, a gallery of true and predicted objects
worst first with each image's count errors, the evaluation reused; semantic pages unchanged."""

from __future__ import annotations

import csv
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml

from seglab.api import evaluate
from seglab.report.html import build_report
from seglab.report.instance_gallery import matched_colours
from tests.builders import tiny_instance_run
from tests.evaluation.objects import (
    PRED,
    TRUTH,
    labels,
    write_label_predictions,
    write_objects_dataset,
)


class Rows(HTMLParser):
    """The val gallery rows of a page: ``data-*`` attributes, text and image sources."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[dict] = []
        self.current: dict | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("class") == "val-row":
            self.current = {**attrs, "text": "", "imgs": []}
            self.rows.append(self.current)
        if tag == "img" and self.current is not None:
            self.current["imgs"].append(attrs)

    def handle_endtag(self, tag):
        if tag == "tr":
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data


@pytest.fixture
def instance_run(tmp_path: Path) -> tuple[Path, Path]:
    """``(run folder, dataset root)``: an untrained instance run on the hand-made objects, with
    the files training writes beside the model (config, metrics, summary)."""
    root = write_objects_dataset(tmp_path / "data")
    run = tiny_instance_run(tmp_path / "run")
    config = {"task": "instance", "data": {"path": str(root)}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "metrics.csv").write_text("epoch,lr,train_loss,val_loss,val_dice\n1,0.01,1,1,0.5\n")
    (run / "summary.json").write_text(json.dumps({"status": "completed", "epochs": 1}))
    return run, root


def _keys(page: Rows) -> list[str]:
    return [row["imgs"][0]["alt"].removeprefix("image of ") for row in page.rows]


def test_instance_run_report_shows_object_metrics_and_a_worst_first_gallery(instance_run):
    run, _ = instance_run
    page = build_report(run, split="all")
    html = page.read_text()
    for text in ("DSB mean AP", "AP@0.5", "AP@0.75", "AJI", "COCO AP over the split",
                 "Objects, matched at IoU 0.5", "worst DSB mean AP first", "merged"):  # fmt: skip
        assert text in html, text
    assert "worst Dice first" not in html
    rows = Rows(html).rows
    assert len(rows) == 5
    scores = [float(r["data-dsb-map"]) for r in rows]
    assert scores == sorted(scores) and all(0.0 <= s <= 1.0 for s in scores)
    for row in rows:
        assert [img["alt"].split(" of ")[0] for img in row["imgs"]] == [
            "image", "truth", "prediction",
        ]  # fmt: skip
        assert all((page.parent / img["src"]).is_file() for img in row["imgs"])
        assert "found" in row["text"] and "missed" in row["text"] and "split" in row["text"]
    evaluation = run / "report" / "evaluation"
    assert len(list((evaluation / "labels").glob("*.png"))) == 5
    made = (evaluation / "summary.json").stat().st_mtime_ns
    build_report(run, split="all")  # the evaluation is current: reused, not made again
    assert (evaluation / "summary.json").stat().st_mtime_ns == made


def _known_evaluation(run: Path, root: Path, tmp_path: Path) -> None:
    """``RUN/report/evaluation`` replaced by the hand-made predictions' evaluation, their label
    images where the run's would be."""
    folder = run / "report" / "evaluation"
    labels_dir = write_label_predictions(tmp_path / "labels")
    evaluate(pred=labels_dir, data=root, split="all", out=folder, overwrite=True)
    shutil.copytree(labels_dir, folder / "labels", dirs_exist_ok=True)
    with (folder / "scores.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["pred"] = f"labels/{Path(row['image']).stem}.png"
    with (folder / "scores.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_known_objects_are_shown_worst_first_with_their_count_errors(instance_run, tmp_path):
    run, root = instance_run
    build_report(run, split="all")
    _known_evaluation(run, root, tmp_path)
    page = Rows(build_report(run, split="all").read_text())
    keys = _keys(page)
    assert set(keys[:2]) == {"split.png", "merged.png"} and keys[2] == "missed.png"
    assert set(keys[3:]) == {"perfect.png", "empty.png"}
    by_key = dict(zip(keys, page.rows, strict=True))
    split_text = " ".join(by_key["split.png"]["text"].split())
    assert "1 true, 2 predicted" in split_text and "split 1" in split_text
    assert "missed 1" in split_text and "false 2" in split_text
    assert "merged 1" in " ".join(by_key["merged.png"]["text"].split())
    html = (run / "report.html").read_text()
    assert "0.500" in html  # the mean DSB mean AP over the five images


def test_found_objects_take_their_true_objects_colour():
    truth = labels(*TRUTH["perfect"])
    assert np.array_equal(matched_colours(truth, PRED["perfect"]), truth)
    split = matched_colours(labels(*TRUTH["split"]), PRED["split"])
    assert set(np.unique(split)) == {0, 2, 3}  # neither half matches: new colours
    missed = matched_colours(truth, PRED["missed"])
    assert set(np.unique(missed)) == {0, 1}
    assert not matched_colours(truth, np.zeros_like(truth)).any()


def test_a_semantic_report_has_no_instance_section(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    run = Path(shutil.copytree(run_dir, tmp_path / "run"))
    html = build_report(run).read_text()
    assert "worst Dice first" in html and "DSB mean AP" not in html and "COCO AP" not in html


def test_a_moved_dataset_is_said_in_the_instance_metrics(instance_run):
    run, _ = instance_run
    config = {"task": "instance", "data": {"path": str(run.parent / "gone")}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    html = build_report(run).read_text()
    assert "could not be evaluated" in html and "Pass --data PATH" in html
    assert "No val images to show." in html and "COCO AP over the split" not in html
