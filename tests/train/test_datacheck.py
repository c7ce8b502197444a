"""``seglab train`` says what ``seglab data check`` says, and stops on errors before it starts."""

from __future__ import annotations

import json

import pytest

from seglab.api import train
from seglab.errors import DataError
from tests.builders import coco_dataset, square, tiny_train_settings


def _coco_with_an_odd_polygon(root):
    images = [{"id": k, "file_name": f"{k}.png", "width": 32, "height": 32} for k in range(6)]
    anns = [
        {"id": k, "image_id": k, "category_id": 1, "segmentation": [square(4, 4, 10)]}
        for k in range(6)
    ]
    anns[0]["segmentation"] = [[4, 4, 12, 4, 12, 12, 4]]  # odd length: left out by the reader
    coco_dataset(root, images=images, annotations=anns)
    return root


def test_errors_stop_training_before_it_starts(tmp_path):
    data = _coco_with_an_odd_polygon(tmp_path / "data")
    with pytest.raises(DataError, match=r"annotations\[0\] \(id=0\)\.segmentation\[0\]") as info:
        train(**tiny_train_settings(data, tmp_path / "runs"), print_fn=None)
    assert "--skip-bad-data" in str(info.value)
    assert not (tmp_path / "runs").exists()  # nothing started, no half-made run folder


def test_skip_bad_trains_and_keeps_the_problems_in_the_summary(tmp_path):
    data = _coco_with_an_odd_polygon(tmp_path / "data")
    said = []
    settings = tiny_train_settings(data, tmp_path / "runs", epochs=1)
    settings["data"] = {"path": data, "skip_bad": True}
    result = train(**settings, print_fn=said.append)
    assert any(line.startswith("data check: 1 error(s), left out of training") for line in said)
    check = json.loads((result.run_dir / "summary.json").read_text())["data_check"]
    assert check["errors"] == 1
    assert check["problems"][0]["field"] == "annotations[0] (id=0).segmentation[0]"
