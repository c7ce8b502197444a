"""`seglab data check` and `seglab data convert` on instance data: DSB folders and label
images, the object counts printed, bad options without tracebacks, no torch imported."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from seglab.cli import main
from tests.data.objects import three_objects, write_dsb


def _dsb(tmp_path):
    labels = three_objects()
    return write_dsb(tmp_path / "dsb", {"a": labels, "b": np.where(labels == 3, 1, 0)})


def test_check_prints_objects_touching_and_cut_by_the_crop(tmp_path, capsys):
    root = _dsb(tmp_path)
    json_out = tmp_path / "report.json"
    assert main(["data", "check", str(root), "--crop-size", "8", "--json", str(json_out)]) == 0
    out = capsys.readouterr().out
    assert "train (dsb)" in out and "min 1, median 2, mean 2.0, max 3 (4" in out
    assert "1 pair in 1 of 2 images (a (1 pair))" in out
    assert "objects larger than the 8 px crop" in out and "2 of 4 (50.0%)" in out
    objects = json.loads(json_out.read_text())["splits"][0]["objects"]
    assert objects["larger_than_crop"] == 2 and objects["per_image"]["total"] == 4
    assert main(["data", "check", str(root), "--no-objects"]) == 0
    assert "touching" not in capsys.readouterr().out


def test_bad_options_are_clean_errors(tmp_path, capsys):
    root = _dsb(tmp_path)
    assert main(["data", "check", str(root), "--labels", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "labels" in err and "'instances'" in err and "Traceback" not in err
    assert main(["data", "check", str(root), "--crop-size", "0"]) == 2
    assert main(["data", "check", str(root), "--classes", "background,a,b"]) == 2
    assert "one class" in capsys.readouterr().err


def test_convert_to_labels_then_dsb(tmp_path, capsys):
    root = _dsb(tmp_path)
    labels, dsb = tmp_path / "labels", tmp_path / "back"
    assert main(["data", "convert", str(root), "--to", "labels", "--out", str(labels)]) == 0
    assert main(["data", "convert", str(labels), "--to", "dsb", "--out", str(dsb)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in (dsb / "train" / "a" / "masks").iterdir()) == [
        "a_001.png",
        "a_002.png",
        "a_003.png",
    ]
    assert main(["data", "check", str(labels), "--labels", "instances"]) == 0
    assert "label images: each id is an object" in capsys.readouterr().out


def test_data_check_of_instance_data_imports_no_torch(tmp_path):
    root = _dsb(tmp_path)
    code = (
        "import sys; from seglab.cli import main; "
        f"main(['data', 'check', {str(root)!r}, '--crop-size', '8']); "
        "print('TORCH', 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "TORCH False" in out
