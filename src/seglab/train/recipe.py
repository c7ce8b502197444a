"""The default recipe: a training config sized for the machine at hand and the data.

:func:`resolve` fills every field of a :class:`~seglab.config.TrainConfig` left ``None`` and
returns the reasons, which the run prints and stores in ``config.yaml``'s neighbour
``recipe.txt``. What it chooses (``recipe="auto"``):

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
* **Epochs**: with ``--time-limit``, as many as fit (from a timed probe of a few training steps
  of this model on this machine), at least 5 validations -- shortening epochs on large datasets
  (``limit_train_batches``) -- unless validating alone would take half the budget.
  Without a limit: 40.

``recipe="seed"`` is the seed notebook as written: U-Net width 64 at 512 px, whole images,
batch 4, RAdam lr 0.005, ReduceLROnPlateau (0.2, 2, 2) on the val loss, BCE+Dice, 32 epochs, no
augmentation, best by val loss.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

from seglab.config import ModelConfig, TrainConfig
from seglab.data.base import IGNORE_INDEX, SegmentationSource

MIN_OBJECT_SIDE = 16.0
"""Images are never shrunk so far that the median object is smaller than this (px a side)."""


@dataclass(frozen=True)
class DataStats:
    """What the recipe needs to know about the training images (from a sample of them)."""

    num_images: int
    num_val: int
    channels: int
    num_classes: int
    long_side: int  # median longer side, px
    short_side: int  # median shorter side, px
    object_p50: float  # object area percentiles, px (0 when there are no objects)
    object_p95: float
    foreground: float  # share of labelled pixels that are foreground


@dataclass(frozen=True)
class DeviceInfo:
    """The machine: accelerator kind, CPU cores, memory, and the GPU when there is one."""

    accelerator: str  # "cpu" or "gpu"
    cores: int
    gpu_name: str | None = None
    gpu_memory_gb: float = 0.0
    bf16: bool = False


def device_info() -> DeviceInfo:
    """Probe the machine (CUDA GPUs via torch; cores from the process's CPU affinity)."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return DeviceInfo(
            "gpu",
            cores,
            props.name,
            props.total_memory / 2**30,
            bool(torch.cuda.is_bf16_supported()),
        )
    return DeviceInfo("cpu", cores)


def data_stats(
    source: SegmentationSource, *, num_val: int = 0, max_images: int = 32, seed: int = 0
) -> DataStats:
    """Sizes, channels, object areas and foreground share from up to ``max_images`` images.

    Unreadable images are left out (the data loader warns about them later).
    """
    import cv2

    from seglab.errors import DataError

    n = len(source)
    rng = np.random.default_rng(seed)
    picks = sorted(rng.choice(n, size=min(n, max_images), replace=False).tolist()) if n else []
    longs, shorts, areas, channels = [], [], [], []
    fg = total = 0
    for i in picks:
        try:
            image, mask = source.load(i)
        except DataError:
            continue
        h, w = mask.shape
        longs.append(max(h, w))
        shorts.append(min(h, w))
        channels.append(1 if image.ndim == 2 else image.shape[2])
        valid = mask != IGNORE_INDEX
        objects = valid & (mask != 0)
        fg += int(objects.sum())
        total += int(valid.sum())
        for cls in np.unique(mask[objects]):
            count, _, stats, _ = cv2.connectedComponentsWithStats(
                (mask == cls).astype(np.uint8), connectivity=8
            )
            areas.extend(stats[1:count, cv2.CC_STAT_AREA].tolist())
    gray = bool(channels) and all(c == 1 for c in channels)
    return DataStats(
        num_images=n,
        num_val=num_val,
        channels=1 if gray else 3,
        num_classes=source.num_classes,
        long_side=int(np.median(longs)) if longs else 256,
        short_side=int(np.median(shorts)) if shorts else 256,
        object_p50=float(np.percentile(areas, 50)) if areas else 0.0,
        object_p95=float(np.percentile(areas, 95)) if areas else 0.0,
        foreground=fg / total if total else 0.0,
    )


def _round32(value: float) -> int:
    return max(32, math.ceil(value / 32.0) * 32)


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
        "loss": config.loss or ("bce_dice" if stats.num_classes <= 2 else "ce_dice"),
        "epochs": config.epochs or 32,
        "precision": "32" if config.precision == "auto" else config.precision,
        "workers": config.workers if config.workers is not None else 0,
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
        "32 epochs, no augmentation, best by val loss"
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
    chosen model on this machine; it is called only to plan epochs for a ``time_limit``.
    """
    if config.recipe == "seed":
        config, reasons = seed_recipe(config, stats)
    else:
        config, reasons = _auto(config, stats, device)
    if config.time_limit is not None and probe is not None:
        config, more = _plan_time(config, stats, probe)
        reasons += more
    elif config.epochs is None:
        config = config.model_copy(update={"epochs": 40})
        reasons.append("epochs 40 (no --time-limit; early stopping only with --patience)")
    return config, reasons


def _auto(config: TrainConfig, stats: DataStats, device: DeviceInfo) -> tuple[TrainConfig, list]:
    gpu = device.accelerator == "gpu"
    where = f"GPU {device.gpu_name}" if gpu else f"CPU, {device.cores} cores"
    reasons: list[str] = []
    update: dict = {}
    model = config.model
    if model is None or (model.name == "unet" and "base_width" not in model.options):
        width = 32 if gpu else 16
        options = {"base_width": width, "depth": 4, **(model.options if model else {})}
        update["model"] = (model or ModelConfig()).model_copy(update={"options": options})
        reasons.append(
            f"model: U-Net base width {width}, depth 4 ({where}; the seed's width 64 is "
            f"{(64 // width) ** 2}x the compute)"
        )
    # resolution: keep the images' own unless they are large, never shrinking objects below 16 px
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
    size = config.image_size or update.get("image_size") or stats.long_side
    if config.crop_size is None:
        low, high = (256, 512) if gpu else (96, 256)
        side = 4 * math.sqrt(stats.object_p95) * scale if stats.object_p95 else low * 2
        fits = max(32, int(stats.short_side * scale) // 32 * 32)  # whole crops, little padding
        crop = min(_round32(min(max(side, low), high)), fits)
        if crop < 0.75 * size:  # crops nearly as large as the images: train on whole images
            why = "about 4x the large objects" if stats.object_p95 else "no objects sampled"
            update["crop_size"] = crop
            reasons.append(
                f"training crops {crop} px ({why}, {config.object_crop:.0%} centred on an object) "
                f"from {size} px images"
            )
    if config.batch_size is None:
        update["batch_size"] = 16 if gpu else 8
    if config.optimizer is None:
        update["optimizer"] = "adamw"
        if config.lr is None:
            update["lr"] = 2e-3
        if config.weight_decay is None:
            update["weight_decay"] = 1e-4
    if config.scheduler is None:
        update["scheduler"] = "cosine"
    if config.loss is None:
        binary = stats.num_classes <= 2
        update["loss"] = "bce_dice" if binary else "ce_dice"
        if binary and 0 < stats.foreground < 0.05 and "pos_weight" not in config.loss_options:
            weight = round(min(5.0, math.sqrt((1 - stats.foreground) / stats.foreground)), 2)
            update["loss_options"] = {**config.loss_options, "pos_weight": weight}
            reasons.append(
                f"loss BCE+Dice with pos_weight {weight} (foreground is "
                f"{stats.foreground:.1%} of the pixels)"
            )
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


def _plan_time(config: TrainConfig, stats: DataStats, probe) -> tuple[TrainConfig, list[str]]:
    step_s, val_image_s = probe(config)
    batch = config.batch_size or 1
    steps = max(1, stats.num_images // batch)
    # x1.2 for the loader, metrics and a busy machine: an unfinished schedule costs more than
    # a spare minute
    epoch_s = (steps * step_s * 1.1 + stats.num_val * val_image_s) * 1.2
    budget = config.time_limit * 0.92
    update: dict = {}
    reasons = [
        f"timed probe: {step_s:.2f} s per training step of {batch}, "
        f"{val_image_s:.3f} s per validation image -> ~{epoch_s:.0f} s per epoch"
    ]
    if config.epochs is None:
        epochs = int(budget // epoch_s)
        val_s = stats.num_val * val_image_s * 1.2
        if epochs < 5 and config.limit_train_batches is None:
            # big data, short budget: shorter epochs, so the best model is picked among 5
            # validations -- fewer when validating alone would take over half the budget
            runs = 5 if 5 * val_s <= budget / 2 else max(1, int(budget / 2 / max(val_s, 1e-9)))
            per_epoch = (budget / runs / 1.2 - stats.num_val * val_image_s) / (step_s * 1.1)
            if per_epoch < steps:
                update["limit_train_batches"] = max(1, int(per_epoch))
                epochs = runs
                reasons.append(
                    f"epochs of {update['limit_train_batches']} steps (of {steps}) so that "
                    f"{runs} validation{'s' * (runs > 1)} fit in the time limit"
                )
        update["epochs"] = max(1, epochs)
        reasons.append(
            f"epochs {update['epochs']}: what fits in --time-limit {config.time_limit:.0f} s"
        )
    return config.model_copy(update=update), reasons


def timed_probe(
    config: TrainConfig,
    *,
    in_channels: int,
    num_classes: int,
    full_size: int = 256,
    steps: int = 3,
):
    """Seconds per training step (batch ``batch_size`` of ``crop_size`` crops) and per validation
    image (``full_size`` px, the images' size after resizing) of ``config``'s model on this
    machine, from a few synthetic steps (data loading not included)."""
    import torch

    from seglab.models import create_model

    model_cfg = config.model or ModelConfig()
    model = create_model(
        model_cfg.name, in_channels=in_channels, num_classes=num_classes, **model_cfg.options
    )
    full = config.image_size or full_size
    side = config.crop_size or full
    batch = config.batch_size or 1
    gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    device = torch.device("cuda" if gpu else "cpu")
    dtype = torch.bfloat16 if config.precision == "bf16-mixed" else torch.float16
    autocast = torch.autocast("cuda", dtype=dtype, enabled=gpu and config.precision != "32")
    model = model.to(device)
    images = torch.rand(batch, in_channels, side, side, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)

    def clock() -> float:
        if gpu:
            torch.cuda.synchronize()
        return time.perf_counter()

    times = []
    model.train()
    for _ in range(steps):
        start = clock()
        optimizer.zero_grad()
        with autocast:
            out = model(images)
        out.float().mean().backward()
        optimizer.step()
        times.append(clock() - start)
    model.eval()
    with torch.no_grad(), autocast:
        start = clock()
        model(torch.rand(1, in_channels, full, full, device=device))
        val_s = clock() - start
    return min(times[1:] or times), val_s
