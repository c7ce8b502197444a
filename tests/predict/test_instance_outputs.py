"""What ``predict_images`` writes for an instance run: label images equal to the model's
objects, overlays, crops per object, DSB-2018 CSV rows and COCO results per object."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from seglab.api import predict
from seglab.core.labels import InstanceLabels, from_label_image
from seglab.errors import ConfigError
from seglab.io import read_image, read_mask
from seglab.models.card import InstanceSpec
from seglab.predict.formats import instance_coco_entries, instance_rle_rows
from seglab.predict.instance_outputs import MIN_CROP_AREA, InstanceWriters, object_crops
from seglab.predict.instances import load_instance_model
from tests.predict.instance_inputs import SIZES, busy_instance_run, write_blob_images


@pytest.fixture(scope="module")
def instance_case(tmp_path_factory) -> SimpleNamespace:
    """An instance run (category id 7) predicted on three images through the API, with every
    output, and the objects its model finds in each image."""
    root = tmp_path_factory.mktemp("instances")
    images = write_blob_images(root / "in")
    run = busy_instance_run(root / "run", images, category_ids=[7])
    out = root / "out"
    result = predict(
        run,
        input=images,
        out=out,
        backend="torch",
        save_probs=True,
        rle_csv=root / "pred.csv",
        coco_json=root / "pred.json",
    )
    model = load_instance_model(run, device="cpu", backend="torch")
    paths = sorted(images.glob("*.png"))
    expected = {p.name: model.predict_instances(read_image(p)[0]) for p in paths}
    return SimpleNamespace(root=root, run=run, images=images, out=out, result=result,
                           expected=expected)  # fmt: skip


def test_label_images_are_the_models_objects_at_each_images_size(instance_case):
    case = instance_case
    assert case.result.task == "instance" and case.result.threshold is None
    assert [item.key for item in case.result.items] == ["img0.png", "img1.png", "img2.png"]
    for item, size in zip(case.result.items, SIZES, strict=True):
        truth = case.expected[item.key]
        labels, meta = read_mask(case.out / item.labels)
        assert meta.bit_depth == 16 and labels.dtype == np.uint16 and labels.shape == size
        assert item.objects == truth.count > 1  # several objects: the run's thresholds cut them
        assert np.array_equal(np.unique(labels), np.arange(truth.count + 1))  # ids consecutive
        assert np.array_equal(labels, truth.labels)
        assert item.foreground == pytest.approx(np.mean(labels > 0), abs=1e-6)


def test_the_summary_says_instance_and_counts_the_objects(instance_case):
    case = instance_case
    summary = json.loads((case.out / "summary.json").read_text())
    assert summary == case.result.to_dict()
    assert summary["task"] == "instance" and summary["threshold"] is None
    assert summary["objects"] == sum(t.count for t in case.expected.values())
    assert summary["instance"]["method"] == "border"
    assert summary["instance"]["category_ids"] == [7]
    item = summary["items"][0]
    assert {"labels", "overlay", "crops", "crop_count", "probs", "objects"} <= set(item)
    assert "mask" not in item


def test_coco_results_load_in_pycocotools_with_the_cards_category_id(instance_case):
    from pycocotools.coco import COCO

    case = instance_case
    entries = json.loads((case.root / "pred.json").read_text())
    assert len(entries) == case.result.to_dict()["objects"]
    truth = COCO()
    truth.dataset = {
        "images": [
            {"id": i + 1, "file_name": item.key, "height": h, "width": w}
            for i, (item, (h, w)) in enumerate(zip(case.result.items, SIZES, strict=True))
        ],
        "annotations": [],
        "categories": [{"id": 7, "name": "disc"}],
    }
    truth.createIndex()
    results = truth.loadRes(str(case.root / "pred.json"))
    assert len(results.anns) == len(entries)
    for entry, ann in zip(entries, results.loadAnns(sorted(results.anns)), strict=True):
        assert ann["category_id"] == 7 and isinstance(entry["segmentation"]["counts"], str)
        objects = case.expected[entry["file_name"]]
        assert entry["image_id"] == int(entry["file_name"][3]) + 1  # the image's index
        mask = results.annToMask(ann).astype(bool)
        (ids,) = np.unique(objects.labels[mask])  # one object, all of it
        assert np.array_equal(mask, objects.labels == ids)
        assert entry["score"] == pytest.approx(float(objects.scores[ids - 1]), abs=1e-6)
        ys, xs = np.nonzero(mask)
        box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        assert entry["bbox"] == [float(v) for v in box] and entry["area"] == mask.sum()


def test_rle_csv_is_dsb_2018s_one_row_per_object_column_major(instance_case):
    from seglab.data.rle import decode_rle

    case = instance_case
    lines = (case.root / "pred.csv").read_text().splitlines()
    assert lines[0] == "ImageId,EncodedPixels"
    rows = [line.split(",") for line in lines[1:]]
    for key, objects in case.expected.items():
        mine = [rle for image_id, rle in rows if image_id == key.removesuffix(".png")]
        assert len(mine) == objects.count
        height, width = objects.shape
        for object_id, rle in enumerate(mine, start=1):
            # top to bottom, then left to right: the transpose's row-major order
            mask = decode_rle(rle, (width, height)).T.astype(bool)
            assert np.array_equal(mask, objects.labels == object_id)


def test_overlays_colour_the_objects_and_leave_the_background(instance_case):
    case = instance_case
    for item in case.result.items:
        image = read_image(case.images / item.key)[0]
        tinted, _ = read_image(case.out / item.overlay)
        inside = case.expected[item.key].labels > 0
        assert tinted.shape == image.shape and tinted.dtype == np.uint8
        assert np.array_equal(tinted[~inside], image[~inside])
        assert (tinted[inside] != image[inside]).any(axis=-1).mean() > 0.95


def test_one_crop_per_object_of_four_pixels_or_more(instance_case):
    case = instance_case
    for item in case.result.items:
        objects = case.expected[item.key]
        image = read_image(case.images / item.key)[0]
        big = np.flatnonzero(objects.areas() >= MIN_CROP_AREA) + 1
        files = sorted(int(p.stem) for p in (case.out / item.crops).glob("*.png"))
        assert files == big.tolist() and item.crop_count == len(big) < objects.count
        for object_id in big[:5]:
            crop, _ = read_image(case.out / item.crops / f"{object_id}.png")
            ys, xs = np.nonzero(objects.labels == object_id)
            box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            inside = objects.labels[box] == object_id
            assert crop.shape == (*inside.shape, 3)
            assert np.array_equal(crop[inside], image[box][inside]) and (crop[~inside] == 0).all()


def test_border_probabilities_are_saved_as_k_plus_2_channels(instance_case):
    case = instance_case
    for item, size in zip(case.result.items, SIZES, strict=True):
        probs = np.load(case.out / item.probs)
        assert probs.dtype == np.float16 and probs.shape == (3, *size)  # bg, interior, border
        np.testing.assert_allclose(probs.astype(np.float32).sum(0), 1.0, atol=3e-3)


def test_threshold_is_refused_before_anything_is_written(instance_case, tmp_path):
    case = instance_case
    with pytest.raises(ConfigError, match=r"--threshold 0\.4: an instance run .* leave --thr"):
        predict(case.run, input=case.images, out=tmp_path / "out", threshold=0.4)
    assert not (tmp_path / "out").exists()


def test_tiling_keeps_the_outputs_whole(instance_case, tmp_path):
    case = instance_case
    result = predict(case.run, input=case.images, out=tmp_path / "out", backend="torch",
                     tile=16, overlap=0.5, crops=False, overlays=False)  # fmt: skip
    assert result.tile == 16 and result.overlap == 0.5
    model = load_instance_model(case.run, device="cpu", backend="torch")
    for item in result.items:
        image = read_image(case.images / item.key)[0]
        labels, _ = read_mask(tmp_path / "out" / item.labels)
        expected = model.predict_instances(image, tile=16, overlap=0.5)
        assert np.array_equal(labels, expected.labels)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["labels", "summary.json"]


class _DetectorModel:
    """A stand-in for a Mask R-CNN run (no probabilities): every bright region is an
    object."""

    def __init__(self, run_dir: Path):
        self.card = SimpleNamespace(task="instance", instance=InstanceSpec(method="maskrcnn"))
        self.classes, self.category_ids = ["background", "cell"], None
        self.run_dir, self.backend, self.resize = run_dir, "torch", "fit"
        self.calls: list[dict] = []

    def predict_instances_batch(self, images, *, tta=False, tile=None, overlap=0.25, batch_size=8):
        from scipy import ndimage

        self.calls.append({"tile": tile, "batch_size": batch_size})
        return [from_label_image(ndimage.label(image.max(-1) > 100)[0]) for image in images]


def test_a_detector_run_has_no_probabilities_to_save(instance_case, tmp_path):
    model = _DetectorModel(tmp_path / "run")
    images = instance_case.images
    with pytest.raises(ConfigError, match=r"--save-probs: a Mask R-CNN run has no per-pixel"):
        predict(model, input=images, out=tmp_path / "a", save_probs=True)
    assert not (tmp_path / "a").exists() and not model.calls
    result = predict(
        model, input=images, out=tmp_path / "a", batch_size=2, coco_json=tmp_path / "a.json"
    )
    assert model.calls == [{"tile": None, "batch_size": 2}] * 2  # 3 images, 2 at a time
    assert result.to_dict()["instance"]["method"] == "maskrcnn"
    entries = json.loads((tmp_path / "a.json").read_text())
    assert {e["category_id"] for e in entries} == {1}  # no dataset ids: the class index
    assert len(entries) == sum(item.objects for item in result.items) > 3


def _grid_of_objects() -> InstanceLabels:
    """300 objects of 3 x 3 pixels (ids past 255) and a 1-pixel one, on a 64 x 64 image."""
    labels = np.zeros((64, 64), np.int32)
    for i in range(300):
        row, col = divmod(i, 20)
        labels[row * 4 : row * 4 + 3, col * 3 : col * 3 + 3] = i + 1
    labels[63, 63] = 301
    classes = np.ones(301, np.int64)
    return InstanceLabels(labels, classes, np.linspace(0.5, 1.0, 301).astype(np.float32))


def test_300_objects_round_trip_through_the_label_png(tmp_path):
    objects = _grid_of_objects()
    model = SimpleNamespace(classes=["background", "cell"], category_ids=(3,))
    files = {"rle_csv": tmp_path / "p.csv", "coco_json": tmp_path / "p.json"}
    writers = InstanceWriters(model, tmp_path, overlays=True, crops=True, probs=False, **files)
    image = np.full((64, 64, 3), 90, np.uint8)
    item = writers.write("many.tif", "in/many.tif", image, (objects, None))
    writers.finish()
    labels, meta = read_mask(tmp_path / item.labels)
    assert labels.dtype == np.uint16 and labels.max() == 301 and meta.bit_depth == 16
    assert np.array_equal(labels, objects.labels)
    assert item.objects == 301 and item.crop_count == 300  # the 1-pixel object has no crop
    assert not (tmp_path / item.crops / "301.png").exists()
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 1 + 301
    entries = json.loads((tmp_path / "p.json").read_text())
    assert len(entries) == 301 and {e["category_id"] for e in entries} == {3}
    assert entries[299]["bbox"] == [57.0, 56.0, 3.0, 3.0] and entries[299]["area"] == 9


def test_object_entries_match_pycocotools_own_encoding():
    from seglab.data.rle import encode_coco_rle

    objects = _grid_of_objects()
    entries = instance_coco_entries("g.png", objects, 1)
    for object_id, entry in enumerate(entries, start=1):
        assert entry["segmentation"] == encode_coco_rle(objects.labels == object_id)


def test_rle_rows_with_several_classes_and_with_no_object():
    labels = np.array([[0, 1, 1], [2, 0, 1]], np.int32)
    objects = InstanceLabels(labels, np.array([2, 1]), np.array([0.9, 0.8], np.float32))
    three = ["background", "cat", "dog"]
    assert instance_rle_rows("a.png", objects, three) == [
        ["a", "dog", "3 1 5 2"],
        ["a", "cat", "2 1"],
    ]
    empty = from_label_image(np.zeros((2, 3), np.int32))
    assert instance_rle_rows("b.jpg", empty, three) == [["b", "", ""]]
    assert instance_rle_rows("b.jpg", empty, ["background", "cell"]) == [["b", ""]]


def test_crops_skip_small_objects_and_black_out_the_rest():
    labels = np.zeros((6, 6), np.int32)
    labels[1:4, 1:4] = 1
    labels[2, 2] = 2  # a 1-pixel object inside the first one's box
    image = np.arange(6 * 6 * 3, dtype=np.uint8).reshape(6, 6, 3)
    ((object_id, crop),) = object_crops(image, from_label_image(labels))
    assert object_id == 1 and crop.shape == (3, 3, 3)
    assert (crop[1, 1] == 0).all() and np.array_equal(crop[0, 0], image[1, 1])


def test_the_api_loads_an_instance_run_as_its_instance_model(instance_case):
    from seglab import api
    from seglab.predict.instances import BorderModel

    model = api.load_model(instance_case.run)
    assert isinstance(model, BorderModel)
    image = read_image(next(iter(sorted(instance_case.images.iterdir()))))[0]
    assert model.predict_instances(image).shape == image.shape[:2]
