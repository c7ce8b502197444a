"""The prediction side of an evaluation: masks predicted by a run, or read from a prediction
file (a folder of masks, a run-length CSV, COCO results), paired with each image's truth."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seglab.errors import DataError
from seglab.evaluation.sources import Entry
from seglab.predict.options import PredictOptions

if TYPE_CHECKING:
    from seglab.predict.ensemble import EnsembleModel
    from seglab.predict.model import LoadedModel


def chunked(entries: list[Entry], size: int) -> Iterator[list[Entry]]:
    """``entries`` in lists of ``size`` (at least 1), in order."""
    for start in range(0, len(entries), max(1, size)):
        yield entries[start : start + max(1, size)]


def skip_entry(entry: Entry, exc: DataError, skipped: list[str]) -> None:
    """Warn that ``entry`` is left out because of ``exc`` and list its file in ``skipped``."""
    warnings.warn(f"skipped: {exc}", RuntimeWarning, stacklevel=3)
    skipped.append(exc.path or str(entry.source.items[entry.index].image_path))


def model_masks(
    model: LoadedModel | EnsembleModel,
    entries: list[Entry],
    skipped: list[str],
    *,
    options: PredictOptions,
    progress: Callable[[int], None],
) -> Iterator[tuple[Entry, np.ndarray, np.ndarray]]:
    """``(entry, target, predicted mask)`` of every readable image, predicted in chunks of
    a few batches (images of one size share a batch), so memory stays bounded; unreadable
    images are listed in ``skipped``."""
    for chunk in chunked(entries, 4 * options.batch_size):
        loaded = []
        for entry in chunk:
            try:
                image, target = entry.source.load(entry.index)
            except DataError as exc:
                skip_entry(entry, exc, skipped)
                progress(1)
                continue
            loaded.append((entry, image, target))
        images = [image for _, image, _ in loaded]
        probs = model.predict_proba_batch(images, **options.batch_options()) if images else []
        for (entry, _, target), p in zip(loaded, probs, strict=True):
            progress(1)
            yield entry, target, model.to_mask(p, threshold=options.threshold)


def file_masks(
    pred: Path,
    entries: list[Entry],
    classes: list[str],
    skipped: list[str],
    missing: list[str],
    progress: Callable[[int], None],
) -> Iterator[tuple[Entry, np.ndarray, np.ndarray]]:
    """``(entry, target, predicted mask)`` of every image, predictions read from ``pred``;
    unreadable images are listed in ``skipped``, images without a prediction in ``missing``
    (and scored as empty predictions)."""
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
            skip_entry(entry, exc, skipped)
            continue
        if mask.shape != target.shape:
            item = entry.source.items[entry.index]
            exc = DataError(
                f"its prediction {match.matched[entry.key]!r} in {pred} is "
                f"{mask.shape[1]}x{mask.shape[0]} but the image is "
                f"{target.shape[1]}x{target.shape[0]} (width x height)",
                path=item.image_path,
            )
            skip_entry(entry, exc, skipped)
            continue
        yield entry, target, mask
