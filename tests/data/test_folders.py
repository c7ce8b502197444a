"""Mask-folder datasets: pairing, folder names, value and colour mappings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seglab.core.constants import IGNORE_INDEX
from seglab.data import open_dataset
from seglab.data.folders import FolderSource
from seglab.data.layout import discover
from seglab.data.mask_mapping import infer_mapping
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


def _messages(src, severity=None):
    return [str(p) for p in src.problems if severity in (None, p.severity)]


def _three(tmp_path, **masks):
    """Masks a, b, c (16x16 0/255 discs) with ``masks`` replacing some of them."""
    disc = _disc(value=255)
    mask_dataset(tmp_path, {"a": disc, "b": disc, "c": disc})
    for stem, mask in masks.items():
        Image.fromarray(mask).save(tmp_path / "masks" / f"{stem}.png")
    return tmp_path


def test_broken_links_are_listed_and_named_when_read(tmp_path):
    _three(tmp_path)
    (tmp_path / "images" / "b.png").unlink()
    (tmp_path / "images" / "b.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "masks" / "c.png").unlink()
    (tmp_path / "masks" / "c.png").symlink_to("c.png")
    (tmp_path / "images" / "d.png").mkdir()  # a folder named like an image is not a file
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert [it.key for it in src.items] == ["a", "b"]  # c's mask is a loop: logged
    assert any("c.png: symbolic link loop" in m for m in _messages(src, "error"))
    with pytest.raises(DataError, match=r"b\.png: broken symbolic link"):
        src.load_image(1)


@pytest.mark.parametrize(
    ("mask_name", "hint"),
    [
        ("B.png", "B.png differs from it only in upper/lower case"),
        ("old/b.png", "old/b.png has its name but is in another folder"),
        ("b-gt.png", "b-gt.png starts with its name, but the suffix '-gt' is not one"),
        ("b.label.png", "rename it b_mask.png"),
    ],
)
def test_a_near_miss_mask_is_named(tmp_path, mask_name, hint):
    _three(tmp_path)
    (tmp_path / "masks" / mask_name).parent.mkdir(exist_ok=True)
    (tmp_path / "masks" / "b.png").rename(tmp_path / "masks" / mask_name)
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert [it.key for it in src.items] == ["a", "c"]
    warning = next(m for m in _messages(src, "warning") if "images/b.png" in m)
    assert "no mask found" in warning and hint in warning


def test_no_mask_hint_without_a_near_miss(tmp_path):
    _three(tmp_path)
    (tmp_path / "masks" / "b.png").rename(tmp_path / "masks" / "zebra.png")
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    warning = next(m for m in _messages(src, "warning") if "images/b.png" in m)
    assert warning.endswith("(image left out)")


def test_an_empty_mask_folder_is_an_error(tmp_path):
    _three(tmp_path)
    for mask in (tmp_path / "masks").iterdir():
        mask.unlink()
    with pytest.raises(DataError, match=r"masks: no mask files in this folder"):
        FolderSource(tmp_path / "images", tmp_path / "masks")


def test_masks_that_match_no_image_are_an_error(tmp_path):
    _three(tmp_path)
    for mask in (tmp_path / "masks").iterdir():
        mask.rename(mask.with_name(f"other_{mask.name}"))
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert len(src) == 0
    assert any("no mask matches an image" in m for m in _messages(src, "error"))


def _jpeg_mask(path, mask, quality=75):
    Image.fromarray(mask).save(path, format="JPEG", quality=quality)


def test_a_jpeg_mask_whose_values_changed_is_an_error(tmp_path):
    _three(tmp_path)
    (tmp_path / "masks" / "b.png").unlink()
    _jpeg_mask(tmp_path / "masks" / "b.jpg", _disc(value=255))
    # and one with JPEG data behind a .png name: the format decides, not the name
    _jpeg_mask(tmp_path / "masks" / "c.png", _disc(value=255))
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert [it.key for it in src.items] == ["a"]
    errors = _messages(src, "error")
    assert len(errors) == 2 and all("JPEG mask: lossy compression changed" in m for m in errors)
    assert src.mapping.kind == "binary" and src.mapping.lookup == {0: 0, 255: 1}


def test_a_jpeg_mask_of_exact_0_255_is_kept(tmp_path):
    _three(tmp_path)
    (tmp_path / "masks" / "b.png").unlink()
    _jpeg_mask(tmp_path / "masks" / "b.jpg", np.zeros((16, 16), np.uint8), quality=95)
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert len(src) == 3 and not _messages(src, "error")


def test_binary_masks_mixing_0_1_and_0_255(tmp_path):
    _three(tmp_path, b=_disc(value=1))
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert src.mapping.kind == "binary" and src.mapping.lookup == {0: 0, 1: 1, 255: 1}
    assert all((src.load_mask(i) == (_disc() > 0)).all() for i in range(3))
    warning = _messages(src, "warning")[0]
    assert "mix 0/1 (b.png, 1 masks) and 0/255 (a.png, 2 masks)" in warning
    # declared, 255 is the VOC "ignore": the 0/255 masks are all ignore
    declared = FolderSource(tmp_path / "images", tmp_path / "masks", num_classes=2)
    assert declared.mapping.lookup == {0: 0, 1: 1, 255: IGNORE_INDEX}


def test_voc_masks_are_not_mixed_binary(tmp_path):
    voc = _disc(value=1)
    voc[0] = 255  # an ignored border in a mask that also holds the class
    _three(tmp_path, b=voc, a=_disc(value=1), c=_disc(value=1))
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert src.mapping.lookup == {0: 0, 1: 1, 255: IGNORE_INDEX} and not src.problems


@pytest.mark.parametrize("num_classes", [None, 2])
def test_16_bit_binary_masks(tmp_path, num_classes):
    deep = _disc(value=1).astype(np.uint16) * 65535
    _three(tmp_path, a=deep, b=deep, c=deep)
    src = FolderSource(tmp_path / "images", tmp_path / "masks", num_classes=num_classes)
    assert src.mapping.kind == "binary" and len(src) == 3
    assert (src.load_mask(0) == _disc()).all()


def test_values_above_255_outside_declared_classes_get_a_hint(tmp_path):
    ids = _disc(value=1).astype(np.uint16) * 1000
    _three(tmp_path, b=ids)
    src = FolderSource(tmp_path / "images", tmp_path / "masks", num_classes=3)
    error = _messages(src, "error")[0]
    assert "b.png" in error and "[1000]" in error and "instance ids" in error


def test_a_value_in_one_mask_only_is_a_warning(tmp_path):
    stray = _disc(value=1)
    stray[0, 0] = 7
    _three(tmp_path, a=_disc(value=1), b=stray, c=_disc(value=1))
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert src.mapping.lookup == {0: 0, 1: 1, 7: 2} and len(src) == 3
    (warning,) = _messages(src, "warning")
    assert "b.png: value 7 is only in this mask (1 of 3), yet it becomes class 2" in warning
    # two masks: too few to call a value rare
    (tmp_path / "masks" / "c.png").unlink()
    two = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert not [m for m in _messages(two) if "only in this mask" in m]


def test_many_values_in_one_mask_each_are_one_warning(tmp_path):
    masks = {}
    for i, stem in enumerate("abc"):
        masks[stem] = _disc(value=255)
        masks[stem][0, :4] = [20 + 4 * i, 21 + 4 * i, 22 + 4 * i, 23 + 4 * i]
    _three(tmp_path, **masks)
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    (warning,) = _messages(src, "warning")
    assert "12 values are each in one mask only (20 in a.png, 21 in a.png" in warning


def test_photos_as_masks_are_an_error_naming_the_masks(tmp_path):
    rng = np.random.default_rng(0)
    photos = {s: rng.integers(0, 256, (32, 32), dtype=np.uint8) for s in "abc"}
    mask_dataset(tmp_path, photos)
    with pytest.raises(DataError, match=r"masks: the masks hold 256 distinct values") as info:
        FolderSource(tmp_path / "images", tmp_path / "masks")
    assert "Most values: " in str(info.value) and "a.png (2" in str(info.value)


def test_voc_shaped_values_are_capped_too(tmp_path):
    # 0..254 and 255 looks like VOC classes with an ignore value: 255 classes is no label
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    with pytest.raises(DataError, match="256 distinct values"):
        FolderSource(*(_three(tmp_path, a=ramp) / d for d in ("images", "masks")))


def test_too_many_colours_name_the_masks(tmp_path):
    red, green = np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)
    red[:4] = (255, 0, 0)
    green[:4] = (0, 255, 0)
    mask_dataset(tmp_path, {"a": red, "b": green, "c": red})
    with pytest.raises(DataError, match="3 colours") as info:
        FolderSource(tmp_path / "images", tmp_path / "masks", num_classes=2)
    assert "#00ff00 in b.png;" in str(info.value) and info.value.path.endswith("masks")


def test_large_masks_follow_allow_large(tmp_path, monkeypatch):
    _three(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    src = FolderSource(tmp_path / "images", tmp_path / "masks")
    assert len(src) == 0 and "--allow-large-images" in _messages(src, "error")[0]
    src = open_dataset(tmp_path, val_fraction=0, allow_large_images=True)
    assert len(src) == 3 and src.load(0)[1].shape == (16, 16)
