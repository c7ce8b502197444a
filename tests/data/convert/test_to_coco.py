"""Tests of seglab.data.convert.to_coco: COCO files that read back to the same masks."""

from __future__ import annotations

import numpy as np

from seglab.data.coco import CocoSource
from seglab.data.convert.to_coco import source_to_coco
from seglab.data.folders import FolderSource
from seglab.data.rle import decode_coco_rle, polygons_to_mask

from .test_convert import MASK_SIZE, iou, make_coco_dataset, make_mask_dataset, masks_by_key, ring


def test_masks_to_coco_rle_reads_back_exactly(tmp_path):
    images, masks = make_mask_dataset(tmp_path / "ds", multiclass=True)
    src = FolderSource(images, masks)
    out_json = tmp_path / "coco.json"
    coco = source_to_coco(src, out_json, segmentation="rle")
    assert [c["id"] for c in coco["categories"]] == [1, 2]
    assert [c["name"] for c in coco["categories"]] == src.classes[1:]
    assert [im["id"] for im in coco["images"]] == [1, 2, 3]
    assert [im["file_name"] for im in coco["images"]] == ["d1.png", "d2.png", "empty.png"]
    assert len(coco["annotations"]) == 4
    assert all(isinstance(a["segmentation"], dict) for a in coco["annotations"])
    assert all(a["iscrowd"] == 0 for a in coco["annotations"])
    back = CocoSource(out_json, images)
    assert back.problems == []
    expected, got = masks_by_key(src), masks_by_key(back)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_masks_to_coco_polygons_fit_discs_and_keep_holes(tmp_path):
    images, masks = make_mask_dataset(tmp_path / "ds")
    src = FolderSource(images, masks)
    coco = source_to_coco(src, tmp_path / "coco.json")
    h = w = MASK_SIZE
    by_image = {im["id"]: im["file_name"] for im in coco["images"]}
    objects = {name: src.instances(i) for i, name in enumerate(["d1.png", "d2.png", "empty.png"])}
    assert len(coco["annotations"]) == 4
    for ann in coco["annotations"]:
        truth = [o.mask for o in objects[by_image[ann["image_id"]]]]
        seg = ann["segmentation"]
        if isinstance(seg, dict):
            drawn = decode_coco_rle(seg).astype(bool)
        else:
            drawn = polygons_to_mask(seg, h, w) > 0
        best = max(iou(drawn, t) for t in truth)
        assert best >= 0.9, (ann["id"], best)
        assert ann["area"] == float(max(truth, key=lambda t: iou(drawn, t)).sum())
    kinds = {by_image[a["image_id"]]: [] for a in coco["annotations"]}
    for a in coco["annotations"]:
        kinds[by_image[a["image_id"]]].append(type(a["segmentation"]).__name__)
    assert kinds["d1.png"] == ["list", "list"]
    assert sorted(kinds["d2.png"]) == ["dict", "list"]  # the ring falls back to RLE
    ring_ann = next(a for a in coco["annotations"] if isinstance(a["segmentation"], dict))
    ring_mask = decode_coco_rle(ring_ann["segmentation"]).astype(bool)
    assert not ring_mask[24, 24]  # the hole is kept
    np.testing.assert_array_equal(ring_mask, ring((h, w), (24, 24), 14, 6))
    x, y, bw, bh = ring_ann["bbox"]
    assert (x, y, bw, bh) == (10.0, 10.0, 29.0, 29.0)


def test_coco_to_coco_keeps_crowds_holes_and_masks(tmp_path):
    src = CocoSource(make_coco_dataset(tmp_path / "coco", multiclass=True))
    out = tmp_path / "out"
    coco = source_to_coco(src, out / "annotations.json", images_dir=out / "images")
    assert (out / "images" / "sub" / "b.png").is_file()
    crowd = [a for a in coco["annotations"] if a["iscrowd"]]
    assert len(crowd) == 1 and isinstance(crowd[0]["segmentation"], dict)
    assert [c["id"] for c in coco["categories"]] == [1, 2]
    assert coco["categories"][0]["supercategory"] == "thing"
    back = CocoSource(out / "annotations.json")
    assert back.problems == []
    expected, got = masks_by_key(src), masks_by_key(back)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
