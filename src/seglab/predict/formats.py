"""Prediction files other tools read, and reading them back to masks.

Two file formats, plus a folder of mask PNGs (instance runs: see "Objects" below):

**Run-length CSV** (the seed's format, :mod:`seglab.data.rle`). Binary models:
``img_id,rle_mask``, one row per image, an empty prediction written as an empty ``rle_mask``
(so "nothing found" is explicit). Multiclass models: ``img_id,class,rle_mask``, one row per
image and class present (``class`` is the class name), and ``img_id,,`` for an image where
nothing was predicted.

**COCO results JSON** (what ``pycocotools``' ``COCO.loadRes`` reads): a list of
``{"image_id", "category_id", "segmentation", "score", "file_name"}``, one entry per image and
class present. ``category_id`` is the class index (1..K-1), ``segmentation`` a compressed COCO
RLE (``counts`` a string), ``score`` the mean probability of the class inside its mask.

**Mask folder**: PNGs (any image format seglab reads) of 0/255 (binary) or class indices,
keyed by their path relative to the folder, without extension.

**Objects** (instance runs, one row or entry per object of an
:class:`~seglab.core.labels.InstanceLabels`). Run-length CSV: the DSB-2018 submission format,
``ImageId,EncodedPixels``, ``ImageId`` the image's key without its image extension (a DSB
image ``<id>.png`` gives ``<id>``), ``EncodedPixels`` 1-based ``start length`` pairs numbered
top to bottom, then left to right (column-major: DSB's order, not the seed's); objects never
overlap; an image without objects has one row with empty ``EncodedPixels``. Several classes add
a ``Class`` column (``ImageId,Class,EncodedPixels``, the class name). COCO results: one entry
per object with ``bbox`` ``[x, y, w, h]``, ``area`` (pixels), ``score`` (the model's
confidence) and ``category_id`` in the dataset's own ids (the card's ``category_ids``, else
the class index).

:func:`read_predictions` reads any of the three to ``{key: class-index mask}``;
:func:`~seglab.predict.matching.match_keys` pairs those keys with a dataset's, forgivingly
(``"val0"``, ``"val0.png"`` and ``"masks/val0.png"`` all match the dataset image ``"val0.png"``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seglab.data.rle import (
    RLE_CSV_HEADER,
    decode_coco_rle,
    decode_rle,
    encode_coco_rle,
    encode_rle,
    read_csv_header,
    read_rle_csv_rows,
)
from seglab.data.rle.seed import RLE_SYNTAX
from seglab.errors import DataError

if TYPE_CHECKING:
    from seglab.core.labels import InstanceLabels

MULTICLASS_HEADER = ("img_id", "class", "rle_mask")
INSTANCE_HEADER = ("ImageId", "EncodedPixels")
"""The DSB-2018 submission header: one row per object."""
INSTANCE_MULTICLASS_HEADER = ("ImageId", "Class", "EncodedPixels")
Decoder = Callable[[tuple[int, int] | None], np.ndarray]
"""Decodes one image's prediction, given the image's ``(height, width)`` when known."""


# ------------------------------------------------------------------------------ writers


def rle_rows(key: str, mask: np.ndarray, classes: list[str]) -> list[list[str]]:
    """The CSV rows of one predicted mask (class indices): ``[key, rle]`` for binary models
    (always one row, ``""`` when empty); ``[key, class_name, rle]`` per class present for
    multiclass ones (``[key, "", ""]`` when nothing is predicted).

    >>> rle_rows("a.png", np.array([[0, 1, 1]]), ["background", "cell"])
    [['a.png', '2 2']]
    """
    if len(classes) <= 2:
        return [[key, encode_rle(np.asarray(mask) != 0)]]
    rows = [[key, classes[c], encode_rle(mask == c)] for c in range(1, len(classes))]
    rows = [row for row in rows if row[2]]
    return rows or [[key, "", ""]]


def write_rle_predictions(
    path: str | Path,
    rows: Iterable[list[str]],
    classes: list[str],
    *,
    header: tuple[str, ...] | None = None,
) -> Path:
    """Write :func:`rle_rows` rows with the header ``img_id,rle_mask`` (binary, the seed's) or
    ``img_id,class,rle_mask`` (multiclass), or :func:`instance_rle_rows` rows with ``header``
    :func:`instance_rle_header`; return the path."""
    from seglab.core.files import prepare_file

    path = prepare_file(path, option="--rle-csv")
    if header is None:
        header = RLE_CSV_HEADER if len(classes) <= 2 else MULTICLASS_HEADER
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def coco_entries(
    key: str,
    mask: np.ndarray,
    classes: list[str],
    image_id: int,
    probs: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """COCO results entries of one predicted mask: one per class present, with a compressed
    RLE ``segmentation`` and ``score`` = the mean probability of the class inside its mask
    (``probs``: ``H x W`` foreground or ``K x H x W``; 1.0 without).

    >>> coco_entries("a.png", np.array([[0, 1, 1]]), ["background", "cell"], 7)[0]["segmentation"]
    {'size': [1, 3], 'counts': '12'}
    """
    mask = np.asarray(mask)
    entries = []
    for c in range(1, max(len(classes), 2)):
        region = mask != 0 if len(classes) <= 2 else mask == c
        if not region.any():
            continue
        score = 1.0
        if probs is not None:
            plane = probs if probs.ndim == 2 else probs[c]
            score = float(plane[region].mean())
        entries.append(
            {
                "image_id": int(image_id),
                "category_id": c,
                "segmentation": encode_coco_rle(region),
                "score": round(score, 6),
                "file_name": key,
            }
        )
    return entries


def write_coco_results(path: str | Path, entries: Iterable[dict[str, Any]]) -> Path:
    """Write COCO results entries as one JSON list; return the path."""
    from seglab.core.files import prepare_file

    path = prepare_file(path, option="--coco-json")
    path.write_text(json.dumps(list(entries)) + "\n", encoding="utf-8")
    return path


def _objects_by_column(labels: InstanceLabels) -> Iterator[tuple[int, slice, slice, np.ndarray]]:
    """``(index, rows, columns, slab)`` of each object that has pixels, in id order: ``slab``
    is the object's mask over the full height of its columns (``H x w``), whose column-major
    pixels are those of the whole image from column ``columns.start`` on -- so each object
    costs its columns, not the whole image."""
    from scipy import ndimage

    ids = labels.labels
    for index, found in enumerate(ndimage.find_objects(ids, max_label=labels.count)):
        if found is not None:
            rows, columns = found
            yield index, rows, columns, ids[:, columns] == index + 1


def _column_runs(slab: np.ndarray, first_column: int) -> np.ndarray:
    """``(R, 2)`` 1-based starts and lengths of a :func:`_objects_by_column` slab's runs in the
    whole image's column-major order (top to bottom, then left to right)."""
    runs = np.asarray(encode_rle(slab.T).split(), np.int64).reshape(-1, 2)  # rows of slab.T
    runs[:, 0] += first_column * slab.shape[0]  # are the columns of slab
    return runs


def _coco_rle_of_runs(runs: np.ndarray, height: int, width: int) -> dict[str, Any]:
    """Compressed COCO RLE (``counts`` a string) of column-major 1-based ``runs``."""
    from pycocotools import mask as coco_mask

    starts, lengths = runs[:, 0] - 1, runs[:, 1]
    gaps = starts - np.concatenate([[0], starts[:-1] + lengths[:-1]])
    counts = np.stack([gaps, lengths], 1).ravel().tolist()
    tail = height * width - int(starts[-1] + lengths[-1])
    if tail:
        counts.append(tail)
    encoded = coco_mask.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    return {"size": [height, width], "counts": encoded["counts"].decode("ascii")}


def instance_image_id(key: str) -> str:
    """The DSB-2018 ``ImageId`` of an image key: the key without its image extension.

    >>> instance_image_id("stage1_test/0a7d.png")
    'stage1_test/0a7d'
    """
    from seglab.core.files import is_image_file

    return key[: -len(Path(key).suffix)] if is_image_file(key) else key


def instance_rle_header(classes: list[str]) -> tuple[str, ...]:
    """The CSV header of :func:`instance_rle_rows`: DSB-2018's ``ImageId,EncodedPixels`` for one
    foreground class, ``ImageId,Class,EncodedPixels`` for several."""
    return INSTANCE_HEADER if len(classes) <= 2 else INSTANCE_MULTICLASS_HEADER


def instance_rle_rows(key: str, labels: InstanceLabels, classes: list[str]) -> list[list[str]]:
    """The CSV rows of one image's objects, one per object in id order (see the module
    docstring): ``[image_id, rle]``, or ``[image_id, class_name, rle]`` for several classes;
    one row with an empty rle (and class) when there is no object.

    >>> from seglab.core.labels import from_label_image
    >>> objects = from_label_image(np.array([[0, 1, 1], [2, 0, 1]]))
    >>> instance_rle_rows("a.png", objects, ["background", "cell"])
    [['a', '3 1 5 2'], ['a', '2 1']]
    """
    image_id = instance_image_id(key)
    several = len(classes) > 2
    rows = []
    for index, _, columns, slab in _objects_by_column(labels):
        runs = _column_runs(slab, columns.start)
        rle = " ".join(map(str, runs.ravel().tolist()))
        if several:
            rows.append([image_id, classes[int(labels.classes[index])], rle])
        else:
            rows.append([image_id, rle])
    if not rows:
        return [[image_id, "", ""] if several else [image_id, ""]]
    return rows


def instance_coco_entries(
    key: str,
    labels: InstanceLabels,
    image_id: int,
    *,
    category_ids: tuple[Any, ...] | list[Any] | None = None,
) -> list[dict[str, Any]]:
    """COCO results entries of one image's objects, one per object in id order:
    ``image_id``, ``file_name`` (``key``), ``category_id`` (``category_ids[c - 1]`` for an
    object of class ``c`` when given -- the dataset's own COCO ids -- else ``c``),
    ``segmentation`` (compressed RLE, ``counts`` a string), ``bbox`` ``[x, y, w, h]`` (floats,
    pixels), ``score`` and ``area`` (pixels).

    >>> from seglab.core.labels import from_label_image
    >>> objects = from_label_image(np.array([[0, 1, 1], [2, 0, 1]]))
    >>> entry = instance_coco_entries("a.png", objects, 3, category_ids=[7])[0]
    >>> entry["category_id"], entry["segmentation"], entry["bbox"], entry["area"]
    (7, {'size': [2, 3], 'counts': '2111'}, [1.0, 0.0, 2.0, 2.0], 3)
    """
    height, width = labels.shape
    entries = []
    for index, rows, columns, slab in _objects_by_column(labels):
        cls = int(labels.classes[index])
        runs = _column_runs(slab, columns.start)
        entries.append(
            {
                "image_id": int(image_id),
                "category_id": category_ids[cls - 1] if category_ids else cls,
                "segmentation": _coco_rle_of_runs(runs, height, width),
                "bbox": [
                    float(columns.start),
                    float(rows.start),
                    float(columns.stop - columns.start),
                    float(rows.stop - rows.start),
                ],
                "score": round(float(labels.scores[index]), 6),
                "area": int(runs[:, 1].sum()),
                "file_name": key,
            }
        )
    return entries


# ------------------------------------------------------------------------------ readers


def read_predictions(
    path: str | Path,
    *,
    classes: list[str] | None = None,
    shapes: Mapping[str, tuple[int, int]] | None = None,
    image_ids: Mapping[Any, str] | None = None,
) -> dict[str, np.ndarray]:
    """Predicted masks (``H x W`` int64 class indices) keyed by image: from a folder of mask
    PNGs, a run-length ``.csv`` or a COCO results ``.json`` (see the module docstring).

    ``classes`` (background first) maps the CSV's class names and checks mask values;
    ``shapes`` gives each image's ``(height, width)``, which run-length CSV needs (keys matched
    as by :func:`match_keys`); ``image_ids`` maps COCO ``image_id`` to a key for entries
    without ``file_name``. Where COCO entries overlap, the higher score wins.

    Raises
    ------
    DataError
        Naming the file and the line, entry or field: malformed input, an unknown class, or a
        CSV image whose size is not in ``shapes``.
    """
    from seglab.predict.matching import match_keys

    decoders = prediction_decoders(path, classes=classes, image_ids=image_ids)
    pairs = match_keys(list(shapes or {}), list(decoders))
    by_pred = {p: d for d, p in pairs.matched.items()}
    return {
        key: decode((shapes or {}).get(by_pred.get(key, ""))) for key, decode in decoders.items()
    }


def prediction_decoders(
    path: str | Path,
    *,
    classes: list[str] | None = None,
    image_ids: Mapping[Any, str] | None = None,
) -> dict[str, Decoder]:
    """:func:`read_predictions` without decoding: ``{key: decoder}``, each decoder taking the
    image's ``(height, width)`` (``None`` when unknown). File-level problems raise at once;
    a broken mask PNG raises when its decoder is called."""
    path = Path(path)
    if path.is_dir():
        return _folder_decoders(path, classes)
    if not path.is_file():
        raise DataError("prediction file or folder not found", path=path)
    if path.suffix.lower() == ".csv":
        return _csv_decoders(path, classes)
    if path.suffix.lower() == ".json":
        return _coco_decoders(path, classes, image_ids)
    raise DataError(
        "predictions must be a folder of mask PNGs, a run-length .csv or a COCO results .json",
        path=path,
    )


def prediction_files(folder: Path, what: str = "masks") -> dict[str, Path]:
    """The image files of a prediction folder by key (the path below ``folder`` without its
    suffix); :class:`DataError` when there is none, or two share a key. ``what`` names them."""
    from seglab.io import is_image_file

    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))
    if not files:
        raise DataError(f"no {what} in the prediction folder", path=folder)
    found: dict[str, Path] = {}
    for file in files:
        key = file.relative_to(folder).with_suffix("").as_posix()
        if key in found:
            raise DataError(f"two {what} share the name {key!r}; keep one", path=file)
        found[key] = file
    return found


def _folder_decoders(folder: Path, classes: list[str] | None) -> dict[str, Decoder]:
    return {
        key: _mask_file_decoder(file, classes)
        for key, file in prediction_files(folder, "mask images").items()
    }


def _mask_file_decoder(file: Path, classes: list[str] | None) -> Decoder:
    def decode(shape: tuple[int, int] | None) -> np.ndarray:
        from seglab.io import read_mask

        raw, _ = read_mask(file)
        if raw.ndim != 2:
            raise DataError(
                "a colour prediction mask; write 0/255 or class indices as a grey PNG", path=file
            )
        values = np.unique(raw)
        binary = len(classes) <= 2 if classes else set(values.tolist()) <= {0, 255}
        if binary:
            return (raw != 0).astype(np.int64)
        num = len(classes) if classes else 255
        if values.max() >= num:
            raise DataError(
                f"mask value {int(values.max())} is not a class index 0..{num - 1} "
                "(write 0/255 for binary masks, class indices otherwise)",
                path=file,
            )
        return raw.astype(np.int64)

    return decode


def _rle_decoder(path: Path, runs: list[tuple[int, str, str]]) -> Decoder:
    """Paint each ``(class index, rle, where)`` in order, later runs over earlier ones."""

    def decode(shape: tuple[int, int] | None) -> np.ndarray:
        if shape is None:
            raise DataError(
                "the image size is unknown, and run-length masks need it to decode; "
                "give the dataset the image belongs to",
                path=path,
                field=runs[0][2],
            )
        mask = np.zeros(shape, np.int64)
        for cls, rle, where in runs:
            mask[decode_rle(rle, shape, path=path, field=where) != 0] = cls
        return mask

    return decode


def _csv_decoders(path: Path, classes: list[str] | None) -> dict[str, Decoder]:
    if "class" not in read_csv_header(path):
        return {
            row.img_id: _rle_decoder(
                path, [(1, row.rle, f"img_id {row.img_id!r} (line {row.line})")]
            )
            for row in read_rle_csv_rows(path)
        }
    return {key: _rle_decoder(path, runs) for key, runs in _multiclass_rows(path, classes).items()}


def _multiclass_rows(path: Path, classes: list[str] | None) -> dict[str, list]:
    names = {name: i for i, name in enumerate(classes or []) if i > 0}
    out: dict[str, list] = {}
    seen: dict[tuple[str, str], int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, strict=True)
        missing = [c for c in MULTICLASS_HEADER if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"missing column(s) {missing}; a multiclass CSV has the header "
                f"'{','.join(MULTICLASS_HEADER)}'",
                path=path,
                field="line 1",
            )
        try:
            for row in reader:
                where = f"line {reader.line_num}"
                key, name = (row["img_id"] or "").strip(), (row["class"] or "").strip()
                rle = (row["rle_mask"] or "").strip()
                if not key:
                    raise DataError("empty img_id", path=path, field=where)
                runs = out.setdefault(key, [])
                if not name:
                    if rle:
                        raise DataError("rle_mask without a class", path=path, field=where)
                    continue
                if (key, name) in seen:
                    raise DataError(
                        f"class {name!r} of {key!r} is on line {seen[key, name]} already; "
                        "one row per image and class",
                        path=path,
                        field=where,
                    )
                seen[key, name] = reader.line_num
                if not RLE_SYNTAX.fullmatch(rle) or len(rle.split()) % 2:
                    raise DataError(
                        f"rle_mask {rle[:40]!r} is not 'start length' pairs", path=path, field=where
                    )
                runs.append((_class_index(name, names, classes, path, where), rle, where))
        except csv.Error as exc:
            raise DataError(f"not a valid CSV file: {exc}", path=path) from None
        except UnicodeDecodeError:  # past the first block, which read_csv_header decoded
            raise DataError("not UTF-8 text; save it as UTF-8 CSV", path=path) from None
    return out


def _class_index(name: str, names: dict, classes: list[str] | None, path: Path, where: str) -> int:
    if name in names:
        return names[name]
    if name.isdigit() and 0 < int(name) < (len(classes) if classes else 255):
        return int(name)
    known = ", ".join(list(names)) or "none given"
    raise DataError(f"unknown class {name!r} (classes: {known})", path=path, field=where)


def read_coco_results(path: Path) -> list:
    """The entries of a COCO results JSON (a list); :class:`DataError` naming the file when it
    cannot be read or is not a list."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"not readable JSON: {exc}", path=path) from None
    if not isinstance(data, list):
        raise DataError(
            f"expected a JSON list of COCO results, got {type(data).__name__}", path=path
        )
    return data


def result_fields(entry: Any, path: Path, where: str) -> tuple[Any, float, Any]:
    """``(category_id, score, segmentation)`` of one COCO result, checked: an object with
    ``image_id``, ``category_id`` and ``segmentation`` (an RLE dict or polygons), and a number
    for ``score`` (1.0 when left out). The category is the caller's to check."""
    if not isinstance(entry, dict):
        raise DataError(f"expected an object, got {type(entry).__name__}", path=path, field=where)
    for name in ("image_id", "category_id", "segmentation"):
        if name not in entry:
            raise DataError(f'missing "{name}"', path=path, field=where)
    score = entry.get("score", 1.0)
    if not isinstance(score, (int, float)) or isinstance(score, bool):
        raise DataError(f'"score": {score!r} is not a number', path=path, field=where)
    seg = entry["segmentation"]
    if not isinstance(seg, (dict, list)):
        raise DataError(
            f'"segmentation": expected a COCO RLE dict or polygons, got {type(seg).__name__}',
            path=path,
            field=where,
        )
    return entry["category_id"], float(score), seg


def result_key(entry: dict[str, Any], image_ids: Mapping[Any, str] | None) -> str:
    """The image a COCO result belongs to: its ``file_name``, else its ``image_id`` through
    ``image_ids`` (``7`` and ``"7"`` alike), else the id as text."""
    name = entry.get("file_name")
    if isinstance(name, str) and name:
        return name
    image_id = entry["image_id"]
    if image_ids:
        return image_ids.get(image_id, image_ids.get(str(image_id), str(image_id)))
    return str(image_id)


def decode_segmentation(
    seg: Any, height: int | None, width: int | None, *, path: Path, field: str
) -> np.ndarray:
    """One result's mask: an RLE (its own size when ``height`` is ``None``) or polygons (which
    need the image size); errors name ``path`` and ``field``."""
    from seglab.data.rle import polygons_to_mask

    if isinstance(seg, dict):
        return decode_coco_rle(seg, height=height, width=width, path=path, field=field)
    if height is None or width is None:
        raise DataError("polygons need the image size to decode", path=path, field=field)
    try:
        return polygons_to_mask(seg, height, width)
    except Exception as exc:  # pycocotools raises bare errors for bad polygons
        raise DataError(f"bad polygons: {exc}", path=path, field=field) from None


def _coco_decoders(
    path: Path, classes: list[str] | None, image_ids: Mapping[Any, str] | None
) -> dict[str, Decoder]:
    num = len(classes) if classes else None
    entries: dict[str, list[tuple[float, int, Any, str]]] = {}
    for i, entry in enumerate(read_coco_results(path)):
        where = f"entry {i}"
        cls, score, seg = result_fields(entry, path, where)
        if not isinstance(cls, int) or isinstance(cls, bool) or cls < 1 or (num and cls >= num):
            top = f"1..{num - 1}" if num else "1 or more"
            raise DataError(
                f'"category_id": {cls!r} is not a class index ({top})', path=path, field=where
            )
        key = result_key(entry, image_ids)
        entries.setdefault(key, []).append((score, cls, seg, f'{where}: "segmentation"'))
    return {key: _coco_decoder(path, items) for key, items in entries.items()}


def _coco_decoder(path: Path, items: list[tuple[float, int, Any, str]]) -> Decoder:
    def decode(shape: tuple[int, int] | None) -> np.ndarray:
        height, width = shape if shape is not None else (None, None)
        mask = None
        for _, cls, seg, where in sorted(items, key=lambda t: t[0]):  # higher scores paint last
            region = decode_segmentation(seg, height, width, path=path, field=where)
            if mask is None:
                mask = np.zeros(region.shape, np.int64)
            mask[region != 0] = cls
        return mask

    return decode


__all__ = [
    "INSTANCE_HEADER",
    "INSTANCE_MULTICLASS_HEADER",
    "MULTICLASS_HEADER",
    "coco_entries",
    "instance_coco_entries",
    "instance_image_id",
    "instance_rle_header",
    "instance_rle_rows",
    "prediction_decoders",
    "read_predictions",
    "rle_rows",
    "write_coco_results",
    "write_rle_predictions",
]
