"""What the objects of a labelled split look like to an instance model: how many per image,
how many touch another one, and how many a training crop must cut.

Touching objects (8-neighbours: one object's pixel next to another's, diagonals included) are
what a semantic model merges and what instance methods exist for; objects with a bounding-box
side larger than the crop (``--crop-size``) are cut by every crop, so a model trained on crops
never sees them whole. Both are measured on :class:`~seglab.core.labels.InstanceLabels`, the
objects as instance models train on them (where objects overlap, the smaller keeps the pixels).

>>> import numpy as np
>>> labels = np.zeros((6, 8), np.int32)
>>> labels[1:3, 1:3] = 1
>>> labels[1:3, 3:5] = 2   # touches object 1
>>> labels[4:6, 6:8] = 3   # apart
>>> touching_pairs(labels)
1
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seglab.core.labels import InstanceLabels

EXAMPLES = 5
"""Images named as examples of touching objects."""

# the four directions that, with their opposites, make the 8 neighbours of a pixel
_OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))


def _foreground_box(labels: np.ndarray) -> np.ndarray:
    """``labels`` cut to the bounding box of its objects (most images are mostly background)."""
    rows, cols = np.flatnonzero(labels.any(axis=1)), np.flatnonzero(labels.any(axis=0))
    if rows.size == 0:
        return labels[:0, :0]
    return labels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def touching_ids(labels: np.ndarray) -> np.ndarray:
    """``(P, 2)`` int64 pairs ``(i, j)``, ``i < j``, of the objects of a label image (0 is the
    background) that are 8-neighbours somewhere, each pair once."""
    labels = _foreground_box(np.asarray(labels))
    base = int(labels.max()) + 1 if labels.size else 1
    found = []
    for dy, dx in _OFFSETS:
        h, w = labels.shape
        if h <= dy or w <= abs(dx):
            continue
        a = labels[: h - dy, max(0, -dx) : w - max(0, dx)]
        b = labels[dy:, max(0, dx) : w - max(0, -dx)]
        # a pixel and its neighbour in this direction: two different objects
        where = (a != b) & (a != 0) & (b != 0)
        if where.any():
            lo, hi = a[where].astype(np.int64), b[where].astype(np.int64)
            found.append(np.minimum(lo, hi) * base + np.maximum(lo, hi))  # one int per pair
    if not found:
        return np.zeros((0, 2), np.int64)
    keys = np.unique(np.concatenate(found))
    return np.stack([keys // base, keys % base], axis=1)


def touching_pairs(labels: np.ndarray) -> int:
    """How many pairs of objects of a label image touch (are 8-neighbours somewhere)."""
    return len(touching_ids(labels))


def object_sides(labels: np.ndarray) -> np.ndarray:
    """``(N,)`` the longer side of each object's bounding box (pixels), for ids ``1..N`` of a
    label image (``N`` its largest id; an id with no pixel has side 0)."""
    labels = np.asarray(labels)
    n = int(labels.max()) if labels.size else 0
    ys, xs = np.nonzero(labels)
    ids = labels[ys, xs].astype(np.intp)
    big = np.iinfo(np.int64).max
    y0, x0 = np.full(n + 1, big, np.int64), np.full(n + 1, big, np.int64)
    y1, x1 = np.full(n + 1, -1, np.int64), np.full(n + 1, -1, np.int64)
    np.minimum.at(y0, ids, ys)
    np.minimum.at(x0, ids, xs)
    np.maximum.at(y1, ids, ys)
    np.maximum.at(x1, ids, xs)
    sides = np.maximum(y1 - y0, x1 - x0)[1:] + 1
    return np.where(y1[1:] >= 0, sides, 0)


def cut_by_crop(labels: np.ndarray, crop_size: int) -> int:
    """How many objects of a label image have a bounding-box side longer than ``crop_size``:
    objects that every ``crop_size`` x ``crop_size`` crop must cut."""
    return int((object_sides(labels) > crop_size).sum())


@dataclass
class ObjectStats:
    """Touching objects and objects cut by crops over the images of a split, added one label
    image at a time with :meth:`add`. ``crop_size`` ``None``: no crop, nothing counted as cut."""

    crop_size: int | None = None
    images: int = 0
    objects: int = 0
    touching_images: int = 0
    touching_pairs: int = 0
    larger_than_crop: int = 0
    touching_examples: list[str] = field(default_factory=list)

    def add(self, labels: InstanceLabels, name: str) -> None:
        """Count the objects of one image (``name`` is how problems and examples call it)."""
        self.images += 1
        self.objects += labels.count
        if labels.count >= 2:
            pairs = touching_pairs(labels.labels)
            if pairs:
                self.touching_images += 1
                self.touching_pairs += pairs
                if len(self.touching_examples) < EXAMPLES:
                    plural = "s" if pairs > 1 else ""
                    self.touching_examples.append(f"{name} ({pairs} pair{plural})")
        if self.crop_size is not None and labels.count:
            self.larger_than_crop += cut_by_crop(labels.labels, self.crop_size)

    @property
    def cut_share(self) -> float | None:
        """Share of the objects a crop of ``crop_size`` must cut (``None`` without a crop)."""
        if self.crop_size is None:
            return None
        return self.larger_than_crop / self.objects if self.objects else 0.0

    def to_dict(self, per_image: list[int] | None = None) -> dict[str, Any]:
        """JSON-able form; with ``per_image`` (objects in each image) also its min, median,
        max and total."""
        out: dict[str, Any] = {
            "images": self.images,
            "objects": self.objects,
            "touching_images": self.touching_images,
            "touching_pairs": self.touching_pairs,
            "touching_examples": list(self.touching_examples),
            "crop_size": self.crop_size,
            "larger_than_crop": self.larger_than_crop if self.crop_size is not None else None,
            "cut_share": self.cut_share,
        }
        if per_image:
            out["per_image"] = per_image_summary(per_image)
        return out


def per_image_summary(counts: list[int]) -> dict[str, float]:
    """``{"min", "median", "max", "total"}`` of the objects in each image."""
    return {
        "min": min(counts),
        "median": float(statistics.median(counts)),
        "max": max(counts),
        "total": sum(counts),
    }


__all__ = [
    "ObjectStats",
    "cut_by_crop",
    "object_sides",
    "per_image_summary",
    "touching_ids",
    "touching_pairs",
]
