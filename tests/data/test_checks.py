"""`seglab data check`: every fault is found and named (file, JSON key, annotation id)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seglab.api import check_dataset as api_check
from seglab.data.checks import SMALL_OBJECT_PIXELS, check_dataset
from seglab.data.rle import encode_coco_rle
from tests.builders import coco_dataset, mask_dataset, square, write_image

JSON = "coco_annotations.json"


def _ann(aid, iid=1, cid=1, seg=None, **kw):
    seg = [square(4, 4, 8)] if seg is None else seg
    return {"id": aid, "image_id": iid, "category_id": cid, "segmentation": seg,
            "iscrowd": 0, **kw}  # fmt: skip


def _problems(report, severity=None):
    return [p for p in report.problems if severity is None or p.severity == severity]


def _one(report, severity, *needles):
    """The single problem of ``severity`` whose text holds every needle."""
    found = [p for p in _problems(report, severity) if all(n in str(p) for n in needles)]
    assert found, f"no {severity} with {needles} in {[str(p) for p in report.problems]}"
    return found[0]


def test_clean_dataset_passes(tmp_path):
    coco_dataset(tmp_path)
    report = check_dataset(tmp_path)
    assert report.ok and not report.problems
    s = report.splits[0]
    assert (s.images_listed, s.annotated, s.unannotated) == (2, 1, 1)
    assert s.object_areas == [64] and s.objects_per_image == [1, 0]
    assert s.class_pixels == [2 * 32 * 32 - 64, 64]


def test_missing_image_file(tmp_path):
    coco_dataset(tmp_path)
    (tmp_path / "images" / "b.png").unlink()
    p = _one(check_dataset(tmp_path), "error", JSON, "images[1] (id=2).file_name", "not found")
    assert "b.png" in p.message


def test_truncated_and_unreadable_images(tmp_path):
    coco_dataset(tmp_path)
    data = (tmp_path / "images" / "a.png").read_bytes()
    (tmp_path / "images" / "a.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "images" / "b.png").write_text("not an image")
    report = check_dataset(tmp_path)
    _one(report, "error", "a.png", "truncated")
    _one(report, "error", "b.png", "not an image")
    assert report.splits[0].images_readable == 0


def test_image_size_differs_from_json(tmp_path):
    coco_dataset(tmp_path)
    write_image(tmp_path / "images" / "a.png", 40, 30)
    p = _one(check_dataset(tmp_path), "error", JSON, "images (id=1).width/height")
    assert "JSON says 32x32 but a.png is 30x40" in p.message


def test_polygon_with_fewer_than_three_points(tmp_path):
    coco_dataset(tmp_path, annotations=[_ann(7, seg=[[1, 1, 5, 5, 9, 1], [1, 1]])])
    report = check_dataset(tmp_path)
    _one(report, "warning", JSON, "annotations[0] (id=7).segmentation[1]", "fewer than 3 points")


def test_four_number_polygon(tmp_path):
    coco_dataset(tmp_path, annotations=[_ann(8, seg=[[1, 1, 9, 9]])])
    report = check_dataset(tmp_path)
    _one(report, "error", JSON, "annotations[0] (id=8).segmentation[0]", "4 numbers")
    assert report.splits[0].object_areas == []  # not drawn as a box


def test_invalid_rle(tmp_path):
    good = encode_coco_rle(np.ones((32, 32), np.uint8))
    anns = [
        _ann(10, seg={"size": [32, 32], "counts": [0, 5, 3]}),  # sums to 8, not 1024
        _ann(11, seg={"size": [16, 16], "counts": good["counts"]}),  # wrong size
        _ann(12, seg={"size": [32, 32]}),  # no counts
        _ann(13, seg={"size": [32, 32], "counts": "@@@@garbage!!"}),  # undecodable
    ]
    report = check_dataset(coco_dataset(tmp_path, annotations=anns))
    _one(report, "error", JSON, "(id=10).segmentation.counts", "sum to 8")
    _one(report, "error", JSON, "(id=11).segmentation.size", "[16, 16]")
    _one(report, "error", JSON, "(id=12).segmentation", 'missing "counts"')
    _one(report, "error", JSON, "annotation id=13")
    assert not report.ok


def test_box_and_polygon_outside_the_image(tmp_path):
    anns = [
        _ann(20, seg=[[20, 20, 40, 20, 40, 40, 20, 40]], bbox=[20, 20, 20, 20]),  # partly out
        _ann(21, seg=[[50, 50, 60, 50, 60, 60]], bbox=[50, 50, 10, 10]),  # entirely out
    ]
    report = check_dataset(coco_dataset(tmp_path, annotations=anns))
    _one(report, "warning", JSON, "(id=20).bbox", "extends outside the 32x32 image")
    _one(report, "warning", JSON, "(id=20).segmentation[0]", "extends outside")
    _one(report, "error", JSON, "(id=21).bbox", "entirely outside")
    _one(report, "error", JSON, "(id=21).segmentation[0]", "entirely outside")


def test_unknown_category_and_image_ids(tmp_path):
    anns = [_ann(30, cid=99), _ann(31, iid=42)]
    report = check_dataset(coco_dataset(tmp_path, annotations=anns))
    _one(report, "error", JSON, "annotations[0] (id=30).category_id", "unknown category id 99")
    _one(report, "error", JSON, "annotations[1] (id=31).image_id", "unknown")


def test_duplicate_ids(tmp_path):
    images = [
        {"id": 1, "file_name": "a.png", "width": 32, "height": 32},
        {"id": 1, "file_name": "b.png", "width": 32, "height": 32},
    ]
    cats = [{"id": 1, "name": "x"}, {"id": 1, "name": "y"}]
    anns = [_ann(5), _ann(5)]
    report = check_dataset(coco_dataset(tmp_path, images=images, annotations=anns, categories=cats))
    _one(report, "error", JSON, "images[1] (id=1).id", "duplicate image id 1")
    _one(report, "error", JSON, "annotations[1] (id=5).id", "duplicate annotation id 5")
    _one(report, "error", JSON, "categories[1] (id=1).id", "duplicate category id 1")


@pytest.mark.parametrize(
    ("name", "reason"),
    [("../outside.png", "'..' refused"), ("/etc/passwd", "absolute path refused")],
)
def test_file_names_escaping_the_root_are_refused(tmp_path, name, reason):
    write_image(tmp_path / "outside.png")
    images = [{"id": 1, "file_name": name, "width": 32, "height": 32}]
    report = check_dataset(coco_dataset(tmp_path / "ds", images=images, annotations=[]))
    _one(report, "error", JSON, "images[0] (id=1).file_name", reason)
    assert report.splits[0].images_listed == 0


def test_mask_image_size_mismatch(tmp_path):
    mask_dataset(tmp_path, {"a": np.zeros((16, 16), np.uint8)})
    write_image(tmp_path / "images" / "a.png", 16, 20)
    p = _one(check_dataset(tmp_path), "error", "masks/a.png", "16x16 but its image a.png")
    assert "20x16" in p.message


def test_mask_values_outside_declared_classes(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[0, 0] = 9
    mask_dataset(tmp_path, {"a": mask})
    report = api_check(tmp_path, num_classes=3)
    _one(report, "error", "masks/a.png", "mask values [9] are outside the 3 declared classes")


def test_unlisted_files_and_unannotated_images_with_string_ids(tmp_path):
    images = [
        {"id": "frame_001", "file_name": "a.png", "width": 32, "height": 32},
        {"id": "frame_002", "file_name": "b.png", "width": 32, "height": 32},
        {"id": "frame_003", "file_name": "c.png", "width": 32, "height": 32},
    ]
    anns = [_ann("a1", iid="frame_001"), _ann("a2", iid="frame_001", seg=[square(20, 20, 2)])]
    coco_dataset(tmp_path, images=images, annotations=anns)
    write_image(tmp_path / "images" / "extra.png")
    report = check_dataset(tmp_path)
    s = report.splits[0]
    assert report.ok
    assert (s.images_listed, s.annotated, s.unannotated, s.unlisted_files) == (3, 1, 2, 1)
    assert s.objects_per_image == [2, 0, 0]
    assert sorted(s.object_areas) == [4, 64] and s.small_objects == 1 < SMALL_OBJECT_PIXELS
    _one(report, "warning", "extra.png", "not in coco_annotations.json")
    _one(report, "warning", "very small objects", "annotation id='a2'")


def test_json_report_is_serialisable(tmp_path):
    coco_dataset(tmp_path, annotations=[_ann(1, cid=5)])
    d = check_dataset(tmp_path).to_dict()
    text = json.dumps(d)
    assert '"ok": false' in text and "category_id" in text


def test_mask_folder_with_jpeg_masks_warns(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 255
    mask_dataset(tmp_path, {"a": mask})
    (tmp_path / "masks" / "a.png").unlink()
    Image.fromarray(mask).save(tmp_path / "masks" / "a.jpg", quality=100)
    report = check_dataset(tmp_path)
    _one(report, "warning", "a.jpg", "JPEG mask")
