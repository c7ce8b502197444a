"""The default recipe: a training config sized for the machine at hand and the data.

:func:`resolve` fills every field of a :class:`~seglab.config.TrainConfig` left ``None`` and
returns the reasons, which the run prints and stores in ``summary.json`` (``recipe``). The
data and machine it decides from are measured by :mod:`seglab.train.measure`. What it chooses
(``recipe="auto"``):

* **Model**: the seed's U-Net with base width 16 on a CPU (32 on a GPU), depth 4. The seed's
  width 64 costs ~11 s per 512 px training image on a 2-core CPU: 16x fewer operations learn in
  minutes instead of hours.
* **Resolution**: images keep their size unless their longer side exceeds 256 px (CPU) or
  1024 px (GPU); then they are shrunk, but never so far that the median object falls below
  16 px a side. On a CPU resolution is the main cost: on the sample set, 3 minutes of training
  at 256 px reach val Dice 0.38 where the same at 512 px has not started to learn (0.06).
* **Crops**: square training crops of about 4x the side of the large (95th percentile) objects,
  96-256 px on a CPU and 256-512 px on a GPU, 70 % of them centred on an object, so small
  objects in large images are not drowned in background.
* **Batch** 8 (CPU) or 16 (GPU); **optimizer** AdamW lr 2e-3, weight decay 1e-4, **schedule**
  cosine to zero over the planned epochs; **loss** BCE+Dice (binary, ``pos_weight`` up to 5 when the
  foreground is under 5 % of the pixels) or CE+Dice (multiclass).
* **Precision** bf16-mixed on GPUs that have it (else 16-mixed), fp32 on a CPU;
  channels_last on a GPU; loader workers from the cores.
* **Epochs**: with ``--time-limit`` and no ``--epochs``, time drives the run
  (:mod:`seglab.train.timing`): the schedule follows the share of the budget spent, validation
  comes at a cadence set by time, and the run ends at the budget. A timed probe of a few
  training steps is printed and estimates the first validation. Without a limit: 40 epochs.

``recipe="seed"`` is the seed notebook as written: U-Net width 64 at 512 px, whole images,
batch 4, RAdam lr 0.005, ReduceLROnPlateau (0.2, 2, 2) on the val loss, BCE+Dice, 32 epochs, no
augmentation, best by val loss.
"""

from __future__ import annotations

import math

from seglab.config import ModelConfig, TrainConfig
from seglab.core.arrays import round_up
from seglab.train.measure import DataStats, DeviceInfo, data_stats, device_info, timed_probe

__all__ = [
    "DataStats",
    "DeviceInfo",
    "data_stats",
    "device_info",
    "resolve",
    "seed_recipe",
    "timed_probe",
]

MIN_OBJECT_SIDE = 16.0
"""Images are never shrunk so far that the median object is smaller than this (px a side)."""


def _round32(value: float) -> int:
    return max(32, round_up(math.ceil(value), 32))


def _with_width(model: ModelConfig | None, width: int) -> ModelConfig:
    """``model`` (the U-Net by default) with ``base_width`` set unless the user gave one."""
    model = model or ModelConfig()
    if model.name != "unet" or "base_width" in model.options:
        return model
    return model.model_copy(update={"options": {"base_width": width, **model.options}})


def seed_recipe(config: TrainConfig, stats: DataStats) -> tuple[TrainConfig, list[str]]:
    """The seed notebook's recipe as written (fields the user set are kept)."""
    update = {
        "model": _with_width(config.model, 64),
        "image_size": config.image_size or 512,
        "batch_size": config.batch_size or 4,
        "optimizer": config.optimizer or "radam",
        "lr": config.lr or 0.005,
        "scheduler": config.scheduler or "reduce_on_plateau",
        "loss": config.loss
        or ("bce_dice" if stats.num_classes <= 2 and config.task == "semantic" else "ce_dice"),
        # with a time limit, time drives the seed's run too (its 32 epochs may not fit)
        "epochs": config.epochs or (None if config.time_limit else 32),
        "precision": "32" if config.precision == "auto" else config.precision,
        "workers": config.workers if config.workers is not None else 0,
        "threshold": config.threshold or 0.5,  # the seed thresholds at 0.5
    }
    fields = config.model_fields_set
    if "augment" not in fields:
        update["augment"] = "none"
    if "monitor" not in fields:
        update["monitor"] = "val_loss"
    if "object_crop" not in fields:
        update["object_crop"] = 0.0
    reasons = [
        "recipe 'seed': the seed notebook as written -- U-Net width 64 at 512 px, whole images, "
        "batch 4, RAdam lr 0.005, ReduceLROnPlateau(0.2, 2, 2) on val loss, BCE+Dice, "
        f"{'32 epochs' if update['epochs'] else 'epochs until --time-limit'}, no augmentation, "
        "best by val loss"
    ]
    return config.model_copy(update=update), reasons


def resolve(
    config: TrainConfig,
    stats: DataStats,
    device: DeviceInfo,
    *,
    probe=None,
) -> tuple[TrainConfig, list[str]]:
    """Fill ``config``'s ``None`` fields for ``stats`` and ``device`` and say why.

    ``probe(config) -> (seconds per training step, seconds per validation image)`` times the
    chosen model on this machine; it is called only with a ``time_limit``, to report.
    """
    given = config.model_fields_set
    if config.recipe == "seed":
        config, reasons = seed_recipe(config, stats)
    else:
        config, reasons = _auto(config, stats, device)
    if config.task == "instance":
        config = _instance(config, given, reasons)
    if config.time_limit is not None and probe is not None:
        config, more = _plan_time(config, stats, probe)
        reasons += more
    elif config.epochs is None:
        config = config.model_copy(update={"epochs": 40})
        reasons.append("epochs 40 (no --time-limit; early stopping only with --patience)")
    return config, reasons


def _instance(config: TrainConfig, given: set[str], reasons: list[str]) -> TrainConfig:
    """An instance run is judged by its objects: the best epoch by the val DSB mean AP
    (unless ``--monitor`` says otherwise), and says which family finds them."""
    if config.instance_method == "maskrcnn":
        reasons.insert(0, "instances: Mask R-CNN (torchvision, random weights), as --model asks")
    else:
        name = config.model.name if config.model else "unet"
        reasons.insert(
            0,
            f"instances: {name} predicts object interiors and borders, cut into objects by a "
            "watershed seeded from the interiors (the DSB-2018 winners' recipe); the cut's "
            "thresholds are chosen on training images when training ends",
        )
    if "monitor" in given:
        return config
    return config.model_copy(update={"monitor": "val_ap"})


def _auto(config: TrainConfig, stats: DataStats, device: DeviceInfo) -> tuple[TrainConfig, list]:
    gpu = device.accelerator == "gpu"
    # each step fills some of ``update`` (the fields it chooses) and says why in ``reasons``;
    # later steps read what earlier ones chose
    reasons: list[str] = []
    update: dict = {}
    config = _auto_family(config, device, reasons)
    _auto_model(config, device, update, reasons)
    scale = _auto_image_size(config, stats, gpu, update, reasons)
    _auto_crop(config, stats, gpu, scale, update, reasons)
    if config.instance_method == "maskrcnn":
        _auto_maskrcnn(config, stats, gpu, scale, update, reasons)
    _auto_optimizer(config, gpu, update)
    _auto_loss(config, stats, update, reasons)
    if config.precision == "auto":
        update["precision"] = ("bf16-mixed" if device.bf16 else "16-mixed") if gpu else "32"
    if config.workers is None:
        update["workers"] = min(8, device.cores - 1) if gpu else min(4, device.cores // 2)
        if device.cores <= 2:
            update["workers"] = 0
    reasons.append(
        f"batch {update.get('batch_size', config.batch_size)}, "
        f"{update.get('optimizer', config.optimizer)} lr {update.get('lr', config.lr)}, "
        f"{update.get('scheduler', config.scheduler)} schedule, precision "
        f"{update.get('precision', config.precision)}, {update.get('workers', config.workers)} "
        "loader workers"
    )
    return config.model_copy(update=update), reasons


MASKRCNN_MIN_SECONDS = 3600.0
"""The shortest GPU budget for which the recipe picks Mask R-CNN for instances: from random
weights it learns far slower than a U-Net of interiors and borders (on a CPU it never catches
up in minutes: benchmarks/instance_budget.py)."""


def _auto_family(config: TrainConfig, device: DeviceInfo, reasons: list) -> TrainConfig:
    """An instance run without ``--model``: Mask R-CNN on a GPU with an hour or more (or no
    time limit), else a U-Net of interiors and borders; says why."""
    if config.task != "instance" or config.model is not None:
        return config
    gpu = device.accelerator == "gpu"
    long = config.time_limit is None or config.time_limit >= MASKRCNN_MIN_SECONDS
    if gpu and long:
        reasons.append(
            "instance family: Mask R-CNN (a GPU and an hour or more: its detections separate "
            "touching objects of any shape)"
        )
        return config.model_copy(update={"model": ModelConfig(name="maskrcnn")})
    why = "a CPU" if not gpu else "a GPU budget under an hour"
    reasons.append(
        f"instance family: U-Net interiors + borders ({why}: from random weights Mask R-CNN "
        "learns far slower; --model maskrcnn to use it)"
    )
    return config


def _auto_maskrcnn(
    config: TrainConfig, stats: DataStats, gpu: bool, scale: float, update: dict, reasons: list
) -> None:
    """Mask R-CNN sized for the machine and the data: ResNet-18 on a CPU (50 on a GPU),
    GroupNorm (batches of a few images), anchors from the objects' sizes at the network's
    scale, fewer sampled RoIs on a CPU, batch 4 (8), AdamW 1e-3."""
    from seglab.models.maskrcnn import anchor_sizes

    model = config.model or ModelConfig(name="maskrcnn")
    options = dict(model.options)
    options.setdefault("backbone", "resnet50" if gpu else "resnet18")
    if model.name == "maskrcnn_v2":
        options.pop("backbone")
    sides = [
        math.sqrt(area) * scale
        for area in (stats.object_p50 / 4, stats.object_p50, stats.object_p95)
        if area > 0
    ]
    options.setdefault("sizes", list(anchor_sizes(sides)))
    options.setdefault("rois_per_image", 512 if gpu else 128)
    update["model"] = model.model_copy(update={"options": options})
    if config.batch_size is None:
        update["batch_size"] = 8 if gpu else 4
    if config.optimizer is None and config.lr is None:
        update["optimizer"], update["lr"] = "adamw", 1e-3
    reasons.append(
        f"Mask R-CNN: {options.get('backbone', 'resnet50 v2')}, anchors "
        f"{options['sizes']} px (from the objects' sizes), {options['rois_per_image']} sampled "
        "RoIs per image, up to 1000 detections per image"
    )


def _auto_model(config: TrainConfig, device: DeviceInfo, update: dict, reasons: list) -> None:
    """A U-Net sized for the machine, unless the config names a model or its width."""
    gpu = device.accelerator == "gpu"
    where = f"GPU {device.gpu_name}" if gpu else f"CPU, {device.cores} cores"
    model = config.model
    if model is None or (model.name == "unet" and "base_width" not in model.options):
        width = 32 if gpu else 16
        options = {"base_width": width, "depth": 4, **(model.options if model else {})}
        update["model"] = (model or ModelConfig()).model_copy(update={"options": options})
        reasons.append(
            f"model: U-Net base width {width}, depth 4 ({where}; the seed's width 64 is "
            f"{(64 // width) ** 2}x the compute)"
        )


def _auto_image_size(
    config: TrainConfig, stats: DataStats, gpu: bool, update: dict, reasons: list
) -> float:
    """Keep the images' own resolution unless they are large, never shrinking objects below
    :data:`MIN_OBJECT_SIDE`; returns the scale the images are trained at (1.0: their own)."""
    limit = 1024 if gpu else 256
    scale = 1.0 if config.image_size is None else min(1.0, config.image_size / stats.long_side)
    if config.image_size is None and stats.long_side > limit:
        scale = limit / stats.long_side
        if stats.object_p50 > 0:
            scale = min(1.0, max(scale, MIN_OBJECT_SIDE / math.sqrt(stats.object_p50)))
        if scale < 1.0:
            update["image_size"] = round(stats.long_side * scale)
            reasons.append(
                f"images resized to {update['image_size']} px on the longer side (median "
                f"{stats.long_side} px; median object {math.sqrt(stats.object_p50):.0f} px a side "
                "before resizing)"
            )
    return scale


def _auto_crop(
    config: TrainConfig, stats: DataStats, gpu: bool, scale: float, update: dict, reasons: list
) -> None:
    """Training crops about 4x the large objects, unless they would be nearly whole images --
    of the large images: in a mixed-size set a few large images padded into every batch would
    cost more than all the others."""
    if config.crop_size is not None:
        return
    size = config.image_size or update.get("image_size") or stats.long_side
    largest = max(size, round(stats.largest_side * scale))
    low, high = (256, 512) if gpu else (96, 256)
    side = 4 * math.sqrt(stats.object_p95) * scale if stats.object_p95 else low * 2
    fits = max(32, int(stats.short_side * scale) // 32 * 32)  # whole crops, little padding
    crop = min(_round32(min(max(side, low), high)), fits)
    if crop < 0.75 * largest:  # crops nearly as large as the images: train on whole images
        why = "about 4x the large objects" if stats.object_p95 else "no objects sampled"
        sizes = f"{size} px" if largest <= size else f"{size}-{largest} px"
        update["crop_size"] = crop
        reasons.append(
            f"training crops {crop} px ({why}, {config.object_crop:.0%} centred on an object) "
            f"from {sizes} images"
        )


def _auto_optimizer(config: TrainConfig, gpu: bool, update: dict) -> None:
    """The batch size, AdamW with its learning rate and weight decay, a cosine schedule."""
    if config.batch_size is None and "batch_size" not in update:
        update["batch_size"] = 16 if gpu else 8
    if config.optimizer is None:
        update.setdefault("optimizer", "adamw")
        if config.lr is None:
            update.setdefault("lr", 2e-3)
        if config.weight_decay is None:
            update["weight_decay"] = 1e-4
    if config.scheduler is None:
        update["scheduler"] = "cosine"


def _auto_loss(config: TrainConfig, stats: DataStats, update: dict, reasons: list) -> None:
    """BCE+Dice (CE+Dice multiclass, and for interiors and borders), weighting a rare
    foreground up; Mask R-CNN has its own losses."""
    if config.loss is not None or config.instance_method == "maskrcnn":
        return
    if config.instance_method == "border":
        update["loss"] = "ce_dice"
        return
    binary = stats.num_classes <= 2
    update["loss"] = "bce_dice" if binary else "ce_dice"
    if binary and 0 < stats.foreground < 0.05 and "pos_weight" not in config.loss_options:
        weight = round(min(5.0, math.sqrt((1 - stats.foreground) / stats.foreground)), 2)
        update["loss_options"] = {**config.loss_options, "pos_weight": weight}
        reasons.append(
            f"loss BCE+Dice with pos_weight {weight} (foreground is "
            f"{stats.foreground:.1%} of the pixels)"
        )


def _plan_time(config: TrainConfig, stats: DataStats, probe) -> tuple[TrainConfig, list[str]]:
    """Say what the time limit does: with no ``epochs`` time drives the run
    (:mod:`seglab.train.timing`); with them the limit only caps the run. The probe's figures
    are printed and estimate the first validation; nothing is planned from them."""
    from seglab.train.budget import validation_interval

    step_s, val_image_s = probe(config)
    batch = config.batch_size or 1
    steps = max(1, stats.num_images // batch)
    val_s = stats.num_val * val_image_s
    reasons = [
        f"timed probe: {step_s:.2f} s per training step of {batch}, {val_image_s:.3f} s per "
        f"validation image (~{steps * step_s:.0f} s per pass over the {stats.num_images} "
        f"training images, ~{val_s:.0f} s per validation)"
    ]
    limit = config.time_limit
    if config.epochs is None:
        every = validation_interval(limit, pause=val_s)
        reasons.append(
            f"time drives the run: the {config.scheduler or 'none'} schedule follows the share "
            f"of the {limit:.0f} s spent, validation about every {every:.0f} s (measured as it "
            "goes), training stops when only the final validation's margin is left"
        )
    else:
        reasons.append(f"epochs {config.epochs}, stopped by --time-limit {limit:.0f} s if longer")
    return config, reasons
