"""The run folder: naming it, resuming it, writing its config, and closing a run
(plots, overfitting verdict, ``summary.json``) whatever way it ended."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from seglab.config import TrainConfig
from seglab.errors import DataError, SeglabError

if TYPE_CHECKING:
    from seglab.train.verdict import Verdict

PrintFn = Callable[[str], None]


@dataclass(frozen=True)
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
    rank: int = 0  # the process's global rank: only rank 0 (under DDP) reports and writes

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


def oom_error(config: TrainConfig, exc: BaseException) -> SeglabError:
    """The out-of-memory error to raise: the sizes that ran out and the options to lower."""
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


def lr_find(trainer, module, datamodule, run_dir: Path, say: PrintFn) -> None:
    """Run Lightning's learning-rate finder, plot it to ``plots/lr_find.png`` and give
    ``module`` the suggested learning rate (when there is a finite one)."""
    from lightning.pytorch.tuner import Tuner

    from seglab.train.plots import plot_lr_find

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


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, as :func:`finish_run` records it.

    ``status`` is ``completed``, ``early stopping``, ``time limit``, ``interrupted``,
    ``stopped: loss not finite`` or ``out of memory``; ``reasons`` are the recipe's lines;
    ``best_epoch`` (counted from 1) and ``best_score`` are the run writer's best so far
    (``None`` before the first validated epoch); ``budget_used`` is the share of
    ``--time-limit`` the run spent, setup included (``None`` without a limit).
    """

    config: TrainConfig
    run_dir: Path
    monitor: str
    status: str
    seconds: float
    reasons: list[str]
    best_epoch: int | None = None
    best_score: float | None = None
    budget_used: float | None = None
    num_val: int | None = None  # val images per validation: the verdict weighs drops by it
    threshold: dict[str, Any] | None = None  # chosen on val: chosen, val_dice, val_dice_default


def finish_run(end: RunEnd, *, say: PrintFn) -> TrainResult:
    """Close a run however it ended: the plots, the overfitting verdict, ``summary.json`` and
    the closing lines for ``say``; returns what :func:`~seglab.train.run.train` returns."""
    from seglab.train.plots import plot_history, read_metrics
    from seglab.train.verdict import overfitting_verdict

    metrics = end.run_dir / "metrics.csv"
    rows = read_metrics(metrics) if metrics.exists() else []
    verdict = (
        overfitting_verdict(rows, monitor=end.monitor, num_val=end.num_val or None)
        if rows
        else None
    )
    if rows:
        plot_history(rows, end.run_dir / "plots")
    _write_summary(end, len(rows), verdict)
    _say_ending(end, verdict, say)
    return TrainResult(
        run_dir=end.run_dir,
        status=end.status,
        epochs=len(rows),
        best_epoch=end.best_epoch,
        best_score=end.best_score,
        monitor=end.monitor,
        seconds=end.seconds,
        verdict=verdict.to_dict() if verdict else {},
        reasons=end.reasons,
        config=end.config,
    )


def _write_summary(end: RunEnd, epochs: int, verdict: Verdict | None) -> None:
    summary = {
        "status": end.status,
        "epochs": epochs,
        "monitor": end.monitor,
        "best_epoch": end.best_epoch,
        "epochs_counted_from": 1,  # older runs (without this key) counted best_epoch from 0
        "best_score": end.best_score,
        "seconds": round(end.seconds, 2),
        "time_limit": end.config.time_limit,
        "budget_used": None if end.budget_used is None else round(end.budget_used, 4),
        "threshold": end.threshold,
        "verdict": verdict.to_dict() if verdict else None,
        "recipe": end.reasons,
    }
    (end.run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


def _say_ending(end: RunEnd, verdict: Verdict | None, say: PrintFn) -> None:
    if end.status == "interrupted":
        say(
            f"interrupted: checkpoints/last.ckpt holds the last finished epoch; continue with "
            f"seglab train --resume {end.run_dir}"
        )
    if verdict is not None:
        say(f"verdict: {verdict.kind}. {verdict.message}")
    choice = end.threshold
    if choice is not None and choice.get("val_dice_default") is not None:
        say(
            f"threshold {choice['chosen']:g} chosen on val: val Dice {choice['val_dice']:.4f} "
            f"({choice['val_dice_default']:.4f} at 0.5), stored in model.json"
        )
    if end.best_epoch is not None:
        say(
            f"best {end.monitor} {end.best_score:.4f} at epoch {end.best_epoch}: "
            f"{end.run_dir / 'model.safetensors'}"
        )
