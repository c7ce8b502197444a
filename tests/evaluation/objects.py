"""Hand-made objects with known instance scores: a tiny COCO dataset and label-image
predictions of it (shared by the evaluation, report and CLI tests of instance evaluation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seglab.data.rle import encode_coco_rle
from seglab.io import write_label_image
from tests.builders import coco_dataset

SIZE = 32
CATEGORY = 7  # not 1: the COCO AP must use the dataset's own category ids


def box(y: int, x: int, h: int, w: int) -> np.ndarray:
    """A ``SIZE x SIZE`` boolean mask of one rectangle."""
    mask = np.zeros((SIZE, SIZE), bool)
    mask[y : y + h, x : x + w] = True
    return mask


def labels(*objects: np.ndarray, ids: list[int] | None = None) -> np.ndarray:
    """A label image of ``objects`` painted in order, with ``ids`` (default 1..N)."""
    out = np.zeros((SIZE, SIZE), np.int32)
    for ident, mask in zip(ids or range(1, len(objects) + 1), objects, strict=True):
        out[mask] = ident
    return out


def bbox(mask: np.ndarray) -> list[int]:
    """COCO's ``[x, y, width, height]`` of a mask."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1]


A, B = box(2, 2, 8, 8), box(16, 16, 8, 8)
LEFT, RIGHT = box(4, 2, 8, 8), box(4, 12, 8, 8)  # apart by 2 px: two objects

TRUTH: dict[str, list[np.ndarray]] = {
    "perfect": [A, B],
    "split": [box(4, 4, 8, 8)],
    "merged": [LEFT, RIGHT],
    "missed": [A, B],
    "empty": [],
}
"""The true objects of each image."""

PRED: dict[str, np.ndarray] = {
    "perfect": labels(A, B, ids=[5, 9]),  # other ids than the truth's
    "split": labels(box(4, 4, 8, 4), box(4, 8, 8, 4)),  # halves: IoU 0.5 each, not above
    "merged": labels(box(4, 2, 8, 18)),  # one object over both and the gap between
    "missed": labels(A),
    "empty": labels(),
}
"""Predicted label images of each image."""

EXPECTED: dict[str, dict[str, float]] = {
    "perfect": {"dsb_map": 1.0, "ap50": 1.0, "ap75": 1.0, "aji": 1.0, "dice": 1.0},
    "split": {"dsb_map": 0.0, "ap50": 0.0, "ap75": 0.0, "aji": 32 / 96, "dice": 1.0},
    "merged": {"dsb_map": 0.0, "ap50": 0.0, "ap75": 0.0, "aji": 128 / 288, "dice": 256 / 272},
    "missed": {"dsb_map": 0.5, "ap50": 0.5, "ap75": 0.5, "aji": 0.5, "dice": 128 / 192},
    "empty": {"dsb_map": 1.0, "ap50": 1.0, "ap75": 1.0, "aji": 1.0, "dice": 1.0},
}
"""The scores each image must get, worked out by hand."""

COUNTS: dict[str, tuple[int, ...]] = {  # true, predicted, found, missed, false, split, merged
    "perfect": (2, 2, 2, 0, 0, 0, 0),
    "split": (1, 2, 0, 1, 2, 1, 0),
    "merged": (2, 1, 0, 2, 1, 0, 1),
    "missed": (2, 1, 1, 1, 0, 0, 0),
    "empty": (0, 0, 0, 0, 0, 0, 0),
}


def write_objects_dataset(root: Path) -> Path:
    """The images of :data:`TRUTH` as a COCO dataset at ``root`` (objects as RLE, so their
    pixels are exactly the masks; category id :data:`CATEGORY`); returns ``root``."""
    images, annotations = [], []
    for i, (name, objects) in enumerate(TRUTH.items(), start=1):
        images.append({"id": i, "file_name": f"{name}.png", "width": SIZE, "height": SIZE})
        for mask in objects:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": CATEGORY,
                    "segmentation": encode_coco_rle(mask),
                    "bbox": bbox(mask),
                    "area": int(mask.sum()),
                    "iscrowd": 0,
                }
            )
    coco_dataset(
        root,
        images=images,
        annotations=annotations,
        categories=[{"id": CATEGORY, "name": "cell"}],
        size=(SIZE, SIZE),
    )
    return root


def write_label_predictions(folder: Path, preds: dict[str, np.ndarray] | None = None) -> Path:
    """``preds`` (default :data:`PRED`) as 16-bit label PNGs ``folder/NAME.png``."""
    for name, image in (PRED if preds is None else preds).items():
        write_label_image(folder / f"{name}.png", image)
    return folder


def perfect_predictions() -> dict[str, np.ndarray]:
    """Label images equal to :data:`TRUTH`."""
    return {name: labels(*objects) for name, objects in TRUTH.items()}


def write_coco_results(path: Path, preds: dict[str, np.ndarray] | None = None) -> Path:
    """``preds`` (default :data:`PRED`) as a COCO results JSON: one entry per object, with
    ``file_name``, the dataset's category id, a box and a score."""
    entries = []
    for i, (name, image) in enumerate((PRED if preds is None else preds).items(), start=1):
        for ident in np.unique(image[image > 0]):
            mask = image == ident
            entries.append(
                {
                    "image_id": i,
                    "file_name": f"{name}.png",
                    "category_id": CATEGORY,
                    "segmentation": encode_coco_rle(mask),
                    "bbox": bbox(mask),
                    "score": 0.9,
                }
            )
    path.write_text(json.dumps(entries))
    return path
