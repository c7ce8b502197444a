"""Prediction files: the seed's run-length CSV and COCO results JSON, written and read back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seglab.data.rle import decode_coco_rle, read_rle_csv
from seglab.errors import DataError
from seglab.io import write_mask
from seglab.predict.formats import (
    coco_entries,
    read_predictions,
    rle_rows,
    write_coco_results,
    write_rle_predictions,
)

BINARY = ["background", "cell"]
THREE = ["background", "cat", "dog"]


def _masks() -> dict[str, np.ndarray]:
    """Three 6x5 class-index masks: two classes, one class, nothing."""
    a = np.zeros((6, 5), np.int64)
    a[1:3, 1:4] = 1
    a[4:, 0] = 2
    b = np.zeros((6, 5), np.int64)
    b[0, :] = 2
    return {"a.png": a, "b.png": b, "c.png": np.zeros((6, 5), np.int64)}


def test_rle_rows_binary_one_row_per_image_even_when_empty():
    mask = np.array([[0, 1, 1], [0, 0, 1]])
    assert rle_rows("x.png", mask, BINARY) == [["x.png", "2 2 6 1"]]
    assert rle_rows("x.png", np.zeros((2, 3), np.int64), BINARY) == [["x.png", ""]]
    assert rle_rows("x.png", mask * 255, ["background"]) == [["x.png", "2 2 6 1"]]


def test_rle_rows_multiclass_one_row_per_class_present():
    masks = _masks()
    assert rle_rows("a.png", masks["a.png"], THREE) == [
        ["a.png", "cat", "7 3 12 3"],
        ["a.png", "dog", "21 1 26 1"],
    ]
    assert rle_rows("c.png", masks["c.png"], THREE) == [["c.png", "", ""]]


def test_binary_csv_is_the_seeds_format_and_reads_back(tmp_path):
    masks = {k: (v != 0).astype(np.int64) for k, v in _masks().items()}
    rows = [row for key, m in masks.items() for row in rle_rows(key, m, BINARY)]
    path = write_rle_predictions(tmp_path / "pred.csv", rows, BINARY)
    assert path.read_text().splitlines()[0] == "img_id,rle_mask"
    assert read_rle_csv(path)["c.png"] == ""  # the seed's reader takes it as it is
    back = read_predictions(path, classes=BINARY, shapes={k: (6, 5) for k in masks})
    assert set(back) == set(masks)
    for key, mask in masks.items():
        np.testing.assert_array_equal(back[key], mask)


def test_multiclass_csv_round_trip_and_shapes_matched_by_stem(tmp_path):
    masks = _masks()
    rows = [row for key, m in masks.items() for row in rle_rows(key, m, THREE)]
    path = write_rle_predictions(tmp_path / "pred.csv", rows, THREE)
    assert path.read_text().splitlines()[:2] == ["img_id,class,rle_mask", "a.png,cat,7 3 12 3"]
    shapes = {"a": (6, 5), "images/b.jpg": (6, 5), "c.png": (6, 5)}  # dataset keys differ
    back = read_predictions(path, classes=THREE, shapes=shapes)
    for key, mask in masks.items():
        np.testing.assert_array_equal(back[key], mask)


def test_coco_entries_load_in_pycocotools_and_read_back(tmp_path):
    from pycocotools.coco import COCO

    masks = _masks()
    probs = np.zeros((3, 6, 5))
    probs[1][masks["a.png"] == 1] = 0.8
    probs[2][masks["a.png"] == 2] = 0.6
    entries = coco_entries("a.png", masks["a.png"], THREE, 1, probs=probs)
    assert [(e["category_id"], e["score"]) for e in entries] == [(1, 0.8), (2, 0.6)]
    assert isinstance(entries[0]["segmentation"]["counts"], str)
    np.testing.assert_array_equal(decode_coco_rle(entries[1]["segmentation"]), masks["a.png"] == 2)
    entries += coco_entries("b.png", masks["b.png"], THREE, 2)
    assert coco_entries("c.png", masks["c.png"], THREE, 3) == []  # nothing found: no entry
    path = write_coco_results(tmp_path / "results.json", entries)

    gt = COCO()
    gt.dataset = {
        "images": [{"id": i, "height": 6, "width": 5} for i in (1, 2, 3)],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "annotations": [],
    }
    gt.createIndex()
    results = gt.loadRes(str(path))
    assert len(results.getAnnIds()) == 3 and results.anns[1]["area"] == 6

    back = read_predictions(path, classes=THREE)
    assert set(back) == {"a.png", "b.png"}
    np.testing.assert_array_equal(back["a.png"], masks["a.png"])
    np.testing.assert_array_equal(back["b.png"], masks["b.png"])


def test_coco_binary_scores_are_the_mean_probability_and_higher_score_wins(tmp_path):
    mask = np.array([[1, 1, 0], [0, 0, 0]])
    probs = np.array([[0.9, 0.7, 0.2], [0.1, 0.1, 0.1]])
    (entry,) = coco_entries("x", mask, BINARY, 5, probs=probs)
    assert entry["category_id"] == 1 and entry["score"] == pytest.approx(0.8)
    low = {**coco_entries("x", np.ones((2, 3)), THREE, 5)[0], "score": 0.3}  # cat everywhere
    high = {**coco_entries("x", np.ones((2, 3)) * 2, THREE, 5)[0], "score": 0.9}  # dog
    high["segmentation"] = coco_entries("x", mask * 2, THREE, 5)[0]["segmentation"]
    path = write_coco_results(tmp_path / "r.json", [high, low])
    np.testing.assert_array_equal(
        read_predictions(path, classes=THREE)["x"], [[2, 2, 1], [1, 1, 1]]
    )


def test_coco_entries_without_file_name_are_keyed_through_image_ids(tmp_path):
    entry = coco_entries("x", np.eye(3, dtype=np.int64), BINARY, 7)[0]
    del entry["file_name"]
    path = write_coco_results(tmp_path / "r.json", [entry])
    assert set(read_predictions(path)) == {"7"}
    assert set(read_predictions(path, image_ids={7: "val7.png"})) == {"val7.png"}


def test_mask_folder_reads_0_255_and_class_indices_keyed_by_relative_path(tmp_path):
    masks = _masks()
    write_mask(tmp_path / "bin" / "sub" / "a.png", (masks["a.png"] != 0).astype(np.uint8) * 255)
    write_mask(tmp_path / "multi" / "a.png", masks["a.png"])
    back = read_predictions(tmp_path / "bin")
    assert list(back) == ["sub/a"]
    np.testing.assert_array_equal(back["sub/a"], masks["a.png"] != 0)
    np.testing.assert_array_equal(read_predictions(tmp_path / "multi")["a"], masks["a.png"])
    write_mask(tmp_path / "bad" / "a.png", masks["a.png"] * 3)
    with pytest.raises(DataError, match=r"a\.png: mask value 6 is not a class index 0\.\.2"):
        read_predictions(tmp_path / "bad", classes=THREE)
    # binary classes: any non-zero value is the object
    np.testing.assert_array_equal(
        read_predictions(tmp_path / "multi", classes=BINARY)["a"], masks["a.png"] != 0
    )


def test_csv_needs_the_image_size_and_names_the_image(tmp_path):
    path = write_rle_predictions(tmp_path / "p.csv", [["val0.png", "1 3"]], BINARY)
    with pytest.raises(
        DataError, match=r"p\.csv: img_id 'val0.png' \(line 2\): the image size is unknown"
    ):
        read_predictions(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("img_id,rle_mask\na.png,1 2\nb.png,1 x\n", r"bad\.csv: line 3: rle_mask '1 x'"),
        ("img_id,rle_mask\na.png,1 2\na.png,3 1\n", r"bad\.csv: line 3: duplicate img_id"),
        ("img_id,class,rle_mask\na.png,cat,1 2\na.png,cow,3 1\n", r"line 3: unknown class 'cow'"),
        ("img_id,class,rle_mask\na.png,cat,1 2 3\n", r"bad\.csv: line 2: rle_mask '1 2 3'"),
        ("img_id,class,rle_mask\na.png,,1 2\n", r"line 2: rle_mask without a class"),
        ("id,mask\na.png,1 2\n", r"bad\.csv: line 1: missing column"),
    ],
)
def test_malformed_csv_names_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_predictions(path, classes=THREE, shapes={"a.png": (4, 4), "b.png": (4, 4)})


def test_run_outside_the_image_names_the_file_and_image(tmp_path):
    path = write_rle_predictions(tmp_path / "p.csv", [["a.png", "10 9"]], BINARY)
    with pytest.raises(DataError, match=r"p\.csv: img_id 'a.png' \(line 2\): bad run-length"):
        read_predictions(path, shapes={"a.png": (4, 4)})


@pytest.mark.parametrize(
    ("entries", "match"),
    [
        ({"image_id": 1}, r"results\.json: expected a JSON list"),
        ([{"image_id": 1, "category_id": 1, "segmentation": {"size": [2, 2], "counts": "4"}}, 3],
         r"results\.json: entry 1: expected an object"),
        ([{"image_id": 1, "category_id": 1}], r'results\.json: entry 0: missing "segmentation"'),
        ([{"image_id": 1, "category_id": 3, "segmentation": {}}],
         r'entry 0: "category_id": 3 is not a class index \(1\.\.2\)'),
        ([{"image_id": 1, "category_id": 1, "segmentation": {}, "score": "high"}],
         r'entry 0: "score"'),
        ([{"image_id": 1, "category_id": 1, "segmentation": "RLE"}], r'entry 0: "segmentation"'),
        ([{"image_id": 1, "category_id": 1, "segmentation": {"size": [2, 2], "counts": "4"}},
          {"image_id": 1, "category_id": 2, "segmentation": {"size": [2, 2], "counts": "9"}}],
         r'results\.json: entry 1: "segmentation": bad COCO RLE'),
    ],
)  # fmt: skip
def test_malformed_coco_results_name_the_file_and_entry(tmp_path, entries, match):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(entries))
    with pytest.raises(DataError, match=match):
        read_predictions(path, classes=THREE)


def test_unknown_prediction_paths_are_refused(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_predictions(tmp_path / "nothing")
    (tmp_path / "p.txt").write_text("x")
    with pytest.raises(DataError, match="folder of mask PNGs"):
        read_predictions(tmp_path / "p.txt")


@pytest.mark.parametrize("header", ["img_id,rle_mask", "img_id,class,rle_mask"])
def test_csv_that_is_not_utf8_is_a_data_error(tmp_path, header):
    path = tmp_path / "p.csv"
    path.write_bytes(f"{header}\n".encode() + "café.png,1 2\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"p\.csv: .*not UTF-8"):
        read_predictions(path, shapes={"café.png": (4, 4)})
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match=r"p\.csv: line 2: not UTF-8"):
        read_predictions(path)
