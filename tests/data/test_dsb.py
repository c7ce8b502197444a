"""DSB-2018 folders: ID/images/ID.png + ID/masks/*.png, one object per mask file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seglab.data import open_dataset
from seglab.data.checks import check_dataset
from seglab.data.dsb import DsbSource, dsb_layout
from seglab.data.inputs import ImageFolderSource
from seglab.data.layout import discover
from seglab.errors import ConfigError, DataError
from tests.builders import mask_dataset, write_image

from .objects import three_objects, write_dsb


def _problems(source_or_report, severity):
    return [str(p) for p in source_or_report.problems if p.severity == severity]


def test_dsb_items_objects_and_union(tmp_path):
    labels = three_objects()
    write_dsb(tmp_path, {"b1": labels, "a0": np.zeros_like(labels)})
    src = DsbSource(tmp_path)
    assert src.kind == "dsb" and src.labelled and not src.problems
    assert [it.key for it in src.items] == ["a0", "b1"]
    assert src.classes == ["background", "object"]
    objects = src.instance_labels(1)
    np.testing.assert_array_equal(objects.labels, labels)
    assert objects.classes.tolist() == [1, 1, 1]
    assert [i.annotation_id for i in src.instances(1)] == ["b1_001.png", "b1_002.png", "b1_003.png"]
    np.testing.assert_array_equal(src.load_mask(1), (labels > 0).astype(np.int64))
    image, mask = src.load(1)
    assert image.shape[:2] == mask.shape == (32, 32)
    assert src.instance_labels(0).count == 0 and src.load_mask(0).sum() == 0


def test_discover_finds_dsb_splits_and_an_unlabelled_test_split(tmp_path):
    write_dsb(tmp_path / "train", {"a": three_objects(), "b": three_objects()})
    write_image(tmp_path / "test" / "c" / "images" / "c.png")
    specs = discover(tmp_path)
    assert (specs["train"].kind, specs["test"].kind) == ("dsb", "images")
    assert len(open_dataset(tmp_path, split="test")) == 1
    assert isinstance(open_dataset(tmp_path, split="test"), ImageFolderSource)
    train = open_dataset(tmp_path, val_fraction=0)
    assert isinstance(train, DsbSource) and len(train) == 2
    assert discover(tmp_path / "train")["train"].kind == "dsb"


def test_a_project_folder_holding_an_image_mask_dataset_is_not_dsb(tmp_path):
    disc = (three_objects() > 0).astype(np.uint8) * 255
    mask_dataset(tmp_path / "data", {"a": disc, "b": disc})
    assert dsb_layout(tmp_path) is None


def test_dsb_classes_name_the_one_class(tmp_path):
    write_dsb(tmp_path, {"a": three_objects()})
    assert DsbSource(tmp_path, classes=["background", "nucleus"]).classes[1] == "nucleus"
    with pytest.raises(ConfigError, match="one class"):
        DsbSource(tmp_path, classes=["background", "a", "b"])


def test_bad_folders_are_named_when_opening(tmp_path):
    write_dsb(tmp_path, {"good": three_objects()})
    write_image(tmp_path / "two" / "images" / "x.png")
    write_image(tmp_path / "two" / "images" / "y.png")
    (tmp_path / "two" / "masks").mkdir()
    write_image(tmp_path / "nomasks" / "images" / "n.png")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    src = DsbSource(tmp_path)
    assert [it.key for it in src.items] == ["good"]
    errors, warnings = _problems(src, "error"), _problems(src, "warning")
    assert any("two/images" in e and "2 images (x.png, y.png)" in e for e in errors)
    assert any("nomasks" in w and "no masks/ folder" in w for w in warnings)
    assert any("empty/images" in w and "no image file" in w for w in warnings)
    assert not any("ipynb" in p for p in errors + warnings)


def test_mask_faults_name_the_file(tmp_path):
    write_dsb(tmp_path, {"a": three_objects(), "b": three_objects(), "c": three_objects()})
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "a" / "masks" / "a_000.png")
    (tmp_path / "b" / "masks" / "b_002.png").write_bytes(b"not a png")
    Image.fromarray(np.full((16, 32), 255, np.uint8)).save(tmp_path / "c" / "masks" / "c_003.png")
    src = DsbSource(tmp_path)
    assert len(src.instances(0)) == 3  # the empty mask is no object
    with pytest.raises(DataError, match=r"b_002\.png"):
        src.instances(1)
    with pytest.raises(DataError, match=r"c_003.png.*32x16 but its image c.png is 32x32"):
        src.load_mask(2)
    report = check_dataset(tmp_path)
    assert not report.ok
    errors, warnings = _problems(report, "error"), _problems(report, "warning")
    assert any("b_002.png" in e for e in errors)
    assert any("c_003.png" in e and "32x16" in e for e in errors)
    assert any("a_000.png" in w and "empty mask" in w for w in warnings)
    assert report.splits[0].objects_per_image == [3]  # a only: b and c have errors


def test_an_empty_dsb_folder_is_an_error(tmp_path):
    write_image(tmp_path / "x" / "images" / "x.png")
    write_image(tmp_path / "x" / "images" / "y.png")
    (tmp_path / "x" / "masks").mkdir()
    src = DsbSource(tmp_path)
    assert len(src) == 0 and _problems(src, "error")
    with pytest.raises(DataError, match="folder not found"):
        DsbSource(tmp_path / "nope")
