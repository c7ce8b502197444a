"""An instance run of the border family: objects in, a network of interiors and borders out,
its cut chosen on training images and stored in the card."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from seglab.core.labels import from_label_image
from seglab.data.coco import CocoSource
from seglab.train.border import BorderSource, BorderTarget, border_width, object_codes
from tests.builders import TINY_UNET, touching_discs


def test_object_codes_carry_ids_and_classes_through_the_pipeline():
    labels = np.zeros((8, 8), np.int64)
    labels[1:4, 1:4], labels[1:4, 4:7], labels[5:7, 5:7] = 1, 2, 3
    objects = from_label_image(labels)
    objects = objects.__class__(objects.labels, np.array([1, 2, 1]), objects.scores)
    codes = object_codes(objects, num_classes=3)  # two classes besides the background
    assert sorted(np.unique(codes).tolist()) == [0, 1, 4, 5]  # (id - 1) * 2 + class
    target = BorderTarget(num_classes=3, width=1)(codes)
    # classes of the interiors come back: object 2 is of class 2, the others of class 1
    assert target[2, 5] == 2 and target[2, 2] == 1 and 3 in target  # 3: the border


def test_border_source_wraps_any_labelled_source(tmp_path):
    root = touching_discs(tmp_path / "d", count=2)
    source = CocoSource(root / "annotations.json")
    view = BorderSource(source)
    assert view.classes == ["background", "cell", "border"]
    image, codes = view.load(0)
    assert codes.shape == image.shape[:2]
    assert len(np.unique(codes)) - 1 == len(source.instances(0))


def test_border_width_follows_the_object_size():
    assert border_width(100.0, 1.0) == 1  # 10 px objects keep an interior with 1 px borders
    assert border_width(900.0, 1.0) == 2
    assert border_width(900.0, 0.25) == 1  # the same objects shrunk 4x


@pytest.mark.slow
def test_an_instance_run_trains_chooses_its_cut_and_predicts_objects(tmp_path):
    from seglab import api
    from seglab.predict.instances import load_instance_model

    root = touching_discs(tmp_path / "d", count=12)
    result = api.train(
        data=root,
        task="instance",
        model=TINY_UNET | {"options": {"base_width": 8, "depth": 2}},
        out=tmp_path / "runs",
        epochs=30,
        batch_size=4,
        optimizer="adam",
        lr=0.01,
        scheduler="none",
        workers=0,
        augment="flip",
        print_fn=None,
    )
    run = result.run_dir
    card = json.loads((run / "model.json").read_text())
    assert card["task"] == "instance" and card["instance"]["method"] == "border"
    assert card["out_channels"] == 3 and card["category_ids"] == [3]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["monitor"] == "val_ap"
    cut = summary["instance"]
    assert cut["dsb_map"] >= cut["dsb_map_default"]  # the choice never loses to the default
    assert card["instance"]["seed"] == cut["seed"]
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert "val_ap" in rows[0] and max(float(r["val_ap"]) for r in rows) > 0.3
    model = load_instance_model(run)
    source = CocoSource(root / "annotations.json")
    found = model.predict_instances(source.load_image(0))
    assert found.shape == (48, 48) and found.count >= 2


@pytest.mark.slow
@pytest.mark.parametrize(
    "changes",
    [
        {"model": {"multiscale": [1, 0.5], "head": "crf"}},
        {"adversarial": 0.1},
        {"loss": "mumford_shah"},
    ],
    ids=["multiscale+crf", "adversarial", "mumford_shah"],
)
def test_the_families_options_train_border_instance_runs(tmp_path, changes):
    """Interiors + borders are a 3-class semantic output: the wrappers, the discriminator and
    the contour losses take it like any other, and the run still cuts objects."""
    from seglab import api
    from seglab.predict.instances import load_instance_model

    root = touching_discs(tmp_path / "d", count=4)
    model = TINY_UNET | {"options": {"base_width": 4, "depth": 2}} | changes.pop("model", {})
    result = api.train(data=root, task="instance", model=model, out=tmp_path / "runs",
                       epochs=2, batch_size=4, optimizer="adam", lr=0.01, scheduler="none",
                       workers=0, augment="none", print_fn=None, **changes)  # fmt: skip
    with open(result.run_dir / "metrics.csv") as f:
        assert all(math.isfinite(float(r["train_loss"])) for r in csv.DictReader(f))
    found = load_instance_model(result.run_dir).predict_instances(
        CocoSource(root / "annotations.json").load_image(0)
    )
    assert found.shape == (48, 48)
