"""The recipe's timing probe (seglab.train.measure.timed_probe): a few synthetic steps of the
network a run will train, at the sizes the engine will feed it."""

from __future__ import annotations

import math

import pytest

from seglab.config import ModelConfig, TrainConfig
from seglab.train.measure import timed_probe


@pytest.mark.parametrize(
    ("model", "size"),
    [
        (ModelConfig(name="smp.fpn", options={"encoder": "resnet18"}), 68),  # needs 32s
        (ModelConfig(name="segnet", options={"base_width": 4, "depth": 4}), 36),  # needs 16s
        (ModelConfig(options={"base_width": 4, "depth": 3}, multiscale=[1, 0.5]), 30),
    ],
    ids=["fpn", "segnet", "multiscale"],
)
def test_the_probe_pads_images_to_what_the_network_takes(model, size):
    """The sample set's 268 px images stopped smp and SegNet runs before they started: the
    probe fed them unpadded, where training and validation pad to the network's multiple."""
    config = TrainConfig(model=model, image_size=size, batch_size=1)
    step_s, val_s = timed_probe(config, in_channels=3, num_classes=2, full_size=size, steps=2)
    assert math.isfinite(step_s) and step_s > 0 and math.isfinite(val_s) and val_s > 0


def test_the_probe_times_the_wrappers_too(monkeypatch):
    """Three scales and a CRF cost more than the bare network: the probe builds them."""
    import seglab.models.build as build

    built = []

    def spy(model, **kwargs):
        built.append(model)
        return real(model, **kwargs)

    real = build.build_model
    monkeypatch.setattr(build, "build_model", spy)
    model = ModelConfig(options={"base_width": 4, "depth": 2}, multiscale=[1, 0.5], head="crf",
                        head_options={"iterations": 2})  # fmt: skip
    timed_probe(TrainConfig(model=model, image_size=32, batch_size=1), in_channels=3,
                num_classes=2, steps=1)  # fmt: skip
    assert [(m.multiscale, m.head, m.head_options) for m in built] == [
        ([1.0, 0.5], "crf", {"iterations": 2})
    ]


@pytest.mark.slow
def test_a_time_limited_segnet_run_trains_on_images_of_another_size(discs, tmp_path):
    from seglab.api import train
    from tests.builders import tiny_train_settings

    segnet = {"name": "segnet", "options": {"base_width": 4}}
    settings = tiny_train_settings(discs, tmp_path, image_size=40, time_limit="8s", model=segnet)
    del settings["epochs"]
    result = train(print_fn=None, **settings)
    assert result.status == "completed" and (result.run_dir / "model.safetensors").is_file()
