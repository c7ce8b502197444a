"""K-fold cross-validation: ``seglab train --folds K`` trains K runs on K splits of the data.

The whole train split on disk is cut into K seeded parts (:func:`seglab.data.dataset.
fold_indices`); fold *i* validates on part *i* and trains on the others, so every image is
validated on exactly once. The mean of the folds' best scores, with their sample standard
deviation, is the honest estimate of how well the recipe does on a small data set, where one
val split of a few images says little. The fold runs together are an ensemble
(:mod:`seglab.predict.ensemble`): ``seglab predict --model FOLDS_RUN`` averages them, and a val
split on disk, which the folds never train or validate on, scores that ensemble.

``out/NAME/`` (``NAME`` defaults to ``folds``; ``-2``, ``-3``... as for runs):

* ``config.yaml``: the config as given, ``data.folds`` set (``seglab train --config`` reads it
  back and trains the folds again); each fold's resolved config is in its own run folder.
* ``fold-1/`` ... ``fold-K/``: ordinary run folders (:mod:`seglab.train.run`).
* ``folds.json``: ``format``, ``folds`` (K), ``finished``, ``monitor``, ``status``, one item per
  finished fold in ``runs`` (``fold``, ``run`` -- relative to the folds run --, ``best_score``,
  ``best_epoch``, ``epochs``, ``status``, ``seconds``), their ``scores`` and ``mean``, ``std``
  (sample, ``ddof=1``; ``null`` under two folds), ``min`` and ``max``.
* ``folds.csv``: the same per-fold rows, for a spreadsheet.

The folds train one after another, each with ``time_limit / K``, the same seed and recipe, on
one device (Lightning's ``auto`` would start DDP processes on every GPU, which re-run the
command). A fold that fails stops the cross-validation: ``folds.json`` of the folds finished so
far is written first.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seglab.config import TrainConfig, train_config
from seglab.core.files import atomic_write
from seglab.errors import ConfigError, DataError
from seglab.predict.ensemble import is_folds_run
from seglab.predict.model import FOLDS_FILE
from seglab.train.plans import absolute_data, quiet
from seglab.train.rundir import PrintFn, TrainResult, new_run_dir, write_config

__all__ = [
    "FOLDS_FORMAT",
    "FoldsResult",
    "fold_configs",
    "is_folds_run",
    "read_folds",
    "summarise_folds",
    "train_folds",
]

FOLDS_FORMAT = "seglab.folds/1"
"""``folds.json``'s ``format``."""

CSV_FIELDS = ("fold", "run", "best_score", "best_epoch", "epochs", "status", "seconds")


@dataclass(frozen=True)
class FoldsResult:
    """What :func:`train_folds` did: the folds run folder, each finished fold's
    :class:`~seglab.train.rundir.TrainResult` (in fold order), their best ``monitor`` scores
    (``None`` for a fold stopped before its first validation), the ``mean`` and sample ``std``
    of the scores there are (``None`` when there are too few), and ``folds`` (K)."""

    run_dir: Path
    results: list[TrainResult]
    scores: list[float | None]
    mean: float | None
    std: float | None
    monitor: str
    folds: int | None = None

    @property
    def status(self) -> str:
        """``completed`` (every fold finished), ``interrupted`` (a fold was) or
        ``incomplete`` (fewer folds finished than planned)."""
        if any(r.status == "interrupted" for r in self.results):
            return "interrupted"
        if self.folds is not None and len(self.results) < self.folds:
            return "incomplete"
        return "completed"

    @property
    def min(self) -> float | None:
        """The lowest fold score."""
        known = _known(self.scores)
        return min(known) if known else None

    @property
    def max(self) -> float | None:
        """The highest fold score."""
        known = _known(self.scores)
        return max(known) if known else None

    @property
    def rank(self) -> int:
        """0: the folds train on one device, so this process reports (as
        :attr:`TrainResult.rank <seglab.train.rundir.TrainResult.rank>`)."""
        return 0

    def to_dict(self) -> dict[str, Any]:
        """The content of ``folds.json`` (module docstring)."""
        return {
            "format": FOLDS_FORMAT,
            "folds": self.folds,
            "finished": len(self.results),
            "monitor": self.monitor,
            "status": self.status,
            "runs": [_fold_row(self.run_dir, i, r) for i, r in enumerate(self.results, 1)],
            "scores": list(self.scores),
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
        }


def _known(scores: list[float | None]) -> list[float]:
    return [s for s in scores if s is not None and math.isfinite(s)]


def _fold_row(run_dir: Path, index: int, result: TrainResult) -> dict[str, Any]:
    """One fold's item of ``folds.json`` (its ``run`` relative to the folds run, so the
    folder can move)."""
    fold = result.config.data.fold if result.config is not None else None
    return {
        "fold": fold or index,
        "run": Path(os.path.relpath(result.run_dir, run_dir)).as_posix(),
        "best_score": result.best_score,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "status": result.status,
        "seconds": round(result.seconds, 2),
    }


def _one_device(config: TrainConfig) -> int | str:
    """The devices a fold trains on: one. ``auto`` becomes 1 (Lightning would start DDP on
    every GPU, and its processes re-run the command, folds and all); more is refused."""
    devices = config.devices
    text = str(devices).strip()
    ids = [part for part in text.split(",") if part.strip()]
    many = text == "-1" or len(ids) > 1 or (text.isdigit() and int(text) > 1)
    if many or config.num_nodes > 1:
        raise ConfigError(
            f"--folds trains the folds one after another on one device, not on --devices "
            f"{devices} / --num-nodes {config.num_nodes}: leave them out (or 1), or train each "
            "fold apart with data.fold in a config file"
        )
    return 1 if text == "auto" else devices


def fold_configs(
    config: TrainConfig, folds: int, *, run_dir: str | Path | None = None
) -> list[TrainConfig]:
    """The ``folds`` run configs of a cross-validation of ``config``: fold *i* sets
    ``data.folds`` and ``data.fold = i``, is named ``fold-i`` and trains in the folds run
    folder (``out`` is ``run_dir``, default ``config.out / config.name``, name ``folds`` when
    unset), with ``time_limit / folds`` when there is a limit, on one device; the seed and
    everything else as in ``config``.

    Raises
    ------
    ConfigError
        ``folds`` under 2, a ``resume`` (a folds run is not resumed as a whole), or more than
        one device.
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"--folds {folds!r}: expected a whole number of folds, 2 or more")
    if config.resume is not None:
        raise ConfigError(
            "--resume continues one run; a cross-validation is not resumed as a whole: resume "
            "an unfinished fold with seglab train --resume FOLDS_RUN/fold-N (without --folds)"
        )
    devices = _one_device(config)
    folder = Path(run_dir) if run_dir is not None else config.out / (config.name or "folds")
    out = []
    for fold in range(1, folds + 1):
        changes: dict[str, Any] = {
            "data": {"folds": folds, "fold": fold},
            "out": folder,
            "name": f"fold-{fold}",
            "devices": devices,
        }
        if config.time_limit is not None:
            changes["time_limit"] = config.time_limit / folds
        out.append(train_config(config, **changes))
    return out


def train_folds(
    config: TrainConfig,
    folds: int,
    *,
    print_fn: PrintFn | None = print,
    progress: bool = False,
    callbacks: list | None = None,
) -> FoldsResult:
    """Train ``folds`` runs of ``config``, one per fold (module docstring), into the folds run
    folder ``config.out / config.name`` (default name ``folds``); write ``config.yaml``,
    ``folds.json`` and ``folds.csv`` there and return a :class:`FoldsResult`.

    ``print_fn``, ``progress`` and ``callbacks`` are passed to each fold's
    :func:`seglab.train.run.train`; ``print_fn`` also gets a line as each fold starts and the
    mean ± std at the end.

    Raises
    ------
    ConfigError
        As :func:`fold_configs`.
    DataError, ConfigError, SeglabError
        A fold's error (as :func:`seglab.train.run.train` raises it, fewer train images than
        folds included), after ``folds.json`` of the folds finished before it is written.
    """
    from seglab.train.run import train

    say = print_fn or quiet
    config = absolute_data(train_config(config, data={"folds": folds, "fold": None}))
    fold_configs(config, folds)  # checks the options before a folder is made
    run_dir = new_run_dir(config.out, config.name or "folds", overwrite=config.overwrite)
    _tidy(run_dir)
    write_config(config, run_dir / "config.yaml")
    results: list[TrainResult] = []
    for fold_config in fold_configs(config, folds, run_dir=run_dir):
        fold = fold_config.data.fold
        say(f"fold {fold}/{folds}: {run_dir / f'fold-{fold}'}")
        try:
            result = train(
                fold_config,
                print_fn=print_fn,
                progress=progress,
                callbacks=callbacks,
            )
        except BaseException:
            if not results and _only_config(run_dir):
                shutil.rmtree(run_dir, ignore_errors=True)  # nothing trained: no folds-2 next
            else:
                summarise_folds(run_dir, results, folds=folds)  # never lose finished folds
            raise
        results.append(result)
        if result.status == "interrupted":
            say(f"interrupted: the folds after fold {fold} were not trained")
            break
    summary = summarise_folds(run_dir, results, folds=folds)
    if summary.mean is not None:
        spread = f" ± {summary.std:.4f}" if summary.std is not None else ""
        say(
            f"{len(results)} folds: {summary.monitor} {summary.mean:.4f}{spread} (mean ± sample "
            f"std; {summary.min:.4f} to {summary.max:.4f}): {run_dir / FOLDS_FILE}"
        )
    return summary


def _tidy(run_dir: Path) -> None:
    """Clear what :func:`~seglab.train.rundir.new_run_dir` leaves that a folds run has no use
    for (its empty ``checkpoints``) and, reusing a folder (``--overwrite``), the last
    summary, which would describe folds about to be replaced."""
    checkpoints = run_dir / "checkpoints"
    if checkpoints.is_dir() and not any(checkpoints.iterdir()):
        checkpoints.rmdir()
    for name in (FOLDS_FILE, "folds.csv"):
        (run_dir / name).unlink(missing_ok=True)


def _only_config(run_dir: Path) -> bool:
    return {p.name for p in run_dir.iterdir()} <= {"config.yaml"} if run_dir.is_dir() else True


def summarise_folds(
    run_dir: str | Path,
    results: list[TrainResult],
    *,
    folds: int | None = None,
    monitor: str | None = None,
) -> FoldsResult:
    """The :class:`FoldsResult` of the finished folds ``results`` (in fold order), written to
    ``run_dir`` as ``folds.json`` and ``folds.csv``. ``folds`` (K) defaults to the folds of
    the results' configs, ``monitor`` to theirs (``val_dice`` without results)."""
    run_dir = Path(run_dir)
    if folds is None:
        folds = next((r.config.data.folds for r in results if r.config is not None), None)
    monitor = monitor or (results[0].monitor if results else "val_dice")
    scores = [r.best_score for r in results]
    known = _known(scores)
    mean = statistics.fmean(known) if known else None
    std = statistics.stdev(known) if len(known) >= 2 else None  # sample std (ddof=1)
    summary = FoldsResult(run_dir, list(results), scores, mean, std, monitor, folds)
    data = summary.to_dict()
    text = json.dumps(data, indent=1, default=str) + "\n"
    atomic_write(run_dir / FOLDS_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(data["runs"])

    atomic_write(run_dir / "folds.csv", write_csv)
    return summary


def read_folds(run_dir: str | Path) -> dict[str, Any]:
    """The ``folds.json`` of a folds run (module docstring).

    Raises
    ------
    DataError
        There is no ``folds.json`` (not a folds run) or it cannot be read.
    """
    path = Path(run_dir) / FOLDS_FILE
    if not path.is_file():
        raise DataError(
            "not a folds run (no folds.json): seglab train --folds K writes one", path=path
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot be read ({exc})", path=path) from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise DataError("not a folds summary of seglab (no runs)", path=path, field="runs")
    return data
