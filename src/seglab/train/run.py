"""One training run, from a :class:`~seglab.config.TrainConfig` to a run folder.

``out/NAME/``: ``config.yaml`` (the resolved config; ``seglab train --config`` reads it back),
``metrics.csv`` (one row per epoch), ``checkpoints/last.ckpt`` (resume state, end of the last
finished epoch), ``model.safetensors`` + ``model.json`` (the best epoch by ``monitor``),
``plots/*.png``, ``summary.json`` (status, best epoch, overfitting verdict, the recipe's
reasons) and ``lr_find.png`` with ``--lr-find``.
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any

from seglab.config import TrainConfig, load_config
from seglab.errors import DataError
from seglab.train.rundir import (
    PrintFn,
    TrainResult,
    finish_run,
    lr_find,
    new_run_dir,
    oom_error,
    resume_paths,
    write_config,
)

__all__ = ["TrainResult", "train"]


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")


def train(
    config: TrainConfig,
    *,
    print_fn: PrintFn | None = print,
    progress: bool = False,
    callbacks: list | None = None,
) -> TrainResult:
    """Train a model as ``config`` says and write the run folder (module docstring).

    ``print_fn`` gets the recipe's reasons, one line per epoch and the verdict (``None``:
    quiet); ``progress`` shows a live progress bar; ``callbacks`` are extra Lightning callbacks.

    Raises
    ------
    DataError, ConfigError
        Unreadable data or options that cannot work, before any training.
    NonFiniteLoss
        The loss became NaN/inf (after the plots and summary of the epochs so far are written).
    SeglabError
        Out of memory, with the batch and image sizes to lower.
    """
    say = print_fn or (lambda _text: None)
    ckpt = None
    if process_rank() > 0:  # a DDP process started for rank > 0: rank 0's run folder and config
        say = lambda _text: None  # noqa: E731
        if config.resume is None:
            run_dir = Path(os.environ.get(RUN_DIR_VAR) or config.out / (config.name or "train"))
            config = load_config(_wait_for(run_dir / "config.yaml"))
            setup = _setup(config, say, resolve=False)
            return _fit(config, setup, run_dir, None, [], say, False, callbacks or [])
    if config.resume is not None:
        run_dir, ckpt = resume_paths(config.resume)
        stored = load_config(run_dir / "config.yaml")
        keep = {"epochs", "time_limit", "patience", "workers", "devices", "accelerator"}
        update = {k: getattr(config, k) for k in config.model_fields_set & keep}
        config = stored.model_copy(update={**update, "resume": None})
        reasons = [f"resuming {run_dir} from {ckpt.name}"]
        setup = _setup(config, say, resolve=False)
    else:
        setup = _setup(config, say, resolve=True)
        config, reasons = setup["config"], setup["reasons"]
        run_dir = new_run_dir(config.out, config.name, overwrite=config.overwrite)
        write_config(config, run_dir / "config.yaml")
    for reason in reasons:
        say(f"recipe: {reason}")
    return _fit(config, setup, run_dir, ckpt, reasons, say, progress, callbacks or [])


RUN_DIR_VAR = "SEGLAB_RUN_DIR"
"""Set by rank 0 before training, so the DDP processes Lightning starts use its run folder."""


def process_rank() -> int:
    """This process's global rank from the launcher's environment (0 when not distributed)."""
    for key in ("RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return sum(int(os.environ.get(k, "0") or 0) for k in ("LOCAL_RANK", "NODE_RANK"))


def _wait_for(path: Path, *, seconds: float = 600.0) -> Path:
    """Wait for rank 0 to write ``path`` (it resolves the recipe first)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise DataError("rank 0 did not write the run's config in time", path=path)
        time.sleep(0.5)
    return path


def _setup(config: TrainConfig, say: PrintFn, *, resolve: bool) -> dict[str, Any]:
    from seglab.data.dataset import open_dataset
    from seglab.train import recipe

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
    stats = recipe.data_stats(train_src, num_val=len(val_src) if val_src else 0)
    reasons: list[str] = []
    if resolve:
        device = recipe.device_info()

        def probe(cfg: TrainConfig):
            step_s, val_s = recipe.timed_probe(
                cfg,
                in_channels=stats.channels,
                num_classes=min(stats.num_classes, 3),
                full_size=stats.long_side,
            )
            if not cfg.workers:  # loading is not overlapped with compute: time it too
                step_s += _loading_seconds(cfg, train_src, stats.channels)
            return step_s, val_s

        config, reasons = recipe.resolve(config, stats, device, probe=probe)
    return {
        "config": config,
        "reasons": reasons,
        "train": train_src,
        "val": val_src,
        "stats": stats,
    }


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


def _fit(config, setup, run_dir, ckpt, reasons, say, progress, extra) -> TrainResult:
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from seglab.losses import create_loss
    from seglab.models.build import build_model, model_info, size_multiple
    from seglab.train.callbacks import EpochSeed, RunWriter, TimeBudget
    from seglab.train.data import SampleSpec, SegmentationSamples, make_datamodule
    from seglab.train.module import NonFiniteLoss, OptimSpec, SegmentationModule
    from seglab.transforms import build_pipeline
    from seglab.transforms.augment import build_augment

    _quiet_lightning()
    stats, train_src, val_src = setup["stats"], setup["train"], setup["val"]
    classes = list(train_src.classes)
    torch.manual_seed(config.seed)
    net = build_model(config.model, in_channels=stats.channels, num_classes=len(classes))
    multiple = size_multiple(net)
    gpu = torch.cuda.is_available() and config.accelerator in ("auto", "gpu", "cuda")
    if gpu:
        net = net.to(memory_format=torch.channels_last)
    loss_name = config.loss or ("bce_dice" if len(classes) <= 2 else "ce_dice")
    loss = create_loss(
        loss_name, num_classes=1 if len(classes) <= 2 else len(classes), **config.loss_options
    )
    scheduler_options = dict(config.scheduler_options)
    if config.scheduler == "reduce_on_plateau" and val_src is None:
        scheduler_options.setdefault("monitor", "train_loss")
    optim = OptimSpec(
        optimizer=config.optimizer or "adamw",
        lr=config.lr,
        weight_decay=config.weight_decay,
        optimizer_options=dict(config.optimizer_options),
        scheduler=config.scheduler or "none",
        scheduler_options=scheduler_options,
        epochs=config.epochs or 1,
    )
    module = SegmentationModule(net, loss, optim, threshold=config.threshold, channels_last=gpu)
    preprocess = build_pipeline(config.preprocess) if config.preprocess else None
    augment = build_augment(config.augment)
    spec = SampleSpec(
        channels=stats.channels,
        image_size=config.image_size,
        crop_size=config.crop_size,
        object_crop=config.object_crop,
        seed=config.seed,
    )
    strict = config.data.strict
    train_set = SegmentationSamples(
        train_src, spec, preprocess=preprocess, augment=augment, train=True, strict=strict
    )
    val_set = (
        SegmentationSamples(val_src, spec, preprocess=preprocess, strict=strict)
        if val_src is not None
        else None
    )
    datamodule = make_datamodule(
        train_set,
        val_set,
        batch_size=config.batch_size or 8,
        val_batch_size=1 if config.crop_size is None and config.image_size is None else None,
        multiple=multiple,
        workers=config.workers or 0,
        pin_memory=gpu,
        seed=config.seed,
    )
    monitor = config.monitor if val_src is not None else "train_loss"
    info = model_info(
        config,
        in_channels=stats.channels,
        classes=classes,
        multiple=multiple,
        preprocess=preprocess.to_config() if preprocess else None,
    )
    info["input"]["train_long_side"] = stats.long_side  # for predict's resize="scale"
    info["augment"] = augment.to_config()
    writer = RunWriter(run_dir, info, monitor=monitor, print_fn=say)
    callbacks: list = [
        writer,
        ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="last",
            save_last=False,
            save_top_k=1,
            monitor=None,
            every_n_epochs=1,
            enable_version_counter=False,
        ),
        EpochSeed(config.seed),
    ]
    budget = TimeBudget(config.time_limit) if config.time_limit else None
    if budget is not None:
        callbacks.append(budget)
    stopper = None
    if config.patience:
        mode = "min" if monitor.endswith("loss") else "max"
        stopper = EarlyStopping(monitor=monitor, patience=config.patience, mode=mode)
        callbacks.append(stopper)
    callbacks.extend(extra)
    if progress:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar(leave=False))
    precision = config.precision if config.precision != "auto" else "32"
    trainer = pl.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        precision=precision,
        accumulate_grad_batches=config.accumulate,
        deterministic="warn" if config.deterministic else None,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_train_batches=config.limit_train_batches,
        limit_val_batches=config.limit_val_batches,
        default_root_dir=run_dir,
    )
    if config.lr_find and ckpt is None:
        lr_find(trainer, module, datamodule, run_dir, say)
    start = time.perf_counter()
    status, error = "completed", None
    old_handler = signal.getsignal(signal.SIGINT)
    try:
        os.environ[RUN_DIR_VAR] = str(run_dir)  # copied into the DDP processes Lightning starts
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except SystemExit:  # Lightning's answer to Ctrl-C, after its on_exception hooks ran
        status = "interrupted"
    except KeyboardInterrupt:
        status = "interrupted"
    except NonFiniteLoss as exc:
        status, error = "stopped: loss not finite", exc
    except torch.cuda.OutOfMemoryError as exc:
        status, error = "out of memory", oom_error(config, exc)
    except RuntimeError as exc:
        if "out of memory" not in str(exc) and "can't allocate memory" not in str(exc):
            raise
        status, error = "out of memory", oom_error(config, exc)
    finally:
        signal.signal(signal.SIGINT, old_handler)
        os.environ.pop(RUN_DIR_VAR, None)
    seconds = time.perf_counter() - start
    epochs = config.epochs or 0
    if status == "completed":
        if stopper is not None and stopper.stopped_epoch > 0:
            status = "early stopping"
        elif budget is not None and budget.stopped_early and trainer.current_epoch < epochs:
            status = "time limit"
    if not trainer.is_global_zero:  # rank 0 writes the plots and the summary
        if error is not None:
            raise error
        return TrainResult(run_dir, status, 0, None, None, monitor, seconds, config=config)
    result = finish_run(config, run_dir, writer, monitor, status, seconds, reasons, say)
    if error is not None:
        raise error
    return result
