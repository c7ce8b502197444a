"""What a run starts from: its data opened and measured, its recipe resolved, its folder.

:func:`open_run` returns a :class:`RunSetup`; :func:`seglab.train.run.train` adds the run folder
and how to report to make the :class:`RunPlan` that the fit is built from.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.config import TrainConfig
from seglab.errors import DataError
from seglab.train.rundir import PrintFn

if TYPE_CHECKING:
    from seglab.data.base import SegmentationSource
    from seglab.train.datacheck import DataCheck
    from seglab.train.recipe import DataStats


def is_time_driven(config: TrainConfig) -> bool:
    """Whether time drives the run: a time limit and no fixed number of epochs
    (:mod:`seglab.train.timing`)."""
    return config.time_limit is not None and config.epochs is None


@dataclass(frozen=True)
class RunSetup:
    """A run's resolved config and opened data, before anything is built.

    ``reasons`` are the recipe's lines (or the resume's) for the output and ``summary.json``;
    ``val`` is ``None`` without a val split; ``stats`` are those the recipe was resolved from
    (:func:`seglab.train.recipe.data_stats`); ``val_seconds`` estimates one validation (from
    the timed probe; 0 when not probed) and ``started`` is the clock
    (:func:`seglab.train.budget.now`) when the run began, so a time budget counts the setup;
    ``data_check`` is what the data check found before training.
    """

    config: TrainConfig
    reasons: list[str]
    train: SegmentationSource
    val: SegmentationSource | None
    stats: DataStats
    val_seconds: float = 0.0
    started: float | None = None
    data_check: DataCheck | None = None


@dataclass(frozen=True)
class RunPlan:
    """Everything the fit needs: the opened data and resolved config, the run folder (and
    the checkpoint a resume starts from), how to report, and the caller's extra callbacks."""

    setup: RunSetup
    run_dir: Path
    ckpt: Path | None
    say: PrintFn
    progress: bool = False
    callbacks: tuple[Any, ...] = ()


def open_run(config: TrainConfig, say: PrintFn, *, resolve: bool, check: bool = True) -> RunSetup:
    """Open ``config``'s train and val splits, measure them and, with ``resolve``, fill the
    config's automatic fields (:func:`seglab.train.recipe.resolve`, timing the model on this
    machine when a time limit needs it); with ``check``, the data check runs first
    (:func:`seglab.train.datacheck.check_before_training`).

    Raises
    ------
    DataError
        The train split cannot be read or has no labels.
    """
    from seglab.train import recipe
    from seglab.train.datacheck import check_before_training

    # a DDP process of rank > 0 (check=False) trains on what rank 0 has checked
    checked = check_before_training(config, say) if check else None
    train_src, val_src = _open_splits(config, say)
    stats = recipe.data_stats(train_src, num_val=len(val_src) if val_src else 0)
    reasons: list[str] = []
    val_seconds = 0.0
    if resolve:
        device = recipe.device_info()

        def probe(cfg: TrainConfig):
            nonlocal val_seconds
            step_s, val_s = recipe.timed_probe(
                cfg,
                in_channels=stats.channels,
                num_classes=min(stats.num_classes, 3),
                full_size=stats.long_side,
            )
            if not cfg.workers:  # loading is not overlapped with compute: time it too
                step_s += _loading_seconds(cfg, train_src, stats.channels)
            # the probe validates one median image: a mixed-size set's large images cost more
            per_image = stats.mean_pixels / float(stats.long_side * stats.short_side)
            val_seconds = stats.num_val * val_s * max(1.0, per_image)
            return step_s, val_s

        config, reasons = recipe.resolve(config, stats, device, probe=probe)
        if val_src is not None and is_time_driven(config):
            config, val_src, val_seconds = _val_within_budget(config, val_src, val_seconds, reasons)
    return RunSetup(
        config, reasons, train_src, val_src, stats, val_seconds=val_seconds, data_check=checked
    )


def _open_splits(
    config: TrainConfig, say: PrintFn
) -> tuple[SegmentationSource, SegmentationSource | None]:
    """The labelled train split and the val split (``None`` when there is none or it is empty)."""
    from seglab.data.dataset import open_dataset

    train_src = open_dataset(config.data, split="train")
    if not train_src.labelled:
        raise DataError("the train split has no labels (masks or COCO annotations)", path=None)
    try:
        val_src = open_dataset(config.data, split="val")
    except DataError:
        val_src = None
        say("no val split and --val-fraction 0: the best epoch is chosen by the train loss")
    if val_src is not None and len(val_src) == 0:
        val_src = None
    if val_src is not None and config.val_images and config.val_images < len(val_src):
        val_src = _val_subset(val_src, config.val_images, config.data.seed)
    return train_src, val_src


VAL_SHARE_MAX = 0.25
"""Most of a time budget one whole validation may take; past it, a run validates on a subset."""


def _val_subset(source: SegmentationSource, count: int, seed: int) -> SegmentationSource:
    """``count`` val images of ``source``, a seeded choice (the same after a resume)."""
    import numpy as np

    from seglab.data.dataset import subset

    picks = np.random.default_rng(seed).choice(len(source), size=count, replace=False)
    return subset(source, sorted(picks.tolist()))


def _val_within_budget(
    config: TrainConfig, val_src: SegmentationSource, val_seconds: float, reasons: list[str]
) -> tuple[TrainConfig, SegmentationSource, float]:
    """Validate on a subset when one whole validation would take over :data:`VAL_SHARE_MAX` of
    the budget (the seed's 512 px U-Net on a CPU): the run must end inside its budget, and the
    final validation is part of it. Says so in ``reasons``; the count goes in the config."""
    cap = VAL_SHARE_MAX * float(config.time_limit or 0)
    if config.val_images is not None or val_seconds <= cap or len(val_src) < 2:
        return config, val_src, val_seconds
    keep = max(1, int(len(val_src) * cap / val_seconds))
    reasons.append(
        f"validation on {keep} of {len(val_src)} val images (a fixed, seeded choice): a whole "
        f"validation (~{val_seconds:.0f} s) would take over a quarter of the "
        f"{config.time_limit:.0f} s budget"
    )
    config = config.model_copy(update={"val_images": keep})
    subset = _val_subset(val_src, keep, config.data.seed)
    return config, subset, val_seconds * keep / len(val_src)


def _loading_seconds(config: TrainConfig, source, channels: int, *, samples: int = 6) -> float:
    """Seconds to make one training batch of ``config`` from ``source`` (median of a few)."""
    from seglab.train.data import SampleSpec, SegmentationSamples
    from seglab.transforms.augment import build_augment

    spec = SampleSpec(channels, config.image_size, config.crop_size, config.object_crop, 0)
    dataset = SegmentationSamples(source, spec, augment=build_augment(config.augment), train=True)
    times = []
    for key in range(min(samples, len(dataset))):
        start = time.perf_counter()
        dataset[key]
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2] if times else 0.0
    return median * (config.batch_size or 1)
