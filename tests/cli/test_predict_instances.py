"""``seglab predict`` on an instance run: the same command, objects written, objects per image
printed, and the flags that mean nothing for objects refused by name."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from seglab.cli import main, render
from seglab.predict.instance_outputs import PredictedObjects
from seglab.predict.run import PredictResult
from tests.predict.instance_inputs import busy_instance_run, write_blob_images


@pytest.fixture(scope="module")
def run_and_images(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli-instances")
    images = write_blob_images(root / "in")
    return busy_instance_run(root / "run", images), images


def test_predict_writes_labels_csv_and_json_and_prints_objects(run_and_images, tmp_path, capsys):
    run, images = run_and_images
    out, csv_path, json_path = tmp_path / "out", tmp_path / "p.csv", tmp_path / "p.json"
    code = main(["predict", "--model", str(run), "--input", str(images), "--out", str(out),
                 "--rle-csv", str(csv_path), "--coco-json", str(json_path), "--no-crops",
                 "--backend", "torch", "-q"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    counts = [item["objects"] for item in summary["items"]]
    assert f"; labels in {out / 'labels'}" in printed.replace("\n", "")
    assert f"{sum(counts)} objects, {sum(counts) / 3:.1f} per image" in printed
    assert sorted(p.name for p in out.iterdir()) == ["labels", "overlays", "summary.json"]
    assert len(csv_path.read_text().splitlines()) == 1 + sum(counts)
    assert len(json.loads(json_path.read_text())) == sum(counts)


def test_threshold_is_refused_by_name(run_and_images, tmp_path, capsys):
    run, images = run_and_images
    code = main(["predict", "--model", str(run), "--input", str(images), "--out",
                 str(tmp_path / "out"), "--threshold", "0.3"])  # fmt: skip
    assert code == 2
    assert "--threshold 0.3: an instance run" in capsys.readouterr().err.replace("\n", "")
    assert not (tmp_path / "out").exists()


def _result(**changes) -> PredictResult:
    items = tuple(
        PredictedObjects(f"{name}.png", f"in/{name}.png", f"labels/{name}.png", n, 0.1)
        for name, n in (("a", 3), ("b", 0), ("c", 9))
    )
    values = dict(
        out=Path("predictions"), model="runs/cells", backend="torch", input="in/", images=3,
        skipped=(), seconds=1.25, images_per_second=2.4, classes=("background", "cell"),
        threshold=None, tta=False, tile=None, overlap=None, resize="fit", rle_csv=None,
        coco_json="p.json", items=items, task="instance", instance={"method": "border"},
    )  # fmt: skip
    return PredictResult(**{**values, **changes})


def test_render_shows_labels_and_objects_per_image():
    console = Console(record=True, width=120, file=io.StringIO())
    render.print_predictions(_result(), console)
    assert console.export_text() == (
        "3 images predicted in 1.2 s (2.4 images/s, torch); labels in predictions/labels\n"
        "12 objects, 4.0 per image (min 0, median 3, max 9)\n"
        "COCO JSON: p.json\n"
    )
    summary = _result().to_dict()
    assert summary["task"] == "instance" and summary["objects"] == 12
    assert summary["items"][1] == {
        "key": "b.png", "image": "in/b.png", "labels": "labels/b.png", "objects": 0,
        "foreground": 0.1,
    }  # fmt: skip
