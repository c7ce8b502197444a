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

from seglab.config import TrainConfig
from seglab.errors import SeglabError
from seglab.train.plans import (
    RUN_DIR_VAR,
    new_plan,
    process_rank,
    quiet,
    resume_plan,
    worker_plan,
)
from seglab.train.rundir import (
    PrintFn,
    RunEnd,
    TrainResult,
    check_checkpoint,
    finish_run,
    lr_find,
    oom_error,
)
from seglab.train.setup import RunPlan, RunSetup

if TYPE_CHECKING:  # heavy: imported where used, so `import seglab.train.run` stays light
    from seglab.train.callbacks import RunWriter
    from seglab.train.parts import Network, Stops, TrainData

__all__ = ["RunPlan", "RunSetup", "TrainResult", "train"]


def quiet_lightning() -> None:
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
    say = print_fn or quiet
    extra = tuple(callbacks or ())
    if process_rank() > 0:  # a DDP process started for rank > 0: rank 0 reports
        say = quiet
        if config.resume is None:
            return _fit(worker_plan(config, extra), started)
    if config.resume is not None:
        plan = resume_plan(config, say, progress, extra)
    else:
        plan = new_plan(config, say, progress, extra)
    for reason in plan.setup.reasons:
        say(f"recipe: {reason}")
    try:
        return _fit(plan, started)
    except SeglabError:
        if config.resume is None:
            _remove_if_unstarted(plan.run_dir)
        raise


def _remove_if_unstarted(run_dir: Path) -> None:
    """Remove a new run's folder when the run failed before its first validation (options
    that cannot work, found when the network or optimizer is built): it holds nothing but the
    config, and leaving it would make the next try ``train-2``."""
    import shutil

    kept = {"config.yaml", "checkpoints"}
    names = {p.name for p in run_dir.iterdir()} if run_dir.is_dir() else set()
    if names <= kept and not any((run_dir / "checkpoints").glob("*")):
        shutil.rmtree(run_dir, ignore_errors=True)


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

    quiet_lightning()
    plan = replace(plan, setup=replace(plan.setup, started=started))
    config = plan.setup.config
    net = build_network(plan.setup)
    monitor = config.monitor if plan.setup.val is not None else "train_loss"
    stops = build_stops(plan.setup, net, monitor)
    data = build_data(plan.setup, net, stops)
    if plan.ckpt is not None:  # damaged, untrusted or another network's: say so first
        check_checkpoint(plan.ckpt, net.module)
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
        category_ids=category_ids(plan.setup.train),
    )
    return RunWriter(plan.run_dir, card, monitor=monitor, print_fn=plan.say, budget=stops.budget)


def _choose_cut(plan: RunPlan, writer: RunWriter) -> dict | None:
    """An instance run's cut of its best model, chosen on training images
    (:mod:`seglab.train.instance_choice`); ``None`` for other runs or before a best epoch."""
    config = plan.setup.config
    if config.instance_method is None or writer.best_epoch is None:
        return None
    from seglab.train.instance_choice import choose_cut

    return choose_cut(
        plan.run_dir, plan.setup.train, seed=config.seed, time_limit=config.time_limit
    )


def category_ids(source) -> list | None:
    """The dataset's own ids of its classes after the background (a COCO source's category
    ids, for COCO results in them); ``None`` for other sources."""
    index = getattr(source, "category_index", None)
    if not index:
        return None
    return [cid for cid, _ in sorted(index.items(), key=lambda pair: pair[1])]


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
        status = _stopped_early(trainer, stops, plan, epochs=config.epochs or 0) or status
    return _Ending(status, error, seconds)


def _stopped_early(trainer, stops: Stops, plan: RunPlan, *, epochs: int) -> str | None:
    """``early stopping`` or ``time limit`` when one of them ended a run that completed, or
    the ``stop_reason`` of a caller's callback that stopped it (a study's pruner: ``pruned``)."""
    for callback in plan.callbacks:
        reason = getattr(callback, "stop_reason", None)
        if reason:
            return str(reason)
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
    elapsed = getattr(stops.budget, "elapsed", None)  # an instance run's cut choice included
    return elapsed() / limit if elapsed is not None else ending.seconds / limit


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
    cut = _choose_cut(plan, writer)  # before the budget is read: it is part of the run
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
        data_check=plan.setup.data_check.to_dict() if plan.setup.data_check else None,
        instance=cut,
    )
    result = finish_run(end, say=plan.say)
    if ending.error is not None:
        raise ending.error
    return result
