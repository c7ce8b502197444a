"""Tests of seglab.train.recipe: the auto and seed recipes from known data and devices."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from PIL import Image

from seglab.config import ModelConfig, TrainConfig
from seglab.data.dataset import open_dataset
from seglab.train.recipe import DataStats, DeviceInfo, data_stats, resolve
from tests.builders import write_discs

CPU = DeviceInfo("cpu", cores=2)
CPU8 = DeviceInfo("cpu", cores=8)
GPU = DeviceInfo("gpu", cores=16, gpu_name="H100", gpu_memory_gb=80.0, bf16=True)
OLD_GPU = DeviceInfo("gpu", cores=4, gpu_name="T4", gpu_memory_gb=16.0, bf16=False)


def stats(**changes) -> DataStats:
    base = DataStats(
        num_images=100,
        num_val=20,
        channels=3,
        num_classes=2,
        long_side=256,
        short_side=256,
        object_p50=400.0,
        object_p95=900.0,
        foreground=0.2,
    )
    return dataclasses.replace(base, **changes)


def auto(config: TrainConfig | None = None, device: DeviceInfo = CPU, **changes) -> TrainConfig:
    return resolve(config or TrainConfig(), stats(**changes), device)[0]


def no_probe(config):
    raise AssertionError("the probe runs only to plan a time limit")


# --- model, batch, optimizer, precision -----------------------------------------------------


def test_cpu_gets_a_narrow_unet_and_fp32():
    config, reasons = resolve(TrainConfig(), stats(), CPU, probe=no_probe)
    assert config.model.name == "unet"
    assert config.model.options == {"base_width": 16, "depth": 4}
    assert config.batch_size == 8 and config.precision == "32" and config.workers == 0
    assert (config.optimizer, config.lr, config.weight_decay) == ("adamw", 2e-3, 1e-4)
    assert config.scheduler == "cosine" and config.loss == "bce_dice"
    assert config.epochs == 40
    assert any("base width 16" in r for r in reasons)


def test_cpu_workers_follow_the_cores():
    assert auto(device=CPU8).workers == 4
    assert auto(device=DeviceInfo("cpu", cores=1)).workers == 0


@pytest.mark.parametrize(("device", "precision"), [(GPU, "bf16-mixed"), (OLD_GPU, "16-mixed")])
def test_gpu_gets_width_32_and_mixed_precision(device, precision):
    config = auto(device=device)
    assert config.model.options["base_width"] == 32
    assert config.precision == precision
    assert config.batch_size == 16
    assert config.workers == min(8, device.cores - 1)


def test_user_fields_are_never_overridden():
    user = TrainConfig(
        batch_size=3,
        lr=0.01,
        optimizer="sgd",
        weight_decay=0.0,
        scheduler="poly",
        loss="dice",
        precision="32",
        workers=1,
        epochs=7,
        image_size=200,
        crop_size=64,
        model=ModelConfig(options={"base_width": 8}),
    )
    for device in (CPU, GPU):
        config = auto(user, device, long_side=2000, short_side=2000, foreground=0.01)
        assert config == user  # nothing left to fill


def test_user_lr_is_kept_with_the_default_optimizer():
    config = auto(TrainConfig(lr=0.05))
    assert config.optimizer == "adamw" and config.lr == 0.05


def test_user_optimizer_keeps_its_own_default_lr():
    config = auto(TrainConfig(optimizer="sgd"))
    assert config.optimizer == "sgd" and config.lr is None and config.weight_decay is None


def test_unet_options_are_completed_not_replaced():
    user = ModelConfig(options={"activation": "gelu"}, init="kaiming")
    config = auto(TrainConfig(model=user))
    assert config.model.options == {"base_width": 16, "depth": 4, "activation": "gelu"}
    assert config.model.init == "kaiming"
    deep = auto(TrainConfig(model=ModelConfig(options={"depth": 3})), GPU)
    assert deep.model.options == {"base_width": 32, "depth": 3}


def test_other_models_are_left_alone():
    model = ModelConfig(name="smp.unet", options={"encoder": "resnet18"})
    assert auto(TrainConfig(model=model)).model == model


# --- resolution and crops -------------------------------------------------------------------


def test_big_images_shrink_but_keep_objects_16_px():
    config = auto(long_side=2000, short_side=1500, object_p50=400.0, object_p95=900.0)
    assert config.image_size is not None and config.image_size < 2000
    scale = config.image_size / 2000
    assert math.sqrt(400.0) * scale >= 15.9  # the median object, 20 px, stays 16 px a side
    assert config.image_size == 1600


@pytest.mark.parametrize(("device", "limit"), [(CPU, 256), (GPU, 1024)])
def test_big_images_with_big_objects_shrink_to_the_device_limit(device, limit):
    assert auto(device=device, long_side=2048, short_side=1536, object_p50=90000.0).image_size == (
        limit
    )
    assert auto(device=device, long_side=2048, short_side=1536, object_p50=0.0).image_size == limit


def test_images_of_small_objects_are_not_shrunk():
    config = auto(long_side=2000, short_side=1500, object_p50=100.0, object_p95=400.0)
    assert config.image_size is None  # 10 px objects: shrinking would lose them


def test_images_within_the_limit_keep_their_size():
    assert auto(long_side=256, short_side=200).image_size is None
    assert auto(device=GPU, long_side=1024, short_side=1024).image_size is None


@pytest.mark.parametrize(
    ("p95", "expected"), [(25.0, 96), (1600.0, 160), (10000.0, 256), (90000.0, 256)]
)
def test_cpu_crops_are_4x_the_large_objects_within_bounds(p95, expected):
    config = auto(
        TrainConfig(image_size=512), long_side=512, short_side=512, object_p50=p95 / 2,
        object_p95=p95,
    )  # fmt: skip
    assert config.crop_size == expected
    assert config.crop_size % 32 == 0 and 96 <= config.crop_size <= 256
    if 96 < 4 * math.sqrt(p95) < 256:
        assert abs(config.crop_size - 4 * math.sqrt(p95)) < 32


@pytest.mark.parametrize(("p95", "expected"), [(1600.0, 256), (9216.0, 384), (90000.0, 512)])
def test_gpu_crops_are_within_256_and_512(p95, expected):
    config = auto(device=GPU, long_side=1024, short_side=1024, object_p95=p95)
    assert config.crop_size == expected


def test_crops_follow_the_resized_objects():
    # 2048 px images shrink to 0.8 (20 px median objects stay 16 px); 50 px objects become 40
    config = auto(long_side=2048, short_side=2048, object_p50=400.0, object_p95=2500.0)
    assert config.image_size == round(2048 * 0.8)
    assert config.crop_size == 160  # 4 x 40


def test_crops_without_objects_use_twice_the_lower_bound():
    config = auto(TrainConfig(image_size=512), long_side=512, short_side=512, object_p95=0.0)
    assert config.crop_size == 192


@pytest.mark.parametrize("side", [64, 80, 96])
def test_no_crop_when_images_are_smaller_than_the_crop(side):
    config = auto(long_side=side, short_side=side, object_p95=1600.0)
    assert config.crop_size is None


def test_crop_never_exceeds_the_rounded_short_side():
    config = auto(TrainConfig(image_size=400), long_side=400, short_side=64, object_p95=1600.0)
    assert config.crop_size == 64


def test_crops_follow_a_user_image_size():
    # 2048 px images resized by the user to 512: 50 px objects become 12.5 px, so the crop
    # should be the lower bound (96), not 4 x 50 px of the original images
    config = auto(TrainConfig(image_size=512), long_side=2048, short_side=2048, object_p95=2500.0)
    assert config.crop_size == 96


# --- loss -----------------------------------------------------------------------------------


def test_rare_binary_foreground_gets_a_pos_weight():
    config = auto(foreground=0.01)
    assert config.loss == "bce_dice"
    assert 1.0 < config.loss_options["pos_weight"] <= 5.0
    assert auto(foreground=0.04).loss_options["pos_weight"] == pytest.approx(
        math.sqrt(0.96 / 0.04), abs=0.01
    )


def test_common_foreground_gets_no_pos_weight():
    assert "pos_weight" not in auto(foreground=0.2).loss_options
    assert "pos_weight" not in auto(foreground=0.0).loss_options  # no objects sampled


def test_user_pos_weight_is_kept():
    config = auto(TrainConfig(loss_options={"pos_weight": 2.0, "eps": 1e-6}), foreground=0.01)
    assert config.loss_options == {"pos_weight": 2.0, "eps": 1e-6}


def test_multiclass_gets_ce_dice_and_no_pos_weight():
    config = auto(num_classes=3, foreground=0.01)
    assert config.loss == "ce_dice" and "pos_weight" not in config.loss_options


# --- the seed recipe ------------------------------------------------------------------------


@pytest.mark.parametrize("device", [CPU, GPU])
def test_seed_recipe_is_the_notebook(device):
    config, reasons = resolve(TrainConfig(recipe="seed"), stats(), device, probe=no_probe)
    assert config.model == ModelConfig(name="unet", options={"base_width": 64})
    assert (config.optimizer, config.lr, config.scheduler) == ("radam", 0.005, "reduce_on_plateau")
    assert config.epochs == 32 and config.image_size == 512 and config.batch_size == 4
    assert config.augment == "none" and config.monitor == "val_loss"
    assert config.crop_size is None and config.object_crop == 0.0
    assert config.loss == "bce_dice" and config.precision == "32"
    assert reasons and "seed" in reasons[0]


def test_seed_recipe_multiclass_uses_ce_dice():
    assert auto(TrainConfig(recipe="seed"), num_classes=4).loss == "ce_dice"


def test_seed_recipe_keeps_user_fields():
    user = TrainConfig(
        recipe="seed",
        epochs=3,
        lr=0.001,
        optimizer="adamw",
        scheduler="cosine",
        image_size=256,
        batch_size=2,
        augment="light",
        monitor="val_dice",
        object_crop=0.5,
        model=ModelConfig(options={"base_width": 8, "activation": "gelu"}),
    )
    config = auto(user, GPU)
    for field in user.model_fields_set:
        assert getattr(config, field) == getattr(user, field), field


def test_seed_recipe_completes_a_unet_without_width():
    config = auto(TrainConfig(recipe="seed", model=ModelConfig(options={"dropout": 0.1})))
    assert config.model.options == {"base_width": 64, "dropout": 0.1}


# --- epochs and the time limit --------------------------------------------------------------


def test_time_limit_leaves_the_epochs_to_time_and_only_reports_the_probe():
    seen = []

    def probe(config):
        seen.append(config)
        return 1.0, 0.1

    s = stats(num_images=100, num_val=20)
    config, reasons = resolve(TrainConfig(time_limit=600), s, CPU, probe=probe)
    assert len(seen) == 1 and seen[0].batch_size == 8  # the probe times the chosen config
    assert seen[0].model.options["base_width"] == 16
    assert config.epochs is None and config.limit_train_batches is None  # time drives the run
    assert any(
        "~12 s per pass over the 100 training images, ~2 s per validation" in r for r in reasons
    )
    assert any("time drives the run: the cosine schedule" in r for r in reasons)


@pytest.mark.parametrize("step_s", [0.01, 1.0, 100.0])
def test_the_probe_plans_nothing_however_slow(step_s):
    s = stats(num_images=10000, num_val=1000)
    config, _ = resolve(TrainConfig(time_limit=60), s, CPU, probe=lambda c: (step_s, 0.1))
    assert config.epochs is None and config.limit_train_batches is None


def test_time_limit_keeps_user_epochs():
    config, reasons = resolve(
        TrainConfig(time_limit=60, epochs=3), stats(), CPU, probe=lambda c: (1, 1)
    )
    assert config.epochs == 3 and config.limit_train_batches is None
    assert any("epochs 3, stopped by --time-limit 60 s if longer" in r for r in reasons)


def test_without_time_limit_epochs_are_40():
    assert resolve(TrainConfig(), stats(), CPU, probe=no_probe)[0].epochs == 40
    assert resolve(TrainConfig(epochs=2), stats(), CPU, probe=no_probe)[0].epochs == 2
    assert resolve(TrainConfig(time_limit=60), stats(), CPU)[0].epochs == 40  # no probe


# --- data_stats -----------------------------------------------------------------------------


def disc_areas(root, split="train") -> list[int]:
    return [
        int(np.count_nonzero(np.asarray(Image.open(p))))
        for p in sorted((root / split / "masks").iterdir())
    ]


def test_data_stats_of_the_discs(discs):
    s = data_stats(open_dataset(discs, split="train"), num_val=4)
    areas = disc_areas(discs)
    assert (s.num_images, s.num_val, s.channels, s.num_classes) == (8, 4, 3, 2)
    assert (s.long_side, s.short_side) == (32, 32)
    assert min(areas) <= s.object_p50 <= s.object_p95 <= max(areas)
    assert s.object_p50 == pytest.approx(np.percentile(areas, 50))
    assert s.object_p95 == pytest.approx(np.percentile(areas, 95))
    assert 0 < s.foreground < 1
    assert s.foreground == pytest.approx(sum(areas) / (8 * 32 * 32))


def test_data_stats_of_multiclass_gray_images(tmp_path):
    root = write_discs(tmp_path / "gray", splits={"train": 6}, size=24, classes=2)
    for path in (root / "train" / "images").iterdir():
        Image.open(path).convert("L").save(path)
    s = data_stats(open_dataset(root, split="train", val_fraction=0.0))
    assert (s.num_images, s.channels, s.num_classes, s.long_side) == (6, 1, 3, 24)
    assert s.object_p50 == pytest.approx(np.percentile(disc_areas(root), 50))


def test_data_stats_leaves_out_unreadable_images(discs):
    source = open_dataset(discs, split="train")
    source.items[0].image_path.write_bytes(b"not an image")
    s = data_stats(source)
    areas = disc_areas(discs)[1:]
    assert s.num_images == 8
    assert s.object_p50 == pytest.approx(np.percentile(areas, 50))
    assert s.foreground == pytest.approx(sum(areas) / (7 * 32 * 32))


def test_data_stats_samples_at_most_max_images(discs):
    s = data_stats(open_dataset(discs, split="train"), max_images=3)
    assert s.num_images == 8
    assert min(disc_areas(discs)) <= s.object_p50 <= max(disc_areas(discs))


def test_with_a_time_limit_time_drives_the_seed_recipe_too():
    config, reasons = resolve(
        TrainConfig(recipe="seed", time_limit=60), stats(), CPU, probe=lambda c: (1.0, 0.1)
    )
    assert config.epochs is None and config.scheduler == "reduce_on_plateau"
    assert "epochs until --time-limit" in reasons[0]
    assert any("time drives the run" in r for r in reasons)
    given, _ = resolve(TrainConfig(recipe="seed", time_limit=60, epochs=5), stats(), CPU)
    assert given.epochs == 5


def test_a_mixed_size_set_is_cropped_for_its_large_images():
    # median 256 px, but a tenth of the images are 1024 px: whole-image batches would be
    # padded to 1024 px
    config, reasons = resolve(
        TrainConfig(), stats(long_side_p90=1024, object_p95=2300.0), CPU, probe=no_probe
    )
    assert config.crop_size == 192
    assert any("training crops 192 px" in r and "from 256-1024 px images" in r for r in reasons)
    same = resolve(TrainConfig(), stats(object_p95=2300.0), CPU, probe=no_probe)[0]
    assert same.crop_size is None  # all 256 px: whole images


# --- instances ----------------------------------------------------------------------------------


def test_instances_on_a_cpu_get_the_border_unet_judged_by_val_ap():
    config, reasons = resolve(TrainConfig(task="instance"), stats(), CPU)
    assert config.instance_method == "border" and config.model.name == "unet"
    assert config.loss == "ce_dice" and config.monitor == "val_ap"  # K + 2 softmax channels
    assert any("instance family: U-Net" in r and "a CPU" in r for r in reasons)
    kept = resolve(TrainConfig(task="instance", monitor="val_loss"), stats(), CPU)[0]
    assert kept.monitor == "val_loss"


@pytest.mark.parametrize(("limit", "method"), [(None, "maskrcnn"), (7200.0, "maskrcnn"),
                                               (600.0, "border")])  # fmt: skip
def test_a_gpu_with_an_hour_gets_mask_rcnn_sized_from_the_objects(limit, method):
    config, reasons = resolve(TrainConfig(task="instance", time_limit=limit), stats(), GPU,
                              probe=lambda c: (0.1, 0.01))  # fmt: skip
    assert config.instance_method == method
    if method == "maskrcnn":
        options = config.model.options
        assert options["backbone"] == "resnet50" and options["rois_per_image"] == 512
        # anchors from the objects (median 20 px, large 30 px a side): from the small to twice
        assert options["sizes"][0] <= 12 and options["sizes"][-1] >= 56  # twice the large
        assert config.batch_size == 8 and config.loss is None
        assert any("Mask R-CNN: resnet50" in r for r in reasons)


def test_mask_rcnn_asked_for_on_a_cpu_is_sized_for_it():
    config = auto(TrainConfig(task="instance", model={"name": "maskrcnn"}))
    options = config.model.options
    assert options["backbone"] == "resnet18" and options["rois_per_image"] == 128
    assert (config.batch_size, config.optimizer, config.lr) == (4, "adamw", 1e-3)
