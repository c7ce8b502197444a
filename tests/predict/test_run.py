"""Predicting with a trained run: masks at the images' own sizes, the run's threshold, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seglab.api import load_model, predict
from seglab.cli import main
from seglab.errors import DataError
from seglab.io import read_mask


@pytest.fixture
def run(tiny_run):
    return tiny_run


def test_predicted_masks_match_the_truth_and_keep_each_image_size(run, tmp_path):
    run_dir, root = run
    model = load_model(run_dir)
    for name in ("val0", "val1"):
        image = np.asarray(Image.open(root / "val" / "images" / f"{name}.png"))
        truth = np.asarray(Image.open(root / "val" / "masks" / f"{name}.png")) > 0
        mask = model.predict(image)
        assert mask.shape == truth.shape and mask.dtype == np.int64
        dice = 2 * (mask.astype(bool) & truth).sum() / (mask.sum() + truth.sum())
        assert dice > 0.8
    probs = model.predict_proba(np.zeros((45, 27, 3), np.uint8))  # any size, any aspect
    assert probs.shape == (45, 27) and 0 <= probs.min() <= probs.max() <= 1


def test_predict_writes_0_255_masks_and_skips_unreadable_images(run, tmp_path):
    run_dir, root = run
    images = tmp_path / "in"
    images.mkdir()
    for name in ("val0", "val1"):
        (images / f"{name}.png").write_bytes((root / "val" / "images" / f"{name}.png").read_bytes())
    (images / "broken.png").write_bytes(b"not a png")
    with pytest.warns(RuntimeWarning, match="broken.png"):
        summary = predict(run_dir, input=images, out=tmp_path / "out")
    assert summary["images"] == 2 and len(summary["skipped"]) == 1
    mask, _ = read_mask(tmp_path / "out" / "masks" / "val0.png")
    assert set(np.unique(mask)) <= {0, 255} and mask.shape == (32, 32)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["images"] == 2
    code = main(["predict", "--model", str(run_dir), "--input", str(images), "--out",
                 str(tmp_path / "out")])  # fmt: skip
    assert code == 2  # not empty: --overwrite needed


def test_missing_or_foreign_model_files_are_named(run, tmp_path):
    with pytest.raises(DataError, match=r"model\.json"):
        load_model(tmp_path)
    run_dir, _ = run
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    info = json.loads((run_dir / "model.json").read_text())
    (foreign / "model.json").write_text(json.dumps({**info, "format": "other/9"}))
    (foreign / "model.safetensors").write_bytes((run_dir / "model.safetensors").read_bytes())
    with pytest.raises(DataError, match="format"):
        load_model(foreign)
