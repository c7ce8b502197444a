"""The run folder: naming it, resuming it, writing its config, and closing a run
(plots, overfitting verdict, ``summary.json``) whatever way it ended."""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from seglab.config import TrainConfig
from seglab.core.files import atomic_write
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
    from seglab.core.files import check_output_path, make_folder

    base = name or "train"
    check_output_path(out, option="--out")
    run = check_output_path(Path(out) / base, option="--name" if name else "--out")
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
    make_folder(run / "checkpoints", option="--out")
    return run


def resume_paths(resume: Path) -> tuple[Path, Path | None]:
    """``(run folder, checkpoint)`` from a run folder or a ``.ckpt`` file; the checkpoint is
    ``None`` for a run folder stopped before its first one (the run starts again in it)."""
    resume = Path(resume)
    if resume.is_dir():
        run, ckpt = resume, resume / "checkpoints" / "last.ckpt"
    else:
        ckpt = resume
        run = resume.parent.parent if resume.parent.name == "checkpoints" else resume.parent
    if not (run / "config.yaml").is_file():
        raise DataError(
            "nothing to resume: no config.yaml (the run was stopped before it was set up, or "
            "this is not a run folder); start it again without --resume",
            path=run,
        )
    if not ckpt.is_file():
        if resume.is_dir():
            return run, None
        raise DataError("checkpoint not found", path=ckpt)
    return run, ckpt


def clear_partial_writes(run_dir: Path) -> list[Path]:
    """Delete the ``*.tmp`` files a killed process left in ``run_dir`` (every file a run writes
    is written as ``NAME.tmp`` and renamed into place, so these are only ever half-written);
    returns them."""
    partial = [p for p in Path(run_dir).rglob("*.tmp") if p.is_file()]
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


CHECKPOINT_KEYS = ("state_dict", "epoch", "global_step", "pytorch-lightning_version")
"""Keys every checkpoint Lightning writes holds (the resume needs them all)."""


def check_checkpoint(ckpt: Path, module: Any) -> None:
    """Refuse a checkpoint a resume cannot use, before Lightning reads it: damaged (empty,
    truncated, not a checkpoint), untrusted (it holds pickled objects that
    ``torch.load(weights_only=True)`` refuses, which could run code if loaded otherwise), or
    from another network than ``module`` (``config.yaml`` edited since). The
    :class:`DataError` names the file and says what the user can do instead.
    """
    import pickle
    import zipfile

    import torch

    run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    anew = f"seglab train --config {run / 'config.yaml'}"
    instead = (
        f"the run's best weights are safe in {run / 'model.safetensors'} (seglab predict, "
        f"evaluate and export use them); to train on, start a new run with the same settings: "
        f"{anew}"
    )
    if ckpt.stat().st_size == 0:
        raise DataError(f"the checkpoint is empty, so it cannot be resumed; {instead}", path=ckpt)
    if not zipfile.is_zipfile(ckpt):  # torch.save writes a zip archive; a cut one has no index
        raise DataError(
            f"the checkpoint is damaged (truncated, or not a checkpoint file), so it cannot be "
            f"resumed; {instead}",
            path=ckpt,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on odd pickle protocols
            state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's weights-only unpickler names what it refused as "GLOBAL module.name"
        refused = re.search(r"GLOBAL (\S+)", str(exc))
        if refused is None:
            raise DataError(
                f"the checkpoint is damaged (its pickle cannot be read: {_unpickling(exc)}), so "
                f"it cannot be resumed; {instead}",
                path=ckpt,
            ) from None
        raise DataError(
            f"the checkpoint is untrusted: it asks to load {refused.group(1)}, which no "
            "checkpoint seglab writes holds and which could run code, so it was not loaded "
            "(never load it with weights_only=False unless you made it yourself); "
            f"{instead}",
            path=ckpt,
        ) from None
    except Exception as exc:  # torch raises several types for a damaged archive
        raise DataError(
            f"the checkpoint is damaged ({_first_line(exc)}), so it cannot be resumed; {instead}",
            path=ckpt,
        ) from None
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise DataError(
            f"not a Lightning checkpoint (no {', '.join(missing)}), so it cannot be resumed; "
            f"{instead}",
            path=ckpt,
        )
    _check_fits(state["state_dict"], module, ckpt, anew)


def _check_fits(weights: Any, module: Any, ckpt: Path, anew: str) -> None:
    """The checkpoint's weights must be those of ``module``, the network config.yaml describes."""
    own = module.state_dict()
    if not isinstance(weights, dict):
        raise DataError(f"the checkpoint holds no weights; train anew: {anew}", path=ckpt)
    wrong = [k for k in own if k not in weights or _dims(weights[k]) != _dims(own[k])]
    extra = [k for k in weights if k not in own]
    if wrong or extra:
        key = (wrong or extra)[0]
        where = (
            f"{key} is {_shape(weights[key])} in the checkpoint but {_shape(own[key])} for "
            "config.yaml"
            if key in weights and key in own
            else f"{key} is only in {'the network' if key in own else 'the checkpoint'}"
        )
        raise DataError(
            f"the checkpoint does not fit the network config.yaml describes ({where}): "
            f"config.yaml was edited after the run was trained; put it back, or train anew: {anew}",
            path=ckpt,
        )


def _dims(tensor: Any) -> tuple[int, ...] | None:
    """A tensor's shape; ``None`` for anything else (a checkpoint made by hand)."""
    shape = getattr(tensor, "shape", None)
    return None if shape is None else tuple(int(n) for n in shape)


def _shape(tensor: Any) -> str:
    dims = _dims(tensor)
    return "not a tensor" if dims is None else "x".join(map(str, dims)) or "a scalar"


def _unpickling(exc: BaseException) -> str:
    """The reason in torch's weights-only unpickling error, without its advice (which
    suggests ``weights_only=False``)."""
    advice = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reasons = [line for line in lines if not line.startswith(advice)]
    return reasons[0].removeprefix("WeightsUnpickler error:").strip() if reasons else "unknown"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def write_config(config: TrainConfig, path: Path) -> None:
    """The config as YAML (every field; paths as strings)."""
    text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    atomic_write(path, lambda tmp: tmp.write_text(text))


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
    data_check: dict[str, Any] | None = None  # what the data check found before training
    instance: dict[str, Any] | None = None  # an instance run's cut, chosen on training images


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
        "data_check": end.data_check,
        **({"instance": end.instance} if end.instance is not None else {}),
    }
    text = json.dumps(summary, indent=2, default=str)
    atomic_write(end.run_dir / "summary.json", lambda tmp: tmp.write_text(text))


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
    cut = end.instance
    if cut is not None:
        shown = ", ".join(
            f"{k.replace('_', ' ')} {v:g}"
            for k, v in cut.items()
            if k not in ("images", "dsb_map", "dsb_map_default")
        )
        say(
            f"objects cut at {shown} (px), chosen on {cut['images']} training images: DSB mean "
            f"AP {cut['dsb_map']:.4f} ({cut['dsb_map_default']:.4f} at the defaults), stored "
            "in model.json"
        )
    if end.best_epoch is not None:
        say(
            f"best {end.monitor} {end.best_score:.4f} at epoch {end.best_epoch}: "
            f"{end.run_dir / 'model.safetensors'}"
        )
