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

>>> result = evaluate("runs/train", split="val", out="runs/train/evaluation")  # doctest: +SKIP
>>> result.summary["metrics"]["dice"]["mean"]  # doctest: +SKIP
0.91
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from seglab.config import DataConfig
from seglab.data.base import SegmentationSource
from seglab.errors import ConfigError, DataError
from seglab.evaluation.metrics import METRICS
from seglab.evaluation.scoring import score_mask, summarize, worst, write_csv

SPLITS = ("val", "train", "test", "all")


@dataclass
class EvaluationResult:
    """Per-image ``rows``, the ``summary`` (as in ``summary.json``) and the output folder."""

    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    out: Path | None = None


class _Entry(NamedTuple):
    source: SegmentationSource
    index: int
    key: str


def parse_empty_score(value: float | str) -> float:
    """``1``, ``0``, ``nan`` (or any score in [0, 1]) as a float; else :class:`ConfigError`."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        score = -1.0
    if not (math.isnan(score) or 0.0 <= score <= 1.0):
        raise ConfigError(f"empty_score must be 1, 0 or nan (a score in [0, 1]), got {value!r}")
    return score


def data_config(data: str | Path | DataConfig | None, run_dir: Path | None) -> DataConfig:
    """The dataset to score against: ``data`` read as the run was trained (its val fraction,
    seed, classes...), or the run's own dataset when ``data`` is None."""
    if isinstance(data, DataConfig):
        return data
    trained = None
    if run_dir is not None and (run_dir / "config.yaml").is_file():
        from seglab.config import load_config

        trained = load_config(run_dir / "config.yaml").data
    if data is None:
        if trained is None:
            raise ConfigError("give the labelled dataset to score against (data=..., --data)")
        return trained
    if trained is None:
        return DataConfig(path=Path(data))
    places = {"path": Path(data), "annotations": None, "images": None, "masks": None}
    return trained.model_copy(update=places)


def open_sources(config: DataConfig, split: str) -> list[tuple[str, SegmentationSource]]:
    """The labelled split(s) to score: one of ``train``, ``val``, ``test`` (as in training:
    without a val folder, val is the run's seeded share of train), or ``all`` of them."""
    from seglab.data.dataset import open_dataset, open_split
    from seglab.data.layout import discover

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    where = config.path or config.images or config.annotations
    if split == "all":
        specs = discover(
            config.path, annotations=config.annotations, images=config.images, masks=config.masks
        )
        named = [(n, open_split(s, config)) for n, s in specs.items() if s.kind != "images"]
    else:
        named = [(split, open_dataset(config, split=split))]
    named = [(n, s) for n, s in named if s.labelled]
    if not named:
        raise DataError(f"no labelled {split!r} images to score against", path=where)
    classes = named[0][1].classes
    for name, source in named[1:]:
        if source.classes != classes:
            raise DataError(
                f"split {name!r} has classes {source.classes}, {named[0][0]!r} has {classes}; "
                "evaluate one split at a time",
                path=where,
            )
    return named


def _entries(named: list[tuple[str, SegmentationSource]]) -> list[_Entry]:
    prefix = len(named) > 1  # keys of several splits may collide: "train/0001", "val/0001"
    return [
        _Entry(source, i, f"{name}/{item.key}" if prefix else item.key)
        for name, source in named
        for i, item in enumerate(source.items)
    ]


def _scored_classes(data_classes: list[str], model_classes: list[str] | None) -> int:
    if model_classes is None or len(model_classes) == len(data_classes):
        return len(data_classes)
    if min(len(model_classes), len(data_classes)) <= 2:
        warnings.warn(
            f"the model has {len(model_classes)} classes and the dataset {len(data_classes)}: "
            "scored as foreground (any class) vs background",
            RuntimeWarning,
            stacklevel=3,
        )
        return 2
    raise DataError(
        f"the model predicts {len(model_classes)} classes ({', '.join(model_classes)}) but the "
        f"dataset has {len(data_classes)} ({', '.join(data_classes)}); score it on its own data"
    )


def _chunks(entries: list[_Entry], size: int) -> Iterator[list[_Entry]]:
    for start in range(0, len(entries), max(1, size)):
        yield entries[start : start + max(1, size)]


def _skip(entry: _Entry, exc: DataError, skipped: list[str]) -> None:
    warnings.warn(f"skipped: {exc}", RuntimeWarning, stacklevel=3)
    skipped.append(exc.path or str(entry.source.items[entry.index].image_path))


def _model_masks(model, entries, skipped, *, threshold, progress, options):
    """``(entry, target, predicted mask)`` of every readable image, predicted in chunks of
    a few batches (images of one size share a batch), so memory stays bounded."""
    for chunk in _chunks(entries, 4 * options["batch_size"]):
        loaded = []
        for entry in chunk:
            try:
                image, target = entry.source.load(entry.index)
            except DataError as exc:
                _skip(entry, exc, skipped)
                progress(1)
                continue
            loaded.append((entry, image, target))
        images = [image for _, image, _ in loaded]
        probs = model.predict_proba_batch(images, **options) if images else []
        for (entry, _, target), p in zip(loaded, probs, strict=True):
            progress(1)
            yield entry, target, model.to_mask(p, threshold=threshold)


def _file_masks(pred: Path, entries, classes, skipped, missing, progress):
    """``(entry, target, predicted mask)`` of every image, predictions read from ``pred``."""
    from seglab.predict.formats import prediction_decoders
    from seglab.predict.matching import match_keys

    ids = {e.source.items[e.index].image_id: e.key for e in entries}
    ids.pop(None, None)  # mask folders have no image ids
    decoders = prediction_decoders(pred, classes=classes, image_ids=ids)
    match = match_keys([e.key for e in entries], list(decoders))
    for key, found in match.ambiguous.items():
        warnings.warn(
            f"{pred}: several predictions fit {key!r} ({', '.join(found[:5])}); rename them so "
            "each matches one image (scored as missing)",
            RuntimeWarning,
            stacklevel=3,
        )
    missing.extend(k for k in (e.key for e in entries) if k not in match.matched)
    for entry in entries:
        progress(1)
        try:
            target = entry.source.load_mask(entry.index)
            if entry.key not in match.matched:
                yield entry, target, np.zeros(target.shape, np.int64)
                continue
            mask = decoders[match.matched[entry.key]](target.shape)
        except DataError as exc:
            if not pred.is_dir() and exc.path == str(pred):
                raise  # a malformed prediction file: fix the file, don't score half of it
            _skip(entry, exc, skipped)
            continue
        if mask.shape != target.shape:
            item = entry.source.items[entry.index]
            exc = DataError(
                f"its prediction {match.matched[entry.key]!r} in {pred} is "
                f"{mask.shape[1]}x{mask.shape[0]} but the image is "
                f"{target.shape[1]}x{target.shape[0]} (width x height)",
                path=item.image_path,
            )
            _skip(entry, exc, skipped)
            continue
        yield entry, target, mask


def _row(
    entry: _Entry, scores: dict[str, float], classes: list[str], multiclass: bool, shares: dict
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


def _stats(rows: list[dict], columns: dict[str, str]) -> dict[str, dict[str, float]]:
    """``{metric: {mean, median, std, min, max}}`` over rows for ``{metric: column}``."""
    keyed = [{m: r[c] for m, c in columns.items()} for r in rows]
    summary = summarize(keyed, metrics=list(columns))
    return {m: summary[m] for m in columns}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def evaluate(
    model: str | Path | None = None,
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
    ``tile``, ``overlap``, ``batch_size``, ``backend``, ``device`` are the prediction's options.
    ``empty_score``: the score of an image where both truth and prediction are empty (module
    docstring). With ``out``, writes ``scores.csv``, ``summary.json`` and (with a model)
    ``masks/``; a non-empty ``out`` needs ``overwrite``.

    Raises
    ------
    ConfigError
        Neither or both of ``model`` and ``pred``, no dataset, a bad option.
    DataError
        The dataset or split cannot be opened, the prediction file is malformed (naming the
        file and the line or entry), or the model's classes do not fit the dataset's.
    """
    if (model is None) == (pred is None):
        raise ConfigError("give exactly one of model (a run folder) and pred (predictions)")
    empty = parse_empty_score(empty_score)
    loaded = None
    if model is not None:
        from seglab.predict import load_model

        loaded = load_model(model, device=device, backend=backend, resize=resize)
    config = data_config(data, loaded.run_dir if loaded is not None else None)
    named = open_sources(config, split)
    classes = list(named[0][1].classes)
    num_classes = _scored_classes(classes, loaded.classes if loaded is not None else None)
    entries = _entries(named)
    if out is not None:
        from seglab.data.preview import prepare_out

        out = prepare_out(Path(out), overwrite, what="evaluation")
    skipped: list[str] = []
    missing: list[str] = []
    start = time.perf_counter()
    from seglab.predict.run import progress_bar

    with progress_bar(len(entries), progress, "evaluating") as advance:
        if loaded is not None:
            pairs = _model_masks(
                loaded,
                entries,
                skipped,
                threshold=threshold,
                progress=advance,
                options={"tta": tta, "tile": tile, "overlap": overlap, "batch_size": batch_size},
            )
        else:
            pairs = _file_masks(Path(pred), entries, classes, skipped, missing, advance)
        rows = _score_all(pairs, classes, num_classes, empty, out, loaded)
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        warnings.warn(
            f"{pred}: no prediction for {len(missing)} image(s), scored as empty predictions: "
            f"{shown}",
            RuntimeWarning,
            stacklevel=2,
        )
    summary = _summary(rows, classes, num_classes, worst_k=worst)
    summary = {
        **({"model": str(model)} if model is not None else {"pred": str(pred)}),
        "data": str(config.path or config.images or config.annotations),
        "split": split,
        "classes": classes,
        "images": len(rows),
        "skipped": skipped,
        "missing": missing,
        "empty_score": empty,
        "threshold": (loaded.threshold if threshold is None else threshold) if loaded else None,
        "tta": tta if loaded else None,
        "tile": tile if loaded else None,
        "resize": loaded.resize if loaded else None,
        "backend": loaded.backend if loaded else None,
        "seconds": round(time.perf_counter() - start, 2),
        **summary,
    }
    if out is not None:
        write_csv(rows, out / "scores.csv")
        text = json.dumps(_json_safe(summary), indent=1, default=str)
        (out / "summary.json").write_text(text + "\n", encoding="utf-8")
    return EvaluationResult(rows=rows, summary=summary, out=out)


def _score_all(pairs, classes, num_classes, empty, out, loaded) -> list[dict[str, Any]]:
    from seglab.data.preview import safe_name, unique_name
    from seglab.io import write_mask

    multiclass = num_classes > 2
    rows, used = [], set()
    for entry, target, mask in pairs:
        scores = score_mask(mask, target, num_classes=num_classes, empty_score=empty)
        valid = target != 255
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
            write_mask(out / written, (mask != 0).astype(np.uint8) * 255 if binary else mask)
            row["pred"] = written.as_posix()
        rows.append(row)
    return rows


def _summary(rows: list[dict], classes: list[str], num_classes: int, *, worst_k: int) -> dict:
    metrics = _stats(rows, {m: m for m in METRICS})
    if num_classes > 2:
        per_class = {
            classes[c]: _stats(rows, {m: f"{m}/{classes[c]}" for m in METRICS})
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
