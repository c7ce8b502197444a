"""The error analysis of a study's best model: which images it gets worst, where it marks
something that is not there (false alarms) and where it misses what is (misses).

It reads an evaluation folder (:func:`seglab.evaluation.run.evaluate`'s ``scores.csv`` and
``masks/``, or an instance evaluation's ``labels/``) and the dataset's truth, and builds gallery
rows with the run report's code (:mod:`seglab.report.gallery`,
:mod:`seglab.report.instance_gallery`).

For masks, each image's errors are counted in pixels and in objects: the 8-connected
components of the prediction that touch no true pixel are false alarms, the true components
that no predicted pixel touches are misses (foreground against background, whatever the
class; ignored pixels left out). Each row of the galleries then gets an ``errors`` tile: the
whole image tinted as :func:`seglab.core.zoom.zoom_view` tints its zoom (hits green, misses
red, false alarms blue). For objects, the instance evaluation's own counts are used (missed,
false, split and merged objects per image).
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError, DataError
from seglab.report import sections
from seglab.report.assets import Assets, current_evaluation, truth_lookup
from seglab.report.gallery import (
    GalleryRow,
    read_json,
    read_prediction,
    read_scores,
    scored_rows,
    write_tile,
)
from seglab.report.html import gallery_row
from seglab.report.instance_gallery import instance_rows
from seglab.report.study_data import TrialRun

if TYPE_CHECKING:
    from seglab.config import DataConfig
    from seglab.report.sections import RunFiles

WORST = 12  # images in the worst-first gallery
FEW = 4  # images in each of the false-alarm and miss galleries
ERROR_COUNTS = ("fp_pixels", "fn_pixels", "false_alarms", "misses")


@dataclass
class Galleries:
    """The rows of the three galleries (worst first, most false alarms first, most misses
    first) and ``totals`` over every image analysed."""

    worst: list[GalleryRow] = field(default_factory=list)
    false_alarms: list[GalleryRow] = field(default_factory=list)
    misses: list[GalleryRow] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


def image_errors(truth: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    """The errors of one predicted mask, foreground (``!= 0``) against background.

    ``fp_pixels``/``fn_pixels``: false positive and false negative pixels; ``false_alarms``:
    predicted 8-connected components touching no true pixel; ``misses``: true components
    touching no predicted pixel; ``true_objects``/``pred_objects``: the components of each.
    Pixels ignored in the truth (255) are left out.

    >>> truth = np.zeros((6, 6), np.int64); truth[0:2, 0:2] = 1; truth[4:6, 4:6] = 1
    >>> pred = np.zeros((6, 6), np.int64); pred[0:2, 0:3] = 1; pred[4, 0] = 1
    >>> errors = image_errors(truth, pred)
    >>> [errors[k] for k in ("fp_pixels", "fn_pixels", "false_alarms", "misses")]
    [3, 4, 1, 1]
    """
    import cv2

    if truth.shape != pred.shape:
        raise DataError(
            f"the prediction is {pred.shape[1]}x{pred.shape[0]} but the truth is "
            f"{truth.shape[1]}x{truth.shape[0]} (width x height)"
        )
    valid = truth != IGNORE_INDEX
    true, predicted = (truth != 0) & valid, (pred != 0) & valid

    def untouched(mask: np.ndarray, other: np.ndarray) -> tuple[int, int]:
        """(components of ``mask`` with no pixel in ``other``, components of ``mask``)."""
        count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        touched = np.unique(labels[mask & other])
        return count - 1 - int(np.count_nonzero(touched)), count - 1

    false_alarms, pred_objects = untouched(predicted, true)
    misses, true_objects = untouched(true, predicted)
    return {
        "fp_pixels": int(np.count_nonzero(predicted & ~true)),
        "fn_pixels": int(np.count_nonzero(true & ~predicted)),
        "false_alarms": false_alarms,
        "misses": misses,
        "true_objects": true_objects,
        "pred_objects": pred_objects,
    }


Truth = Callable[[str, str], tuple[np.ndarray, np.ndarray] | None]


def mask_galleries(
    eval_dir: Path,
    truth: Truth,
    folder: Path,
    *,
    num_classes: int,
    class_names: list[str],
    thumb: int,
) -> Galleries:
    """The galleries of a mask evaluation: each row the run report's (image | truth |
    prediction | crop, :func:`~seglab.report.gallery.scored_rows`) with the image's error
    counts (:func:`image_errors`) in ``counts`` and an ``errors`` tile. Images whose truth is
    not found are left out of the false-alarm and miss galleries (and of the totals)."""
    rows = scored_rows(
        eval_dir, truth, folder, num_classes=num_classes, class_names=class_names, thumb=thumb
    )
    scores = {str(s.get("image", "")): s for s in read_scores(eval_dir / "scores.csv")}

    def pair(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(image, truth, prediction) of ``key``, read again when needed: a large split is
        never held in memory at once."""
        score = scores.get(key, {})
        try:
            found = truth(key, str(score.get("image_path", "")))
            if found is None:
                return None
            pred = read_prediction(eval_dir / str(score.get("pred", "")), num_classes)
        except DataError:  # scored_rows has warned about it already
            return None
        return found[0], found[1], pred

    for row in rows:
        found = pair(row.key)
        if found is not None:
            row.counts = image_errors(found[1], found[2])
    counted = [r for r in rows if r.counts]
    galleries = Galleries(
        worst=rows[:WORST],
        false_alarms=_most(counted, "false_alarms", "fp_pixels"),
        misses=_most(counted, "misses", "fn_pixels"),
        totals=_totals(counted),
    )
    shown = {id(r): r for r in galleries.worst + galleries.false_alarms + galleries.misses}
    for row in shown.values():
        found = pair(row.key) if row.counts else None
        if found is not None:
            _add_error_tile(row, *found, folder, num_classes=num_classes, thumb=thumb)
    return galleries


def object_galleries(rows: list[GalleryRow]) -> Galleries:
    """The galleries of an instance evaluation from its rows
    (:func:`~seglab.report.instance_gallery.instance_rows`, worst first): the images with
    the most false objects and the most missed ones, by the evaluation's own counts."""
    return Galleries(
        worst=rows[:WORST],
        false_alarms=_most(rows, "false", "pred_objects"),
        misses=_most(rows, "missed", "true_objects"),
        totals={
            "images": len(rows),
            **{
                k: sum(r.counts.get(k, 0) for r in rows)
                for k in ("missed", "false", "split", "merged")
            },
        },
    )


def _most(rows: list[GalleryRow], count: str, then: str) -> list[GalleryRow]:
    """Up to :data:`FEW` rows with ``count`` > 0, most first (``then`` breaks ties)."""
    hit = [r for r in rows if r.counts.get(count, 0) > 0]
    return sorted(hit, key=lambda r: (-r.counts[count], -r.counts.get(then, 0)))[:FEW]


def _totals(rows: list[GalleryRow]) -> dict[str, int]:
    totals = {k: sum(r.counts[k] for r in rows) for k in ERROR_COUNTS}
    return {
        "images": len(rows),
        "with_false_alarms": sum(1 for r in rows if r.counts["false_alarms"]),
        "with_misses": sum(1 for r in rows if r.counts["misses"]),
        **totals,
    }


def _add_error_tile(
    row: GalleryRow,
    image: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    folder: Path,
    *,
    num_classes: int,
    thumb: int,
) -> None:
    """Append the whole image tinted by agreement, written beside the row's other tiles."""
    from seglab.core.zoom import Box, zoom_factor, zoom_view

    if any(label == "errors" for label, _ in row.tiles):
        return
    box = Box(0, 0, *truth.shape[:2])
    factor = min(1.0, zoom_factor(box, thumb))  # shrunk like the row's other tiles, never enlarged
    try:
        tile = zoom_view(image, truth, pred, box, factor=factor, num_classes=num_classes)
    except (DataError, ValueError) as exc:
        warnings.warn(f"report: no error tile for {row.key!r}: {exc}", RuntimeWarning, stacklevel=2)
        return
    stem = Path(row.tiles[0][1]).name.removesuffix(".image.jpg")
    row.tiles.append(("errors", write_tile(tile, folder / f"{stem}.errors.png")))


# -- the analysis of the best trial --------------------------------------------------------------


@dataclass(frozen=True)
class ErrorAnalysis:
    """The best model's evaluation (``summary``) and galleries; without them (``galleries``
    ``None``), ``note`` says why. ``fold_note``: which fold of a folds trial was evaluated."""

    note: str
    split: str
    instance: bool
    summary: dict[str, Any]
    galleries: Galleries | None
    classes: list[str]
    fold_note: str


def analyse_errors(
    run: TrialRun | None,
    files: RunFiles | None,
    config: DataConfig | None,
    *,
    why_not: str,
    data,
    split: str,
    refresh: bool,
    assets: Path,
    thumb: int,
) -> ErrorAnalysis:
    """Evaluate the best trial's run (``run``, its files read as ``files``) on ``split`` of
    ``config`` into ``assets/evaluation`` (:func:`evaluate_best`) and build its galleries
    (tiles in ``assets/thumbs``, written anew). Without a readable run or a dataset, an
    analysis whose note is ``why_not``."""
    thumbs = assets / "thumbs"
    shutil.rmtree(thumbs, ignore_errors=True)
    if files is None or run is None or config is None:
        note = why_not or "The dataset of the best trial is unknown; pass --data PATH."
        return ErrorAnalysis(note, split, False, {}, None, [], "")
    instance, classes = files.card.task == "instance", list(files.card.classes)
    evaluation, note = evaluate_best(run.run, assets, data=data, split=split, refresh=refresh)
    if evaluation is None:
        return ErrorAnalysis(note, split, instance, {}, None, classes, run.fold_note)
    summary = read_json(evaluation / "summary.json", what="the evaluation")
    if instance:
        lookup = truth_lookup(config, split, objects=True)
        galleries = object_galleries(instance_rows(evaluation, lookup, thumbs, thumb=thumb))
    else:
        galleries = mask_galleries(
            evaluation,
            truth_lookup(config, split),
            thumbs,
            num_classes=len(classes),
            class_names=classes,
            thumb=thumb,
        )
    return ErrorAnalysis("", split, instance, summary, galleries, classes, run.fold_note)


def evaluate_best(
    run: Path, assets: Path, *, data, split: str, refresh: bool
) -> tuple[Path | None, str]:
    """``assets/evaluation`` of ``run``, made or reused by the run report's rule
    (:func:`~seglab.report.assets.current_evaluation`) and, as the best trial changes while a
    study runs, only while it was made from this run; ``(None, why)`` when the run's model
    cannot be evaluated.

    Raises
    ------
    DataError, ConfigError
        ``data`` was given and cannot be evaluated.
    """
    kept = Assets.open(run, folder=assets)
    made_for = str(run.resolve())
    stale = kept.state.get("best_run") != made_for
    try:
        folder, note = current_evaluation(kept, data=data, split=split, refresh=refresh or stale)
    except (DataError, ConfigError) as exc:
        if data is not None:
            raise  # the dataset asked for cannot be evaluated: say so, not in the page
        return None, f"The best trial's model could not be evaluated: {exc}"
    if folder is not None:
        kept.remember("best_run", made_for)
    return folder, note


def error_context(analysis: ErrorAnalysis, link: Callable[[Path], str]) -> dict[str, Any]:
    """What the template's error analysis shows, as plain values (images linked by ``link``)."""
    g = analysis.galleries
    summary = analysis.summary
    return {
        "note": analysis.note,
        "split": analysis.split,
        "fold_note": analysis.fold_note,
        "instance": sections.instance_section(summary) if analysis.instance and g else None,
        "metrics": sections.metrics_table(summary, multiclass=len(analysis.classes) > 2),
        "eval": sections.evaluation_info(analysis.split, analysis.note, summary),
        "totals": g.totals if g else {},
        "worst": [gallery_row(r, link) for r in g.worst] if g else [],
        "false_alarms": [gallery_row(r, link) for r in g.false_alarms] if g else [],
        "misses": [gallery_row(r, link) for r in g.misses] if g else [],
    }
