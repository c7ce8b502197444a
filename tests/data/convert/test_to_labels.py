"""Tests of seglab.data.convert.to_labels and to_dsb: label-image and DSB folders written from
any source, and read back with the same objects, pixel for pixel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seglab.config import DataConfig
from seglab.core.labels import InstanceLabels
from seglab.data import open_dataset
from seglab.data.base import Item, ProblemLog, SegmentationSource
from seglab.data.coco import CocoSource
from seglab.data.convert import convert_dataset
from seglab.data.convert.to_dsb import source_to_dsb
from seglab.data.convert.to_labels import source_to_labels
from seglab.data.dsb import DsbSource
from seglab.data.folders import FolderSource
from seglab.errors import DataError
from seglab.io import read_mask
from tests.builders import write_image

from ..objects import three_objects, write_coco, write_dsb


def _objects(source: SegmentationSource) -> dict[str, np.ndarray]:
    """Each item's label image, by image file name."""
    return {
        it.image_path.name: source.instance_labels(i).labels for i, it in enumerate(source.items)
    }


def _assert_same_objects(a: SegmentationSource, b: SegmentationSource) -> None:
    got, expected = _objects(b), _objects(a)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


def _dataset() -> dict[str, np.ndarray]:
    labels = three_objects()
    return {"a": labels, "b": np.zeros_like(labels), "c": np.where(labels == 2, 1, 0)}


def test_coco_to_labels_to_dsb_to_coco_keeps_every_object(tmp_path):
    coco = CocoSource(write_coco(tmp_path / "coco", _dataset()) / "annotations.json")
    done = source_to_labels(coco, tmp_path / "labels")
    assert (done["images"], done["masks"], done["objects"], done["skipped"]) == (3, 3, 4, [])
    raw, meta = read_mask(tmp_path / "labels" / "masks" / "a.png")
    assert meta.dtype == "uint16" and set(np.unique(raw).tolist()) == {0, 1, 2, 3}
    info = json.loads((tmp_path / "labels" / "classes.json").read_text())
    assert info["classes"] == ["background", "nucleus"] and info["labels"] == "instances"
    labels = FolderSource(tmp_path / "labels" / "images", tmp_path / "labels" / "masks")
    assert labels.instance_masks and labels.classes == ["background", "nucleus"]
    _assert_same_objects(coco, labels)

    done = source_to_dsb(labels, tmp_path / "dsb")
    assert (done["images"], done["masks"], done["objects"]) == (3, 4, 4)
    assert sorted(p.name for p in (tmp_path / "dsb" / "a" / "masks").iterdir()) == [
        "a_001.png",
        "a_002.png",
        "a_003.png",
    ]
    assert list((tmp_path / "dsb" / "b" / "masks").iterdir()) == []  # no object, empty folder
    dsb = DsbSource(tmp_path / "dsb")
    _assert_same_objects(coco, dsb)

    summary = convert_dataset(DataConfig(path=tmp_path / "dsb"), tmp_path / "back", to="coco",
                              segmentation="rle")  # fmt: skip
    assert summary["train"]["objects"] == 4
    back = CocoSource(tmp_path / "back" / "train" / "annotations.json")
    _assert_same_objects(coco, back)


@pytest.mark.parametrize("to", ["labels", "dsb"])
def test_convert_dataset_to_labels_and_dsb_reads_back(tmp_path, to):
    write_dsb(tmp_path / "data" / "train", {"a": three_objects()})
    write_image(tmp_path / "data" / "test" / "t" / "images" / "t.png")
    summary = convert_dataset(DataConfig(path=tmp_path / "data"), tmp_path / "out", to=to)
    assert summary["train"]["objects"] == 3 and summary["test"]["images"] == 1
    src = open_dataset(tmp_path / "out", val_fraction=0)
    assert src.instance_labels(0).count == 3
    assert len(open_dataset(tmp_path / "out", split="test")) == 1


def test_polygons_keep_the_objects_apart(tmp_path):
    write_dsb(tmp_path / "dsb", {"a": three_objects()})
    convert_dataset(DataConfig(path=tmp_path / "dsb"), tmp_path / "coco", to="coco")
    back = CocoSource(tmp_path / "coco" / "train" / "annotations.json")
    assert back.instance_labels(0).count == 3


def test_several_classes_are_merged_with_a_note(tmp_path):
    labels = three_objects()
    masks = tmp_path / "m"
    write_image(masks / "images" / "a.png")
    (masks / "masks").mkdir(parents=True)
    Image.fromarray(labels.astype(np.uint8)).save(masks / "masks" / "a.png")  # 3 classes
    src = FolderSource(masks / "images", masks / "masks")
    with pytest.warns(RuntimeWarning, match="3 classes .* merged into one"):
        done = source_to_labels(src, tmp_path / "out")
    assert "merged" in done["note"] and done["objects"] == 3
    info = json.loads((tmp_path / "out" / "classes.json").read_text())
    assert info["classes"] == ["background", "object"]


class _Crowded(SegmentationSource):
    """One 256x256 image holding 65536 one-pixel objects: one more than 16 bits tell apart."""

    kind = "crowded"

    def __init__(self, root: Path):
        image = write_image(root / "crowded.png", 256, 256)
        super().__init__(root, [Item("crowded", image)], ["background", "dot"], ProblemLog())

    def instance_labels(self, index: int) -> InstanceLabels:
        ids = np.arange(1, 256 * 256 + 1, dtype=np.int32).reshape(256, 256)
        return InstanceLabels(ids, np.ones(ids.size, np.int64), np.ones(ids.size, np.float32))


def test_more_objects_than_16_bits_hold_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"crowded.png: 65536 objects .* at most 65535"):
        source_to_labels(_Crowded(tmp_path / "in"), tmp_path / "out")


def test_unreadable_items_are_skipped_with_the_file_named(tmp_path):
    write_dsb(tmp_path / "dsb", {"a": three_objects(), "b": three_objects()})
    (tmp_path / "dsb" / "b" / "masks" / "b_002.png").write_bytes(b"broken")
    with pytest.warns(RuntimeWarning, match="b_002.png"):
        done = source_to_labels(DsbSource(tmp_path / "dsb"), tmp_path / "out")
    assert done["images"] == 1 and len(done["skipped"]) == 1
