"""``seglab evaluate`` on objects: known scores of hand-made label-image predictions, COCO AP
equal to ``coco_ap`` on the same objects, COCO results JSON, missing predictions, and an
instance run end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from seglab.api import evaluate
from seglab.errors import DataError
from seglab.evaluation.coco_ap import coco_ap
from seglab.evaluation.instance_predictions import is_instance_prediction
from seglab.evaluation.instance_scoring import COUNT_COLUMNS, INSTANCE_METRICS
from seglab.io import read_mask, write_mask
from tests.builders import tiny_instance_run, write_discs
from tests.evaluation.objects import (
    CATEGORY,
    COUNTS,
    EXPECTED,
    PRED,
    SIZE,
    TRUTH,
    perfect_predictions,
    write_coco_results,
    write_label_predictions,
    write_objects_dataset,
)


@pytest.fixture
def objects(tmp_path: Path) -> tuple[Path, Path]:
    """``(dataset root, folder of label-image predictions)`` of :mod:`tests.evaluation.objects`."""
    root = write_objects_dataset(tmp_path / "data")
    return root, write_label_predictions(tmp_path / "labels")


def _by_image(rows: list[dict]) -> dict[str, dict]:
    return {Path(r["image"]).stem: r for r in rows}


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def _coco_by_hand(preds: dict[str, np.ndarray], score: float = 1.0) -> tuple[dict, list[dict]]:
    """The truth and detections of the hand-made images, built with pycocotools alone."""
    images, annotations, detections = [], [], []
    for i, name in enumerate(TRUTH, start=1):
        images.append({"id": i, "width": SIZE, "height": SIZE, "file_name": f"{name}.png"})
        for mask in TRUTH[name]:
            rle = _rle(mask)
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i, "category_id": CATEGORY,
                 "segmentation": rle, "area": float(mask.sum()),
                 "bbox": mask_utils.toBbox(rle).tolist(), "iscrowd": 0}
            )  # fmt: skip
        image = preds[name]
        for ident in np.unique(image[image > 0]):
            rle = _rle(image == ident)
            detections.append(
                {"image_id": i, "category_id": CATEGORY, "segmentation": rle,
                 "bbox": mask_utils.toBbox(rle).tolist(), "score": score}
            )  # fmt: skip
    categories = [{"id": CATEGORY, "name": "cell"}]
    return {"images": images, "annotations": annotations, "categories": categories}, detections


def test_known_scores_and_counts_of_hand_made_predictions(objects):
    root, labels = objects
    assert is_instance_prediction(labels)
    result = evaluate(pred=labels, data=root, split="all", out=None)
    rows = _by_image(result.rows)
    assert set(rows) == set(TRUTH)
    for name, expected in EXPECTED.items():
        assert {m: rows[name][m] for m in INSTANCE_METRICS} == pytest.approx(expected), name
        assert tuple(rows[name][c] for c in COUNT_COLUMNS) == COUNTS[name], name
    summary = result.summary
    assert summary["task"] == "instance" and summary["images"] == 5
    assert summary["metrics"]["dsb_map"]["mean"] == pytest.approx(2.5 / 5)
    assert summary["metrics"]["aji"]["mean"] == pytest.approx(
        np.mean([e["aji"] for e in EXPECTED.values()])
    )
    totals = np.sum(list(COUNTS.values()), axis=0)
    assert [summary["counts"][c] for c in COUNT_COLUMNS] == totals.tolist()
    assert summary["errors"] == {
        "false_alarms": 0, "missed": 0, "perfect_empty": 1, "below_half": 2,
        "with_split": 1, "with_merged": 1,
    }  # fmt: skip
    # worst first by DSB mean AP: the split and the merged image, then the half-found one
    assert [Path(r["image"]).stem for r in summary["worst"][:3]][2] == "missed"
    assert {Path(r["image"]).stem for r in summary["worst"][:2]} == {"split", "merged"}


def test_coco_ap_equals_coco_ap_computed_directly(objects):
    root, labels = objects
    summary = evaluate(pred=labels, data=root, split="all", out=None).summary
    truth, detections = _coco_by_hand(PRED)
    assert summary["coco"]["mask"] == pytest.approx(coco_ap(truth, detections, iou_type="segm"))
    assert summary["coco"]["box"] == pytest.approx(coco_ap(truth, detections, iou_type="bbox"))
    assert summary["coco"]["categories"] == "dataset ids" and summary["coco"]["max_dets"] == 1000
    assert 0 < summary["coco"]["mask"]["ap50"] < 1


def test_perfect_predictions_score_one_everywhere(objects, tmp_path):
    root, _ = objects
    perfect = write_label_predictions(tmp_path / "perfect", perfect_predictions())
    result = evaluate(pred=perfect, data=root, split="all", out=tmp_path / "ev")
    for row in result.rows:
        assert all(row[m] == 1.0 for m in INSTANCE_METRICS), row
        assert row["found"] == row["true_objects"] and row["missed"] == row["false"] == 0
    coco = result.summary["coco"]
    assert coco["mask"] == coco["box"] == {"ap": 1.0, "ap50": 1.0, "ap75": 1.0}
    written = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert written["coco"]["mask"]["ap"] == 1.0 and written["task"] == "instance"
    header = (tmp_path / "ev" / "scores.csv").read_text().splitlines()[0].split(",")
    assert header == ["image", *INSTANCE_METRICS, *COUNT_COLUMNS, "image_path", "pred"]


def test_coco_results_json_scores_as_the_label_images(objects, tmp_path):
    root, labels = objects
    results = write_coco_results(tmp_path / "results.json")
    assert is_instance_prediction(results)
    with pytest.warns(RuntimeWarning, match="empty.png"):  # no entry: nothing found there
        from_json = evaluate(pred=results, data=root, split="all", out=None)
    from_labels = evaluate(pred=labels, data=root, split="all", out=None)
    for a, b in zip(from_json.rows, from_labels.rows, strict=True):
        assert {k: a[k] for k in (*INSTANCE_METRICS, *COUNT_COLUMNS)} == pytest.approx(
            {k: b[k] for k in (*INSTANCE_METRICS, *COUNT_COLUMNS)}
        )
    truth, detections = _coco_by_hand(PRED, score=0.9)
    assert from_json.summary["coco"]["mask"] == pytest.approx(coco_ap(truth, detections))

    entries = json.loads(results.read_text())
    entries[1]["category_id"] = 3  # not a category of the dataset
    results.write_text(json.dumps(entries))
    with pytest.raises(DataError, match=r"entry 1\.category_id.*3 is not a category id"):
        evaluate(pred=results, data=root, split="all", out=None)


def test_missing_prediction_counts_as_no_object_with_a_warning(objects):
    root, labels = objects
    (labels / "missed.png").unlink()
    (labels / "empty.png").unlink()
    with pytest.warns(RuntimeWarning, match=r"no prediction for 2 image\(s\).*predicting no"):
        result = evaluate(pred=labels, data=root, split="all", out=None)
    rows = _by_image(result.rows)
    assert sorted(result.summary["missing"]) == ["empty.png", "missed.png"]
    assert rows["missed"]["dsb_map"] == 0.0 and rows["missed"]["missed"] == 2
    assert rows["empty"]["dsb_map"] == 1.0  # nothing there, nothing predicted


def test_empty_score_applies_to_empty_images(objects):
    root, labels = objects
    result = evaluate(pred=labels, data=root, split="all", out=None, empty_score="nan")
    empty = _by_image(result.rows)["empty"]
    assert all(math.isnan(empty[m]) for m in INSTANCE_METRICS)
    assert result.summary["metrics"]["dsb_map"]["mean"] == pytest.approx(1.5 / 4)


def test_an_unreadable_label_image_is_skipped(objects):
    root, labels = objects
    (labels / "split.png").write_bytes(b"not a png")
    with pytest.warns(RuntimeWarning, match=r"skipped: .*split\.png"):
        result = evaluate(pred=labels, data=root, split="all", out=None)
    assert result.summary["images"] == 4
    assert result.summary["skipped"] == [str(labels / "split.png")]


def test_semantic_predictions_stay_semantic(objects, tmp_path):
    root, _ = objects
    masks = tmp_path / "masks"
    for name, objs in TRUTH.items():  # 8-bit 0/255 masks: class masks, not label images
        union = np.zeros((SIZE, SIZE), np.uint8)
        for mask in objs:
            union[mask] = 255
        write_mask(masks / f"{name}.png", union)
    assert not is_instance_prediction(masks)
    summary = evaluate(pred=masks, data=root, split="all", out=None).summary
    assert "task" not in summary and summary["metrics"]["dice"]["mean"] == 1.0


def test_label_images_on_a_mask_folder_dataset_use_class_indices(tmp_path):
    root = write_discs(tmp_path / "discs", splits={"val": 3})
    labels = tmp_path / "labels"
    for mask_file in sorted((root / "val" / "masks").glob("*.png")):
        disc = read_mask(mask_file)[0] > 0
        labels.mkdir(exist_ok=True)
        Image.fromarray(disc.astype(np.uint16) * 3).save(labels / mask_file.name)  # id 3
    summary = evaluate(pred=labels, data=root, split="val", out=None).summary
    assert summary["coco"]["categories"] == "class indices"
    assert summary["metrics"]["dsb_map"]["min"] == 1.0 and summary["coco"]["mask"]["ap"] == 1.0


def test_an_instance_run_end_to_end(objects, tmp_path):
    root, _ = objects
    run = tiny_instance_run(tmp_path / "run")
    out = tmp_path / "ev"
    with pytest.warns(RuntimeWarning, match="--threshold is not used for an instance run"):
        result = evaluate(
            run, root, split="all", out=out, tta=True, tile=16, threshold=0.3, progress=False
        )
    assert len(result.rows) == 5
    for row in result.rows:
        assert all(0.0 <= row[m] <= 1.0 for m in INSTANCE_METRICS), row
        assert row["found"] + row["missed"] == row["true_objects"]
        assert row["found"] + row["false"] == row["pred_objects"]
        written = read_mask(out / row["pred"])[1]
        assert row["pred"].startswith("labels/") and written.bit_depth == 16
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "instance" and summary["model"] == str(run)
    assert summary["tta"] is True and summary["tile"] == 16 and summary["threshold"] is None
    assert summary["instance"]["method"] == "border"
    for kind in ("mask", "box"):
        assert all(0.0 <= summary["coco"][kind][k] <= 1.0 for k in ("ap", "ap50", "ap75"))
    assert len(list((out / "labels").glob("*.png"))) == 5
    assert (out / "scores.csv").read_text().count("\n") == 6
