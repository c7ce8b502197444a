"""An instance run's cut, chosen when training ends: the thresholds that turn the best model's
outputs into objects, chosen by the DSB-2018 mean AP on training images (the val images stay
unseen by every choice) and stored in ``model.json``'s ``instance``.

The images are predicted once; then one threshold after the other is chosen from a short list,
the others held (a dozen cuts per image instead of every combination):

* ``border``: the seed threshold, the foreground threshold, the smallest object kept;
* ``maskrcnn``: the detection score, the mask threshold, the smallest object kept.

The choice is bounded in time (:data:`MAX_SECONDS`, and a share of a time limit), since a
run's budget is nearly spent when it comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from seglab.data.base import SegmentationSource
from seglab.errors import DataError

AXES = {
    "border": (("seed", (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)), ("foreground", (0.3, 0.4, 0.5, 0.6, 0.7))),
    "maskrcnn": (
        ("score", (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)),
        ("mask_threshold", (0.3, 0.4, 0.5, 0.6)),
    ),
}
"""Each method's thresholds, in the order they are chosen, and the values tried."""
LOWEST_SCORE = 0.05
"""Mask R-CNN's detections are kept from this score up once, then cut at each score tried."""
MAX_IMAGES = 24
MAX_SECONDS = 30.0
BUDGET_SHARE = 0.05
"""At most this share of a run's time limit goes to the choice (and :data:`MAX_SECONDS`)."""


def choose_cut(
    run_dir: Path,
    source: SegmentationSource,
    *,
    seed: int = 0,
    time_limit: float | None = None,
) -> dict[str, Any] | None:
    """Choose the cut of the instance run in ``run_dir`` on up to :data:`MAX_IMAGES` images of
    ``source`` (a seeded choice) and write it to its ``model.json``; returns the chosen
    thresholds with ``images``, ``dsb_map`` and ``dsb_map_default`` (at the card's defaults),
    or ``None`` when the run has no model yet."""
    from seglab.predict.instances import load_instance_model

    if not (run_dir / "model.json").is_file() or not (run_dir / "model.safetensors").is_file():
        return None
    model = load_instance_model(run_dir, backend="torch")  # no ONNX export for a few images
    if len(source) == 0:
        return None
    seconds = cut_reserve(time_limit)
    deadline = time.perf_counter() + seconds
    spec = model.card.instance
    outputs, truths = _predicted(model, source, seed=seed, seconds=seconds / 2)
    if not outputs:
        return None
    cut = _cutter(model)
    axes = (*AXES[spec.method], ("min_area", _min_areas(truths)))

    def score(settings) -> float:
        return _score(outputs, truths, lambda out: cut(out, settings))

    default = score(spec)
    best, best_score = spec, default
    for name, values in axes:
        for value in values:
            if time.perf_counter() > deadline:  # what is chosen so far stands
                break
            trial = replace(best, **{name: value})
            value_score = score(trial)
            if value_score > best_score + 1e-9:
                best, best_score = trial, value_score
    replace(model.card, instance=best).write(run_dir / "model.json")
    chosen = {name: getattr(best, name) for name, _ in axes}
    return {
        **chosen,
        "images": len(outputs),
        "dsb_map": round(best_score, 4),
        "dsb_map_default": round(default, 4),
    }


def cut_reserve(time_limit: float | None) -> float:
    """Seconds the cut's choice may take: :data:`MAX_SECONDS`, at most :data:`BUDGET_SHARE`
    of a time limit (a time-driven instance run ends its training this much earlier)."""
    return min(MAX_SECONDS, BUDGET_SHARE * time_limit) if time_limit else MAX_SECONDS


def _predicted(model, source: SegmentationSource, *, seed: int, seconds: float):
    """The model's raw outputs (:func:`_raw`) and the true label images of seeded training
    images, as many as ``seconds`` allow (at least one)."""
    order = np.random.default_rng(seed).permutation(len(source))[:MAX_IMAGES]
    outputs, truths = [], []
    start = time.perf_counter()
    for index in order.tolist():
        if outputs and time.perf_counter() - start > seconds:
            break
        try:
            image = source.load_image(index)
            truth = source.instance_labels(index)
        except DataError:  # an unreadable image was warned about in training
            continue
        outputs.append(_raw(model, image))
        truths.append(truth.labels)
    return outputs, truths


def _raw(model, image: np.ndarray):
    """What a cut starts from: a border model's probabilities; Mask R-CNN's detections from
    :data:`LOWEST_SCORE` up, with the prepared and the image's sizes."""
    from seglab.predict.instances import BorderModel

    if isinstance(model, BorderModel):
        return model.loaded.predict_proba(image)
    from seglab.predict.instance_tiling import detect_images

    prepared = model.prepare(image)
    spec = model.card.instance
    model.card = replace(model.card, instance=replace(spec, score=LOWEST_SCORE))
    try:
        found = detect_images(
            model.detect, [prepared], tile=None, overlap=0.25, batch_size=1, min_score=LOWEST_SCORE
        )[0]
    finally:
        model.card = replace(model.card, instance=spec)
    return found, prepared.shape[1:], image.shape[:2]


def _cutter(model) -> Callable[[Any, Any], np.ndarray]:
    """``(raw output, instance settings) -> label image`` for the model's method."""
    from seglab.predict.instances import BorderModel

    if isinstance(model, BorderModel):
        from seglab.transforms.instances import CutSettings, cut_instances

        def cut_border(probs, spec) -> np.ndarray:
            settings = CutSettings(spec.foreground, spec.seed, spec.min_area)
            return cut_instances(probs, settings).labels

        return cut_border
    from seglab.predict.instance_tiling import paint_detections

    def cut_detections(raw, spec) -> np.ndarray:
        found, source, size = raw
        keep = found.scores >= spec.score
        kept = replace(
            found,
            boxes=found.boxes[keep],
            scores=found.scores[keep],
            classes=found.classes[keep],
            crops=tuple(c for c, k in zip(found.crops, keep, strict=True) if k),
            origins=found.origins[keep],
        )
        return paint_detections(
            kept, source, size, mask_threshold=spec.mask_threshold, min_area=spec.min_area
        ).labels

    return cut_detections


def _min_areas(truths) -> list[int]:
    """Smallest objects to try keeping: none, and fractions of the small true objects."""
    areas = np.concatenate([np.bincount(t.ravel())[1:] for t in truths] or [np.zeros(0)])
    areas = areas[areas > 0]
    if not len(areas):
        return [0]
    small = float(np.percentile(areas, 5))
    return sorted({0, *(max(1, int(small * f)) for f in (0.25, 0.5))})


def _score(outputs, truths, cut: Callable[[Any], np.ndarray]) -> float:
    """Mean DSB-2018 mean AP of ``cut`` over the images."""
    from seglab.evaluation.instance_metrics import dsb_mean_ap, overlaps

    return float(
        np.mean(
            [
                dsb_mean_ap(overlaps(truth, cut(out)))
                for out, truth in zip(outputs, truths, strict=True)
            ]
        )
    )
