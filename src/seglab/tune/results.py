"""What a study leaves in its folder, rewritten after every trial (so a stopped study keeps its
results) and once more with the plots at its end:

* ``study.csv``: one row per trial (:data:`COLUMNS`, then one column per parameter);
* ``study.json``: the settings, counts, best trial, importances (what ``seglab report`` reads);
* ``confidence.csv``: for each parameter, the score of the trials sharing each value (numbers:
  each third of the range) -- how sure the best setting is;
* ``best.yaml``: the best trial's resolved config, for ``seglab train --config best.yaml``;
* ``plots/``: Optuna's optimisation history, parameter importances, parallel coordinates and
  slice plots (its matplotlib backend).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import statistics
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seglab.core.files import atomic_write
from seglab.tune.space import Param, Space

COLUMNS = ("number", "state", "score", "score_std", "seconds", "pruned_at", "run", "error")
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")


@dataclass(frozen=True)
class TrialRow:
    """One trial as ``study.csv`` holds it (``params`` by parameter name)."""

    number: int
    state: str
    score: float | None
    score_std: float | None
    seconds: float | None
    pruned_at: float | None
    run: str
    error: str
    params: Mapping[str, Any]

    def to_csv(self, names: Sequence[str]) -> dict[str, Any]:
        row = {
            "number": self.number,
            "state": self.state,
            "score": _fmt(self.score),
            "score_std": _fmt(self.score_std),
            "seconds": "" if self.seconds is None else f"{self.seconds:.1f}",
            "pruned_at": "" if self.pruned_at is None else f"{self.pruned_at:.2f}",
            "run": self.run,
            "error": self.error,
        }
        row.update({name: self.params.get(name, "") for name in names})
        return row


def _fmt(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6g}"


def trial_rows(trials: Sequence[Any]) -> list[TrialRow]:
    """The rows of Optuna's frozen ``trials``: the score and the rest come from the user
    attributes a trial sets (:mod:`seglab.tune.study`); its state from Optuna."""
    rows = []
    for trial in sorted(trials, key=lambda t: t.number):
        attrs = trial.user_attrs
        rows.append(
            TrialRow(
                number=trial.number,
                state=trial.state.name,
                score=attrs.get("score"),
                score_std=attrs.get("score_std"),
                seconds=attrs.get("seconds"),
                pruned_at=attrs.get("pruned_at"),
                run=attrs.get("run", ""),
                error=attrs.get("error", ""),
                params=dict(trial.params),
            )
        )
    return rows


def best_row(rows: Sequence[TrialRow], *, maximize: bool) -> TrialRow | None:
    """The finished trial with the best score (the first of equals)."""
    done = [r for r in rows if r.state == "COMPLETE" and r.score is not None]
    if not done:
        return None
    return (max if maximize else min)(done, key=lambda r: r.score)


def counts(rows: Sequence[TrialRow]) -> dict[str, int]:
    """Trials by state: ``{"complete": 3, "pruned": 2, "fail": 0, "running": 1}``."""
    return {state.lower(): sum(r.state == state for r in rows) for state in STATES[:4]}


# -- confidence ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """The finished trials that share one value (or range) of a parameter."""

    param: str
    value: str
    is_best: bool
    scores: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.scores) if len(self.scores) > 1 else None


def _bins(param: Param, count: int = 3) -> list[tuple[float, float]]:
    low, high = float(param.low), float(param.high)
    if param.log:
        a, b = math.log10(low), math.log10(high)
        edges = [10 ** (a + (b - a) * i / count) for i in range(count + 1)]
    else:
        edges = [low + (high - low) * i / count for i in range(count + 1)]
    return list(itertools.pairwise(edges))


def _label(param: Param, value: Any) -> str:
    """The group a value falls in: itself for choices, its third of the range for numbers."""
    if param.kind == "categorical":
        return str(value)
    bins = _bins(param)
    for index, (a, b) in enumerate(bins):
        if value <= b or index == len(bins) - 1:
            return f"{a:.2g}..{b:.2g}"
    raise AssertionError("unreachable")  # pragma: no cover


def confidence(rows: Sequence[TrialRow], space: Space, best: TrialRow | None) -> list[Group]:
    """For each parameter, the finished trials grouped by value (numbers: by thirds of their
    range, on a log scale where the parameter is), best group first within a parameter."""
    done = [r for r in rows if r.state == "COMPLETE" and r.score is not None]
    groups: list[Group] = []
    for param in space.params:
        by_value: dict[str, list[float]] = {}
        for row in done:
            if param.name in row.params:
                label = _label(param, row.params[param.name])
                by_value.setdefault(label, []).append(float(row.score))
        best_label = (
            _label(param, best.params[param.name])
            if best is not None and param.name in best.params
            else None
        )
        for label, scores in by_value.items():
            groups.append(Group(param.name, label, label == best_label, tuple(scores)))
    return groups


# -- writing -------------------------------------------------------------------------------------


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(header))
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write, shared=True)


def write_confidence(path: Path, groups: Sequence[Group]) -> None:
    """``confidence.csv``: param, value, is_best, trials, mean, std."""
    rows = [
        {
            "param": g.param,
            "value": g.value,
            "is_best": str(g.is_best).lower(),
            "trials": len(g.scores),
            "mean": f"{g.mean:.6g}",
            "std": _fmt(g.std),
        }
        for g in groups
    ]
    _write_csv(path, ("param", "value", "is_best", "trials", "mean", "std"), rows)


def write_best_yaml(
    path: Path, best: TrialRow, study_dir: Path, *, monitor: str, name: str
) -> bool:
    """``best.yaml``: the best trial's resolved ``config.yaml`` (a folds trial: its first fold's,
    with the folds), written to train into ``runs/`` like any run; ``False`` when the trial's
    config is missing (a trial run on another machine)."""
    import yaml

    run = study_dir / best.run
    source = run / "config.yaml"
    if not source.is_file():
        return False
    config = yaml.safe_load(source.read_text()) or {}
    for key in ("out", "name", "overwrite", "resume"):
        config.pop(key, None)
    score = "" if best.score is None else f"{best.score:.4f}"
    header = (
        f"# The best trial ({best.number}) of study {name!r}: {monitor} {score}.\n"
        "# Rerun it with: seglab train --config best.yaml  (add --time-limit to give it longer)\n"
    )
    text = header + yaml.safe_dump(config, sort_keys=False)
    atomic_write(path, lambda tmp: tmp.write_text(text), shared=True)
    return True


def importances(study: Any) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA) over the finished trials; ``{}`` with fewer
    than two, or when no parameter varied in all of them."""
    import optuna

    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(done) < 2:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return {}  # e.g. every finished trial has the same score, or no shared parameter
    return {k: float(v) for k, v in found.items() if math.isfinite(v)}


def study_json(
    info: Mapping[str, Any],
    rows: Sequence[TrialRow],
    best: TrialRow | None,
    found: Mapping[str, float],
    *,
    finished: bool,
) -> dict[str, Any]:
    """What ``study.json`` holds: ``info`` (the settings), the counts, the best trial and the
    importances."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    best_part = None
    if best is not None:
        best_part = {
            "number": best.number,
            "score": best.score,
            "score_std": best.score_std,
            "run": best.run,
            "params": dict(best.params),
        }
    return {
        **info,
        "updated": now,
        "finished": now if finished else None,
        "counts": counts(rows),
        "best": best_part,
        "importances": dict(found),
    }


def write_results(
    study: Any,
    space: Space,
    study_dir: Path,
    info: Mapping[str, Any],
    *,
    finished: bool = False,
    plots: bool = False,
) -> dict[str, Any]:
    """Rewrite the study's files from its storage (module docstring); returns ``study.json``'s
    content. ``plots``: draw Optuna's plots too (seconds: at the study's end)."""
    maximize = info.get("direction", "maximize") == "maximize"
    rows = trial_rows(study.get_trials(deepcopy=False))
    best = best_row(rows, maximize=maximize)
    names = list(space.names)
    extra = sorted({k for r in rows for k in r.params} - set(names))  # an older space's
    header = [*COLUMNS, *names, *extra]
    _write_csv(study_dir / "study.csv", header, [r.to_csv([*names, *extra]) for r in rows])
    write_confidence(study_dir / "confidence.csv", confidence(rows, space, best))
    if best is not None:
        write_best_yaml(
            study_dir / "best.yaml",
            best,
            study_dir,
            monitor=str(info.get("monitor")),
            name=str(info.get("name")),
        )
    found = importances(study) if finished or plots else dict(info.get("importances") or {})
    content = study_json(info, rows, best, found, finished=finished)
    text = json.dumps(content, indent=2, default=str)
    atomic_write(study_dir / "study.json", lambda tmp: tmp.write_text(text), shared=True)
    if plots:
        write_plots(study, study_dir / "plots", has_importances=bool(found))
    return content


PLOTS = {
    "history": "plot_optimization_history",
    "importances": "plot_param_importances",
    "parallel": "plot_parallel_coordinate",
    "slice": "plot_slice",
}


def write_plots(study: Any, folder: Path, *, has_importances: bool) -> list[Path]:
    """Optuna's matplotlib plots of ``study`` into ``folder`` (:data:`PLOTS`); a plot Optuna
    cannot draw for these trials (too few, nothing varied) is left out."""
    import logging

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    # parameters such as "16" are plotted as categories, on purpose: not news for the user
    logging.getLogger("matplotlib.category").setLevel(logging.WARNING)

    done = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not done:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, function in PLOTS.items():
        if name == "importances" and not has_importances:
            continue
        with warnings.catch_warnings():
            # Optuna marks its matplotlib backend experimental; the slice plot's colour bar
            # does not fit tight_layout: neither is the user's concern
            warnings.simplefilter("ignore")
            try:
                axes = getattr(optuna_plots, function)(study)
            except (ValueError, RuntimeError, TypeError, ZeroDivisionError):
                continue
            figure = _figure(axes)
            figure.set_size_inches(max(6.4, figure.get_size_inches()[0]), 4.8)
            figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=100)
            plt.close(figure)
        path = folder / f"{name}.png"
        atomic_write(path, lambda tmp, data=buffer.getvalue(): tmp.write_bytes(data), shared=True)
        written.append(path)
    return written


def _figure(axes: Any):
    """The figure of what an Optuna plot returns (one Axes, or an array of them)."""
    import numpy as np

    first = np.asarray(axes, dtype=object).ravel()[0] if not hasattr(axes, "figure") else axes
    return first.figure
