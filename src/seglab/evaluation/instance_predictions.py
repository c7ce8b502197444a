"""The prediction side of an instance evaluation: objects predicted by an instance run, or read
from prediction files, paired with each image's true objects.

Instance prediction files (what ``seglab predict`` writes for an instance run):

* a folder of **label images**: 16-bit grey PNGs (any format :func:`seglab.io.read_mask`
  reads), 0 the background and each object its own id; keyed by their path relative to the
  folder without extension, as mask folders are. They hold no class and no score: every object
  is of class 1 with score 1.0.
* a **COCO results JSON** with one entry per object: ``image_id`` (or ``file_name``),
  ``category_id`` (the dataset's category id: a COCO dataset's own ids, else the class index),
  ``segmentation`` (RLE or polygons) and ``score`` (1.0 when absent). Where objects overlap,
  the higher score keeps the pixel.

:func:`is_instance_prediction` tells these from semantic predictions: a folder whose first
mask is 16-bit, or a JSON where some entry has a ``bbox`` or an image has two entries of one
category (semantic results hold one entry per image and class).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from seglab.core.labels import InstanceLabels, empty_labels, from_label_image, paint_labels
from seglab.errors import DataError
from seglab.evaluation.predictions import chunked, skip_entry
from seglab.evaluation.sources import Entry
from seglab.predict.options import PredictOptions

LABEL_BITS = 16
"""The bit depth that tells a label image from a class mask (Cellpose, StarDist and
:func:`seglab.io.write_label_image` write 16-bit PNGs, class masks are 8-bit)."""


class Pair(NamedTuple):
    """One scored image: its entry, its true objects and the predicted ones."""

    entry: Entry
    truth: InstanceLabels
    pred: InstanceLabels


class PredictedObject(NamedTuple):
    """One object of a COCO results JSON: its score, class index, segmentation and where it
    is in the file (for messages)."""

    score: float
    class_index: int
    segmentation: Any
    where: str


def is_instance_prediction(pred: str | Path) -> bool:
    """Whether the prediction folder or file ``pred`` holds objects (see the module
    docstring); ``False`` for what is not there or not readable (the semantic reader then
    says what is wrong with it)."""
    pred = Path(pred)
    if pred.is_dir():
        return _label_folder(pred)
    if pred.is_file() and pred.suffix.lower() == ".json":
        try:
            data = json.loads(pred.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return False
        return isinstance(data, list) and _several_per_image(data)
    return False


def _label_folder(folder: Path) -> bool:
    from seglab.io import is_image_file, read_mask

    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))
    for file in files[:3]:  # the first readable file decides; a broken one is reported later
        try:
            raw, meta = read_mask(file)
        except DataError:
            continue
        return raw.ndim == 2 and meta.bit_depth >= LABEL_BITS
    return False


def _several_per_image(entries: list[Any]) -> bool:
    seen = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if "bbox" in entry:
            return True
        place = (entry.get("file_name") or entry.get("image_id"), entry.get("category_id"))
        if place in seen:
            return True
        seen.add(place)
    return False


# -- truth ---------------------------------------------------------------------------------------


def truth_of(entry: Entry) -> InstanceLabels:
    """The true objects of ``entry`` (:meth:`~seglab.data.base.SegmentationSource.
    instance_labels`)."""
    return entry.source.instance_labels(entry.index)


def _size_error(
    entry: Entry, what: str, shape: tuple[int, ...], size: tuple[int, int]
) -> DataError:
    """``what`` (the image or its prediction) does not have the size of the true objects."""
    item = entry.source.items[entry.index]
    return DataError(
        f"{what} is {shape[1]}x{shape[0]} but the true objects are {size[1]}x{size[0]} "
        "(width x height)",
        path=item.image_path,
    )


# -- predicted by a run --------------------------------------------------------------------------


def model_instances(
    model: Any,
    entries: list[Entry],
    skipped: list[str],
    *,
    options: PredictOptions,
    progress: Callable[[int], None],
) -> Iterator[Pair]:
    """A :class:`Pair` per readable image, predicted by the instance ``model`` (from
    :func:`seglab.predict.instances.load_instance_model`) in chunks of a few batches, so
    memory stays bounded; unreadable images are listed in ``skipped``."""
    for chunk in chunked(entries, 4 * options.batch_size):
        loaded = []
        for entry in chunk:
            try:
                image, truth = entry.source.load_objects(entry.index)
            except DataError as exc:
                skip_entry(entry, exc, skipped)
                progress(1)
                continue
            loaded.append((entry, image, truth))
        images = [image for _, image, _ in loaded]
        preds = model.predict_instances_batch(images, **options.batch_options()) if images else []
        for (entry, _, truth), pred in zip(loaded, preds, strict=True):
            progress(1)
            yield Pair(entry, truth, pred)


# -- read from files -----------------------------------------------------------------------------

Reader = Callable[[tuple[int, int]], InstanceLabels]
"""Reads one image's predicted objects, given the image's ``(height, width)``."""


def file_instances(
    pred: Path,
    entries: list[Entry],
    category_index: Mapping[Any, int],
    skipped: list[str],
    missing: list[str],
    progress: Callable[[int], None],
) -> Iterator[Pair]:
    """A :class:`Pair` per image, the predicted objects read from ``pred`` (a folder of label
    images or a COCO results JSON; ``category_index`` maps the JSON's ``category_id`` to class
    indices). Unreadable images are listed in ``skipped``; images without a prediction in
    ``missing``, scored as predicting no object.

    Raises
    ------
    DataError
        The JSON is malformed (naming the entry and field): fix the file rather than score half
        of it.
    """
    import warnings

    from seglab.predict.matching import match_keys

    ids = {e.source.items[e.index].image_id: e.key for e in entries}
    ids.pop(None, None)  # mask folders have no image ids
    readers = _folder_readers(pred) if pred.is_dir() else _json_readers(pred, category_index, ids)
    match = match_keys([e.key for e in entries], list(readers))
    for key, found in match.ambiguous.items():
        warnings.warn(
            f"{pred}: several predictions fit {key!r} ({', '.join(found[:5])}); rename them so "
            "each matches one image (scored as missing)",
            RuntimeWarning,
            stacklevel=3,
        )
    missing.extend(e.key for e in entries if e.key not in match.matched)
    for entry in entries:
        progress(1)
        try:
            truth = truth_of(entry)
            if entry.key not in match.matched:
                yield Pair(entry, truth, empty_labels(*truth.shape))
                continue
            objects = readers[match.matched[entry.key]](truth.shape)
            if objects.shape != truth.shape:
                what = f"its prediction {match.matched[entry.key]!r} in {pred}"
                raise _size_error(entry, what, objects.shape, truth.shape)
        except DataError as exc:
            if not pred.is_dir() and exc.path == str(pred):
                raise
            skip_entry(entry, exc, skipped)
            continue
        yield Pair(entry, truth, objects)


def _folder_readers(folder: Path) -> dict[str, Reader]:
    from seglab.predict.formats import prediction_files

    return {
        key: _label_reader(file) for key, file in prediction_files(folder, "label images").items()
    }


def _label_reader(file: Path) -> Reader:
    def read(shape: tuple[int, int]) -> InstanceLabels:
        from seglab.io import read_mask

        raw, _ = read_mask(file)
        if raw.ndim != 2:
            raise DataError(
                "a colour image is not a label image; write one grey channel of object ids "
                "(a 16-bit PNG, 0 the background)",
                path=file,
            )
        return from_label_image(raw, path=str(file))

    return read


def _json_readers(
    path: Path, category_index: Mapping[Any, int], image_ids: Mapping[Any, str]
) -> dict[str, Reader]:
    from seglab.predict.formats import read_coco_results

    objects: dict[str, list[PredictedObject]] = {}
    for i, entry in enumerate(read_coco_results(path)):
        key, found = _json_object(entry, f"entry {i}", path, category_index, image_ids)
        objects.setdefault(key, []).append(found)
    return {key: _json_reader(path, found) for key, found in objects.items()}


def _json_object(
    entry: Any,
    where: str,
    path: Path,
    category_index: Mapping[Any, int],
    image_ids: Mapping[Any, str],
) -> tuple[str, PredictedObject]:
    """The image key and the object of one COCO result, checked."""
    from seglab.predict.formats import result_fields, result_key

    category, score, seg = result_fields(entry, path, where)
    index = _class_of(category, category_index)
    if index is None:
        known = ", ".join(repr(c) for c in list(category_index)[:20])
        raise DataError(
            f"{category!r} is not a category id of the dataset (ids: {known}); write the "
            "dataset's category ids (a COCO dataset's own, else class indices 1..K)",
            path=path,
            field=f"{where}.category_id",
        )
    key = result_key(entry, image_ids)
    return key, PredictedObject(score, index, seg, f"{where}.segmentation")


def _class_of(category: Any, category_index: Mapping[Any, int]) -> int | None:
    """The class index of a category id; ``7`` and ``"7"`` name the same category."""
    if isinstance(category, bool) or not isinstance(category, int | str):
        return None
    if category in category_index:
        return category_index[category]
    other = str(category) if isinstance(category, int) else None
    if isinstance(category, str) and category.isdigit():
        other = int(category)
    return category_index.get(other) if other is not None else None


def _json_reader(path: Path, objects: list[PredictedObject]) -> Reader:
    def read(shape: tuple[int, int]) -> InstanceLabels:
        from seglab.predict.formats import decode_segmentation

        height, width = shape
        masks = [
            decode_segmentation(o.segmentation, height, width, path=path, field=o.where)
            for o in objects
        ]
        return paint_labels(
            masks,
            [o.class_index for o in objects],
            height,
            width,
            scores=[o.score for o in objects],
        )

    return read


__all__ = [
    "LABEL_BITS",
    "Pair",
    "file_instances",
    "is_instance_prediction",
    "model_instances",
    "truth_of",
]
