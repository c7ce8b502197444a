"""Scoring a trained run, or predictions made by anything, against a labelled dataset.

:func:`evaluate` predicts every image of a split with a run (``model``), or reads predictions
(``pred``: a folder of mask PNGs, the seed's run-length CSV or a COCO results JSON, see
:mod:`seglab.predict.formats`), and scores each image with
:func:`seglab.evaluation.scoring.score_mask`,
the code that scores classical methods too. So a network, ``seglab classical`` and another
tool's masks get the same numbers for the same masks.

Conventions (:mod:`seglab.evaluation.metrics`):

* Dice as the seed defines it: per image ``2|A∩B| / (|A|+|B|)``, and the dataset's Dice is the
  mean over images (not pooled over pixels); IoU, precision and recall likewise.
* Empty vs empty: an image with no object in the truth and none predicted has a 0/0 score;
  it counts as ``empty_score`` -- 1.0 by default (nothing there, nothing found: right), 0.0 to
  count such images as failures, ``nan`` to leave them out of the means (``--empty-score``).
* Multiclass: each class 1..K-1 is scored as a binary mask; an image's ``dice`` is the mean over
  classes, and ``dice/NAME`` each class's.
* A missing prediction (no file, row or entry for an image) is an empty prediction: it scores 0
  where the image has an object. Such images are listed in the summary's ``missing`` with a
  warning. (In COCO results an image where nothing was found has no entry either.)
* An image or mask that cannot be read is skipped with a warning naming it and listed in
  ``skipped``; ``seglab evaluate`` then exits with status 1.

Files (with ``out``): ``scores.csv`` (one row per image), ``summary.json`` (mean, median, std,
min, max of each metric, per class, the worst images) and, with a model, ``masks/NAME.png``
(0/255 binary, class indices multiclass).

Ensembles: several runs, or a folds run (``seglab train --folds``), are scored as one model,
the mean of their probabilities (:mod:`seglab.predict.ensemble`); ``summary.json`` lists the
``members``. The dataset is the runs' without their folds: ``val`` is the val split on disk
(:func:`seglab.evaluation.sources.ensemble_data_config`).

Objects: an instance run (its card's ``task`` is ``instance``) or instance predictions (a folder
of 16-bit label images, a COCO results JSON with one entry per object) are scored object by
object instead: DSB-2018 mean AP, AP at IoU 0.5 and 0.75, AJI, found/missed/false/split/merged
per image, and COCO mask and box AP over the split (:mod:`seglab.evaluation.instance_run`).

>>> result = evaluate("runs/train", split="val", out="runs/train/evaluation")  # doctest: +SKIP
>>> result.summary["metrics"]["dice"]["mean"]  # doctest: +SKIP
0.91
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seglab.config import DataConfig
from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError
from seglab.evaluation.instance_run import evaluate_instances, is_instance_task
from seglab.evaluation.metrics import METRICS
from seglab.evaluation.predictions import file_masks, model_masks
from seglab.evaluation.scoring import (
    EvaluationResult,
    json_safe,
    score_mask,
    stats,
    worst,
    write_csv,
)
from seglab.evaluation.sources import (
    SPLITS,
    Entry,
    data_config,
    ensemble_data_config,
    entries,
    open_sources,
    scored_classes,
)
from seglab.predict.ensemble import EnsembleModel, unwrap
from seglab.predict.instance_outputs import check_instance_options
from seglab.predict.options import PredictOptions

if TYPE_CHECKING:
    from seglab.predict.model import LoadedModel

__all__ = [
    "SPLITS",
    "EvaluationResult",
    "data_config",
    "error_counts",
    "evaluate",
    "open_sources",
    "parse_empty_score",
]


def parse_empty_score(value: float | str) -> float:
    """``1``, ``0``, ``nan`` (or any score in [0, 1]) as a float; else :class:`ConfigError`."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        score = -1.0
    if not (math.isnan(score) or 0.0 <= score <= 1.0):
        raise ConfigError(f"empty_score must be 1, 0 or nan (a score in [0, 1]), got {value!r}")
    return score


def _row(
    entry: Entry, scores: dict[str, float], classes: list[str], multiclass: bool, shares: dict
) -> dict:
    row: dict[str, Any] = {"image": entry.key}
    row.update({m: scores[m] for m in METRICS})
    if multiclass:
        for c in range(1, len(classes)):
            row.update({f"{m}/{classes[c]}": scores[f"{m}/{c}"] for m in METRICS})
    row.update(shares)
    row["image_path"] = str(entry.source.items[entry.index].image_path)
    row["pred"] = ""
    return row


def evaluate(
    model: str | Path | list[str | Path] | None = None,
    data: str | Path | DataConfig | None = None,
    *,
    pred: str | Path | None = None,
    split: str = "val",
    out: str | Path | None = None,
    empty_score: float | str = 1.0,
    worst: int = 10,
    threshold: float | None = None,
    tta: bool = False,
    tile: int | None = None,
    overlap: float = 0.25,
    batch_size: int = 8,
    crf: bool = False,
    crf_iterations: int = 5,
    backend: str = "auto",
    device: str | None = None,
    resize: str = "fit",
    overwrite: bool = False,
    progress: bool = False,
) -> EvaluationResult:
    """Score a run (``model``) or predictions (``pred``) on ``split`` of ``data``.

    ``data`` defaults to the run's dataset, read as in training, so ``val`` is the run's val
    split; ``split`` is ``val``, ``train``, ``test`` or ``all``. ``pred``: a folder of masks
    (0/255 or class indices), a run-length CSV or a COCO results JSON; its keys are matched to
    the dataset's forgivingly (exact, without extension, file stem). ``threshold``, ``tta``,
    ``tile``, ``overlap``, ``batch_size``, ``backend``, ``device`` are the prediction's options;
    ``crf`` refines a semantic run's probabilities with a dense CRF over each image
    (``crf_iterations`` mean-field steps, :mod:`seglab.models.crf`).
    ``empty_score``: the score of an image where both truth and prediction are empty (module
    docstring). With ``out``, writes ``scores.csv``, ``summary.json`` and (with a model)
    ``masks/``; a non-empty ``out`` needs ``overwrite``. An instance run or instance
    predictions are scored object by object (:func:`seglab.evaluation.instance_run.
    evaluate_instances`; ``labels/`` instead of ``masks/``). Several runs (a list) or a folds
    run are scored as their ensemble (module docstring).

    Raises
    ------
    ConfigError
        Neither or both of ``model`` and ``pred``, no dataset, a bad option (``crf`` with
        ``pred`` or an instance run), runs that cannot
        form an ensemble, or a folds run's ``val`` when its dataset has no val split on disk.
    DataError
        The dataset or split cannot be opened, the prediction file is malformed (naming the
        file and the line or entry), or the model's classes do not fit the dataset's.
    """
    if (model is None) == (pred is None):
        raise ConfigError("give exactly one of model (a run folder) and pred (predictions)")
    empty = parse_empty_score(empty_score)
    if isinstance(worst, bool) or not isinstance(worst, int) or worst < 0:
        raise ConfigError(f"--worst {worst!r}: expected a whole number of images, 0 or more")
    options = PredictOptions(  # checks them
        threshold, tta, tile, overlap, batch_size, crf=crf, crf_iterations=crf_iterations
    )
    if crf and pred is not None:
        raise ConfigError("--crf refines a model's probabilities: give a model, not --pred")
    model = unwrap(model) if model is not None else None
    if is_instance_task(model, pred):
        check_instance_options(threshold=None, crf=crf)  # instance_run checks the threshold
        return evaluate_instances(
            model,
            data,
            pred=pred,
            split=split,
            out=out,
            empty=empty,
            worst_k=worst,
            options=options,
            backend=backend,
            device=device,
            resize=resize,
            overwrite=overwrite,
            progress=progress,
        )
    loaded = None
    if model is not None:
        from seglab.predict.ensemble import load_model_or_ensemble

        loaded = load_model_or_ensemble(model, device=device, backend=backend, resize=resize)
    source = _Source(model, pred, loaded, options)
    scoring = _scoring(data, split, empty, out, overwrite, loaded)
    scored = _score(scoring, source, progress)
    if scored.missing:
        shown = ", ".join(scored.missing[:10]) + (" ..." if len(scored.missing) > 10 else "")
        warnings.warn(
            f"{pred}: no prediction for {len(scored.missing)} image(s), scored as empty "
            f"predictions: {shown}",
            RuntimeWarning,
            stacklevel=2,
        )
    summary = _summary(source, scoring, scored, worst_k=worst)
    if scoring.out is not None:
        write_csv(scored.rows, scoring.out / "scores.csv")
        text = json.dumps(json_safe(summary), indent=1, default=str)
        (scoring.out / "summary.json").write_text(text + "\n", encoding="utf-8")
    return EvaluationResult(rows=scored.rows, summary=summary, out=scoring.out)


# -- the steps of evaluate -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Source:
    """Where the predictions come from: a run (``loaded``, predicting with ``options``) or a
    prediction file ``pred``."""

    model: str | Path | list[str | Path] | None
    pred: str | Path | None
    loaded: LoadedModel | EnsembleModel | None
    options: PredictOptions


@dataclass(frozen=True)
class _Scoring:
    """What is scored: the images of ``split``, their classes, how an empty image counts, and
    the output folder (``None``: nothing written)."""

    config: DataConfig
    split: str
    entries: list[Entry]
    classes: list[str]
    num_classes: int
    empty: float
    out: Path | None


@dataclass(frozen=True)
class _Scored:
    """The per-image rows, the images skipped and those without a prediction, and when the
    scoring started."""

    rows: list[dict[str, Any]]
    skipped: list[str]
    missing: list[str]
    start: float


def _scoring(data, split: str, empty: float, out, overwrite: bool, loaded) -> _Scoring:
    """The dataset and split to score against, its images, and the output folder made ready."""
    if isinstance(loaded, EnsembleModel):
        config = ensemble_data_config(data, loaded.runs, loaded.config_dir, split)
    else:
        config = data_config(data, loaded.run_dir if loaded is not None else None)
    named = open_sources(config, split)
    classes = list(named[0][1].classes)
    num_classes = scored_classes(classes, loaded.classes if loaded is not None else None)
    images = entries(named)
    if out is not None:
        from seglab.core.files import prepare_out

        out = prepare_out(Path(out), overwrite, what="evaluation")
    return _Scoring(config, split, images, classes, num_classes, empty, out)


def _score(scoring: _Scoring, source: _Source, progress: bool) -> _Scored:
    """Predict (or read) and score every image, with a progress bar."""
    from seglab.core.progress import progress_bar

    skipped: list[str] = []
    missing: list[str] = []
    start = time.perf_counter()
    with progress_bar(len(scoring.entries), progress, "evaluating") as advance:
        if source.loaded is not None:
            pairs = model_masks(
                source.loaded,
                scoring.entries,
                skipped,
                options=source.options,
                progress=advance,
            )
        else:
            pairs = file_masks(
                Path(source.pred), scoring.entries, scoring.classes, skipped, missing, advance
            )
        rows = _score_all(pairs, scoring, source.loaded)
    return _Scored(rows, skipped, missing, start)


def _score_all(
    pairs, scoring: _Scoring, loaded: LoadedModel | EnsembleModel | None
) -> list[dict[str, Any]]:
    """One row per ``(entry, target, mask)``: the scores, the foreground shares and, with a
    model and an output folder, the predicted mask written to ``masks/``."""
    from seglab.core.files import safe_name, unique_name
    from seglab.io import write_class_mask

    classes, num_classes, out = scoring.classes, scoring.num_classes, scoring.out
    multiclass = num_classes > 2
    rows, used = [], set()
    for entry, target, mask in pairs:
        scores = score_mask(mask, target, num_classes=num_classes, empty_score=scoring.empty)
        valid = target != IGNORE_INDEX
        pixels = max(int(np.count_nonzero(valid)), 1)
        shares = {  # foreground share of the (not ignored) pixels
            "truth_fraction": np.count_nonzero((target != 0) & valid) / pixels,
            "pred_fraction": np.count_nonzero((mask != 0) & valid) / pixels,
        }
        row = _row(entry, scores, classes, multiclass, shares)
        if out is not None and loaded is not None:
            name = unique_name(safe_name(entry.key), used)
            written = Path("masks") / f"{name}.png"
            binary = len(loaded.classes) <= 2
            write_class_mask(out / written, mask, binary=binary)
            row["pred"] = written.as_posix()
        rows.append(row)
    return rows


def _summary(source: _Source, scoring: _Scoring, scored: _Scored, *, worst_k: int) -> dict:
    """``summary.json``: what was scored against what and how, then the metrics."""
    metrics = _metric_summary(scored.rows, scoring.classes, scoring.num_classes, worst_k=worst_k)
    config, loaded, options = scoring.config, source.loaded, source.options
    if isinstance(loaded, EnsembleModel):
        scored_from = {"model": loaded.name, "members": [str(run) for run in loaded.runs]}
    elif source.model is not None:
        scored_from = {"model": str(source.model)}
    else:
        scored_from = {"pred": str(source.pred)}
    threshold = options.threshold
    return {
        **scored_from,
        "data": str(config.path or config.images or config.annotations),
        "split": scoring.split,
        "classes": scoring.classes,
        "images": len(scored.rows),
        "skipped": scored.skipped,
        "missing": scored.missing,
        "empty_score": scoring.empty,
        "threshold": (loaded.threshold if threshold is None else threshold) if loaded else None,
        "tta": options.tta if loaded else None,
        "tile": options.tile if loaded else None,
        # only with --crf: an evaluation without it writes the summary it always wrote
        **({"crf": options.crf_options} if options.crf else {}),
        "resize": loaded.resize if loaded else None,
        "backend": loaded.backend if loaded else None,
        "seconds": round(time.perf_counter() - scored.start, 2),
        **metrics,
    }


def _metric_summary(
    rows: list[dict], classes: list[str], num_classes: int, *, worst_k: int
) -> dict:
    """The statistics of each metric, overall and per class, the error counts and the worst
    images."""
    metrics = stats(rows, {m: m for m in METRICS})
    if num_classes > 2:
        per_class = {
            classes[c]: stats(rows, {m: f"{m}/{classes[c]}" for m in METRICS})
            for c in range(1, len(classes))
        }
    else:
        per_class = {classes[1] if len(classes) > 1 else "foreground": metrics}
    chosen = worst(rows, worst_k) if rows and worst_k > 0 else []
    return {
        "metrics": metrics,
        "per_class": per_class,
        "errors": error_counts(rows),
        "worst": chosen,
    }


def error_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How the images went wrong: ``false_alarms`` (nothing in the truth, something predicted),
    ``missed`` (objects in the truth, nothing predicted), ``below_half`` (Dice < 0.5) and
    ``perfect_empty`` (nothing in either)."""
    truth = [r.get("truth_fraction", math.nan) for r in rows]
    pred = [r.get("pred_fraction", math.nan) for r in rows]
    pairs = list(zip(truth, pred, strict=True))
    return {
        "false_alarms": sum(1 for t, p in pairs if t == 0 and p > 0),
        "missed": sum(1 for t, p in pairs if t > 0 and p == 0),
        "perfect_empty": sum(1 for t, p in pairs if t == 0 and p == 0),
        "below_half": sum(1 for r in rows if r["dice"] < 0.5),
    }
