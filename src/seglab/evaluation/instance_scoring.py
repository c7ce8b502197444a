"""Scoring objects: one row per image from two label images, the summary of the rows, and COCO
mask and box AP over the whole split.

Per image (:func:`score_instances`), from :mod:`seglab.evaluation.instance_metrics`:
``dsb_map`` (the DSB-2018 mean AP over IoU 0.5:0.05:0.95), ``ap50`` and ``ap75`` (DSB-style
``TP / (TP + FP + FN)`` at one IoU), ``aji``, the union-mask ``dice`` (every object of either
side as one foreground, so the semantic view stays) and the counts ``true_objects``,
``pred_objects``, ``found``, ``missed``, ``false``, ``split``, ``merged`` (at IoU 0.5). Objects
are matched whatever their class: the DSB metrics are class-agnostic; COCO AP is per category.

Empty vs empty (no object on either side) scores ``empty_score`` in every metric, as the
semantic evaluation does: 1.0 by default.

:class:`CocoSplit` collects the truth of every image (a COCO object whose annotations are the
truth's objects, with the dataset's category ids) and the detections (one COCO result per
predicted object, with its score), and scores them once with
:func:`seglab.evaluation.coco_ap.coco_ap`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from seglab.core.labels import InstanceLabels
from seglab.evaluation.instance_metrics import aji, counts, dsb_ap, dsb_mean_ap, overlaps
from seglab.evaluation.scoring import stats, worst

INSTANCE_METRICS = ("dsb_map", "ap50", "ap75", "aji", "dice")
"""The per-image scores of an instance evaluation, in ``scores.csv``'s order."""
COUNT_COLUMNS = ("true_objects", "pred_objects", "found", "missed", "false", "split", "merged")
"""The per-image object counts of an instance evaluation (summed in ``summary.json``)."""
DETECTION_KEYS = ("image_id", "category_id", "segmentation", "bbox", "score")
"""What COCO AP reads of a detection (COCO results' ``file_name`` and ``area`` are left out)."""


def score_instances(
    truth: InstanceLabels | np.ndarray,
    pred: InstanceLabels | np.ndarray,
    *,
    empty_score: float = 1.0,
) -> dict[str, float | int]:
    """The scores (:data:`INSTANCE_METRICS`) and counts (:data:`COUNT_COLUMNS`) of one image.

    ``truth`` and ``pred`` are label images (or :class:`InstanceLabels`) of one size.

    >>> truth = np.array([[1, 1, 0, 2, 2]])
    >>> row = score_instances(truth, np.array([[1, 1, 0, 0, 0]]))
    >>> row["dsb_map"], row["found"], row["missed"]
    (0.5, 1, 1)
    """
    t = truth.labels if isinstance(truth, InstanceLabels) else np.asarray(truth)
    p = pred.labels if isinstance(pred, InstanceLabels) else np.asarray(pred)
    found = overlaps(t, p)
    c = counts(found)
    if c.true == 0 and c.predicted == 0:
        scores = dict.fromkeys(INSTANCE_METRICS, float(empty_score))
    else:
        # a pixel lies in one object per side, so the objects' intersections add up to the
        # intersection of the two foregrounds: the union-mask Dice needs no second pass
        both = int(found.inter.sum())
        sizes = int(found.true_area.sum() + found.pred_area.sum())
        scores = {
            "dsb_map": dsb_mean_ap(found),
            "ap50": dsb_ap(found, 0.5),
            "ap75": dsb_ap(found, 0.75),
            "aji": aji(found),
            "dice": 2 * both / sizes,
        }
    return {
        **scores,
        "true_objects": c.true,
        "pred_objects": c.predicted,
        "found": c.found,
        "missed": c.missed,
        "false": c.false,
        "split": c.split,
        "merged": c.merged,
    }


def instance_summary(rows: Sequence[dict[str, Any]], *, worst_k: int) -> dict[str, Any]:
    """``summary.json``'s numbers: ``metrics`` (mean, median, std, min, max of each of
    :data:`INSTANCE_METRICS`), ``counts`` (each count summed over the images), ``errors`` (how
    many images went wrong how) and ``worst`` (the ``worst_k`` rows of lowest ``dsb_map``)."""
    totals = {c: int(sum(int(r[c]) for r in rows)) for c in COUNT_COLUMNS}
    return {
        "metrics": stats(rows, {m: m for m in INSTANCE_METRICS}),
        "counts": totals,
        "errors": image_errors(rows),
        "worst": worst(rows, worst_k, metric="dsb_map") if rows and worst_k > 0 else [],
    }


def image_errors(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Images by what went wrong: ``false_alarms`` (no object in the truth, some predicted),
    ``missed`` (objects in the truth, none predicted), ``perfect_empty`` (none in either),
    ``below_half`` (``dsb_map`` < 0.5), ``with_split`` and ``with_merged`` (at least one split
    or merged object)."""
    return {
        "false_alarms": sum(1 for r in rows if r["true_objects"] == 0 and r["pred_objects"] > 0),
        "missed": sum(1 for r in rows if r["true_objects"] > 0 and r["pred_objects"] == 0),
        "perfect_empty": sum(1 for r in rows if r["true_objects"] == 0 and r["pred_objects"] == 0),
        "below_half": sum(1 for r in rows if r["dsb_map"] < 0.5),
        "with_split": sum(1 for r in rows if r["split"] > 0),
        "with_merged": sum(1 for r in rows if r["merged"] > 0),
    }


class CocoSplit:
    """The truth and the detections of a split as COCO objects, one image at a time, scored
    at the end by :meth:`scores`.

    ``categories``: the COCO category records (``id``, ``name``) of classes 1..K;
    ``truth_ids`` / ``pred_ids``: the category id of each class 1..K of the truth and of the
    predictions (the same unless one side is scored class-agnostic).
    """

    def __init__(
        self,
        categories: list[dict[str, Any]],
        truth_ids: Sequence[Any],
        pred_ids: Sequence[Any],
    ):
        self.truth: dict[str, Any] = {"images": [], "annotations": [], "categories": categories}
        self.detections: list[dict[str, Any]] = []
        self.truth_ids = list(truth_ids)
        self.pred_ids = list(pred_ids)

    def add(self, key: str, truth: InstanceLabels, pred: InstanceLabels) -> None:
        """Add one image: its truth's objects as annotations, the predicted objects as
        detections (with their scores); objects are encoded as ``seglab predict`` writes them
        (:func:`seglab.predict.formats.instance_coco_entries`)."""
        from seglab.predict.formats import instance_coco_entries

        image_id = len(self.truth["images"]) + 1  # ids of our own: the dataset's may be strings
        h, w = truth.shape
        self.truth["images"].append({"id": image_id, "width": w, "height": h, "file_name": key})
        annotations = self.truth["annotations"]
        for entry in instance_coco_entries(key, truth, image_id, category_ids=self.truth_ids):
            kept = {k: entry[k] for k in ("image_id", "category_id", "segmentation", "bbox")}
            annotations.append(
                {**kept, "area": entry["area"], "id": len(annotations) + 1, "iscrowd": 0}
            )
        for entry in instance_coco_entries(key, pred, image_id, category_ids=self.pred_ids):
            self.detections.append({k: v for k, v in entry.items() if k in DETECTION_KEYS})

    def scores(self, *, max_dets: int = 1000) -> dict[str, dict[str, float]]:
        """``{"mask": {ap, ap50, ap75}, "box": {...}}`` over every image added; NaN when no
        image was added."""
        from seglab.evaluation.coco_ap import coco_ap

        if not self.truth["images"]:
            nothing = {"ap": math.nan, "ap50": math.nan, "ap75": math.nan}
            return {"mask": nothing, "box": dict(nothing)}
        return {
            "mask": coco_ap(self.truth, self.detections, iou_type="segm", max_dets=max_dets),
            "box": coco_ap(self.truth, self.detections, iou_type="bbox", max_dets=max_dets),
        }
