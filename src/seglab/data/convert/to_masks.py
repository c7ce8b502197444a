"""Writing a dataset as an image/mask folder pair that :class:`~seglab.data.folders.FolderSource`
reads back.

``images/`` (copies, same relative names) + ``masks/<name>.png``. Binary datasets are written as
0/255 grayscale PNG (the seed's convention); a binary dataset with ignored pixels as 0/1/255 (the
VOC convention, which :class:`FolderSource` reads back as binary with 255 ignored); multiclass
datasets as palette PNGs of class indices (colours from
:func:`~seglab.data.preview.class_colours`, 255 = ignore, grey). ``classes.json`` says which.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.core.files import prepare_out
from seglab.core.overlay import IGNORE_COLOUR, class_colours
from seglab.data.base import SegmentationSource
from seglab.data.convert.common import (
    clear_paths,
    copy_image,
    input_paths,
    refuse_inside,
    relative_name,
    skip_item,
)
from seglab.errors import DataError


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
    _prepare_masks_out(source, out, overwrite)
    k = source.num_classes
    binary_255 = source.labelled and k == 2 and not _has_ignore(source)
    palette = mask_palette(k)
    summary: dict[str, Any] = {"path": str(out), "images": 0, "masks": 0, "objects": 0}
    summary["skipped"] = skipped = []
    used: set[str] = set()
    for index in range(len(source)):
        name = relative_name(source, index)
        stem = name[: -len(PurePosixPath(name).suffix)] if PurePosixPath(name).suffix else name
        try:
            mask = _load_item(source, index, stem, used)
        except DataError as exc:
            skip_item("masks", exc, skipped)
            continue
        used.add(stem.lower())
        copy_image(source, index, out / "images", name)
        summary["images"] += 1
        if mask is None:
            continue
        summary["objects"] += _write_item_mask(
            out / "masks" / f"{stem}.png", mask, k, binary_255, palette
        )
        summary["masks"] += 1
    if source.labelled:
        _write_classes_json(source, out / "classes.json", binary_255)
    summary["files"] = summary["images"] + summary["masks"] + int(source.labelled)
    return summary


def _prepare_masks_out(source: SegmentationSource, out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` inside the input or not empty, clear old output, check the classes."""
    refuse_inside(out, input_paths(source), [out / "images", out / "masks"])
    prepare_out(out, overwrite, what="converted dataset")
    clear_paths(out / "images", out / "masks", out / "classes.json")
    k = source.num_classes
    if source.labelled and k > IGNORE_INDEX:
        raise DataError(
            f"{k} classes do not fit 8-bit masks where {IGNORE_INDEX} means ignore",
            path=source.root,
        )


def _load_item(
    source: SegmentationSource, index: int, stem: str, used: set[str]
) -> np.ndarray | None:
    """An item's mask (``None`` when unlabelled, its image read to check it); DataError if not."""
    if stem.lower() in used:
        raise DataError(f"another image has the name {stem!r}", path=source.items[index].image_path)
    mask = source.load(index)[1] if source.labelled else None
    if mask is None:
        source.load_image(index)
    return mask


def _write_item_mask(
    path: Path, mask: np.ndarray, k: int, binary_255: bool, palette: np.ndarray
) -> int:
    """Write one converted mask; return its number of objects (components of each class)."""
    if binary_255:
        _write_mask(path, (mask == 1).astype(np.uint8) * 255)
    else:
        _write_mask(path, mask, palette=palette)
    objects = 0
    for cls in range(1, k):
        n, _ = cv2.connectedComponents((mask == cls).astype(np.uint8), connectivity=8)
        objects += n - 1
    return objects


def _write_classes_json(source: SegmentationSource, path: Path, binary_255: bool) -> None:
    """Write ``classes.json``: classes, ignore index, PNG value of each class, source mapping."""
    k = source.num_classes
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
    path.write_text(text + "\n", encoding="utf-8")


def _write_mask(path: Path, mask: np.ndarray, *, palette: np.ndarray | None = None) -> None:
    from seglab.io import write_mask

    write_mask(path, np.asarray(mask).astype(np.uint8), palette=palette)


__all__ = ["mask_palette", "source_to_masks"]
