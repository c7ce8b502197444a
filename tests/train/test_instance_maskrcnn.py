"""Mask R-CNN's training pieces: samples whose targets keep every object (ids past 255
included), a tiny network trained through Lightning on gray disc images, its run folder
reloaded by prediction."""

from __future__ import annotations

import math
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from seglab.core.labels import InstanceLabels, empty_labels, paint_labels
from seglab.data.base import Item, ProblemLog, SegmentationSource
from seglab.models import create_model
from seglab.models.card import InputSpec, InstanceSpec, ModelCard
from seglab.predict.maskrcnn import MaskRCNNModel
from seglab.train.callbacks import RunWriter
from seglab.train.data import SampleSpec, make_datamodule
from seglab.train.instance_data import InstanceSamples, instance_collate, instance_targets
from seglab.train.instance_module import MaskRCNNModule
from seglab.train.module import NonFiniteLoss, OptimizationPlan
from seglab.transforms.augment import build_augment

OPTIONS = {
    "backbone": "resnet18",
    "sizes": [8, 16, 32, 64, 128],
    "detections_per_image": 20,  # an untrained head finds hundreds
    "rois_per_image": 64,  # torchvision's 512 would be most of each step's time
}
"""Small enough for a CPU in seconds."""


class ArraySource(SegmentationSource):
    """Images and their objects held in memory."""

    kind = "masks"

    def __init__(self, images: list[np.ndarray], objects: list[InstanceLabels]):
        items = [Item(key=f"im{i}", image_path=Path(f"im{i}.png")) for i in range(len(images))]
        super().__init__(Path("."), items, ["background", "disc"], ProblemLog())
        self.images, self.objects = images, objects

    def load_image(self, index: int) -> np.ndarray:
        return self.images[index]

    def load_mask(self, index: int) -> np.ndarray:
        return self.objects[index].semantic()

    def instance_labels(self, index: int) -> InstanceLabels:
        return self.objects[index]


def disc_images(count: int = 3, size: int = 64, seed: int = 0) -> ArraySource:
    """Gray images, each with two or three bright discs of known place."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    images, objects = [], []
    for _ in range(count):
        image = rng.normal(40, 8, (size, size, 1))
        discs = []
        for _ in range(int(rng.integers(2, 4))):
            r = float(rng.uniform(5, 9))
            cy, cx = rng.uniform(r, size - r, 2)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            image[disc] = 180 + rng.normal(0, 8, (int(disc.sum()), 1))
            discs.append(disc)
        images.append(np.clip(image, 0, 255).astype(np.uint8))
        objects.append(paint_labels(discs, [1] * len(discs), size, size))
    return ArraySource(images, objects)


def grid_of_squares() -> ArraySource:
    """One 80 x 60 image holding 300 squares of 3 x 3 pixels: ids up to 300."""
    labels = np.zeros((60, 80), np.int32)
    for k in range(300):
        y, x = 4 * (k // 20), 4 * (k % 20)
        labels[y : y + 3, x : x + 3] = k + 1
    image = np.where(labels > 0, 200, 30).astype(np.uint8)[..., None]
    objects = InstanceLabels(labels, np.ones(300, np.int64), np.ones(300, np.float32))
    return ArraySource([image], [objects])


def test_a_sample_of_300_objects_keeps_them_all_through_crop_and_augmentation():
    spec = SampleSpec(channels=1, crop_size=80, seed=3)
    samples = InstanceSamples(
        grid_of_squares(), spec, augment=build_augment("flip,rotate90"), train=True
    )
    for key in range(4):  # several epochs' flips
        image, target = samples[key]
        assert image.shape == (1, 80, 80)  # padded to the crop (background)
        assert target["boxes"].shape == (300, 4) and target["labels"].tolist() == [1] * 300
        masks = target["masks"]
        assert masks.shape == (300, 80, 80) and masks.dtype == torch.uint8
        assert masks.sum((1, 2)).tolist() == [9] * 300  # each square moved whole
        assert int(masks.sum(0).max()) == 1  # and none merged with another
        widths = target["boxes"][:, 2:] - target["boxes"][:, :2]
        assert (widths == 3).all()
    again = samples[2][1]
    assert torch.equal(again["masks"], samples[2][1]["masks"])  # the key decides


def test_slivers_are_dropped_and_an_image_without_objects_is_a_valid_sample():
    labels = np.zeros((8, 8), np.int32)
    labels[0:4, 0:4] = 1
    labels[7, 7] = 2  # one pixel: no object to learn
    target = instance_targets(labels, np.array([1, 2]))
    assert target["boxes"].tolist() == [[0.0, 0.0, 4.0, 4.0]] and target["labels"].tolist() == [1]
    source = ArraySource([np.zeros((16, 16, 1), np.uint8)], [empty_labels(16, 16)])
    _, empty = InstanceSamples(source, SampleSpec(channels=1))[0]
    assert empty["boxes"].shape == (0, 4) and empty["masks"].shape == (0, 16, 16)


class RoundEnd:
    """A time-driven run's signal (seglab.train.timing.RoundSignal) ending round 0 after
    ``keys`` training keys."""

    def __init__(self, keys: int):
        self.round, self.keys = 0, keys

    @property
    def over(self) -> bool:
        self.keys -= 1
        return self.keys < 0


def test_the_data_module_batches_lists_with_either_sampler():
    source = disc_images(count=3, size=32)
    spec = SampleSpec(channels=1, seed=1)
    train = InstanceSamples(source, spec, augment=build_augment("flip"), train=True)
    val = InstanceSamples(source, spec)
    for signal in (None, RoundEnd(5)):  # epochs, or rounds that time ends (5 keys)
        data = make_datamodule(train, val, batch_size=2, collate=instance_collate, signal=signal)
        batches = list(data.train_dataloader())
        sizes = [len(images) for images, _ in batches]
        assert sizes == ([2] if signal is None else [2, 2])  # full batches: 3 keys, or 5
        images, targets = batches[0]
        assert images[0].shape == (1, 32, 32) and set(targets[0]) == {"boxes", "labels", "masks"}
        val_sizes = [len(images) for images, _ in data.val_dataloader()]
        assert val_sizes == [2, 1]


def test_a_nan_loss_stops_before_the_step_naming_the_terms():
    class Broken(torch.nn.Module):
        def forward(self, images, targets=None):
            return {"loss_mask": torch.tensor(float("nan")), "loss_box_reg": torch.tensor(1.0)}

    module = MaskRCNNModule(Broken(), OptimizationPlan())
    with pytest.raises(NonFiniteLoss, match="loss_mask=nan, loss_box_reg=1"):
        module.training_step(([torch.zeros(1, 8, 8)], [{}]), 0)


@pytest.mark.slow  # trains through Lightning: seconds, not milliseconds
def test_a_tiny_mask_rcnn_trains_validates_and_its_run_predicts(tmp_path):
    source = disc_images()
    spec = SampleSpec(channels=1, crop_size=64, seed=0)
    train = InstanceSamples(source, spec, augment=build_augment("flip"), train=True)
    val = InstanceSamples(source, spec)
    torch.manual_seed(0)
    net = create_model("maskrcnn", in_channels=1, num_classes=2, **OPTIONS)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    module = MaskRCNNModule(net, OptimizationPlan(optimizer="sgd", lr=0.01))
    data = make_datamodule(train, val, batch_size=2, collate=instance_collate)
    card = ModelCard(
        architecture="maskrcnn",
        options=OPTIONS,
        in_channels=1,
        classes=("background", "disc"),
        task="instance",
        instance=InstanceSpec(method="maskrcnn", score=0.0, min_area=2),
        input=InputSpec(multiple=32),
    )
    trainer = pl.Trainer(
        max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        check_val_every_n_epoch=3,  # 3 steps are 3 epochs of one batch: validate at the end
        callbacks=[RunWriter(tmp_path, card, monitor="val_dice")],
    )  # fmt: skip
    trainer.fit(module, datamodule=data)

    assert trainer.global_step == 3
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    assert 0 <= metrics["val_dice"] <= 1 and 0 <= metrics["val_ap"] <= 1
    assert math.isfinite(metrics["train_loss"]) and math.isfinite(metrics["val_loss"])
    changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("backbone.") for k in changed)
    assert any(k.startswith("roi_heads.mask_predictor") for k in changed)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "model.json").is_file()

    model = MaskRCNNModel(tmp_path, device="cpu")
    assert model.backend == "torch" and model.classes == ["background", "disc"]
    image = source.images[0]
    found = model.predict_instances(image)
    assert isinstance(found, InstanceLabels) and found.shape == (64, 64)
    assert found.count == 0 or (found.areas() >= 2).all()
    other = np.repeat(image[:50, :40], 3, axis=2)  # RGB in: matched to the run's gray
    tiled, whole = model.predict_instances_batch([other, image], tile=32, overlap=0.5)
    assert tiled.shape == (50, 40) and whole.shape == (64, 64)
