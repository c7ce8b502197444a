"""What every dataset reader gives: items, classes, problems, and (image, mask) pairs.

Readers are torch-free. A mask is an ``H x W`` ``int64`` array of class indices: 0 is the
background, ``1..K`` the classes, and ``IGNORE_INDEX`` (255) marks pixels that count for nothing
(crowd regions, unlabelled borders). Binary datasets have classes ``["background", NAME]``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seglab.core.labels import InstanceLabels, empty_labels, paint_labels
from seglab.errors import DataError, format_location

logger = logging.getLogger("seglab.data")


@dataclass(frozen=True)
class Problem:
    """One fault found in a dataset.

    ``severity`` is ``"error"`` (labels would be wrong or data unreadable: the item is left out)
    or ``"warning"`` (seglab can go on, with the documented fallback).
    """

    severity: str
    path: str
    field: str | None
    message: str

    def __str__(self) -> str:
        return format_location(self.path, self.field, self.message)


@dataclass
class ProblemLog:
    """Collects :class:`Problem` records while a reader validates its input."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, path: str | Path, fld: str | None, message: str) -> None:
        """Record an error."""
        self.problems.append(Problem("error", str(path), fld, message))

    def warning(self, path: str | Path, fld: str | None, message: str) -> None:
        """Record a warning."""
        self.problems.append(Problem("warning", str(path), fld, message))

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]


@dataclass(frozen=True)
class FileLog:
    """A :class:`ProblemLog` bound to one file, so callers name only the field."""

    log: ProblemLog
    path: str | Path

    def error(self, fld: str | None, message: str) -> None:
        """Record an error in this file."""
        self.log.error(self.path, fld, message)

    def warning(self, fld: str | None, message: str) -> None:
        """Record a warning in this file."""
        self.log.warning(self.path, fld, message)


@dataclass(frozen=True)
class Item:
    """One image of a dataset (and where its label lives)."""

    key: str
    image_path: Path
    mask_path: Path | None = None
    image_id: int | str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Instance:
    """One object: its binary mask, class index and provenance (for instance models)."""

    mask: np.ndarray
    class_index: int
    iscrowd: bool = False
    annotation_id: int | str | None = None


class SegmentationSource:
    """Base of the torch-free dataset readers (COCO, mask folders, unlabelled images).

    Subclasses fill ``items``, ``classes`` and ``problems`` and implement :meth:`load_mask`.
    """

    kind = "images"

    def __init__(self, root: Path, items: list[Item], classes: list[str], problems: ProblemLog):
        self.root = Path(root)
        self.items = items
        self.classes = classes
        self.log = problems
        self.allow_large = False

    @property
    def problems(self) -> list[Problem]:
        """Every problem found while opening the dataset."""
        return self.log.problems

    @property
    def num_classes(self) -> int:
        """Number of classes including the background."""
        return len(self.classes)

    @property
    def labelled(self) -> bool:
        """True when the source has masks or annotations."""
        return self.kind != "images"

    def __len__(self) -> int:
        return len(self.items)

    def load_image(self, index: int) -> np.ndarray:
        """The ``H x W x C`` image of item ``index`` (see :func:`seglab.io.read_image`)."""
        from seglab.io import read_image

        image, _ = read_image(self.items[index].image_path, allow_large=self.allow_large)
        return image

    def load_mask(self, index: int) -> np.ndarray:
        """The ``H x W`` int64 class-index mask of item ``index``."""
        raise DataError("this dataset has no labels", path=self.root)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Image and mask of item ``index``; raises :class:`DataError` if they disagree in size."""
        image = self.load_image(index)
        mask = self.load_mask(index)
        if mask.shape != image.shape[:2]:
            item = self.items[index]
            raise DataError(
                f"mask size {mask.shape[1]}x{mask.shape[0]} differs from the image size "
                f"{image.shape[1]}x{image.shape[0]} (width x height)",
                path=item.mask_path or item.image_path,
            )
        return image, mask

    def size_error(self, index: int, height: int, width: int, note: str = "") -> DataError | None:
        """The error when item ``index``'s recorded size is not the ``height`` x ``width`` of its
        image file (``None``: it is, or nothing records one; COCO compares its JSON)."""
        return None

    def load_objects(self, index: int) -> tuple[np.ndarray, InstanceLabels]:
        """Image and objects of item ``index`` (:meth:`instance_labels`); a recorded size or
        label of another size than the image is a :class:`DataError` naming the file (COCO:
        the JSON record), before any object is decoded at the wrong size."""
        image = self.load_image(index)
        height, width = image.shape[:2]
        wrong = self.size_error(index, height, width)
        if wrong is not None:
            raise wrong
        objects = self.instance_labels(index)
        if objects.shape != (height, width):
            item = self.items[index]
            raise DataError(
                f"label size {objects.shape[1]}x{objects.shape[0]} differs from the image size "
                f"{width}x{height} (width x height)",
                path=item.mask_path or item.image_path,
            )
        return image, objects

    def instances(self, index: int) -> list[Instance]:
        """Objects of item ``index``; mask folders give one instance per connected component."""
        import cv2

        mask = self.load_mask(index)
        out: list[Instance] = []
        for cls in range(1, self.num_classes):
            n, labels = cv2.connectedComponents((mask == cls).astype(np.uint8), connectivity=8)
            out.extend(Instance(labels == i, cls) for i in range(1, n))
        return out

    def instance_labels(self, index: int) -> InstanceLabels:
        """The objects of item ``index`` as one label image (crowd regions left out; where
        objects overlap the smaller keeps its pixels): what instance models train on and are
        scored against."""
        objects = [i for i in self.instances(index) if not i.iscrowd]
        if not objects:
            h, w = self.load_mask(index).shape[:2]
            return empty_labels(h, w)
        h, w = objects[0].mask.shape
        return paint_labels([i.mask for i in objects], [i.class_index for i in objects], h, w)


def warn_problems(problems: list[Problem], *, what: str, limit: int = 10) -> None:
    """Log problems as warnings, at most ``limit`` of them, then a count of the rest."""
    for p in problems[:limit]:
        logger.warning("%s: %s", p.severity, p)
    if len(problems) > limit:
        logger.warning(
            "... and %d more problems in %s; run `seglab data check` for the full list",
            len(problems) - limit,
            what,
        )
