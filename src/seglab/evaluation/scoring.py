"""Scoring predictions against a labelled dataset: one row per image, summaries, tables.

The same code scores classical methods (``seglab classical``, ``seglab compare``), networks and
other tools' mask folders, so their numbers can be compared. Metric conventions:
:mod:`seglab.evaluation.metrics`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.evaluation.metrics import METRICS, binary_scores, class_scores


@dataclass
class EvaluationResult:
    """Per-image ``rows``, the ``summary`` (as in ``summary.json``) and the output folder."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    out: Path | None = None


def score_mask(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    num_classes: int = 2,
    empty_score: float = 1.0,
) -> dict[str, float]:
    """Scores of one predicted mask: binary when ``pred`` is boolean or the data has one class
    (foreground = any class), else the mean over classes
    (:func:`seglab.evaluation.metrics.class_scores`)."""
    if pred.dtype == np.bool_ or num_classes <= 2:
        target = np.where(target == IGNORE_INDEX, IGNORE_INDEX, target != 0)
        return binary_scores(pred, target, empty_score=empty_score)
    return class_scores(pred, target, num_classes, empty_score=empty_score)


def summarize(rows: Sequence[dict[str, Any]], metrics: Iterable[str] = METRICS) -> dict[str, Any]:
    """Mean, median, std, min and max of each metric over the rows (NaN values left out)."""
    out: dict[str, Any] = {"images": len(rows)}
    for m in metrics:
        values = np.array([r[m] for r in rows if m in r], dtype=float)
        values = values[~np.isnan(values)]
        if values.size == 0:
            out[m] = {"mean": math.nan, "median": math.nan, "std": math.nan}
            continue
        out[m] = {
            "mean": float(values.mean()),
            "median": float(np.median(values)),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return out


def stats(rows: Sequence[dict[str, Any]], columns: dict[str, str]) -> dict[str, dict[str, float]]:
    """``{metric: {mean, median, std, min, max}}`` over rows for ``{metric: column}``."""
    keyed = [{m: r[c] for m, c in columns.items()} for r in rows]
    summary = summarize(keyed, metrics=list(columns))
    return {m: summary[m] for m in columns}


def json_safe(value: Any) -> Any:
    """``value`` with every NaN (in nested dicts and lists) as ``None``: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def worst(rows: Sequence[dict[str, Any]], k: int, *, metric: str = "dice") -> list[dict[str, Any]]:
    """The ``k`` rows with the lowest ``metric`` (NaN last)."""
    return sorted(rows, key=lambda r: (math.isnan(r[metric]), r[metric]))[:k]


def write_csv(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rows (dicts with the same keys) as CSV; floats with 6 significant digits."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0]) if rows else []
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )
    return path


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A GitHub Markdown table of ``columns`` of the rows (strings as they are)."""
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body]) + "\n"
