"""Writing a dataset as label images: ``images/`` + ``masks/<name>.png``, one 16-bit label image
per image (0 = background, object ``i`` = id ``i``), the layout of Cellpose and StarDist, which
:class:`~seglab.data.folders.FolderSource` reads back as label images.

The objects are :meth:`~seglab.data.base.SegmentationSource.instance_labels` (COCO annotations
without crowd regions, label images, DSB mask files, connected components of class masks), so
where objects overlap the smaller keeps the pixels. Every object is of one class: the source's
when it has one (named in ``classes.json``), else the classes are merged with a warning.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from seglab.core.constants import IGNORE_INDEX
from seglab.core.files import prepare_out
from seglab.core.labels import MAX_OBJECTS
from seglab.data.base import SegmentationSource
from seglab.data.convert.common import (
    clear_paths,
    copy_image,
    input_paths,
    item_objects,
    merged_classes,
    object_class_name,
    refuse_inside,
    relative_name,
    skip_item,
)
from seglab.errors import DataError
from seglab.io import write_label_image


def source_to_labels(
    source: SegmentationSource, out: str | Path, *, overwrite: bool = False
) -> dict[str, Any]:
    """Write ``source`` as an image folder and a folder of 16-bit label images.

    Writes ``out/images/<name>`` (copies of the image files, same relative names),
    ``out/masks/<name without extension>.png`` (uint16 PNG, ids ``1..N``, also when ``N`` is
    below 256, so the folder reads back as label images) and ``out/classes.json``
    (``{"classes": ["background", NAME], "labels": "instances"}``). Unlabelled sources get
    ``images/`` only. Items that cannot be read are skipped with a warning.

    Returns
    -------
    dict
        ``{"path", "images", "masks", "objects", "files", "skipped"}``, and ``"note"`` when
        several classes were merged into one.

    Raises
    ------
    SeglabError
        ``out`` is not empty and ``overwrite`` is false, or ``out`` lies inside the input.
    DataError
        An image holds more than 65535 objects, the most a 16-bit PNG can tell apart (the
        error names the image; convert ``--to coco`` or ``--to dsb`` instead).
    """
    out = Path(out)
    refuse_inside(out, input_paths(source), [out / "images", out / "masks"])
    prepare_out(out, overwrite, what="converted dataset")
    clear_paths(out / "images", out / "masks", out / "classes.json")
    summary: dict[str, Any] = {"path": str(out), "images": 0, "masks": 0, "objects": 0}
    summary["skipped"] = skipped = []
    note = merged_classes(source)
    used: set[str] = set()
    for index in range(len(source)):
        name = relative_name(source, index)
        stem = str(PurePosixPath(name).with_suffix(""))
        try:
            if stem.lower() in used:
                raise DataError(
                    f"another image has the name {stem!r}", path=source.items[index].image_path
                )
            objects = item_objects(source, index)
        except DataError as exc:
            skip_item("labels", exc, skipped)
            continue
        used.add(stem.lower())
        if objects is not None and objects.count > MAX_OBJECTS:
            raise DataError(
                f"{objects.count} objects in one image; a 16-bit label image holds at most "
                f"{MAX_OBJECTS}: convert --to coco or --to dsb instead",
                path=source.items[index].image_path,
            )
        copy_image(source, index, out / "images", name)
        summary["images"] += 1
        if objects is None:
            continue
        write_label_image(out / "masks" / f"{stem}.png", objects.labels)
        summary["masks"] += 1
        summary["objects"] += objects.count
    if source.labelled:
        _write_classes_json(source, out / "classes.json")
    summary["files"] = summary["images"] + summary["masks"] + int(source.labelled)
    if note:
        summary["note"] = note
    return summary


def _write_classes_json(source: SegmentationSource, path: Path) -> None:
    """Write ``classes.json``: the one class, and that the masks are label images."""
    info = {
        "classes": ["background", object_class_name(source)],
        "labels": "instances",
        "ignore_index": IGNORE_INDEX,
        "source": {"kind": source.kind, "path": str(source.root)},
    }
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


__all__ = ["source_to_labels"]
