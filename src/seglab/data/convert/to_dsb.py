"""Writing a dataset in the DSB-2018 layout, which :class:`~seglab.data.dsb.DsbSource` reads
back: one folder per image, ``ID/images/ID.<ext>`` (a copy of the image) and
``ID/masks/ID_<k>.png``, one 0/255 mask per object (numbered in object order, zero-padded so
the file names sort in that order). An image without objects gets an empty ``masks/`` folder;
unlabelled sources get ``ID/images/`` only (an unlabelled DSB split, as the stage-1 test set).

The objects are :meth:`~seglab.data.base.SegmentationSource.instance_labels` (where objects
overlap the smaller keeps the pixels, so the masks written do not overlap). DSB objects are of
one class: several classes are merged, with a warning.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from seglab.core.files import prepare_out, safe_name, unique_name
from seglab.core.labels import InstanceLabels
from seglab.data.base import SegmentationSource
from seglab.data.convert.common import (
    copy_image,
    input_paths,
    item_objects,
    merged_classes,
    refuse_inside,
    relative_name,
    skip_item,
)
from seglab.errors import DataError
from seglab.io import write_mask


def source_to_dsb(
    source: SegmentationSource, out: str | Path, *, overwrite: bool = False
) -> dict[str, Any]:
    """Write ``source`` as DSB-2018 folders under ``out`` (layout in the module docstring).

    Folder names (IDs) are the images' names without extension, sub-folders joined by ``__``
    and characters other than letters, digits, ``.``, ``_`` and ``-`` replaced (``_2`` is
    added to a name already taken). Items that cannot be read are skipped with a warning.

    Returns
    -------
    dict
        ``{"path", "images", "masks", "objects", "files", "skipped"}`` (``masks``: mask files
        written), and ``"note"`` when several classes were merged into one.

    Raises
    ------
    SeglabError
        ``out`` is not empty and ``overwrite`` is false, or ``out`` lies inside the input.
    """
    out = Path(out)
    refuse_inside(out, input_paths(source), [out])
    prepare_out(out, overwrite, what="converted dataset")
    summary: dict[str, Any] = {"path": str(out), "images": 0, "masks": 0, "objects": 0}
    summary["skipped"] = skipped = []
    note = merged_classes(source)
    used: set[str] = set()
    for index in range(len(source)):
        try:
            objects = item_objects(source, index)
        except DataError as exc:
            skip_item("dsb", exc, skipped)
            continue
        name = relative_name(source, index)
        ident = unique_name(safe_name(name), used)
        suffix = PurePosixPath(name).suffix or source.items[index].image_path.suffix
        copy_image(source, index, out / ident / "images", ident + suffix)
        summary["images"] += 1
        if objects is None:
            continue
        _write_masks(objects, out / ident / "masks", ident)
        summary["masks"] += objects.count
        summary["objects"] += objects.count
    summary["files"] = summary["images"] + summary["masks"]
    if note:
        summary["note"] = note
    return summary


def _write_masks(objects: InstanceLabels, folder: Path, ident: str) -> None:
    """One 0/255 PNG per object in ``folder`` (made, even for no object)."""
    from scipy import ndimage

    folder.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(objects.count)))
    labels = objects.labels
    # each object compared inside its own box: images with thousands of objects stay linear
    boxes = ndimage.find_objects(labels, max_label=objects.count)
    for i, box in enumerate(boxes, start=1):
        mask = np.zeros(labels.shape, np.uint8)
        if box is not None:
            mask[box][labels[box] == i] = 255
        write_mask(folder / f"{ident}_{i:0{digits}d}.png", mask)


__all__ = ["source_to_dsb"]
