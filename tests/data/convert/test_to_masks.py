"""Tests of seglab.data.convert.to_masks: mask folders that FolderSource reads back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seglab.core.constants import IGNORE_INDEX
from seglab.core.overlay import IGNORE_COLOUR, class_colours
from seglab.data.coco import CocoSource
from seglab.data.convert.to_masks import mask_palette, source_to_masks
from seglab.data.folders import FolderSource
from seglab.data.inputs import ImageFolderSource
from seglab.errors import SeglabError
from seglab.io import read_mask

from .test_convert import make_coco_dataset, make_mask_dataset, masks_by_key


@pytest.mark.parametrize("multiclass", [False, True])
def test_coco_to_masks_reads_back_the_same_class_masks(tmp_path, multiclass):
    src = CocoSource(make_coco_dataset(tmp_path / "coco", multiclass=multiclass))
    summary = source_to_masks(src, tmp_path / "out")
    assert summary["images"] == summary["masks"] == 3
    assert summary["skipped"] == []
    back = FolderSource(tmp_path / "out" / "images", tmp_path / "out" / "masks")
    assert [it.key for it in back.items] == ["a", "c", "sub/b"]
    assert back.num_classes == src.num_classes
    expected, got = masks_by_key(src), masks_by_key(back)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert (got["b.png"] == IGNORE_INDEX).any()  # the crowd region stays ignored
    info = json.loads((tmp_path / "out" / "classes.json").read_text())
    assert info["classes"] == src.classes
    assert info["ignore_index"] == IGNORE_INDEX
    raw, meta = read_mask(tmp_path / "out" / "masks" / "sub" / "b.png")
    assert set(np.unique(raw).tolist()) == {0, 1, 255}
    assert meta.mode == "P"
    np.testing.assert_array_equal(meta.palette[1], class_colours(src.num_classes)[1])


def test_binary_masks_without_ignore_are_0_255_grayscale(tmp_path):
    images, masks = make_mask_dataset(tmp_path / "ds")
    src = FolderSource(images, masks)
    source_to_masks(src, tmp_path / "out")
    raw, meta = read_mask(tmp_path / "out" / "masks" / "d1.png")
    assert meta.mode == "L"
    assert set(np.unique(raw).tolist()) == {0, 255}
    info = json.loads((tmp_path / "out" / "classes.json").read_text())
    assert info["mask_values"] == {"0": 0, "255": 1}
    assert info["mapping"]["kind"] == "binary"
    assert (tmp_path / "out" / "images" / "d1.png").read_bytes() == (images / "d1.png").read_bytes()
    back = FolderSource(tmp_path / "out" / "images", tmp_path / "out" / "masks")
    for key, mask in masks_by_key(src).items():
        np.testing.assert_array_equal(masks_by_key(back)[key], mask)


def test_source_to_masks_refuses_non_empty_out_and_out_inside_input(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with pytest.raises(SeglabError, match="--overwrite"):
        source_to_masks(src, tmp_path / "out")
    source_to_masks(src, tmp_path / "out", overwrite=True)
    assert len(list((tmp_path / "out" / "masks").iterdir())) == 3
    with pytest.raises(SeglabError, match="inside the input"):
        source_to_masks(src, tmp_path / "ds" / "converted")


def test_unlabelled_source_to_masks_copies_images_only(tmp_path):
    images, _ = make_mask_dataset(tmp_path / "ds")
    summary = source_to_masks(ImageFolderSource(images), tmp_path / "out")
    assert summary["images"] == 3 and summary["masks"] == 0
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == [
        "d1.png",
        "d2.png",
        "empty.png",
    ]
    assert not (tmp_path / "out" / "masks").exists()


def test_mask_palette_has_class_colours_and_grey_ignore():
    palette = mask_palette(3)
    assert palette.shape == (256, 3) and palette.dtype == np.uint8
    np.testing.assert_array_equal(palette[:3], class_colours(3))
    np.testing.assert_array_equal(palette[IGNORE_INDEX], IGNORE_COLOUR)
    assert not palette[3:IGNORE_INDEX].any()
