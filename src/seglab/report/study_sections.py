"""The parts of the study report read from a study folder (:mod:`seglab.report.study_data`):
the hypotheses (each parameter's values, with their trials' scores), the best approach and why,
the trials, the overfitting verdicts, and the settings of the data and preprocessing -- as plain
values for the template (:mod:`seglab.report.study` renders them).
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from seglab.errors import format_location
from seglab.report.study_data import Param, Study, Trial, TrialRun, read_summary

TITLES = {
    "optimizer": "Optimizers", "activation": "Activations", "init": "Initialisations",
    "lr": "Learning rate", "weight_decay": "Weight decay", "loss": "Losses",
    "augment": "Augmentation", "model": "Models", "name": "Models", "architecture": "Models",
    "base_width": "Widths", "width": "Widths", "depth": "Depths", "encoder": "Encoders",
    "crop_size": "Crop size", "image_size": "Image size", "threshold": "Threshold",
    "preprocess": "Preprocessing", "scheduler": "Schedulers", "batch_size": "Batch size",
    "epochs": "Epochs", "object_crop": "Object-centred crops", "norm": "Normalisation",
}  # fmt: skip
"""Each choice's title, by the parameter's name, else by its TrainConfig field's last part."""
PREP_FIELDS = ("preprocess", "augment", "image_size", "crop_size", "object_crop")
"""The settings the data and preprocessing section lists."""


def title(param: Param) -> str:
    """The heading of a parameter's hypotheses: ``"Optimizers"`` for ``optimizer``..."""
    last = param.path.rsplit(".", 1)[-1]
    found = TITLES.get(param.name) or TITLES.get(last)
    return found or param.name.replace("_", " ").capitalize()


def space_text(param: Param) -> str:
    """What the study could choose from: ``adam, sgd`` or ``0.0001 to 0.1, log scale``."""
    if not param.numeric:
        return ", ".join(show(c) for c in param.choices)
    return f"{short(param.low)} to {short(param.high)}" + (", log scale" if param.log else "")


# -- the values of a parameter -------------------------------------------------------------------


@dataclass
class Group:
    """One value (or bin) of a parameter and the trials that had it: ``trials``, ``mean`` and
    ``std`` over its complete trials (``confidence.csv``'s when there is one), ``best`` their
    best score, ``is_best`` when the best trial is among them."""

    label: str
    members: list[Trial] = field(default_factory=list)
    trials: int = 0
    mean: float | None = None
    std: float | None = None
    best: float | None = None
    is_best: bool = False

    def count(self, state: str) -> int:
        return sum(1 for t in self.members if t.state == state)


def value_groups(study: Study, param: Param) -> tuple[list[Group], str]:
    """The values of ``param`` tried, with their trials, and where the numbers come from.

    The trials are grouped as seglab tune groups them for ``confidence.csv``: by choice, or
    by third of a number's range (log-spaced on a log scale); a value only pruned, failed or
    running trials had gets a group too. ``trials``, ``mean``, ``std`` and ``is_best`` are
    ``confidence.csv``'s when it lists the parameter, else computed the same way: over the
    complete trials, the sample std over two or more. Labels of another binning in
    ``confidence.csv`` are used as they are, trials matched to them by :func:`_finder`.
    """
    tried = [t for t in study.trials if t.params.get(param.name, "") != ""]
    rows = {r.value: r for r in study.confidence or [] if r.param == param.name}
    groups = _computed_groups(param, tried)
    if rows and not set(rows) <= {g.label for g in groups}:
        groups = [Group(label) for label in rows]
        find = _finder(param, list(rows))
        for trial in tried:
            label = find(trial.params[param.name])
            if label is not None:
                groups[list(rows).index(label)].members.append(trial)
    best = study.best_trial()
    for group in groups:
        scores = [t.score for t in group.members if t.scored]
        group.trials = len(scores)
        group.mean = statistics.fmean(scores) if scores else None
        group.std = statistics.stdev(scores) if len(scores) > 1 else None
        group.is_best = best is not None and any(t.number == best.number for t in group.members)
        group.best = (max if study.maximize else min)(scores) if scores else None
        row = rows.get(group.label)
        if row is not None:  # the study's own numbers
            group.trials, group.mean, group.std, group.is_best = (
                row.trials,
                row.mean,
                row.std,
                row.is_best,
            )
    if rows:
        return groups, "confidence.csv"
    return groups, "study.csv" + (
        " (confidence.csv is missing)" if study.confidence is None else ""
    )


def varied(study: Study, param: Param) -> bool:
    """More than one value of ``param`` was tried."""
    return len({t.params.get(param.name, "") for t in study.trials} - {""}) > 1


def _computed_groups(param: Param, tried: list[Trial]) -> list[Group]:
    if not param.numeric:
        order = [str(c) for c in param.choices]  # as the CSV writes each choice
        seen = list(dict.fromkeys([*order, *(t.params[param.name] for t in tried)]))
        groups = {label: Group(label) for label in seen}
        for trial in tried:
            groups[trial.params[param.name]].members.append(trial)
        return [g for g in groups.values() if g.members]
    numbers = [t for t in tried if _number(t.params[param.name])]
    thirds = _thirds(param)
    if not thirds:  # a range study.json does not give: a group per value
        groups = {}
        for trial in sorted(numbers, key=lambda t: float(t.params[param.name])):
            value = float(trial.params[param.name])
            groups.setdefault(value, Group(short(value))).members.append(trial)
        return list(groups.values())
    bins = [(Group(label), high) for label, (_, high) in thirds.items()]
    for trial in numbers:
        value = float(trial.params[param.name])
        # as seglab tune counts: the first third whose top is not below the value
        group = next((g for g, high in bins if value <= high), bins[-1][0])
        group.members.append(trial)
    return [g for g, _ in bins if g.members]


def _finder(param: Param, labels: list[str]):
    """``cell -> label``: the value or bin of ``confidence.csv`` a trial's value is in
    (``None``: none of them).

    A bin ``low..high`` holds the values from ``low`` to ``high``, the lower bin taking a
    shared edge. seglab tune writes its bins' edges in two digits; when the labels are the
    thirds of the space's range (log-spaced on a log scale) as tune cuts it, those exact edges
    are used, so that a value near an edge falls where tune counted it.
    """
    if not param.numeric:
        return lambda cell: cell if cell in labels else None
    exact = _thirds(param)
    values, ranges = {}, []
    for label in labels:
        low, dots, high = label.partition("..")
        if label in exact:
            ranges.append((*exact[label], label))
        elif dots and _number(low) and _number(high):
            ranges.append((float(low), float(high), label))
        elif _number(label):
            values[float(label)] = label
    ranges.sort()

    def find(cell: str) -> str | None:
        if not _number(cell):
            return None
        value = float(cell)
        for known, label in values.items():
            if math.isclose(known, value, rel_tol=1e-6):
                return label
        for low, high, label in ranges:
            if low - 1e-12 * abs(low) <= value <= high + 1e-12 * abs(high):
                return label
        return None

    return find


def _thirds(param: Param) -> dict[str, tuple[float, float]]:
    """``{label: (low, high)}`` of the thirds of ``param``'s range, labelled as seglab tune's
    ``confidence.csv`` labels them."""
    if param.low is None or param.high is None or (param.log and param.low <= 0):
        return {}
    if param.log:
        a, b = math.log10(param.low), math.log10(param.high)
        edges = [10 ** (a + (b - a) * i / 3) for i in range(4)]
    else:
        edges = [param.low + (param.high - param.low) * i / 3 for i in range(4)]
    return {f"{a:.2g}..{b:.2g}": (a, b) for a, b in itertools.pairwise(edges)}


# -- the best approach ---------------------------------------------------------------------------


def reasons(study: Study, hypotheses: dict[str, list[Group]]) -> list[dict[str, Any]]:
    """For each parameter, most important first: the best trial's value, its importance, the
    trials sharing its value (their mean and std) and the other values' means."""
    best = study.best_trial()
    if best is None:
        return []
    importances = study.meta.get("importances") or {}
    names = sorted(study.space, key=lambda n: -importances.get(n, -1.0))
    out = []
    for name in names:
        groups = hypotheses.get(name, [])
        own = next((g for g in groups if any(t.number == best.number for t in g.members)), None)
        out.append(
            {
                "param": name,
                "title": title(study.space[name]),
                "value": _best_value(study, best, name),
                "importance": importances.get(name),
                "group": own,
                "others": [g for g in groups if g is not own and g.mean is not None],
            }
        )
    return out


def _best_value(study: Study, best: Trial, name: str) -> str:
    params = (study.best or {}).get("params") or {}
    return show(params[name]) if name in params else best.params.get(name, "")


def importance_rows(study: Study) -> list[dict[str, Any]]:
    """``study.json``'s importances, largest first, with their share of the largest (bars)."""
    importances = study.meta.get("importances") or {}
    top = max(importances.values(), default=0.0) or 1.0
    ordered = sorted(importances.items(), key=lambda kv: -kv[1])
    return [{"param": k, "value": v, "width": round(100 * v / top, 1)} for k, v in ordered]


# -- trials and verdicts -------------------------------------------------------------------------


def verdicts(study: Study, runs: dict[int, TrialRun | None]) -> list[dict[str, Any]]:
    """The overfitting verdict of each finished trial (complete or pruned) whose run wrote
    one (``summary.json``'s ``verdict``; a folds trial's first fold)."""
    out = []
    for trial in study.trials:
        run = runs.get(trial.number)
        if trial.state not in ("COMPLETE", "PRUNED") or run is None:
            continue
        summary = read_summary(run.run)
        verdict = (summary or {}).get("verdict")
        verdict = verdict if isinstance(verdict, dict) else {}
        if summary is None:
            kind, message = "unknown", "summary.json is missing or unreadable"
        else:  # no verdict: the run ended before a validated epoch
            kind = str(verdict.get("kind") or "none")
            message = str(verdict.get("message") or "")
        out.append(
            {
                "number": trial.number,
                "state": trial.state,
                "kind": kind,
                "message": message,
                "note": run.fold_note.strip(" ()"),
            }
        )
    return out


def verdict_counts(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """``(kind, trials)``, the commonest first."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# -- data and preprocessing ----------------------------------------------------------------------


def prep_rows(study: Study, best_config: dict[str, Any] | None) -> list[dict[str, str]]:
    """Per setting of :data:`PREP_FIELDS` (and any other ``data.``/``preprocess`` parameter):
    the value every trial shared (``fixed``), what was tried (the space) and the values the
    trials used, and the best trial's resolved value (its ``config.yaml``; the recipe fills
    what was left to it)."""
    fixed = study.meta.get("fixed") or {}
    by_path = {p.path: p for p in study.space.values()}
    fields = list(dict.fromkeys([*PREP_FIELDS, *(p for p in by_path if p.startswith("data."))]))
    rows = []
    for name in fields:
        param = by_path.get(name)
        used = []
        if param is not None:
            used = list(
                dict.fromkeys(
                    t.params[param.name] for t in study.trials if t.params.get(param.name)
                )
            )
        if name not in fixed and param is None and not best_config:
            continue
        resolved = _dotted(best_config, name) if best_config else None
        rows.append(
            {
                "setting": name,
                "fixed": show(fixed[name]) if name in fixed else "",
                "space": space_text(param) if param is not None else "",
                "used": ", ".join(used),
                # the resolved config: None there is no resize, no crop (the recipe has chosen)
                "best": "" if not best_config else ("none" if resolved is None else show(resolved)),
            }
        )
    return rows


def data_check(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the data check found before the best trial trained (``summary.json``)."""
    check = (summary or {}).get("data_check")
    if not isinstance(check, dict):
        return None
    problems = check.get("problems") if isinstance(check.get("problems"), list) else []
    shown = [
        f"{p.get('severity', 'problem')}: "
        + format_location(p.get("path"), p.get("field"), str(p.get("message", "")))
        if isinstance(p, dict)
        else str(p)
        for p in problems[:10]
    ]
    return {
        "errors": check.get("errors", 0),
        "warnings": check.get("warnings", 0),
        "problems": shown,
        "more": max(len(problems) - len(shown), 0),
    }


# -- values --------------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A setting as the page shows it: lists joined, ``None`` as ``recipe`` (left to it)."""
    if value is None:
        return "recipe"
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, float):
        return short(value)
    return str(value)


def short(value: float | None) -> str:
    """A number in at most 3 significant digits: ``0.00316``, ``3e-05``, ``128``."""
    return "" if value is None else f"{value:.3g}"


def _number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _dotted(config: dict[str, Any], path: str) -> Any:
    value: Any = config
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
