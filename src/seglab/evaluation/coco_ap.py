"""COCO mask (and box) AP through pycocotools' ``COCOeval``, without its cap of 100 detections.

``COCOeval.summarize()`` looks up ``maxDets == 100`` by value: with a higher limit, needed for
crowded images (a nuclei image holds hundreds of objects), it finds nothing and prints -1. So
:func:`coco_ap` runs ``evaluate`` and ``accumulate`` with ``maxDets = [1, 10, max_dets]`` and reads
the averages from ``eval['precision']`` itself, the way ``summarize`` would at that limit.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

IOU_TYPES = ("segm", "bbox")


def coco_ap(
    truth: dict[str, Any],
    detections: list[dict[str, Any]],
    *,
    iou_type: str = "segm",
    max_dets: int = 1000,
) -> dict[str, float]:
    """AP (IoU 0.5:0.95), AP@0.5 and AP@0.75 of ``detections`` (COCO results: ``image_id``,
    ``category_id``, ``segmentation`` RLE or ``bbox``, ``score``) against the COCO object
    ``truth``, over all areas, with up to ``max_dets`` detections per image.

    An image set with no detections scores 0.0; categories without any true object are left
    out of the means, as pycocotools does. A result holding both a box and a mask is scored by
    the one ``iou_type`` names.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be one of {IOU_TYPES}, not {iou_type!r}")
    if not detections:
        return {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = copy.deepcopy(truth)
        gt.createIndex()
        # loadRes takes the box of a result holding both and draws it as the mask: keep only
        # what this evaluation scores
        drop = "bbox" if iou_type == "segm" else "segmentation"
        dt = gt.loadRes([{k: v for k, v in d.items() if k != drop} for d in detections])
        run = COCOeval(gt, dt, iou_type)
        run.params.maxDets = [1, 10, max_dets]
        run.evaluate()
        run.accumulate()
    precision = run.eval["precision"]  # [iou thresholds, recall, category, area, max dets]
    ious = run.params.iouThrs

    def mean(values: np.ndarray) -> float:
        kept = values[values > -1]
        return float(kept.mean()) if kept.size else 0.0

    every = precision[:, :, :, 0, -1]  # area "all", the highest detection limit
    return {
        "ap": mean(every),
        "ap50": mean(every[np.isclose(ious, 0.5)]),
        "ap75": mean(every[np.isclose(ious, 0.75)]),
    }
