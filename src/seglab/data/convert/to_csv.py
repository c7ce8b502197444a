"""Writing the masks of a labelled dataset as run-length CSV.

The seed's ``img_id,rle_mask`` (binary) or ``img_id,class,rle_mask`` (multiclass, one row per
image and class present); ``img_id`` is the image's file name.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from seglab.data.base import SegmentationSource
from seglab.data.convert.common import relative_name, skip_item
from seglab.data.rle import RLE_CSV_HEADER, encode_rle, write_rle_csv
from seglab.errors import DataError

MULTICLASS_CSV_HEADER = ("img_id", "class", "rle_mask")


def _rle_rows(source: SegmentationSource, summary: dict) -> Iterable[tuple]:
    binary = source.num_classes == 2
    for index in range(len(source)):
        try:
            _, mask = source.load(index)
        except DataError as exc:
            skip_item("rle-csv", exc, summary["skipped"])
            continue
        name = relative_name(source, index)
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


def source_to_rle_csv_summary(source: SegmentationSource, out_csv: str | Path) -> dict:
    """:func:`source_to_rle_csv`, returning ``{"path", "images", "objects", "skipped", "rows"}``.

    ``objects`` counts the connected components of each class.

    Raises
    ------
    DataError
        The source has no labels.
    """
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
    return source_to_rle_csv_summary(source, out_csv)["rows"]


__all__ = ["MULTICLASS_CSV_HEADER", "source_to_rle_csv", "source_to_rle_csv_summary"]
