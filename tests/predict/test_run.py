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
from tests.builders import write_image


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
    assert summary.images == 2 and len(summary.skipped) == 1
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


def _copy_val(root, dest, names=("val0", "val1", "val2")):
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        (dest / f"{name}.png").write_bytes((root / "val" / "images" / f"{name}.png").read_bytes())
    return dest


def test_every_output_matches_the_mask_and_the_summary_lists_the_files(run, tmp_path):
    run_dir, root = run
    images = _copy_val(root, tmp_path / "in")
    summary = predict(run_dir, input=images, out=tmp_path / "out", save_probs=True)
    out = tmp_path / "out"
    assert summary.images == 3 and summary.backend in (
        "torch",
        "channels_last",
        "onnxruntime",
    )
    assert [item.key for item in summary.items] == ["val0.png", "val1.png", "val2.png"]
    for item in (item.to_dict() for item in summary.items):
        image = np.asarray(Image.open(item["image"]))
        mask, _ = read_mask(out / item["mask"])
        fg = mask == 255
        assert fg.any() and item["foreground"] == pytest.approx(fg.mean(), abs=1e-6)
        crop = np.asarray(Image.open(out / item["crop"]))
        assert (crop[fg] == image[fg]).all() and (crop[~fg] == 0).all()
        tinted = np.asarray(Image.open(out / item["overlay"]))
        assert tinted.shape == image.shape and (tinted[~fg] == image[~fg]).all()
        assert not (tinted[fg] == image[fg]).all()
        probs = np.load(out / item["probs"])
        assert probs.dtype == np.float16 and probs.shape == mask.shape
        assert ((probs > 0.5) == fg).mean() > 0.99  # float16 rounding at the threshold only
    assert json.loads((out / "summary.json").read_text()) == summary.to_dict()


def test_optional_outputs_can_be_left_out(run, tmp_path):
    run_dir, root = run
    images = _copy_val(root, tmp_path / "in", names=("val0",))
    predict(run_dir, input=images, out=tmp_path / "out", overlays=False, crops=False, progress=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["masks", "summary.json"]


def test_rle_csv_and_coco_json_hold_the_written_masks(run, tmp_path):
    from pycocotools import mask as coco_mask

    from seglab.data.rle import decode_rle, read_rle_csv

    run_dir, root = run
    images = _copy_val(root, tmp_path / "in")
    csv_path, json_path = tmp_path / "val.csv", tmp_path / "val.json"
    code = main(["predict", "--model", str(run_dir), "--input", str(images), "--out",
                 str(tmp_path / "out"), "--rle-csv", str(csv_path), "--coco-json",
                 str(json_path), "-q"])  # fmt: skip
    assert code == 0
    assert csv_path.read_text().splitlines()[0] == "img_id,rle_mask"  # the seed's header
    rles = read_rle_csv(csv_path)
    results = json.loads(json_path.read_text())
    assert sorted(rles) == ["val0.png", "val1.png", "val2.png"]
    for key, rle in rles.items():
        mask, _ = read_mask(tmp_path / "out" / "masks" / key)
        assert (decode_rle(rle, mask.shape) == (mask == 255)).all()
        (entry,) = [r for r in results if r["file_name"] == key]
        assert entry["category_id"] == 1 and 0.5 < entry["score"] <= 1
        assert (coco_mask.decode(entry["segmentation"]) == (mask == 255)).all()
    assert len({r["image_id"] for r in results}) == 3
    code = main(["predict", "--model", str(run_dir), "--input", str(images), "--out",
                 str(tmp_path / "out2"), "--rle-csv", str(csv_path)])  # fmt: skip
    assert code == 2  # the CSV exists: --overwrite needed


def test_batching_does_not_change_the_masks(run, tmp_path):
    run_dir, root = run
    images = _copy_val(root, tmp_path / "in", names=("val0", "val1", "val2", "val3", "val4"))
    predict(run_dir, input=images, out=tmp_path / "one", batch_size=1)
    predict(run_dir, input=images, out=tmp_path / "many", batch_size=4)
    for path in (tmp_path / "one" / "masks").iterdir():
        assert (read_mask(path)[0] == read_mask(tmp_path / "many" / "masks" / path.name)[0]).all()


def test_outputs_never_land_among_the_inputs(run, tmp_path):
    run_dir, root = run
    images = _copy_val(root, tmp_path / "in", names=("val0",))
    with pytest.raises(DataError, match="holds the input images"):
        predict(run_dir, input=images, out=images, overwrite=True)
    with pytest.raises(DataError, match="holds the input images"):
        predict(run_dir, input=images / "val0.png", out=images, overwrite=True)


def test_hostile_image_names_become_safe_file_names(run, tmp_path):
    run_dir, root = run
    images = tmp_path / "in"
    images.mkdir()
    data = (root / "val" / "images" / "val0.png").read_bytes()
    for name in ("<img src=x onerror=alert(1)>.png", "a\"b'c.png", "..png"):
        (images / name).write_bytes(data)
    summary = predict(run_dir, input=images, out=tmp_path / "out")
    files = sorted(p.name for p in (tmp_path / "out" / "masks").iterdir())
    assert len(files) == 3 and all(
        set(f) <= set("abcdefghijklmnopqrstuvwxyz_.0123456789") for f in files
    )
    assert sorted(item.key for item in summary.items) == sorted(
        ["<img src=x onerror=alert(1)>.png", "a\"b'c.png", "..png"]
    )


def test_cli_predictions_score_the_same_as_the_model_in_evaluate(run, tmp_path):
    from seglab.api import evaluate

    run_dir, root = run
    csv_path, json_path = tmp_path / "val.csv", tmp_path / "val.json"
    code = main(["predict", "--model", str(run_dir), "--input", str(root / "val" / "images"),
                 "--out", str(tmp_path / "out"), "--rle-csv", str(csv_path), "--coco-json",
                 str(json_path), "--threshold", "0.9", "-q"])  # fmt: skip
    assert code == 0
    reference = evaluate(run_dir, data=root, threshold=0.9, out=None)
    expected = {r["image"]: (r["dice"], r["iou"]) for r in reference.rows}
    for pred in (csv_path, json_path, tmp_path / "out" / "masks"):
        rows = evaluate(pred=pred, data=root, out=None).rows
        assert {r["image"]: (r["dice"], r["iou"]) for r in rows} == expected, pred


def test_bad_options_and_output_paths_are_refused_before_the_model_loads(tmp_path):
    from seglab.errors import ConfigError

    images = tmp_path / "in"
    images.mkdir()
    write_image(images / "a.png")
    nowhere = tmp_path / "no-run"  # never read: the options are refused first
    with pytest.raises(ConfigError, match=r"--threshold 1\.5 is outside \[0, 1\]"):
        predict(nowhere, input=images, out=tmp_path / "out", threshold=1.5)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--out .* is a file, not a folder"):
        predict(nowhere, input=images, out=tmp_path / "file" / "out")
    with pytest.raises(ConfigError, match=r"--rle-csv .* is a file, not a folder"):
        predict(nowhere, input=images, out=tmp_path / "out", rle_csv=tmp_path / "file" / "x.csv")
    with pytest.raises(ConfigError, match="--coco-json: the name"):
        predict(nowhere, input=images, out=tmp_path / "out", coco_json=tmp_path / ("n" * 300))
    assert not (tmp_path / "out").exists()
