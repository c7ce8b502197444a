"""Converting labelled datasets between mask folders, COCO JSON and run-length CSV.

Every reader (:class:`~seglab.data.coco.CocoSource`, :class:`~seglab.data.folders.FolderSource`)
gives class-index masks, so every conversion starts from those:

* **masks**: ``images/`` (copies, same relative names) + ``masks/<name>.png``. Binary datasets
  are written as 0/255 grayscale PNG (the seed's convention); a binary dataset with ignored
  pixels as 0/1/255 (the VOC convention, which :class:`FolderSource` reads back as binary with
  255 ignored); multiclass datasets as palette PNGs of class indices (colours from
  :func:`~seglab.data.preview.class_colours`, 255 = ignore, grey). ``classes.json`` says which.
* **coco**: one annotation per object (:meth:`SegmentationSource.instances`: COCO annotations,
  or connected components of each class in mask folders), its ``segmentation`` from
  :func:`~seglab.data.polygons.mask_to_segmentation`: polygons grown by half a pixel around the
  object's pixels, or compressed RLE where polygons fall short (holes, tiny objects, IoU below
  :data:`~seglab.data.polygons.MIN_POLYGON_IOU`), so nothing is lost. Crowd regions stay
  ``iscrowd`` RLE. Ignored pixels of mask folders are not objects and are not written.
* **rle-csv**: the seed's ``img_id,rle_mask`` (binary) or ``img_id,class,rle_mask``
  (multiclass, one row per image and class present); ``img_id`` is the image's file name.

>>> summary = convert_dataset(DataConfig(path="data"), "data_coco", to="coco")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import shutil
import warnings
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from seglab.config import DataConfig
from seglab.data.base import IGNORE_INDEX, SegmentationSource, warn_problems
from seglab.data.polygons import (
    MIN_POLYGON_IOU,
    SEGMENTATIONS,
    mask_bbox,
    mask_to_segmentation,
)
from seglab.data.preview import IGNORE_COLOUR, class_colours, prepare_out
from seglab.data.rle import RLE_CSV_HEADER, encode_coco_rle, encode_rle, write_rle_csv
from seglab.errors import ConfigError, DataError, SeglabError

FORMATS = ("masks", "coco", "rle-csv")
MULTICLASS_CSV_HEADER = ("img_id", "class", "rle_mask")


# ----------------------------------------------------------------------------- helpers


def _check_choice(value: str, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _overlaps(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def _input_paths(source: SegmentationSource) -> list[Path]:
    found = [source.root]
    for name in ("images_dir", "masks_dir", "json_path"):
        value = getattr(source, name, None)
        if value is not None:
            found.append(Path(value))
    return found


def _refuse_inside(out: Path, inputs: Iterable[Path], targets: Iterable[Path]) -> None:
    """Refuse ``out`` inside the input, and any folder about to be replaced overlapping it."""
    out = Path(out)
    for src in inputs:
        if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
            raise SeglabError(
                f"{out}: the output folder is inside the input dataset ({src}); choose an "
                "output folder outside the dataset"
            )
        for target in targets:
            if _overlaps(target, src):
                raise SeglabError(
                    f"{target}: writing here would replace input files ({src}); choose another "
                    "output folder"
                )


def _clear(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _relative_name(source: SegmentationSource, index: int) -> str:
    """The image's path relative to the source's images folder (the name copies get)."""
    item = source.items[index]
    base = getattr(source, "images_dir", None)
    if base is not None:
        try:
            return item.image_path.relative_to(base).as_posix()
        except ValueError:
            pass
    key = PurePosixPath(item.key.replace("\\", "/"))
    if key.suffix and not key.is_absolute() and ".." not in key.parts:
        return key.as_posix()
    return item.image_path.name


def _skip(what: str, exc: DataError, skipped: list[str]) -> None:
    warnings.warn(f"{what}: skipping unreadable item: {exc}", RuntimeWarning, stacklevel=3)
    skipped.append(str(exc))


def _copy_image(source: SegmentationSource, index: int, dest_dir: Path, name: str) -> Path:
    dest = dest_dir / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.items[index].image_path, dest)
    return dest


def _has_ignore(source: SegmentationSource) -> bool:
    """Whether any mask of ``source`` holds ignored (255) pixels, cheaply where possible."""
    from seglab.data.coco import CocoSource
    from seglab.data.folders import FolderSource

    if isinstance(source, CocoSource):
        if source.crowd != "ignore":
            return False
        keys = {item.key for item in source.items}
        return any(a.get("iscrowd") for k in keys for a in source.annotations.get(k, []))
    if isinstance(source, FolderSource):
        if source.mapping.lookup.get(IGNORE_INDEX) != IGNORE_INDEX:
            return False
        values = source.mask_values
        return any(IGNORE_INDEX in values.get(item.key, ()) for item in source.items)
    for index in range(len(source)):
        try:
            if (source.load_mask(index) == IGNORE_INDEX).any():
                return True
        except DataError:
            continue
    return False


def mask_palette(num_classes: int) -> np.ndarray:
    """The 256-colour palette of converted masks: class colours, 255 (ignore) grey."""
    palette = np.zeros((256, 3), np.uint8)
    palette[:num_classes] = class_colours(num_classes)
    palette[IGNORE_INDEX] = IGNORE_COLOUR
    return palette


# ----------------------------------------------------------------------------- masks


def source_to_masks(
    source: SegmentationSource, out: str | Path, *, overwrite: bool = False
) -> dict:
    """Write ``source`` as an image/mask folder pair that :class:`FolderSource` reads back.

    Writes ``out/images/<name>`` (copies of the image files, same relative names),
    ``out/masks/<name without extension>.png`` (encoding in the module docstring) and
    ``out/classes.json`` (classes, ignore index, the value of each class in the PNGs and, for
    mask-folder sources, the original value mapping). Unlabelled sources get ``images/`` only.
    Items that cannot be read are skipped with a warning.

    Returns
    -------
    dict
        ``{"path", "images", "masks", "objects", "files", "skipped"}``; ``objects`` counts the
        connected components of each class.

    Raises
    ------
    SeglabError
        ``out`` is not empty and ``overwrite`` is false, or ``out`` lies inside the input.
    DataError
        The dataset has more than 255 classes (index 255 means ignore).
    """
    out = Path(out)
    _refuse_inside(out, _input_paths(source), [out / "images", out / "masks"])
    prepare_out(out, overwrite, what="converted dataset")
    _clear(out / "images", out / "masks", out / "classes.json")
    k = source.num_classes
    if source.labelled and k > IGNORE_INDEX:
        raise DataError(
            f"{k} classes do not fit 8-bit masks where {IGNORE_INDEX} means ignore",
            path=source.root,
        )
    binary_255 = source.labelled and k == 2 and not _has_ignore(source)
    palette = mask_palette(k)
    summary: dict[str, Any] = {"path": str(out), "images": 0, "masks": 0, "objects": 0}
    summary["skipped"] = skipped = []
    used: set[str] = set()
    for index in range(len(source)):
        name = _relative_name(source, index)
        stem = name[: -len(PurePosixPath(name).suffix)] if PurePosixPath(name).suffix else name
        if stem.lower() in used:
            exc = DataError(
                f"another image has the name {stem!r}", path=source.items[index].image_path
            )
            _skip("masks", exc, skipped)
            continue
        try:
            mask = source.load(index)[1] if source.labelled else None
            if mask is None:
                source.load_image(index)
        except DataError as exc:
            _skip("masks", exc, skipped)
            continue
        used.add(stem.lower())
        _copy_image(source, index, out / "images", name)
        summary["images"] += 1
        if mask is None:
            continue
        if binary_255:
            _write_mask(out / "masks" / f"{stem}.png", (mask == 1).astype(np.uint8) * 255)
        else:
            _write_mask(out / "masks" / f"{stem}.png", mask, palette=palette)
        summary["masks"] += 1
        for cls in range(1, k):
            n, _ = cv2.connectedComponents((mask == cls).astype(np.uint8), connectivity=8)
            summary["objects"] += n - 1
    if source.labelled:
        values = {"0": 0, "255": 1} if binary_255 else {str(i): i for i in range(k)}
        if not binary_255:
            values[str(IGNORE_INDEX)] = IGNORE_INDEX
        info: dict[str, Any] = {
            "classes": list(source.classes),
            "ignore_index": IGNORE_INDEX,
            "mask_values": values,
            "source": {"kind": source.kind, "path": str(source.root)},
        }
        mapping = getattr(source, "mapping", None)
        if mapping is not None:
            info["mapping"] = mapping.to_json()
        text = json.dumps(info, indent=2, ensure_ascii=False)
        (out / "classes.json").write_text(text + "\n", encoding="utf-8")
    summary["files"] = summary["images"] + summary["masks"] + int(source.labelled)
    return summary


def _write_mask(path: Path, mask: np.ndarray, *, palette: np.ndarray | None = None) -> None:
    from seglab.io import write_mask

    write_mask(path, np.asarray(mask).astype(np.uint8), palette=palette)


# ----------------------------------------------------------------------------- COCO


def _item_size(source: SegmentationSource, index: int) -> tuple[int, int]:
    size = getattr(source, "image_size", None)
    if size is not None:
        return size(index)
    from seglab.io import read_image_size

    w, h = read_image_size(source.items[index].image_path)
    return h, w


def _categories(source: SegmentationSource) -> list[dict[str, Any]]:
    originals = getattr(source, "categories", None) or []
    cats = []
    for k, name in enumerate(source.classes[1:], start=1):
        cat: dict[str, Any] = {"id": k, "name": name}
        if len(originals) == source.num_classes - 1 and "supercategory" in originals[k - 1]:
            cat["supercategory"] = originals[k - 1]["supercategory"]
        cats.append(cat)
    return cats


def source_to_coco(
    source: SegmentationSource,
    out_json: str | Path,
    *,
    images_dir: str | Path | None = None,
    segmentation: str = "polygon",
) -> dict:
    """Write the objects of a labelled ``source`` as a COCO annotation file; return the dict.

    Images get ids from 1 and ``file_name`` relative to the source's images folder; categories
    are ``1..K`` from ``source.classes[1:]``; each object (:meth:`instances`) is one annotation
    with ``area`` (pixel count), ``bbox`` from its mask and ``iscrowd`` 0 (crowd regions of
    COCO sources keep ``iscrowd`` 1 and RLE). See :func:`mask_to_segmentation` for
    ``segmentation``. With ``images_dir``, the images are also copied there under their
    ``file_name``, so the JSON and that folder form a dataset. Unreadable items are skipped
    with a warning (``coco["info"]["skipped"]`` lists them).

    Raises
    ------
    DataError
        The source has no labels.
    ConfigError
        ``segmentation`` is not ``"polygon"`` or ``"rle"``.
    SeglabError
        ``out_json`` is the source's own annotation file, or ``images_dir`` overlaps the input.
    """
    _check_choice(segmentation, SEGMENTATIONS, "segmentation")
    if not source.labelled:
        raise DataError("the dataset has no labels; nothing to write as COCO", path=source.root)
    out_json = Path(out_json)
    own = getattr(source, "json_path", None)
    if own is not None and Path(own).resolve() == out_json.resolve():
        raise SeglabError(f"{out_json}: this is the input annotation file; write elsewhere")
    if images_dir is not None:
        images_dir = Path(images_dir)
        _refuse_inside(images_dir, _input_paths(source), [images_dir])
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    skipped: list[str] = []
    used: set[str] = set()
    for index in range(len(source)):
        name = _relative_name(source, index)
        try:
            if name.lower() in used:
                raise DataError(
                    f"another image has the file name {name!r}", path=source.items[index].image_path
                )
            h, w = _item_size(source, index)
            instances = source.instances(index)
            for inst in instances:
                if inst.mask.shape != (h, w):
                    raise DataError(
                        f"mask size {inst.mask.shape[1]}x{inst.mask.shape[0]} differs from the "
                        f"image size {w}x{h} (width x height)",
                        path=source.items[index].mask_path or source.items[index].image_path,
                    )
        except DataError as exc:
            _skip("coco", exc, skipped)
            continue
        used.add(name.lower())
        if images_dir is not None:
            _copy_image(source, index, images_dir, name)
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for inst in instances:
            mask = np.asarray(inst.mask, dtype=bool)
            area = int(mask.sum())
            if area == 0:
                continue
            seg = (
                encode_coco_rle(mask)
                if inst.iscrowd
                else mask_to_segmentation(mask, segmentation=segmentation)
            )
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(inst.class_index),
                    "segmentation": seg,
                    "area": float(area),
                    "bbox": mask_bbox(mask),
                    "iscrowd": int(bool(inst.iscrowd)),
                }
            )
    coco = {
        "info": {
            "description": f"converted by seglab from {source.kind} data at {source.root}",
            "skipped": skipped,
        },
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": _categories(source),
    }
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(coco, separators=(",", ":")) + "\n", encoding="utf-8")
    return coco


# ----------------------------------------------------------------------------- RLE CSV


def _rle_rows(source: SegmentationSource, summary: dict) -> Iterable[tuple]:
    binary = source.num_classes == 2
    for index in range(len(source)):
        try:
            _, mask = source.load(index)
        except DataError as exc:
            _skip("rle-csv", exc, summary["skipped"])
            continue
        name = _relative_name(source, index)
        summary["images"] += 1
        for cls in range(1, source.num_classes):
            n, _ = cv2.connectedComponents((mask == cls).astype(np.uint8), connectivity=8)
            summary["objects"] += n - 1
        if binary:
            yield name, (mask == 1).astype(np.uint8)
            continue
        for cls in range(1, source.num_classes):
            if (mask == cls).any():
                yield name, source.classes[cls], encode_rle(mask == cls)


def _rle_csv(source: SegmentationSource, out_csv: str | Path) -> dict:
    if not source.labelled:
        raise DataError("the dataset has no labels; nothing to write as RLE", path=source.root)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"path": str(out_csv), "images": 0, "objects": 0, "skipped": []}
    rows = _rle_rows(source, summary)
    if source.num_classes == 2:
        summary["rows"] = write_rle_csv(out_csv, rows, header=RLE_CSV_HEADER)
        return summary
    count = 0
    with open(out_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MULTICLASS_CSV_HEADER)
        for row in rows:
            writer.writerow(row)
            count += 1
    summary["rows"] = count
    return summary


def source_to_rle_csv(source: SegmentationSource, out_csv: str | Path) -> int:
    """Write the masks of a labelled ``source`` as run-length CSV; return the number of rows.

    Binary datasets: the seed's ``img_id,rle_mask`` with one row per image (``""`` for an
    empty mask; ignored pixels are not foreground). Multiclass: ``img_id,class,rle_mask`` with
    one row per image and class present, ``class`` being the class name. ``img_id`` is the
    image file's name relative to the images folder. Rows are decoded by
    :func:`seglab.data.rle.decode_rle` with the image's ``(height, width)``.

    Raises
    ------
    DataError
        The source has no labels.
    """
    return _rle_csv(source, out_csv)["rows"]


# ----------------------------------------------------------------------------- datasets


def convert_dataset(
    config: DataConfig,
    out: str | Path,
    *,
    to: str,
    segmentation: str = "polygon",
    overwrite: bool = False,
) -> dict:
    """Convert every split of the dataset of ``config`` to ``to``; return a summary per split.

    ``to="masks"`` writes ``out/<split>/images``, ``out/<split>/masks`` and
    ``out/<split>/classes.json`` (unlabelled splits: images only); ``"coco"`` writes
    ``out/<split>/images/`` and ``out/<split>/annotations.json``; ``"rle-csv"`` writes
    ``out/<split>.csv``. Unlabelled splits are skipped for ``coco`` and ``rle-csv``. Every
    split is opened (and checked) before anything is written.

    Returns
    -------
    dict
        ``{split: {"format", "path", "images", "objects", "files", "skipped", "problems"}}``.

    Raises
    ------
    ConfigError
        ``to`` or ``segmentation`` is not one of the choices.
    SeglabError
        ``out`` is not empty and ``overwrite`` is false, or it lies inside the dataset.
    DataError
        No dataset is found, or a split cannot be opened.
    """
    from seglab.data.dataset import open_split
    from seglab.data.layout import discover

    _check_choice(to, FORMATS, "to (output format)")
    _check_choice(segmentation, SEGMENTATIONS, "segmentation")
    specs = discover(
        config.path, annotations=config.annotations, images=config.images, masks=config.masks
    )
    out = Path(out)
    inputs = [p for p in (config.path, config.images, config.masks) if p is not None]
    for spec in specs.values():
        inputs += [p for p in (spec.root, spec.images, spec.masks, spec.annotations) if p]
    inputs = [p.parent if p.is_file() else p for p in map(Path, inputs)]
    targets = [out / f"{name}.csv" if to == "rle-csv" else out / name for name in specs]
    _refuse_inside(out, inputs, targets)
    sources = {name: open_split(spec, config) for name, spec in specs.items()}
    prepare_out(out, overwrite, what="converted dataset")
    result: dict[str, dict] = {}
    for name, source in sources.items():
        warn_problems(source.problems, what=f"split {name}")
        summary = _convert_split(source, out, name, to, segmentation)
        summary["problems"] = len(source.problems)
        result[name] = summary
    return result


def _convert_split(
    source: SegmentationSource, out: Path, name: str, to: str, segmentation: str
) -> dict:
    base = {"format": to, "images": 0, "objects": 0, "files": 0, "skipped": []}
    if to != "masks" and not source.labelled:
        return {**base, "path": None, "note": "unlabelled split: not converted"}
    if to == "masks":
        _clear(out / name)
        done = source_to_masks(source, out / name, overwrite=True)
        return {**base, **{k: done[k] for k in ("path", "images", "objects", "files", "skipped")}}
    if to == "coco":
        _clear(out / name)
        coco = source_to_coco(
            source,
            out / name / "annotations.json",
            images_dir=out / name / "images",
            segmentation=segmentation,
        )
        n = len(coco["images"])
        return {
            **base,
            "path": str(out / name),
            "images": n,
            "objects": len(coco["annotations"]),
            "files": n + 1,
            "skipped": coco["info"]["skipped"],
        }
    _clear(out / f"{name}.csv")
    done = _rle_csv(source, out / f"{name}.csv")
    return {
        **base,
        "path": done["path"],
        "images": done["images"],
        "objects": done["objects"],
        "rows": done["rows"],
        "files": 1,
        "skipped": done["skipped"],
    }


# MIN_POLYGON_IOU, SEGMENTATIONS and mask_to_segmentation live in seglab.data.polygons; they
# stay importable from here.
__all__ = [
    "FORMATS",
    "MIN_POLYGON_IOU",
    "SEGMENTATIONS",
    "convert_dataset",
    "mask_palette",
    "mask_to_segmentation",
    "source_to_coco",
    "source_to_masks",
    "source_to_rle_csv",
]
