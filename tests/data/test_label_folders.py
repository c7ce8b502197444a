"""Label-image folders (Cellpose/StarDist): 16-bit masks, one id per object, read by
FolderSource as objects of one class with the foreground as the class mask."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seglab.config import DataConfig
from seglab.data import open_dataset
from seglab.data.checks import check_dataset
from seglab.data.folders import FolderSource
from seglab.errors import ConfigError, DataError
from seglab.io import read_mask, write_label_image
from tests.builders import write_image

from .objects import three_objects, write_label_folder


def _open(root, **options) -> FolderSource:
    return FolderSource(root / "images", root / "masks", **options)


def test_16_bit_label_png_keeps_ids_above_255(tmp_path):
    labels = three_objects(ids=(300, 1000, 65535))
    write_label_image(tmp_path / "a.png", labels)
    raw, meta = read_mask(tmp_path / "a.png")
    assert raw.dtype == np.uint16 and meta.bit_depth == 16
    np.testing.assert_array_equal(raw, labels)
    small = write_label_image(tmp_path / "b.png", three_objects())  # ids below 256: still 16 bits
    assert read_mask(small)[1].dtype == "uint16"


@pytest.mark.parametrize("bad", [np.full((4, 4), -1), np.full((4, 4), 70000), np.zeros((4, 4, 3))])
def test_write_label_image_refuses_what_a_16_bit_png_cannot_hold(tmp_path, bad):
    with pytest.raises(DataError, match=r"bad\.png"):
        write_label_image(tmp_path / "bad.png", bad)


def test_auto_reads_16_bit_masks_as_label_images(tmp_path):
    labels = three_objects(ids=(300, 1000, 7))
    write_label_folder(tmp_path, {"a": labels, "b": np.zeros_like(labels)})
    src = _open(tmp_path)
    assert src.instance_masks and src.classes == ["background", "object"] and not src.problems
    objects = src.instance_labels(0)
    assert objects.count == 3 and objects.classes.tolist() == [1, 1, 1]
    # renumbered 1..3 in the order of the stored ids: 7 -> 1, 300 -> 2, 1000 -> 3
    np.testing.assert_array_equal(objects.labels, three_objects(ids=(2, 3, 1)))
    np.testing.assert_array_equal(src.load_mask(0), (labels > 0).astype(np.int64))
    assert [i.class_index for i in src.instances(0)] == [1, 1, 1]
    assert src.instance_labels(1).count == 0 and src.load_mask(1).sum() == 0
    assert src.mapping.to_json()["labels"] == "instances"


def test_labels_threaded_from_data_config(tmp_path):
    labels = three_objects()
    write_label_folder(tmp_path, {"a": labels}, dtype=np.uint8)
    assert not open_dataset(tmp_path, val_fraction=0).instance_masks  # 8 bits: classes
    src = open_dataset(DataConfig(path=tmp_path, labels="instances", val_fraction=0))
    assert src.instance_masks and src.instance_labels(0).count == 3
    forced = open_dataset(tmp_path, labels="classes", val_fraction=0)
    assert not forced.instance_masks and forced.num_classes == 4


def test_8_bit_masks_keep_their_class_meaning_and_components(tmp_path):
    write_label_folder(tmp_path, {"a": (three_objects() > 0) * 255}, dtype=np.uint8)
    src = _open(tmp_path)
    assert src.mapping.kind == "binary"
    # the two squares touch, so they are one connected component of the class
    assert src.instance_labels(0).count == 2


def test_16_bit_binary_masks_stay_binary(tmp_path):
    write_label_folder(tmp_path, {"a": (three_objects() > 0) * 65535})
    assert _open(tmp_path).mapping.kind == "binary"


def test_declared_num_classes_reads_16_bit_masks_as_classes(tmp_path):
    write_label_folder(tmp_path, {"a": three_objects()})
    src = _open(tmp_path, num_classes=4)
    assert src.mapping.kind == "values" and src.num_classes == 4


def test_classes_name_the_one_class(tmp_path):
    write_label_folder(tmp_path, {"a": three_objects()})
    assert _open(tmp_path, classes=["background", "nucleus"]).classes == ["background", "nucleus"]
    with pytest.raises(ConfigError, match="one class"):
        _open(tmp_path, labels="instances", classes=["background", "a", "b"])
    with pytest.raises(ConfigError, match="2 classes"):
        _open(tmp_path, labels="instances", num_classes=3)


def test_classes_json_declares_label_images(tmp_path):
    write_label_folder(tmp_path, {"a": three_objects()}, dtype=np.uint8)
    info = {"classes": ["background", "cell"], "labels": "instances"}
    (tmp_path / "classes.json").write_text(json.dumps(info))
    src = _open(tmp_path)
    assert src.instance_masks and src.classes == ["background", "cell"] and not src.problems
    with pytest.raises(DataError, match=r"classes\.json.*labels"):
        _open(tmp_path, labels="classes")
    info["classes"] = ["background", "a", "b"]
    (tmp_path / "classes.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match=r"classes\.json: classes: label images hold one class"):
        _open(tmp_path)


def test_colour_and_shallow_masks_among_label_images(tmp_path):
    write_label_folder(tmp_path, {"a": three_objects(ids=(300, 301, 302)), "b": three_objects()})
    Image.fromarray(three_objects().astype(np.uint8)).save(tmp_path / "masks" / "b.png")
    write_image(tmp_path / "images" / "c.png", 32, 32)
    write_image(tmp_path / "masks" / "c.png", 32, 32)  # a colour mask
    src = _open(tmp_path)
    assert src.instance_masks and [it.key for it in src.items] == ["a", "b"]
    problems = {(p.severity, p.path.rsplit("/", 1)[-1]): p.message for p in src.problems}
    assert "colour mask among label images" in problems[("error", "c.png")]
    assert "8-bit (b.png)" in problems[("warning", "masks")]


def test_check_of_a_label_folder(tmp_path):
    labels = three_objects(ids=(300, 1000, 7))
    write_label_folder(tmp_path, {"a": labels, "b": np.zeros_like(labels)})
    report = check_dataset(tmp_path)
    assert report.ok, [str(p) for p in report.problems]
    s = report.splits[0]
    assert s.mapping["kind"] == "instances" and s.objects_per_image == [3, 0]
    assert sorted(s.object_areas) == sorted(int((labels == i).sum()) for i in (7, 300, 1000))
    assert s.class_pixels == [2 * 32 * 32 - int((labels > 0).sum()), int((labels > 0).sum())]
