"""metrics.csv parsing and the history / lr-finder PNGs (valid, not blank, skipped when empty)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PIL import Image

from seglab.errors import DataError, SeglabError
from seglab.train.plots import plot_history, plot_lr_find, read_metrics

COLUMNS = [
    "epoch",
    "lr",
    "train_loss",
    "val_loss",
    "val_dice",
    "val_soft_dice",
    "val_iou",
    "seconds",
]


def _write_csv(path, rows, columns=COLUMNS):
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in columns})
    return path


def _rows(n: int = 12) -> list[dict]:
    return [
        {
            "epoch": e,
            "lr": 1e-3 * 0.5 * (1 + math.cos(math.pi * e / n)) + 1e-6,
            "train_loss": 0.9 * 0.8**e,
            "val_loss": 0.5 + 0.01 * (e - 6) ** 2,
            "val_dice": 0.8 - 0.02 * abs(e - 6),
            "val_soft_dice": 0.75 - 0.02 * abs(e - 6),
            "val_iou": 0.68 - 0.02 * abs(e - 6),
            "seconds": 3.5,
        }
        for e in range(n)
    ]


def _assert_png(path):
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as img:
        assert img.format == "PNG"
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert (pixels != pixels[0, 0]).any()  # not a single colour
    assert path.stat().st_size < 200_000  # small files


def test_read_metrics_parses_numbers_empty_cells_and_epochs(tmp_path):
    rows = _rows(3)
    rows[1]["val_dice"] = ""  # no validation that epoch
    rows[2]["val_iou"] = "nan"
    path = _write_csv(tmp_path / "metrics.csv", rows)
    got = read_metrics(path)
    assert [r["epoch"] for r in got] == [0, 1, 2]
    assert all(isinstance(r["epoch"], int) for r in got)
    assert list(got[0]) == COLUMNS
    assert got[0]["train_loss"] == pytest.approx(0.9)
    assert math.isnan(got[1]["val_dice"]) and math.isnan(got[2]["val_iou"])
    assert repr(read_metrics(tmp_path)) == repr(got)  # the run folder works too (nan != nan)


def test_read_metrics_missing_file_names_it(tmp_path):
    path = tmp_path / "run" / "metrics.csv"
    with pytest.raises(SeglabError, match="no metrics yet") as info:
        read_metrics(path)
    assert str(path) in str(info.value)


def test_read_metrics_bad_cell_names_file_and_line(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,train_loss\n0,0.5\n1,oops\n")
    with pytest.raises(DataError, match="line 3, train_loss") as info:
        read_metrics(path)
    assert str(path) in str(info.value)


def test_plot_history_writes_three_pngs(tmp_path):
    metrics = _write_csv(tmp_path / "metrics.csv", _rows())
    out = tmp_path / "plots" / "nested"
    paths = plot_history(metrics, out)
    assert [p.name for p in paths] == ["lr.png", "loss.png", "dice.png"]
    assert all(p.parent == out for p in paths)
    for p in paths:
        _assert_png(p)


def test_plot_history_one_epoch(tmp_path):
    paths = plot_history(_rows(1), tmp_path)
    assert [p.name for p in paths] == ["lr.png", "loss.png", "dice.png"]
    for p in paths:
        _assert_png(p)


def test_plot_history_skips_all_nan_and_missing_columns(tmp_path):
    rows = _rows(4)
    for r in rows:  # no validation at all: empty cells
        r.update(val_loss="", val_dice="", val_soft_dice="nan", val_iou="")
    metrics = _write_csv(tmp_path / "metrics.csv", rows)
    paths = plot_history(metrics, tmp_path / "a")
    assert [p.name for p in paths] == ["lr.png", "loss.png"]
    assert not (tmp_path / "a" / "dice.png").exists()
    for p in paths:
        _assert_png(p)
    # an older run without lr and validation columns at all
    old = _write_csv(tmp_path / "old.csv", _rows(4), columns=["epoch", "train_loss"])
    assert [p.name for p in plot_history(old, tmp_path / "b")] == ["loss.png"]
    assert plot_history([], tmp_path / "c") == []


def test_plot_history_sparse_validation_and_nonpositive_lr(tmp_path):
    rows = _rows(10)
    for r in rows:
        if r["epoch"] % 3:
            r.update(val_loss=math.nan, val_dice=math.nan, val_soft_dice=math.nan, val_iou=math.nan)
    rows[0]["lr"] = 0.0  # warmup from zero: linear axis
    paths = plot_history(rows, tmp_path)
    assert [p.name for p in paths] == ["lr.png", "loss.png", "dice.png"]
    for p in paths:
        _assert_png(p)


@pytest.mark.parametrize("suggestion", [3e-3, None])
def test_plot_lr_find_writes_a_png(tmp_path, suggestion):
    lrs = np.logspace(-6, 0, 40).tolist()
    losses = [0.7 - 0.3 / (1 + math.exp(-(math.log10(lr) + 3.5) * 3)) for lr in lrs]
    losses[-5:] = [1.0, 2.0, 5.0, math.inf, math.nan]  # the blow-up at the end
    out = plot_lr_find(lrs, losses, suggestion, tmp_path / "lr_find" / "lr_find.png")
    assert out == tmp_path / "lr_find" / "lr_find.png"
    _assert_png(out)


def test_plot_lr_find_length_mismatch(tmp_path):
    with pytest.raises(ValueError, match="3 learning rates but 2 losses"):
        plot_lr_find([1e-4, 1e-3, 1e-2], [0.5, 0.4], None, tmp_path / "x.png")
