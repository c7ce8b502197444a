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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from seglab.config import TrainConfig, load_config
from seglab.errors import DataError
from seglab.train.rundir import (
    PrintFn,
    RunEnd,
    TrainResult,
    finish_run,
    lr_find,
    new_run_dir,
    oom_error,
    resume_paths,
    write_config,
)
from seglab.train.setup import RunPlan, RunSetup, open_run

if TYPE_CHECKING:  # heavy: imported where used, so `import seglab.train.run` stays light
    from seglab.train.callbacks import RunWriter
    from seglab.train.parts import Network, Stops, TrainData

__all__ = ["RunPlan", "RunSetup", "TrainResult", "train"]


def _quiet_lightning() -> None:
    """Silence Lightning's info logs and the warnings that do not apply to seglab's runs, so
    the output is the run's own lines."""
    import lightning.pytorch  # noqa: F401  # its import sets its logger to INFO: import it first

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    warnings.filterwarnings("ignore", message=".*treespec, LeafSpec.*")
    # epoch metrics reach --logger whatever the logging interval
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")


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
    from seglab.train import budget

    started = budget.now()  # a time budget counts the setup too
    say = print_fn or _quiet
    extra = tuple(callbacks or ())
    if process_rank() > 0:  # a DDP process started for rank > 0: rank 0 reports
        say = _quiet
        if config.resume is None:
            return _fit(_worker_plan(config, extra), started)
    if config.resume is not None:
        plan = _resume_plan(config, say, progress, extra)
    else:
        plan = _new_plan(config, say, progress, extra)
    for reason in plan.setup.reasons:
        say(f"recipe: {reason}")
    return _fit(plan, started)


RUN_DIR_VAR = "SEGLAB_RUN_DIR"
"""Set by rank 0 before training, so the DDP processes Lightning starts use its run folder."""


def process_rank() -> int:
    """This process's global rank from the launcher's environment (0 when not distributed)."""
    for key in ("RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return sum(int(os.environ.get(k, "0") or 0) for k in ("LOCAL_RANK", "NODE_RANK"))


def _quiet(_text: str) -> None:
    """A ``print_fn`` that prints nothing."""


def _new_plan(config: TrainConfig, say: PrintFn, progress: bool, callbacks: tuple) -> RunPlan:
    """A new run: the recipe resolved, a new run folder with the resolved config in it."""
    setup = open_run(config, say, resolve=True)
    config = setup.config
    run_dir = new_run_dir(config.out, config.name, overwrite=config.overwrite)
    write_config(config, run_dir / "config.yaml")
    return RunPlan(setup, run_dir, None, say, progress, callbacks)


def _resume_plan(config: TrainConfig, say: PrintFn, progress: bool, callbacks: tuple) -> RunPlan:
    """Continue ``config.resume``: its stored config, with the few options a resume may change
    taken from ``config``."""
    run_dir, ckpt = resume_paths(config.resume)
    stored = load_config(run_dir / "config.yaml")
    keep = {"epochs", "time_limit", "patience", "workers", "devices", "accelerator"}
    update = {k: getattr(config, k) for k in config.model_fields_set & keep}
    config = stored.model_copy(update={**update, "resume": None})
    setup = open_run(config, say, resolve=False)
    setup = replace(setup, reasons=[f"resuming {run_dir} from {ckpt.name}"])
    return RunPlan(setup, run_dir, ckpt, say, progress, callbacks)


def _worker_plan(config: TrainConfig, callbacks: tuple) -> RunPlan:
    """A DDP process of rank > 0: rank 0's run folder and resolved config, quiet."""
    run_dir = Path(os.environ.get(RUN_DIR_VAR) or config.out / (config.name or "train"))
    config = load_config(_wait_for(run_dir / "config.yaml"))
    setup = open_run(config, _quiet, resolve=False)
    return RunPlan(setup, run_dir, None, _quiet, callbacks=callbacks)


def _wait_for(path: Path, *, seconds: float = 600.0) -> Path:
    """Wait for rank 0 to write ``path`` (it resolves the recipe first)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise DataError("rank 0 did not write the run's config in time", path=path)
        time.sleep(0.5)
    return path


# -- the fit, step by step -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Ending:
    """How ``trainer.fit`` ended: the status, the error to raise once the run is closed."""

    status: str
    error: BaseException | None
    seconds: float


def _fit(plan: RunPlan, started: float) -> TrainResult:
    """Build the module, data and trainer of ``plan``, train, and close the run however it
    ended (rank 0 writes the plots and the summary); ``started``: the clock when the run
    began."""
    from seglab.train.parts import (
        build_callbacks,
        build_data,
        build_network,
        build_stops,
        build_trainer,
    )

    _quiet_lightning()
    plan = replace(plan, setup=replace(plan.setup, started=started))
    config = plan.setup.config
    net = build_network(plan.setup)
    monitor = config.monitor if plan.setup.val is not None else "train_loss"
    stops = build_stops(plan.setup, net, monitor)
    data = build_data(plan.setup, net, stops)
    writer = _card_writer(plan, net, data, monitor, stops)
    trainer = build_trainer(config, build_callbacks(plan, writer, stops), plan)
    if config.lr_find and plan.ckpt is None:
        lr_find(trainer, net.module, data.datamodule, plan.run_dir, plan.say)
    ending = _train_to_the_end(trainer, net.module, data.datamodule, plan, stops)
    return _close(plan, trainer, writer, monitor, ending, stops)


def _card_writer(
    plan: RunPlan, net: Network, data: TrainData, monitor: str, stops: Stops
) -> RunWriter:
    """The model card (what ``model.json`` holds) and the :class:`RunWriter` that writes it
    with the best weights."""
    from seglab.models.build import model_card
    from seglab.train.callbacks import RunWriter

    stats = plan.setup.stats
    card = model_card(
        plan.setup.config,
        in_channels=stats.channels,
        classes=net.classes,
        multiple=net.multiple,
        preprocess=data.preprocess.to_config() if data.preprocess else None,
        augment=data.augment.to_config(),
        train_long_side=stats.long_side,  # for predict's resize="scale"
    )
    return RunWriter(plan.run_dir, card, monitor=monitor, print_fn=plan.say, budget=stops.budget)


def _train_to_the_end(trainer, module, datamodule, plan: RunPlan, stops: Stops) -> _Ending:
    """``trainer.fit``, with the ways a run can end turned into a status: Ctrl-C, a loss that is
    not finite, out of memory, early stopping, the time limit. Other errors propagate."""
    import torch

    from seglab.train.module import NonFiniteLoss

    config = plan.setup.config
    start = time.perf_counter()
    status, error = "completed", None
    old_handler = signal.getsignal(signal.SIGINT)
    try:
        # copied into the DDP processes Lightning starts
        os.environ[RUN_DIR_VAR] = str(plan.run_dir)
        trainer.fit(module, datamodule=datamodule, ckpt_path=plan.ckpt, weights_only=True)
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
    if status == "completed":
        status = _stopped_early(trainer, stops, epochs=config.epochs or 0) or status
    return _Ending(status, error, seconds)


def _stopped_early(trainer, stops: Stops, *, epochs: int) -> str | None:
    """``early stopping`` or ``time limit`` when one of them ended a run that completed."""
    if stops.stopper is not None and stops.stopper.stopped_epoch > 0:
        return "early stopping"
    budget = stops.budget  # a time-driven run ends at its budget: that is completing
    if getattr(budget, "stopped_early", False) and trainer.current_epoch < epochs:
        return "time limit"
    return None


def _budget_used(plan: RunPlan, stops: Stops, ending: _Ending) -> float | None:
    """The share of ``--time-limit`` spent when the fit ended (setup included)."""
    limit = plan.setup.config.time_limit
    if limit is None:
        return None
    used = getattr(stops.budget, "used", None)
    return used() if used is not None else ending.seconds / limit


def _close(
    plan: RunPlan, trainer, writer: RunWriter, monitor: str, ending: _Ending, stops: Stops
) -> TrainResult:
    """Rank 0 writes the plots and the summary; then the run's error, if any, is raised."""
    config = plan.setup.config
    if not trainer.is_global_zero:
        if ending.error is not None:
            raise ending.error
        return TrainResult(
            plan.run_dir,
            ending.status,
            0,
            None,
            None,
            monitor,
            ending.seconds,
            config=config,
            rank=trainer.global_rank,
        )
    end = RunEnd(
        config=config,
        run_dir=plan.run_dir,
        monitor=monitor,
        status=ending.status,
        seconds=ending.seconds,
        reasons=plan.setup.reasons,
        best_epoch=writer.best_epoch,
        best_score=writer.best,
        budget_used=_budget_used(plan, stops, ending),
        num_val=len(plan.setup.val) if plan.setup.val is not None else None,
        threshold=writer.threshold,
    )
    result = finish_run(end, say=plan.say)
    if ending.error is not None:
        raise ending.error
    return result
