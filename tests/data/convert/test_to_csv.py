"""Tests of seglab.data.convert.to_csv: run-length CSV, binary and multiclass."""

from __future__ import annotations

import csv

import numpy as np

from seglab.data.coco import CocoSource
from seglab.data.convert.to_csv import source_to_rle_csv
from seglab.data.folders import FolderSource
from seglab.data.rle import decode_rle, read_rle_csv

from .test_convert import MASK_SIZE, make_coco_dataset, make_mask_dataset, masks_by_key


def test_binary_rle_csv_round_trip(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds"))
    rows = source_to_rle_csv(src, tmp_path / "masks.csv")
    assert rows == 3
    table = read_rle_csv(tmp_path / "masks.csv")
    assert table["empty.png"] == ""
    for key, mask in masks_by_key(src).items():
        np.testing.assert_array_equal(decode_rle(table[key], mask.shape), mask == 1)


def test_binary_rle_csv_from_coco_leaves_ignore_out(tmp_path):
    src = CocoSource(make_coco_dataset(tmp_path / "coco"))
    source_to_rle_csv(src, tmp_path / "masks.csv")
    table = read_rle_csv(tmp_path / "masks.csv")
    assert set(table) == {"a.png", "sub/b.png", "c.png"}
    for i, item in enumerate(src.items):
        mask = src.load_mask(i)
        np.testing.assert_array_equal(decode_rle(table[item.key], mask.shape), mask == 1)


def test_multiclass_rle_csv_has_a_class_column(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds", multiclass=True))
    rows = source_to_rle_csv(src, tmp_path / "masks.csv")
    with open(tmp_path / "masks.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["img_id", "class", "rle_mask"]
    assert rows == len(table) - 1 == 4  # d1 and d2 hold both classes, empty none
    masks = masks_by_key(src)
    for img_id, name, rle in table[1:]:
        cls = src.classes.index(name)
        np.testing.assert_array_equal(decode_rle(rle, (MASK_SIZE, MASK_SIZE)), masks[img_id] == cls)
