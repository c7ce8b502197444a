"""Mask-folder datasets: pairing, folder names, value and colour mappings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seglab.core.constants import IGNORE_INDEX
from seglab.data import open_dataset
from seglab.data.folders import FolderSource, infer_mapping
from seglab.data.layout import discover
from seglab.errors import DataError
from tests.builders import mask_dataset, write_image


def _disc(h=16, w=16, value=1):
    yy, xx = np.mgrid[:h, :w]
    return (((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (h / 4) ** 2).astype(np.uint8) * value


@pytest.mark.parametrize(
    ("image_dir", "mask_dir"),
    [("images", "masks"), ("image", "label"), ("imgs", "masks"), ("img", "gt")],
)
def test_common_folder_names_found(tmp_path, image_dir, mask_dir):
    mask_dataset(tmp_path, {"a": _disc(value=255)}, image_dir=image_dir, mask_dir=mask_dir)
    spec = discover(tmp_path)["train"]
    assert (spec.kind, spec.images.name, spec.masks.name) == ("masks", image_dir, mask_dir)


@pytest.mark.parametrize("value", [1, 255])
def test_binary_masks_0_1_and_0_255(tmp_path, value):
    disc = _disc(value=value)
    mask_dataset(tmp_path, {"a": disc, "b": np.zeros_like(disc)})
    src = open_dataset(tmp_path, val_fraction=0)
    assert src.classes == ["background", "foreground"] and src.mapping.kind == "binary"
    assert np.array_equal(src.load_mask(0), (disc > 0).astype(np.int64))
    assert src.load_mask(1).sum() == 0


@pytest.mark.parametrize("suffix", ["_mask", "-mask", "_label", "_gt", "_segmentation"])
def test_mask_suffixes_matched_by_stem(tmp_path, suffix):
    mask_dataset(tmp_path, {"cell_01": _disc(value=255)}, mask_suffix=suffix)
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert [it.key for it in src.items] == ["cell_01"]


def test_unmatched_files_are_reported(tmp_path):
    mask_dataset(tmp_path, {"a": _disc(value=255)})
    write_image(tmp_path / "images" / "lonely.png")
    Image.fromarray(_disc(value=255)).save(tmp_path / "masks" / "orphan.png")
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    messages = [str(p) for p in src.problems]
    assert any("lonely.png" in m and "no mask found" in m for m in messages)
    assert any("orphan.png" in m and "no matching image" in m for m in messages)
    assert len(src) == 1


def test_rgb_colour_masks_become_classes_with_mapping(tmp_path):
    mask = np.zeros((16, 16, 3), np.uint8)
    mask[:8, :8] = (255, 0, 0)
    mask[8:, 8:] = (0, 0, 255)
    mask_dataset(tmp_path, {"a": mask})
    src = open_dataset(tmp_path, val_fraction=0)
    # black is the background; other colours sorted: (0,0,255) < (255,0,0)
    assert src.classes == ["background", "#0000ff", "#ff0000"]
    m = src.load_mask(0)
    assert (m[:8, :8] == 2).all() and (m[8:, 8:] == 1).all() and m[0, 15] == 0
    assert src.mapping.to_json()["mapping"] == {"#000000": 0, "#0000ff": 1, "#ff0000": 2}


def test_palette_masks_use_indices(tmp_path):
    mask_dataset(tmp_path, {"a": np.zeros((16, 16), np.uint8)})
    idx = np.zeros((16, 16), np.uint8)
    idx[:4] = 1
    idx[4:8] = 2
    idx[15] = 255
    img = Image.fromarray(idx, mode="L")
    img.putpalette([0, 0, 0, 200, 0, 0, 0, 200, 0] + [0, 0, 0] * 252 + [255, 255, 255])
    img.save(tmp_path / "masks" / "a.png")
    src = open_dataset(tmp_path, val_fraction=0)
    m = src.load_mask(0)
    assert (m[:4] == 1).all() and (m[4:8] == 2).all() and (m[15] == IGNORE_INDEX).all()
    assert src.num_classes == 3


def test_many_values_become_sorted_classes(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[:4] = 128
    mask[4:8] = 255
    mask_dataset(tmp_path, {"a": mask})
    src = open_dataset(tmp_path, val_fraction=0)
    m = src.load_mask(0)
    assert (m[:4] == 1).all() and (m[4:8] == 2).all() and m[10, 0] == 0
    assert src.mapping.to_json()["mapping"] == {"0": 0, "128": 1, "255": 2}


def test_declared_classes_reject_values_outside(tmp_path):
    good = np.zeros((16, 16), np.uint8)
    good[:4] = 2
    bad = good.copy()
    bad[8:] = 7
    mask_dataset(tmp_path, {"good": good, "bad": bad})
    src = open_dataset(tmp_path, num_classes=3, val_fraction=0)
    assert [it.key for it in src.items] == ["good"]
    err = [p for p in src.problems if p.severity == "error"]
    assert len(err) == 1 and "bad.png" in err[0].path and "[7]" in err[0].message


def test_infer_mapping_rules():
    assert infer_mapping({0, 255}).kind == "binary"
    assert infer_mapping({1}).kind == "binary"
    voc = infer_mapping({0, 1, 2, 255})
    assert voc.lookup == {0: 0, 1: 1, 2: 2, 255: IGNORE_INDEX} and len(voc.classes) == 3
    grey = infer_mapping({0, 85, 170, 255})
    assert grey.lookup == {0: 0, 85: 1, 170: 2, 255: 3}
    with pytest.raises(DataError, match="distinct values"):
        infer_mapping(set(range(300)))


def test_binary_with_ignore_value(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[:4] = 1
    mask[15] = 255
    mask_dataset(tmp_path, {"a": mask})
    m = open_dataset(tmp_path, val_fraction=0).load_mask(0)
    assert (m[:4] == 1).all() and (m[15] == IGNORE_INDEX).all() and m[8, 0] == 0


def test_mask_image_size_mismatch_is_an_error_on_load(tmp_path):
    mask_dataset(tmp_path, {"a": _disc(value=255)})
    write_image(tmp_path / "images" / "a.png", 20, 20)
    src = open_dataset(tmp_path, val_fraction=0)
    with pytest.raises(DataError, match=r"a\.png: mask size 16x16 differs from the image size"):
        src.load(0)


def test_ambiguous_stems_are_errors(tmp_path):
    mask_dataset(tmp_path, {"a": _disc(value=255)})
    write_image(tmp_path / "images" / "a.jpg")
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert len(src) == 0
    assert any("several images share the stem 'a'" in p.message for p in src.problems)


def test_classes_json_beside_the_masks_declares_the_mapping(tmp_path):
    # a split with only classes 0 and 3 of a 4-class dataset: without classes.json the values
    # would be renumbered 0/1; the file written by `seglab data convert` keeps them
    mask = np.zeros((16, 16), np.uint8)
    mask[:4] = 3
    mask_dataset(tmp_path, {"a": mask})
    (tmp_path / "classes.json").write_text(
        '{"classes": ["background", "a", "b", "c"], "ignore_index": 255,'
        ' "mask_values": {"0": 0, "1": 1, "2": 2, "3": 3, "255": 255}}'
    )
    src = open_dataset(tmp_path, val_fraction=0)
    assert src.classes == ["background", "a", "b", "c"]
    assert (src.load_mask(0)[:4] == 3).all()
    (tmp_path / "classes.json").write_text('{"classes": ["x"]}')
    with pytest.raises(DataError, match=r"classes\.json"):
        open_dataset(tmp_path, val_fraction=0)
