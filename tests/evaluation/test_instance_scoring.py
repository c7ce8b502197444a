"""Instance scoring pieces: one image's row, COCO records of objects, the split's COCO AP and
how classes become COCO categories."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seglab.core.labels import InstanceLabels, from_label_image
from seglab.data.coco import CocoSource
from seglab.evaluation.coco_ap import coco_ap
from seglab.evaluation.instance_run import categories
from seglab.evaluation.instance_scoring import (
    COUNT_COLUMNS,
    CocoSplit,
    instance_summary,
    score_instances,
)
from tests.builders import coco_dataset, square
from tests.evaluation.objects import COUNTS, EXPECTED, PRED, TRUTH, labels


@pytest.mark.parametrize("name", list(TRUTH))
def test_score_instances_gives_the_known_scores(name):
    row = score_instances(labels(*TRUTH[name]), PRED[name])
    assert {m: row[m] for m in EXPECTED[name]} == pytest.approx(EXPECTED[name])
    assert tuple(row[c] for c in COUNT_COLUMNS) == COUNTS[name]


def test_empty_vs_empty_scores_the_empty_score():
    nothing = np.zeros((4, 4), np.int32)
    assert score_instances(nothing, nothing)["dsb_map"] == 1.0
    assert score_instances(nothing, nothing, empty_score=0.0)["aji"] == 0.0
    assert math.isnan(score_instances(nothing, nothing, empty_score=math.nan)["dice"])
    one = nothing.copy()
    one[1:3, 1:3] = 1
    row = score_instances(nothing, one, empty_score=math.nan)  # only the empty pair is special
    assert row["dsb_map"] == row["aji"] == row["dice"] == 0.0 and row["false"] == 1


def test_coco_split_records_boxes_areas_categories_and_scores():
    ids = np.zeros((6, 8), np.int32)
    ids[1:3, 2:7] = 1
    ids[4:6, 0:1] = 2
    objects = InstanceLabels(ids, np.array([2, 1]), np.array([0.25, 1.0], np.float32))
    split = CocoSplit([{"id": "a", "name": "x"}, {"id": "b", "name": "y"}], ["a", "b"], ["a", "b"])
    split.add("one.png", objects, objects)
    first, second = split.truth["annotations"]
    assert first["category_id"] == "b" and second["category_id"] == "a"
    assert first["bbox"] == [2.0, 1.0, 5.0, 2.0] and first["area"] == 10
    assert second["bbox"] == [0.0, 4.0, 1.0, 2.0] and second["iscrowd"] == 0
    assert [a["id"] for a in split.truth["annotations"]] == [1, 2]
    assert [d["score"] for d in split.detections] == [0.25, 1.0]
    assert set(split.detections[0]) == {"image_id", "category_id", "segmentation", "bbox", "score"}
    assert split.truth["images"] == [{"id": 1, "width": 8, "height": 6, "file_name": "one.png"}]


def test_coco_split_equals_coco_ap_on_the_same_objects():
    split = CocoSplit([{"id": 7, "name": "cell"}], [7], [7])
    for name in TRUTH:
        split.add(
            f"{name}.png", from_label_image(labels(*TRUTH[name])), from_label_image(PRED[name])
        )
    scores = split.scores()
    assert scores["mask"] == coco_ap(split.truth, split.detections, iou_type="segm")
    assert scores["box"] == coco_ap(split.truth, split.detections, iou_type="bbox")
    assert len(split.truth["images"]) == 5 and len(split.truth["annotations"]) == 7
    assert {d["category_id"] for d in split.detections} == {7}
    assert math.isnan(CocoSplit([], [], []).scores()["mask"]["ap"])  # nothing scored


def test_summary_totals_counts_and_lists_the_worst_by_dsb_map():
    rows = [{"image": name, **score_instances(labels(*TRUTH[name]), PRED[name])} for name in TRUTH]
    summary = instance_summary(rows, worst_k=2)
    assert summary["counts"]["found"] == sum(c[2] for c in COUNTS.values())
    assert {r["image"] for r in summary["worst"]} == {"split", "merged"}
    assert instance_summary(rows, worst_k=0)["worst"] == []


def _two_category_coco(tmp_path) -> CocoSource:
    ann = {"segmentation": [square(2, 2, 6)], "bbox": [2, 2, 6, 6], "area": 36, "iscrowd": 0}
    path = coco_dataset(
        tmp_path,
        annotations=[
            {**ann, "id": 1, "image_id": 1, "category_id": 30},
            {**ann, "id": 2, "image_id": 2, "category_id": 4},
        ],
        categories=[{"id": 30, "name": "b"}, {"id": 4, "name": "a"}],
    )
    return CocoSource(path)


def test_categories_keep_a_coco_datasets_ids(tmp_path):
    source = _two_category_coco(tmp_path)
    cats = categories(source, model_classes=None, label_files=False)
    assert cats.kind == "dataset ids" and cats.truth_ids == cats.pred_ids == [4, 30]
    assert cats.records == [{"id": 4, "name": "a"}, {"id": 30, "name": "b"}]
    assert cats.index == {4: 1, 30: 2}


def test_label_images_on_several_classes_are_scored_class_agnostic(tmp_path):
    source = _two_category_coco(tmp_path)
    cats = categories(source, model_classes=None, label_files=True)
    assert cats.kind == "class-agnostic" and cats.records == [{"id": 1, "name": "object"}]
    assert cats.truth_ids == [1, 1] and cats.pred_ids == [1]
    binary_model = categories(source, model_classes=["background", "x"], label_files=False)
    assert binary_model.kind == "class-agnostic" and binary_model.pred_ids == [1]
    same = categories(source, model_classes=["background", "a", "b"], label_files=False)
    assert same.kind == "dataset ids"
