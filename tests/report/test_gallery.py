"""The report's gallery rows: a zoom tile where the objects are too small for a thumbnail."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from seglab.core.zoom import Box
from seglab.report.gallery import Zoom, predicted_rows, scored_rows

SIZE = 512


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)


def _mask(top: int, left: int, side: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), np.int64)
    mask[top : top + side, left : left + side] = 1
    return mask


def _evaluation(folder: Path, preds: dict[str, np.ndarray]) -> Path:
    """``scores.csv`` and ``masks/`` as ``evaluate`` writes them (scores made up)."""
    (folder / "masks").mkdir(parents=True)
    rows = []
    for key, pred in preds.items():
        Image.fromarray((pred * 255).astype(np.uint8)).save(folder / "masks" / f"{key}.png")
        rows.append({"image": key, "dice": 0.5, "iou": 0.3, "precision": 0.5, "recall": 0.5,
                     "image_path": "", "pred": f"masks/{key}.png"})  # fmt: skip
    with (folder / "scores.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_scored_rows_zoom_on_small_objects_only(tmp_path):
    truths = {"tiny": _mask(100, 200, 10), "large": _mask(100, 100, 300), "empty": _mask(0, 0, 0)}
    preds = {"tiny": _mask(100, 205, 10), "large": _mask(110, 100, 300), "empty": _mask(0, 0, 0)}
    image = _image()
    rows = scored_rows(
        _evaluation(tmp_path / "evaluation", preds),
        lambda key, _: (image, truths[key]),
        tmp_path / "thumbs",
        num_classes=2,
        class_names=["background", "object"],
        thumb=256,
    )
    zooms = {row.key: row.zoom for row in rows}
    assert zooms["large"] is None and zooms["empty"] is None
    zoom = zooms["tiny"]
    assert zoom == Zoom(tmp_path / "thumbs" / "tiny.zoom.png", Box(92, 192, 118, 223), 8.0)
    assert zoom.caption == "x 192\u2013222, y 92\u2013117, \u00d78"
    with Image.open(zoom.path) as tile:
        assert tile.format == "PNG" and tile.size == (31 * 8, 26 * 8)
    assert [label for label, _ in rows[0].tiles] == ["image", "truth", "prediction", "crop"]


def test_predicted_rows_zoom_on_small_predictions(tmp_path):
    folder = tmp_path / "test"
    (folder / "masks").mkdir(parents=True)
    Image.fromarray(_image()).save(tmp_path / "a.png")
    items = []
    for key, pred in (("small", _mask(0, 0, 10)), ("big", _mask(0, 0, 200))):
        Image.fromarray((pred * 255).astype(np.uint8)).save(folder / "masks" / f"{key}.png")
        items.append({"key": key, "image": str(tmp_path / "a.png"), "mask": f"masks/{key}.png"})
    (folder / "summary.json").write_text(json.dumps({"items": items}))
    rows = predicted_rows(folder, tmp_path / "thumbs", num_classes=2, thumb=64)
    small, big = rows
    assert big.zoom is None
    assert small.zoom is not None and small.zoom.box == Box(0, 0, 18, 18)
    assert small.zoom.factor == 3  # 64 // 18
    with Image.open(small.zoom.path) as tile:
        assert tile.size == (54, 54)
