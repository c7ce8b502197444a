"""Reading a study folder (written by ``seglab tune``) for its report: ``study.json``,
``study.csv``, ``confidence.csv`` and the trials' run folders, checked as they are read.

The folder::

    STUDY/study.json       the study: data, task, monitor, budgets, space, counts, best, importances
    STUDY/study.csv        one row per trial: number, state, score, ..., one column per parameter
    STUDY/confidence.csv   per parameter value (or bin): the trials sharing it, their mean and std
    STUDY/plots/           Optuna's plots (any may be missing)
    STUDY/trials/trial-NNN a seglab run folder, or a folds run (folds.json, fold-1/ ...)

Every error names the file and the key or column and says how to fix it. Files the report can do
without (``confidence.csv``, ``plots/``, a trial's ``summary.json``) are ``None`` when missing.

>>> study = read_study("studies/cig")  # doctest: +SKIP
>>> [t.number for t in study.trials if t.state == "COMPLETE"]  # doctest: +SKIP
[0, 1, 3]
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seglab.errors import DataError, SeglabError

STUDY_FILE = "study.json"
TRIALS_FILE = "study.csv"
CONFIDENCE_FILE = "confidence.csv"
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
TRIAL_COLUMNS = ("number", "state", "score", "score_std", "seconds", "pruned_at", "run", "error")
CONFIDENCE_COLUMNS = ("param", "value", "is_best", "trials", "mean", "std")
PARAM_TYPES = ("float", "int", "categorical")
FIX = "the study folder is written by `seglab tune`: correct it by hand or run the study again"


@dataclass(frozen=True)
class Param:
    """One parameter of the study's space: its type, range or choices, and the TrainConfig
    field it sets (``path``, dotted: ``model.options.base_width``)."""

    name: str
    type: str
    path: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def numeric(self) -> bool:
        """Sampled from a range (``float`` or ``int``), not from choices."""
        return self.type != "categorical"


@dataclass(frozen=True)
class Trial:
    """One row of ``study.csv``; ``params`` maps each parameter to the text of its cell
    (``""`` when the trial did not sample it)."""

    number: int
    state: str
    score: float | None
    score_std: float | None
    seconds: float | None
    pruned_at: float | None
    run: str
    error: str
    params: dict[str, str]

    @property
    def scored(self) -> bool:
        """A complete trial with a score: what the means and the best compare."""
        return self.state == "COMPLETE" and self.score is not None


@dataclass(frozen=True)
class ConfidenceRow:
    """One row of ``confidence.csv``: a value (or a bin, ``1e-3..3e-3``) of ``param``."""

    param: str
    value: str
    is_best: bool
    trials: int
    mean: float | None
    std: float | None


@dataclass(frozen=True)
class Study:
    """A study folder, read and checked: ``meta`` is ``study.json``; ``confidence`` is ``None``
    when ``confidence.csv`` is missing."""

    folder: Path
    meta: dict[str, Any]
    space: dict[str, Param]
    trials: list[Trial]
    confidence: list[ConfidenceRow] | None

    @property
    def maximize(self) -> bool:
        """Higher scores are better (``direction`` is ``maximize``)."""
        return self.meta["direction"] == "maximize"

    @property
    def monitor(self) -> str:
        return self.meta["monitor"]

    @property
    def best(self) -> dict[str, Any] | None:
        return self.meta.get("best")

    def best_trial(self) -> Trial | None:
        """The row of ``study.json``'s best trial (``None`` without one, or when ``study.csv``
        does not list it yet)."""
        best = self.best
        if best is None:
            return None
        return next((t for t in self.trials if t.number == best["number"]), None)


@dataclass(frozen=True)
class TrialRun:
    """A trial's folder and the run folder the report reads: the folder itself, or the first
    fold of a folds trial (``folds`` then holds ``folds.json``, ``{}`` when unreadable)."""

    folder: Path
    run: Path
    folds: dict[str, Any] | None

    @property
    def fold_note(self) -> str:
        """``" (fold 1 of 5)"`` for a folds trial, else ``""``."""
        if self.folds is None:
            return ""
        count = self.folds.get("folds")
        return f" ({self.run.name.replace('-', ' ')}" + (f" of {count})" if count else ")")


def is_study(path: str | Path) -> bool:
    """``path`` is a study folder (it holds ``study.json``)."""
    return (Path(path) / STUDY_FILE).is_file()


def read_study(folder: str | Path) -> Study:
    """Read and check a study folder (:class:`Study`).

    Raises
    ------
    DataError
        ``study.json`` or ``study.csv`` is missing or malformed, or ``confidence.csv`` is
        malformed; the message names the file and the key or column.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            "no such study folder; point at a folder written by `seglab tune`", path=folder
        )
    meta = _read_meta(folder / STUDY_FILE)
    space = _read_space(meta["space"], folder / STUDY_FILE)
    trials = _read_trials(folder / TRIALS_FILE, space)
    confidence = None
    if (folder / CONFIDENCE_FILE).is_file():
        confidence = _read_confidence(folder / CONFIDENCE_FILE)
    return Study(folder, meta, space, trials, confidence)


def trial_run(study: Study, trial: Trial) -> TrialRun | None:
    """The run folder of ``trial`` (``study.csv``'s ``run``, relative to the study), or
    ``None`` when it has none (yet)."""
    if not trial.run:
        return None
    folder = study.folder / trial.run
    if not folder.is_dir():
        return None
    folds = sorted(folder.glob("fold-*"), key=_fold_number)
    if not (folder / "folds.json").is_file() and not folds:
        return TrialRun(folder, folder, None)
    info = _json_or_none(folder / "folds.json") or {}
    runs = [f for f in folds if f.is_dir()]
    return TrialRun(folder, runs[0] if runs else folder, info)


def read_summary(run: Path) -> dict[str, Any] | None:
    """A run's ``summary.json``; ``None`` while the run has not ended or when unreadable (a
    study's report shows what there is rather than stopping at one trial)."""
    return _json_or_none(run / "summary.json")


def read_curve(run: Path, monitor: str) -> tuple[list[float], list[float]]:
    """``(seconds, values)`` of a run's ``monitor`` per epoch: the seconds summed from
    ``metrics.csv``'s per-epoch ``seconds``, epochs without a value left out; empty lists
    when the run has no readable metrics."""
    from seglab.train.plots import cell_float, read_metrics

    try:
        rows = read_metrics(run / "metrics.csv")
    except SeglabError:  # not written yet, or damaged: the trial has no curve
        return [], []
    xs, ys, elapsed = [], [], 0.0
    for row in rows:
        seconds = cell_float(row.get("seconds"))
        elapsed += seconds if math.isfinite(seconds) else 0.0
        value = cell_float(row.get(monitor))
        if math.isfinite(value):
            xs.append(elapsed)
            ys.append(value)
    return xs, ys


# -- study.json ----------------------------------------------------------------------------------

_META = {  # key: (types, required)
    "name": ((str,), False),
    "seglab_version": ((str,), False),
    "direction": ((str,), True),
    "monitor": ((str,), True),
    "task": ((str,), True),
    "data": ((str,), False),
    "time_limit": ((int, float, type(None)), False),
    "trial_time": ((int, float, type(None)), False),
    "trials": ((int, type(None)), False),
    "folds": ((int, type(None)), False),
    "seed": ((int, type(None)), False),
    "pruner": ((str, type(None)), False),
    "sampler": ((str, type(None)), False),
    "storage": ((str, type(None)), False),
    "space": ((dict,), True),
    "fixed": ((dict,), False),
    "started": ((str, type(None)), False),
    "finished": ((str, type(None)), False),
    "updated": ((str, type(None)), False),
    "counts": ((dict,), False),
    "best": ((dict, type(None)), False),
    "importances": ((dict,), False),
    "baseline": ((dict, type(None)), False),
}
_CHOICES = {
    "direction": ("maximize", "minimize"),
    "monitor": ("val_dice", "val_ap", "val_loss"),
    "task": ("semantic", "instance"),
}


def _read_meta(path: Path) -> dict[str, Any]:
    # imported here: telling a study folder (is_study) must not load OpenCV with the galleries
    from seglab.report.gallery import read_json

    if not path.is_file():
        raise DataError(f"missing: not a study folder ({FIX})", path=path)
    meta = read_json(path, what="the study")
    for key, (types, required) in _META.items():
        if key not in meta:
            if required:
                raise DataError(f"missing key; {FIX}", path=path, field=key)
            continue
        value = meta[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise DataError(
                f"{_kind(value)}, expected {_names(types)}; {FIX}", path=path, field=key
            )
    for key, allowed in _CHOICES.items():
        if meta[key] not in allowed:
            raise DataError(
                f"{meta[key]!r}, expected one of {', '.join(allowed)}; {FIX}", path=path, field=key
            )
    counts = meta.setdefault("counts", {})
    for state in ("complete", "pruned", "fail", "running"):
        _check_number(counts.get(state, 0), path, f"counts.{state}", whole=True)
    for name, value in meta.setdefault("importances", {}).items():
        _check_number(value, path, f"importances.{name}")
    if meta.get("best") is not None:
        best = meta["best"]
        _check_number(best.get("number"), path, "best.number", whole=True)
        _check_number(best.get("score"), path, "best.score")
        if not isinstance(best.get("params", {}), dict):
            raise DataError(f"expected a mapping; {FIX}", path=path, field="best.params")
    if meta.get("baseline") is not None:
        _check_number(meta["baseline"].get("score"), path, "baseline.score")
    meta.setdefault("fixed", {})
    return meta


def _read_space(space: dict[str, Any], path: Path) -> dict[str, Param]:
    params = {}
    for name, spec in space.items():
        where = f"space.{name}"
        if not isinstance(spec, dict):
            raise DataError(f"expected a mapping; {FIX}", path=path, field=where)
        kind = spec.get("type")
        if kind not in PARAM_TYPES:
            raise DataError(
                f"{kind!r}, expected one of {', '.join(PARAM_TYPES)}; {FIX}",
                path=path,
                field=f"{where}.type",
            )
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise DataError(
                    f"expected a list of choices; {FIX}", path=path, field=f"{where}.choices"
                )
            params[name] = Param(name, kind, str(spec.get("path") or name), choices=tuple(choices))
            continue
        low = _check_number(spec.get("low"), path, f"{where}.low")
        high = _check_number(spec.get("high"), path, f"{where}.high")
        params[name] = Param(
            name, kind, str(spec.get("path") or name), low, high, log=bool(spec.get("log"))
        )
    return params


# -- study.csv and confidence.csv ----------------------------------------------------------------


def _read_trials(path: Path, space: dict[str, Param]) -> list[Trial]:
    _, rows = _read_csv(path, TRIAL_COLUMNS + tuple(space), what="the trials")
    trials = []
    for line, row in rows:
        number = _cell_number(row["number"], path, line, "number", whole=True, empty=False)
        state = row["state"].strip().upper()
        if state not in STATES:
            raise DataError(
                f"{row['state']!r}, expected one of {', '.join(STATES)}; {FIX}",
                path=path,
                field=f"line {line}, column state",
            )
        numbers = {
            c: _cell_number(row[c], path, line, c)
            for c in ("score", "score_std", "seconds", "pruned_at")
        }
        trials.append(
            Trial(
                number=int(number),
                state=state,
                **numbers,
                run=row["run"].strip(),
                error=row["error"].strip(),
                params={name: _param_cell(space[name], row[name]) for name in space},
            )
        )
    return sorted(trials, key=lambda t: t.number)


def _param_cell(param: Param, text: str) -> str:
    """A trial's value of ``param`` as text; a ``None`` choice, which the CSV writes as an
    empty cell, as ``None`` (as confidence.csv names it)."""
    text = text.strip()
    if not text and not param.numeric and None in param.choices:
        return "None"
    return text


def _read_confidence(path: Path) -> list[ConfidenceRow]:
    _, rows = _read_csv(path, CONFIDENCE_COLUMNS, what="the confidence of each value")
    out = []
    for line, row in rows:
        flag = row["is_best"].strip().lower()
        if flag not in ("true", "false", "1", "0", ""):
            raise DataError(
                f"{row['is_best']!r}, expected true or false; {FIX}",
                path=path,
                field=f"line {line}, column is_best",
            )
        out.append(
            ConfidenceRow(
                param=row["param"].strip(),
                value=row["value"].strip(),
                is_best=flag in ("true", "1"),
                trials=int(
                    _cell_number(row["trials"], path, line, "trials", whole=True, empty=False)
                ),
                mean=_cell_number(row["mean"], path, line, "mean"),
                std=_cell_number(row["std"], path, line, "std"),
            )
        )
    return out


def _read_csv(path: Path, columns: tuple[str, ...], *, what: str):
    """``(header, [(line, row)])`` with every one of ``columns`` in the header."""
    if not path.is_file():
        raise DataError(f"missing: {what} were not written ({FIX})", path=path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            for column in columns:
                if column not in header:
                    raise DataError(f"no such column; {FIX}", path=path, field=f"column {column}")
            rows = []
            for raw in reader:
                row = {(k or "").strip(): (v or "") for k, v in raw.items() if k is not None}
                rows.append((reader.line_num, row))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {what}: {exc}", path=path) from None
    return header, rows


# -- small checks --------------------------------------------------------------------------------


def _cell_number(
    text: str, path: Path, line: int, column: str, *, whole: bool = False, empty: bool = True
) -> float | None:
    """A CSV cell as a number; ``None`` for an empty (or ``nan``) cell where ``empty``."""
    text = text.strip()
    kind = "a whole number" if whole else "a number"
    where = f"line {line}, column {column}"
    try:
        value = float(text) if text else math.nan
    except ValueError:
        raise DataError(f"{text!r} is not {kind}; {FIX}", path=path, field=where) from None
    if math.isnan(value):
        if empty:
            return None
        raise DataError(f"empty, expected {kind}; {FIX}", path=path, field=where)
    if math.isinf(value) or (whole and value != int(value)):
        raise DataError(f"{text!r} is not {kind}; {FIX}", path=path, field=where)
    return value


def _check_number(value: Any, path: Path, field: str, *, whole: bool = False) -> float:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or (whole and not isinstance(value, int)):
        kind = "a whole number" if whole else "a number"
        raise DataError(f"{_kind(value)}, expected {kind}; {FIX}", path=path, field=field)
    return float(value)


def _kind(value: Any) -> str:
    return "missing" if value is None else f"{value!r} ({type(value).__name__})"


def _names(types: tuple[type, ...]) -> str:
    words = {str: "text", int: "a whole number", float: "a number", dict: "a mapping"}
    names = [words[t] for t in types if t in words]
    return " or ".join(names) + (" or null" if type(None) in types else "")


def _json_or_none(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _fold_number(path: Path) -> tuple[int, str]:
    found = re.fullmatch(r"fold-(\d+)", path.name)
    return (int(found.group(1)) if found else 1 << 30, path.name)
