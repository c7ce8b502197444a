"""COCO AP equals pycocotools' own summary where its 100-detection cap does not bind, and is
not capped on crowded images."""

from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from seglab.evaluation.coco_ap import coco_ap


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _squares(count: int, size: int, side: int = 4, shift: int = 0) -> list[np.ndarray]:
    """``count`` square masks on a grid, each moved right by ``shift`` px."""
    per_row = size // (side + 2)
    masks = []
    for k in range(count):
        y, x = (k // per_row) * (side + 2), (k % per_row) * (side + 2) + shift
        m = np.zeros((size, size), bool)
        m[y : y + side, x : x + side] = True
        masks.append(m)
    return masks


def _truth(masks: list[np.ndarray], size: int) -> dict:
    anns = [
        {"id": k + 1, "image_id": 1, "category_id": 1, "segmentation": _rle(m),
         "area": float(m.sum()), "bbox": list(mask_utils.toBbox(_rle(m))), "iscrowd": 0}
        for k, m in enumerate(masks)
    ]  # fmt: skip
    return {
        "images": [{"id": 1, "width": size, "height": size, "file_name": "a.png"}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "thing"}],
    }


def _detections(masks: list[np.ndarray], rng) -> list[dict]:
    return [
        {"image_id": 1, "category_id": 1, "segmentation": _rle(m), "score": float(s)}
        for m, s in zip(masks, rng.uniform(0.1, 1.0, len(masks)), strict=True)
    ]


def test_ap_equals_pycocotools_summary_below_its_cap():
    rng = np.random.default_rng(0)
    truth = _truth(_squares(30, 64), 64)
    # some exact, some shifted by one pixel (IoU 0.6), some false
    found = _squares(10, 64) + _squares(30, 64, shift=1)[10:25] + _squares(5, 64, shift=3)
    detections = _detections(found, rng)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = truth
        gt.createIndex()
        run = COCOeval(gt, gt.loadRes(copy.deepcopy(detections)), "segm")
        run.evaluate()
        run.accumulate()
        run.summarize()
    ours = coco_ap(truth, detections)
    assert ours["ap"] == pytest.approx(run.stats[0])
    assert ours["ap50"] == pytest.approx(run.stats[1])
    assert ours["ap75"] == pytest.approx(run.stats[2])
    assert 0.2 < ours["ap"] < 0.9


def test_a_crowded_image_is_not_capped_at_100_detections():
    truth = _truth(_squares(300, 120), 120)
    detections = _detections(_squares(300, 120), np.random.default_rng(1))
    assert coco_ap(truth, detections) == {"ap": 1.0, "ap50": 1.0, "ap75": 1.0}
    capped = coco_ap(truth, detections, max_dets=100)
    assert capped["ap"] < 0.5  # what a limit of 100 reports for 300 perfect detections


def test_no_detections_score_zero():
    assert coco_ap(_truth(_squares(3, 32), 32), []) == {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}


def test_a_result_with_a_box_and_a_mask_is_scored_by_its_mask():
    truth = _truth(_squares(4, 32), 32)
    detections = _detections(_squares(4, 32), np.random.default_rng(2))
    for d in detections:
        d["bbox"] = [0.0, 0.0, 32.0, 32.0]  # a wrong box: pycocotools would draw it as the mask
    assert coco_ap(truth, detections)["ap"] == 1.0
    assert coco_ap(truth, detections, iou_type="bbox")["ap"] < 0.1
