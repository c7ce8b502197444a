"""MaskRCNNModel on a run folder of an untrained tiny Mask R-CNN: objects at each image's own
size, whole or tiled, and runs of another kind refused naming the card's field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_model

from seglab.core.labels import InstanceLabels
from seglab.errors import DataError
from seglab.models.build import build_network
from seglab.models.card import InputSpec, InstanceSpec, ModelCard
from seglab.predict.instances import load_instance_model
from seglab.predict.maskrcnn import MaskRCNNModel

OPTIONS = {"backbone": "resnet18", "sizes": [4, 8, 16, 32, 64], "detections_per_image": 15}


def write_run(run_dir: Path, **changes) -> Path:
    """``model.json`` + ``model.safetensors`` of a seeded untrained network (score 0: the
    random head's detections all become objects, so painting and resizing are exercised)."""
    fields = {
        "architecture": "maskrcnn",
        "options": OPTIONS,
        "in_channels": 3,
        "classes": ("background", "a", "b"),
        "task": "instance",
        "instance": InstanceSpec(method="maskrcnn", score=0.0, min_area=3),
        "input": InputSpec(image_size=32, multiple=32),
    }
    card = ModelCard(**{**fields, **changes})
    run_dir.mkdir(parents=True, exist_ok=True)
    card.write(run_dir / "model.json")
    torch.manual_seed(0)
    save_model(build_network(card), str(run_dir / "model.safetensors"))
    return run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("maskrcnn") / "run")


def test_objects_come_back_at_each_images_size(run):
    model = MaskRCNNModel(run, device="cpu")
    assert (model.backend, model.image_size, model.resize) == ("torch", 32, "fit")
    assert model.classes == ["background", "a", "b"] and model.category_ids is None
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (48, 64, 3), np.uint8), rng.integers(0, 255, (20, 20), np.uint8)]
    found = model.predict_instances_batch(images)
    assert [f.shape for f in found] == [(48, 64), (20, 20)]
    big = found[0]
    assert isinstance(big, InstanceLabels) and big.count > 0  # score 0: the head's guesses
    assert set(big.classes.tolist()) <= {1, 2} and (big.areas() >= 3).all()
    assert (np.diff(big.scores) <= 0).all()  # ids follow the scores, best first
    as_read = MaskRCNNModel(run, device="cpu", resize="none")  # 48 x 64 px into the network
    tiled = as_read.predict_instances(images[0], tile=32, overlap=0.5)
    assert tiled.shape == (48, 64) and tiled.count > 0


def test_load_instance_model_gives_the_mask_rcnn(run):
    assert isinstance(load_instance_model(run, device="cpu"), MaskRCNNModel)


def _edited(run: Path, folder: Path, **fields) -> Path:
    """A copy of ``run`` whose ``model.json`` has ``fields`` changed (``None``: removed)."""
    card = json.loads((run / "model.json").read_text())
    for key, value in fields.items():
        card.pop(key) if value is None else card.__setitem__(key, value)
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps(card))
    (folder / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes())
    return folder


def test_runs_of_another_kind_are_refused_naming_the_field(tmp_path, run):
    semantic = _edited(run, tmp_path / "semantic", task="semantic")
    with pytest.raises(DataError, match="task semantic") as caught:
        MaskRCNNModel(semantic)
    assert "task" in str(caught.value)
    instance = json.loads((run / "model.json").read_text())["instance"]
    border = _edited(
        run, tmp_path / "border", instance={**instance, "method": "border"}, out_channels=None
    )
    with pytest.raises(DataError, match="not 'maskrcnn'") as caught:
        MaskRCNNModel(border)
    assert "instance.method" in str(caught.value)


def test_test_time_augmentation_is_refused_naming_the_flag(run):
    from seglab.errors import ConfigError

    model = MaskRCNNModel(run)
    with pytest.raises(ConfigError, match="--tta: not available for Mask R-CNN runs"):
        model.predict_instances(np.zeros((32, 32, 3), np.uint8), tta=True)


def test_the_api_loads_it_and_per_pixel_loaders_refuse_it_by_field(run, tmp_path):
    from seglab import api
    from seglab.predict.model import LoadedModel

    assert isinstance(api.load_model(run), MaskRCNNModel)
    for attempt in (lambda: LoadedModel(run), lambda: api.export(run, out=tmp_path / "m.onnx")):
        with pytest.raises(DataError, match="runs in PyTorch only") as caught:
            attempt()
        assert caught.value.field == "instance.method"
