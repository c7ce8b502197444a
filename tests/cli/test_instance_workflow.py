"""The whole instance workflow from the command line, as a user runs it: ``train --task
instance`` (each family), then ``predict``, ``evaluate`` and ``report`` on the run."""

from __future__ import annotations

import json

import pytest

from seglab.cli import main
from tests.builders import touching_discs

FAMILIES = {
    "border": ["--model", "unet", "-m", "base_width=8", "-m", "depth=2", "--epochs", "12"],
    "maskrcnn": ["--model", "maskrcnn", "-m", "backbone=resnet18", "-m", "rois_per_image=64",
                 "--epochs", "2"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_train_predict_evaluate_report(family, tmp_path, capsys):
    data = touching_discs(tmp_path / "data", count=8)
    runs = tmp_path / "runs"
    code = main(["train", "--task", "instance", "--data", str(data), "--out", str(runs),
                 "--name", family, "--batch-size", "4", "--workers", "0", "--augment", "flip",
                 "-q", *FAMILIES[family]])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    run = runs / family
    assert "objects cut at" in printed.replace("\n", " ")
    card = json.loads((run / "model.json").read_text())
    method = "maskrcnn" if family == "maskrcnn" else "border"
    assert card["task"] == "instance" and card["instance"]["method"] == method
    assert card["category_ids"] == [3]

    out, coco = tmp_path / "pred", tmp_path / "pred.json"
    code = main(["predict", "--model", str(run), "--input", str(data / "images"), "--out",
                 str(out), "--coco-json", str(coco), "-q"])  # fmt: skip
    assert code == 0, capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "instance" and len(summary["items"]) == 8
    entries = json.loads(coco.read_text())
    assert len(entries) == sum(item["objects"] for item in summary["items"])
    assert {e["category_id"] for e in entries} <= {3}  # the dataset's own id

    code = main(["evaluate", "--model", str(run), "--out", str(tmp_path / "eval"), "-q"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    evaluation = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert evaluation["task"] == "instance"
    assert 0.0 <= evaluation["metrics"]["dsb_map"]["mean"] <= 1.0
    assert "mask" in evaluation["coco"] and "box" in evaluation["coco"]

    code = main(["report", str(run), "--test", str(data / "images")])
    assert code == 0, capsys.readouterr().out
    page = (run / "report.html").read_text()
    assert "DSB" in page and "objects" in page
