"""Writing the objects of a labelled dataset as a COCO annotation file.

One annotation per object (:meth:`SegmentationSource.instances`: COCO annotations, or connected
components of each class in mask folders), its ``segmentation`` from
:func:`~seglab.data.convert.polygons.mask_to_segmentation`: polygons grown by half a pixel around
the
object's pixels, or compressed RLE where polygons fall short (holes, tiny objects, IoU below
:data:`~seglab.data.convert.polygons.MIN_POLYGON_IOU`), so nothing is lost. Crowd regions stay
``iscrowd`` RLE. Ignored pixels of mask folders are not objects and are not written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.checks import check_choice
from seglab.data.base import Instance, SegmentationSource
from seglab.data.convert.common import (
    copy_image,
    input_paths,
    refuse_inside,
    relative_name,
    skip_item,
)
from seglab.data.convert.polygons import SEGMENTATIONS, mask_bbox, mask_to_segmentation
from seglab.data.rle import encode_coco_rle
from seglab.errors import DataError, SeglabError


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
    out_json, images_dir = _check_coco_target(source, out_json, images_dir, segmentation)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    skipped: list[str] = []
    used: set[str] = set()
    for index in range(len(source)):
        name = relative_name(source, index)
        try:
            h, w, instances = _sized_instances(source, index, name, used)
        except DataError as exc:
            skip_item("coco", exc, skipped)
            continue
        used.add(name.lower())
        if images_dir is not None:
            copy_image(source, index, images_dir, name)
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
        for inst in instances:
            annotation = _annotation(inst, len(annotations) + 1, image_id, segmentation)
            if annotation is not None:
                annotations.append(annotation)
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


def _check_coco_target(
    source: SegmentationSource,
    out_json: str | Path,
    images_dir: str | Path | None,
    segmentation: str,
) -> tuple[Path, Path | None]:
    """Refuse what :func:`source_to_coco` cannot write; return ``out_json`` and ``images_dir``."""
    check_choice("segmentation", segmentation, SEGMENTATIONS)
    if not source.labelled:
        raise DataError("the dataset has no labels; nothing to write as COCO", path=source.root)
    out_json = Path(out_json)
    own = getattr(source, "json_path", None)
    if own is not None and Path(own).resolve() == out_json.resolve():
        raise SeglabError(f"{out_json}: this is the input annotation file; write elsewhere")
    if images_dir is not None:
        images_dir = Path(images_dir)
        refuse_inside(images_dir, input_paths(source), [images_dir])
    return out_json, images_dir


def _sized_instances(
    source: SegmentationSource, index: int, name: str, used: set[str]
) -> tuple[int, int, list[Instance]]:
    """An item's ``(height, width, objects)``; a DataError when it cannot be written."""
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
    return h, w, instances


def _annotation(
    inst: Instance, annotation_id: int, image_id: int, segmentation: str
) -> dict[str, Any] | None:
    """One object as a COCO annotation; ``None`` for an empty mask (nothing to write)."""
    mask = np.asarray(inst.mask, dtype=bool)
    area = int(mask.sum())
    if area == 0:
        return None
    seg = (
        encode_coco_rle(mask)
        if inst.iscrowd
        else mask_to_segmentation(mask, segmentation=segmentation)
    )
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": int(inst.class_index),
        "segmentation": seg,
        "area": float(area),
        "bbox": mask_bbox(mask),
        "iscrowd": int(bool(inst.iscrowd)),
    }


__all__ = ["source_to_coco"]
