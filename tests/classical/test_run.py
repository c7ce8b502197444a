"""Fitting on train, running and scoring on val, comparing: files and known answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seglab.api import classical, compare
from seglab.classical import get_method
from seglab.classical.fit import candidates, fit_method
from seglab.errors import DataError, SeglabError
from seglab.io import read_mask
from tests.builders import mask_dataset


def _scene(seed, *, bright=True, size=40):
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    r0, c0 = rng.integers(4, size - 16, 2)
    mask[r0 : r0 + 12, c0 : c0 + 12] = 255
    lo, hi = (60, 190) if bright else (190, 60)
    gray = np.where(mask > 0, hi, lo) + rng.normal(0, 8, mask.shape)
    return np.clip(gray, 0, 255).astype(np.uint8), mask


def _dataset(root, *, train_bright=True, val_bright=True, n=4):
    from PIL import Image

    for split, bright in (("train", train_bright), ("val", val_bright)):
        masks = {}
        for i in range(n):
            image, mask = _scene(i + (100 if split == "val" else 0), bright=bright)
            masks[f"{split}{i}"] = mask
        mask_dataset(root / split, masks)
        for i in range(n):  # replace the random images by the scenes
            image, _ = _scene(i + (100 if split == "val" else 0), bright=bright)
            Image.fromarray(image).save(root / split / "images" / f"{split}{i}.png")
    return root


def test_polarity_is_chosen_on_training_labels():
    images, masks = zip(*(_scene(i, bright=False) for i in range(3)), strict=True)
    params, trials = fit_method(get_method("otsu"), images, [m // 255 for m in masks])
    assert params["polarity"] == "dark"
    assert {t["params"]["polarity"] for t in trials} == {"bright", "dark"}


def test_tune_searches_the_grid_keeping_given_params():
    method = get_method("otsu")
    options = candidates(method, {"smooth": 1.0}, tune=True)
    assert all(o["smooth"] == 1.0 for o in options)
    assert {o["polarity"] for o in options} == {"bright", "dark"}


def test_run_fits_on_train_and_never_looks_at_val(tmp_path):
    # train objects are bright, val objects dark: a method fitted on val would pick "dark"
    data = _dataset(tmp_path / "d", train_bright=True, val_bright=False)
    summary = classical("otsu", data=data, out=tmp_path / "out")
    assert summary["params"]["polarity"] == "bright" and summary["fitted_on"] == 4
    assert summary["scores"]["dice"]["mean"] < 0.2  # wrong side on val, as it must be
    rows = (tmp_path / "out" / "scores.csv").read_text().splitlines()
    assert rows[0].startswith("image,seconds,dice,iou,precision,recall") and len(rows) == 5
    assert len(list((tmp_path / "out" / "masks").glob("*.png"))) == 4
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved["params"] == {"polarity": "bright"}


def test_run_scores_high_when_train_and_val_agree(tmp_path):
    data = _dataset(tmp_path / "d")
    summary = classical("otsu", data=data, out=tmp_path / "out", tune=True)
    assert summary["tuned"] and len(summary["trials"]) == 6
    assert summary["scores"]["dice"]["mean"] > 0.95


def test_run_on_a_folder_without_labels_writes_masks(tmp_path):
    from PIL import Image

    (tmp_path / "in").mkdir()
    for i in range(2):
        Image.fromarray(_scene(i)[0]).save(tmp_path / "in" / f"p{i}.png")
    summary = classical("otsu", input=tmp_path / "in", out=tmp_path / "out")
    assert "scores" not in summary and summary["images"] == 2

    mask, _ = read_mask(tmp_path / "out" / "masks" / "p0.png")
    assert set(np.unique(mask)) <= {0, 255} and mask.any()
    with pytest.raises(SeglabError, match="--overwrite"):
        classical("otsu", input=tmp_path / "in", out=tmp_path / "out")


def test_run_with_glob_input_and_labels_output(tmp_path):
    from PIL import Image

    (tmp_path / "in").mkdir()
    Image.fromarray(_scene(0)[0]).save(tmp_path / "in" / "a.png")
    summary = classical("watershed", input=str(tmp_path / "in" / "*.png"), out=tmp_path / "o")
    assert summary["images"] == 1 and (tmp_path / "o" / "labels" / "a.png").is_file()
    labels, _ = read_mask(tmp_path / "o" / "labels" / "a.png")
    # 16-bit whatever the count: seglab evaluate --pred reads the folder as objects
    assert labels.dtype == np.uint16 and 0 < labels.max() < 256


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        classical("otsu", input=tmp_path / "nope", out=tmp_path / "o")


def test_compare_writes_table_and_examples(tmp_path):
    data = _dataset(tmp_path / "d")
    result = compare(data, methods="otsu,kmeans,watershed", out=tmp_path / "cmp", examples=2)
    names = [r.method for r in result.rows]
    assert sorted(names) == ["kmeans", "otsu", "watershed"]
    assert result.rows[0].dice >= result.rows[-1].dice  # sorted best first
    assert all(r.dice > 0.9 for r in result.rows if r.method in ("otsu", "watershed"))
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert md.startswith("| method | dice | iou |") and "±" in md
    assert (tmp_path / "cmp" / "otsu" / "scores.csv").is_file()
    from PIL import Image

    w, h = Image.open(tmp_path / "cmp" / "examples.png").size
    assert w > h  # 2 rows of 5 tiles (image, truth, 3 methods)


def test_postprocess_removes_specks_and_is_recorded(tmp_path):
    from PIL import Image

    data = _dataset(tmp_path / "d")
    for path in (tmp_path / "d" / "val" / "images").glob("*.png"):
        image = np.array(Image.open(path))
        image[::4, ::4] = 190  # bright one-pixel specks, as bright as the objects
        Image.fromarray(image).save(path)
    plain = classical("otsu", data=data, out=tmp_path / "a", params={"polarity": "bright"})
    cleaned = classical(
        "otsu",
        data=data,
        out=tmp_path / "b",
        params={"polarity": "bright"},
        postprocess="remove_small_objects:min_size=4",
        preprocess="median:size=3",
    )
    assert plain["scores"]["dice"]["mean"] < 0.85
    assert cleaned["scores"]["dice"]["mean"] > 0.95
    assert [s["name"] for s in cleaned["postprocess"]] == ["remove_small_objects"]
    assert [s["name"] for s in cleaned["preprocess"]] == ["median"]


def test_nan_warning_names_the_image(tmp_path):
    import tifffile

    (tmp_path / "in").mkdir()
    image = np.full((16, 16), 0.2, np.float32)
    image[4:10, 4:10] = 0.8
    image[0, 0] = np.nan
    tifffile.imwrite(tmp_path / "in" / "nan.tif", image)
    with pytest.warns(RuntimeWarning, match=r"nan\.tif: .*NaN"):
        summary = classical("otsu", input=tmp_path / "in", out=tmp_path / "o")
    assert summary["images"] == 1


def test_kmeans_with_empty_training_masks_falls_back_with_a_warning():
    images = [_scene(0)[0]]
    masks = [np.zeros((40, 40), np.int64)]
    with pytest.warns(RuntimeWarning, match="kmeans: not fitted on the labels"):
        params, _ = fit_method(get_method("kmeans"), images, masks)
    assert "object_colour" not in params
