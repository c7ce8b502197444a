"""One training run, from a :class:`~seglab.config.TrainConfig` to a run folder.

``out/NAME/``: ``config.yaml`` (the resolved config; ``seglab train --config`` reads it back),
``metrics.csv`` (one row per epoch), ``checkpoints/last.ckpt`` (resume state, end of the last
finished epoch), ``model.safetensors`` + ``model.json`` (the best epoch by ``monitor``),
``plots/*.png``, ``summary.json`` (status, best epoch, overfitting verdict, the recipe's
reasons) and ``lr_find.png`` with ``--lr-find``.
"""

from __future__ import annotations

import json
import logging
import math
import signal
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seglab.config import TrainConfig, load_config
from seglab.errors import DataError, SeglabError

PrintFn = Callable[[str], None]


@dataclass
class TrainResult:
    """What :func:`train` did; the files are in ``run_dir``."""

    run_dir: Path
    status: str  # completed | early stopping | time limit | interrupted
    epochs: int  # epochs finished
    best_epoch: int | None
    best_score: float | None
    monitor: str
    seconds: float
    verdict: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    config: TrainConfig | None = None

    @property
    def model_path(self) -> Path:
        """The best weights (``model.safetensors``)."""
        return self.run_dir / "model.safetensors"


def new_run_dir(out: Path, name: str | None, *, overwrite: bool) -> Path:
    """``out/name`` (default name ``train``); an existing folder gets ``-2``, ``-3``... unless
    ``overwrite``, which clears the files a run writes."""
    base = name or "train"
    run = Path(out) / base
    if run.exists() and overwrite:
        for sub in ("metrics.csv", "model.safetensors", "model.json", "summary.json"):
            (run / sub).unlink(missing_ok=True)
        for ckpt in (run / "checkpoints").glob("*.ckpt"):
            ckpt.unlink()
    elif run.exists():
        k = 2
        while (Path(out) / f"{base}-{k}").exists():
            k += 1
        run = Path(out) / f"{base}-{k}"
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    return run


def resume_paths(resume: Path) -> tuple[Path, Path]:
    """``(run folder, checkpoint)`` from a run folder or a ``.ckpt`` file."""
    resume = Path(resume)
    if resume.is_dir():
        run, ckpt = resume, resume / "checkpoints" / "last.ckpt"
    else:
        ckpt = resume
        run = resume.parent.parent if resume.parent.name == "checkpoints" else resume.parent
    if not ckpt.is_file():
        raise DataError(
            "no checkpoint to resume from: the run has not finished an epoch yet (or this is "
            "not a run folder); start it again without --resume",
            path=ckpt,
        )
    if not (run / "config.yaml").is_file():
        raise DataError("the run folder has no config.yaml; cannot resume it", path=run)
    return run, ckpt


def write_config(config: TrainConfig, path: Path) -> None:
    """The config as YAML (every field; paths as strings)."""
    data = config.model_dump(mode="json")
    path.write_text(yaml.safe_dump(data, sort_keys=False))


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


def _setup(config: TrainConfig, say: PrintFn, *, resolve: bool) -> dict[str, Any]:
    from seglab.data.dataset import open_dataset
    from seglab.engine import recipe

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
    from seglab.engine.augment import build_augment
    from seglab.engine.data import SampleSpec, SegmentationSamples

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

    from seglab.engine.augment import build_augment
    from seglab.engine.build import build_model, model_info, size_multiple
    from seglab.engine.callbacks import EpochSeed, RunWriter, TimeBudget
    from seglab.engine.data import SampleSpec, SegmentationSamples, make_datamodule
    from seglab.engine.module import NonFiniteLoss, OptimSpec, SegmentationModule
    from seglab.losses import create_loss
    from seglab.transforms import build_pipeline

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
        _lr_find(trainer, module, datamodule, run_dir, say)
    start = time.perf_counter()
    status, error = "completed", None
    old_handler = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except SystemExit:  # Lightning's answer to Ctrl-C, after its on_exception hooks ran
        status = "interrupted"
    except KeyboardInterrupt:
        status = "interrupted"
    except NonFiniteLoss as exc:
        status, error = "stopped: loss not finite", exc
    except torch.cuda.OutOfMemoryError as exc:
        status, error = "out of memory", _oom_error(config, exc)
    except RuntimeError as exc:
        if "out of memory" not in str(exc) and "can't allocate memory" not in str(exc):
            raise
        status, error = "out of memory", _oom_error(config, exc)
    finally:
        signal.signal(signal.SIGINT, old_handler)
    seconds = time.perf_counter() - start
    epochs = config.epochs or 0
    if status == "completed":
        if stopper is not None and stopper.stopped_epoch > 0:
            status = "early stopping"
        elif budget is not None and budget.stopped_early and trainer.current_epoch < epochs:
            status = "time limit"
    result = _finish(config, run_dir, writer, monitor, status, seconds, reasons, say)
    if error is not None:
        raise error
    return result


def _oom_error(config: TrainConfig, exc: BaseException) -> SeglabError:
    batch = config.batch_size or 8
    size = config.crop_size or config.image_size
    hint = f"--batch-size {max(1, batch // 2)}"
    if size:
        hint += f" or --crop-size/--image-size {max(32, size // 2)}"
    return SeglabError(
        f"out of memory with batch {batch}"
        + (f" of {size} px" if size else "")
        + f": try {hint}, --precision bf16-mixed on a GPU, or --accumulate 2 to keep the "
        f"effective batch ({str(exc).splitlines()[0][:160]})"
    )


def _lr_find(trainer, module, datamodule, run_dir: Path, say: PrintFn) -> None:
    from lightning.pytorch.tuner import Tuner

    from seglab.report.plots import plot_lr_find

    finder = Tuner(trainer).lr_find(module, datamodule=datamodule, update_attr=False)
    if finder is None:
        return
    suggestion = finder.suggestion()
    lrs, losses = finder.results["lr"], finder.results["loss"]
    plot_lr_find(lrs, losses, suggestion, run_dir / "plots" / "lr_find.png")
    if suggestion is not None and math.isfinite(suggestion):
        from dataclasses import replace

        module.optim = replace(module.optim, lr=float(suggestion))
        say(f"lr finder: lr {suggestion:.3g} (plot: {run_dir / 'plots' / 'lr_find.png'})")


def _finish(config, run_dir, writer, monitor, status, seconds, reasons, say) -> TrainResult:
    from seglab.engine.verdict import overfitting_verdict
    from seglab.report.plots import plot_history, read_metrics

    rows = read_metrics(run_dir / "metrics.csv") if (run_dir / "metrics.csv").exists() else []
    verdict = overfitting_verdict(rows, monitor=monitor) if rows else None
    if rows:
        plot_history(rows, run_dir / "plots")
    summary = {
        "status": status,
        "epochs": len(rows),
        "monitor": monitor,
        "best_epoch": writer.best_epoch,
        "best_score": writer.best,
        "seconds": round(seconds, 2),
        "verdict": verdict.to_dict() if verdict else None,
        "recipe": reasons,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if status == "interrupted":
        say(
            f"interrupted: checkpoints/last.ckpt holds the last finished epoch; continue with "
            f"seglab train --resume {run_dir}"
        )
    if verdict is not None:
        say(f"verdict: {verdict.kind}. {verdict.message}")
    if writer.best_epoch is not None:
        say(
            f"best {monitor} {writer.best:.4f} at epoch {writer.best_epoch + 1}: "
            f"{run_dir / 'model.safetensors'}"
        )
    return TrainResult(
        run_dir=run_dir,
        status=status,
        epochs=len(rows),
        best_epoch=writer.best_epoch,
        best_score=writer.best,
        monitor=monitor,
        seconds=seconds,
        verdict=verdict.to_dict() if verdict else {},
        reasons=reasons,
        config=config,
    )
