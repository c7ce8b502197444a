"""The CLI: help with examples on every command, exit codes, errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
from PIL import Image

from seglab.cli import main
from tests.builders import coco_dataset

GROUPS = [[], ["data"]]
COMMANDS = [["data", "check"], ["data", "preview"], ["data", "sample"], ["data", "convert"],
            ["classical"], ["compare"], ["train"], ["predict"], ["evaluate"], ["report"],
            ["export"]]  # fmt: skip


@pytest.mark.parametrize("command", GROUPS + COMMANDS)
def test_every_command_has_help(command, capsys):
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage" in out
    if command not in GROUPS:
        assert "Examples" in out and f"seglab {' '.join(command)}" in out


def test_classical_help_lists_every_registered_method():
    from seglab.classical import METHODS
    from seglab.cli.classical import CLASSICAL_METHODS

    assert CLASSICAL_METHODS.split(", ") == list(METHODS)


def test_classical_and_compare_commands(tmp_path, capsys):
    sample = tmp_path / "s"
    args = ["--train", "3", "--val", "2", "--test", "0", "--size", "96"]
    assert main(["data", "sample", "--out", str(sample), *args]) == 0
    out = tmp_path / "otsu"
    assert (
        main(["classical", "otsu", "--data", str(sample), "--out", str(out), "-p", "smooth=1"]) == 0
    )
    text = capsys.readouterr().out
    assert "otsu (" in text and "smooth=1" in text and "dice" in text
    assert (out / "scores.csv").is_file() and len(list((out / "masks").glob("*.png"))) == 2
    assert main(["classical", "nope", "--data", str(sample), "--out", str(out)]) == 2
    assert "unknown classical method 'nope'" in capsys.readouterr().err
    cmp = tmp_path / "cmp"
    assert main(["compare", "--data", str(sample), "-m", "otsu,histogram", "--out", str(cmp)]) == 0
    assert "histogram" in capsys.readouterr().out and (cmp / "compare.csv").is_file()


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from seglab.cli import main; main(['--help']); "
        "heavy = [m for m in ('torch', 'cv2', 'pycocotools', 'skimage') if m in sys.modules]; "
        "print('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "HEAVY []" in out


def test_check_exit_codes(tmp_path, capsys):
    coco_dataset(tmp_path / "good")
    assert main(["data", "check", str(tmp_path / "good")]) == 0
    assert "data check OK" in capsys.readouterr().out
    coco_dataset(
        tmp_path / "bad",
        annotations=[{"id": 3, "image_id": 1, "category_id": 9, "segmentation": [[1, 1, 5, 5]]}],
    )
    json_out = tmp_path / "report.json"
    assert main(["data", "check", str(tmp_path / "bad"), "--json", str(json_out)]) == 1
    out = capsys.readouterr().out
    assert "annotations[0] (id=3).category_id" in out and "FAILED" in out
    assert '"severity": "error"' in json_out.read_text()


def test_missing_path_is_a_clean_error(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "dataset path not found" in err and "Traceback" not in err


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["data", "check", "--no-such-flag"]) == 2
    assert "No such option" in capsys.readouterr().err


def test_sample_check_preview_convert_end_to_end(tmp_path, capsys):
    sample = tmp_path / "sample"
    args = ["--train", "3", "--val", "2", "--test", "1", "--size", "128"]
    assert main(["data", "sample", "--out", str(sample), *args]) == 0
    assert (sample / "train" / "coco_annotations.json").is_file()
    assert main(["data", "sample", "--out", str(sample), *args]) == 2  # refuses to overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert main(["data", "check", str(sample)]) == 0
    out = capsys.readouterr().out
    assert out.index("train (coco)") < out.index("val (coco)") < out.index("test (images)")
    assert main(["data", "preview", str(sample), "--out", str(tmp_path / "pv"), "-n", "2"]) == 0
    assert (tmp_path / "pv" / "grid.png").is_file()
    panels = sorted(p for p in (tmp_path / "pv").glob("*.png") if p.name != "grid.png")
    assert len(panels) == 2  # from the labelled train split: image | overlay, side by side
    assert all(Image.open(p).size == (2 * 128 + 4, 128) for p in panels)
    conv = tmp_path / "masks"
    assert main(["data", "convert", str(sample), "--to", "masks", "--out", str(conv)]) == 0
    assert main(["data", "check", str(conv)]) == 0
    assert "train (masks)" in capsys.readouterr().out


def test_defaults_written_in_brackets_show_in_help(capsys, monkeypatch):
    # rich markup would take "[the run's]" for a style tag and drop it
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping inside the brackets
    assert main(["predict", "--help"]) == 0
    assert "[the run's]" in capsys.readouterr().out
    assert main(["train", "--help"]) == 0
    assert "[runs]" in capsys.readouterr().out


def test_classical_exits_1_and_names_each_skipped_image_every_time(tmp_path, capsys):
    # a second main() in one process still shows its warnings: logging's capture of warnings
    # is put back each time, whoever restored warnings.showwarning in between
    from tests.builders import write_image

    images = tmp_path / "in"
    write_image(images / "a.png")
    (images / "b.png").write_bytes(b"")
    for run in range(2):
        args = ["classical", "otsu", "--input", str(images), "--out", str(tmp_path / f"o{run}")]
        with warnings.catch_warnings():  # restores warnings.showwarning when it ends
            assert main(args) == 1
        err = "".join(capsys.readouterr().err.split())  # rich wraps where the tmp path says
        assert "b.png:thefileisempty(0bytes)" in err
