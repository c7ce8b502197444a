"""``seglab evaluate`` for objects: an instance run, or instance prediction files, against a
labelled split.

:func:`seglab.evaluation.run.evaluate` hands over here when the run's card says ``task:
instance`` or the predictions hold objects
(:func:`seglab.evaluation.instance_predictions.is_instance_prediction`). The true objects are
the dataset's :meth:`~seglab.data.base.SegmentationSource.instance_labels` (crowd regions left
out, as in training). Per image: :func:`seglab.evaluation.instance_scoring.score_instances`;
over the split: COCO mask and box AP (:class:`~seglab.evaluation.instance_scoring.CocoSplit`),
with the dataset's category ids (a COCO dataset's own, else class indices). Label images carry
no class, so on a multiclass dataset they are scored class-agnostic (every object one
category), as is a binary model on a multiclass dataset or the other way round.

Files (with ``out``): ``scores.csv`` (one row per image: the scores and counts, ``image_path``,
``pred``), ``summary.json`` (the statistics of each score, the summed counts, the COCO AP, the
worst images by ``dsb_map``) and, with a model, ``labels/NAME.png`` (16-bit label images).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.config import DataConfig
from seglab.evaluation.instance_predictions import (
    Pair,
    file_instances,
    is_instance_prediction,
    model_instances,
)
from seglab.evaluation.instance_scoring import CocoSplit, instance_summary, score_instances
from seglab.evaluation.scoring import EvaluationResult, json_safe, write_csv
from seglab.evaluation.sources import (
    Entry,
    data_config,
    entries,
    open_sources,
    scored_classes,
)
from seglab.predict.options import PredictOptions

if TYPE_CHECKING:
    from seglab.data.base import SegmentationSource

MAX_DETS = 1000
"""Detections per image COCO AP counts: crowded images (nuclei) hold hundreds of objects."""


def is_instance_task(model: Any, pred: str | Path | None) -> bool:
    """Whether ``evaluate`` scores objects: ``model`` is an instance run, or ``pred`` holds
    objects. A run that cannot be read, and an ensemble (several runs, a folds run), count as
    semantic: their loader says what is wrong."""
    from seglab.errors import DataError
    from seglab.predict.ensemble import is_ensemble
    from seglab.predict.instances import is_instance_run

    if model is not None and is_ensemble(model):
        return False  # an ensemble is semantic: its loader refuses instance runs, naming them
    if model is not None:
        try:
            return is_instance_run(model)
        except DataError:
            return False
    return pred is not None and is_instance_prediction(pred)


@dataclass(frozen=True)
class Categories:
    """How classes become COCO categories: the category ``records`` of the truth, the id of
    each class 1..K of the truth (``truth_ids``) and of the predictions (``pred_ids``),
    ``index`` (a prediction file's category id -> class index) and ``kind`` (``dataset ids``,
    ``class indices`` or ``class-agnostic``)."""

    records: list[dict[str, Any]]
    truth_ids: list[Any]
    pred_ids: list[Any]
    index: dict[Any, int]
    kind: str


def categories(
    source: SegmentationSource, *, model_classes: list[str] | None, label_files: bool
) -> Categories:
    """The :class:`Categories` of ``source``'s classes against a model with ``model_classes``
    (``None``: prediction files) or label files (``label_files``: no class of their own)."""
    from seglab.data.coco import CocoSource

    classes = list(source.classes)
    count = max(len(classes) - 1, 1)
    if isinstance(source, CocoSource):
        by_index = {index: cid for cid, index in source.category_index.items()}
        ids, kind = [by_index[c] for c in range(1, count + 1)], "dataset ids"
    else:
        ids, kind = list(range(1, count + 1)), "class indices"
    index = {cid: c for c, cid in enumerate(ids, start=1)}
    differ = model_classes is not None and len(model_classes) != len(classes)
    if differ or (label_files and count > 1):
        predicted = max(len(model_classes) - 1, 1) if model_classes else 1
        return Categories(
            [{"id": 1, "name": "object"}], [1] * count, [1] * predicted, index, "class-agnostic"
        )
    names = [classes[c] if c < len(classes) else "object" for c in range(1, count + 1)]
    records = [{"id": cid, "name": name} for cid, name in zip(ids, names, strict=True)]
    return Categories(records, ids, list(ids), index, kind)


def evaluate_instances(
    model: str | Path | None,
    data: str | Path | DataConfig | None,
    *,
    pred: str | Path | None,
    split: str,
    out: str | Path | None,
    empty: float,
    worst_k: int,
    options: PredictOptions,
    backend: str,
    device: str | None,
    resize: str,
    overwrite: bool,
    progress: bool,
) -> EvaluationResult:
    """Score an instance run (``model``) or instance predictions (``pred``) on ``split`` of
    ``data``: what :func:`seglab.evaluation.run.evaluate` does for objects, with its
    arguments already checked (``empty``: the empty-vs-empty score; ``worst_k``: how many
    worst images the summary lists).

    Raises
    ------
    DataError
        The dataset or split cannot be opened, the run's classes do not fit the dataset's, or
        the prediction JSON is malformed (naming the entry and field).
    """
    loaded = _load(model, options, device=device, backend=backend, resize=resize)
    config = data_config(data, loaded.run_dir if loaded is not None else None)
    named = open_sources(config, split)
    classes = list(named[0][1].classes)
    model_classes = list(loaded.classes) if loaded is not None else None
    if model_classes is not None:
        scored_classes(classes, model_classes)  # a misfit raises; binary vs multiclass warns
    label_files = pred is not None and Path(pred).is_dir()
    cats = categories(named[0][1], model_classes=model_classes, label_files=label_files)
    images = entries(named)
    if out is not None:
        from seglab.core.files import prepare_out

        out = prepare_out(Path(out), overwrite, what="evaluation")
    start = time.perf_counter()
    job = _Job(loaded, Path(pred) if pred is not None else None, cats, options, empty, out)
    coco = CocoSplit(cats.records, cats.truth_ids, cats.pred_ids)
    rows, skipped, missing = _score_all(job, images, coco, progress)
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        warnings.warn(
            f"{pred}: no prediction for {len(missing)} image(s), scored as predicting no "
            f"object: {shown}",
            RuntimeWarning,
            stacklevel=3,
        )
    summary = {
        **({"model": str(model)} if model is not None else {"pred": str(pred)}),
        "task": "instance",
        "data": str(config.path or config.images or config.annotations),
        "split": split,
        "classes": classes,
        "images": len(rows),
        "skipped": skipped,
        "missing": missing,
        **_how(job),
        "seconds": round(time.perf_counter() - start, 2),
        "coco": {**coco.scores(max_dets=MAX_DETS), "categories": cats.kind, "max_dets": MAX_DETS},
        **instance_summary(rows, worst_k=worst_k),
    }
    if out is not None:
        write_csv(rows, out / "scores.csv")
        text = json.dumps(json_safe(summary), indent=1, default=str)
        (out / "summary.json").write_text(text + "\n", encoding="utf-8")
    return EvaluationResult(rows=rows, summary=summary, out=out)


def _load(model: str | Path | None, options: PredictOptions, **how: Any) -> Any:
    """The instance model of the run ``model`` (``None`` without one); ``how``: ``device``,
    ``backend``, ``resize``."""
    if model is None:
        return None
    from seglab.predict.instances import load_instance_model

    if options.threshold is not None:
        warnings.warn(
            "--threshold is not used for an instance run: its objects are cut as its "
            "model.json's 'instance' settings say",
            RuntimeWarning,
            stacklevel=4,  # the caller of evaluate
        )
    return load_instance_model(model, **how)


def _how(job: _Job) -> dict[str, Any]:
    """How the objects were predicted (``None`` for prediction files) and how empty images
    count: ``summary.json``'s fields beside the semantic evaluation's."""
    loaded, options = job.loaded, job.options
    spec = getattr(getattr(loaded, "card", None), "instance", None)
    return {
        "empty_score": job.empty,
        "threshold": None,
        "tta": options.tta if loaded else None,
        "tile": options.tile if loaded else None,
        "resize": loaded.resize if loaded else None,
        "backend": loaded.backend if loaded else None,
        "instance": spec.to_dict() if spec is not None else None,  # the card's cut settings
    }


@dataclass(frozen=True)
class _Job:
    """What one evaluation scores with: the instance model (``None``: the files ``pred``),
    the categories, the prediction options, the empty-vs-empty score and the output folder."""

    loaded: Any
    pred: Path | None
    cats: Categories
    options: PredictOptions
    empty: float
    out: Path | None


def _score_all(
    job: _Job, images: list[Entry], coco: CocoSplit, progress: bool
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Predict (or read) and score every image with a progress bar: the rows, the images
    skipped and those without a prediction. With a model and an output folder, each image's
    predicted objects are written to ``labels/``."""
    from seglab.core.files import safe_name, unique_name
    from seglab.core.progress import progress_bar
    from seglab.io import write_label_image

    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    missing: list[str] = []
    used: set[str] = set()
    with progress_bar(len(images), progress, "evaluating") as advance:
        if job.loaded is not None:
            pairs = model_instances(
                job.loaded, images, skipped, options=job.options, progress=advance
            )
        else:
            pairs = file_instances(job.pred, images, job.cats.index, skipped, missing, advance)
        for pair in pairs:
            row = _row(pair, job.empty)
            if job.out is not None and job.loaded is not None:
                written = Path("labels") / f"{unique_name(safe_name(pair.entry.key), used)}.png"
                write_label_image(job.out / written, pair.pred.labels)
                row["pred"] = written.as_posix()
            coco.add(pair.entry.key, pair.truth, pair.pred)
            rows.append(row)
    return rows, skipped, missing


def _row(pair: Pair, empty: float) -> dict[str, Any]:
    entry = pair.entry
    return {
        "image": entry.key,
        **score_instances(pair.truth, pair.pred, empty_score=empty),
        "image_path": str(entry.source.items[entry.index].image_path),
        "pred": "",
    }
