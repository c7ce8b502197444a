"""Objects as a label image: :class:`InstanceLabels`, what every instance reader gives, every
instance model predicts, and every instance writer and metric takes.

A label image is ``H x W`` ``int32``: 0 is the background and object ``i`` (1..N, consecutive)
covers the pixels equal to ``i``. Each object has a class index (1..K, as in the dataset's
``classes``; 0 is never an object's class) and a score (1.0 for ground truth, the model's
confidence for a prediction). One pixel belongs to one object at most: where objects overlap,
:func:`paint_labels` decides which one keeps the pixel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from seglab.errors import DataError

LABEL_DTYPE = np.int32
MAX_OBJECTS = 65535
"""The most objects one 16-bit label PNG can hold (written files are uint16)."""


@dataclass(frozen=True)
class InstanceLabels:
    """The objects of one image (see the module docstring).

    ``labels``: ``H x W`` int32, ids 1..N consecutive; ``classes``: ``(N,)`` int64 class index of
    object ``i + 1``; ``scores``: ``(N,)`` float32.
    """

    labels: np.ndarray
    classes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.classes)
        if len(self.scores) != n:
            raise ValueError(f"{n} classes but {len(self.scores)} scores")
        if self.labels.ndim != 2:
            raise ValueError(f"a label image is H x W, not {self.labels.shape}")

    @property
    def count(self) -> int:
        """Number of objects."""
        return len(self.classes)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the label image."""
        return self.labels.shape  # type: ignore[return-value]

    def masks(self) -> Iterator[np.ndarray]:
        """The boolean ``H x W`` mask of each object, in id order (objects hidden entirely by
        others come out empty)."""
        for i in range(1, self.count + 1):
            yield self.labels == i

    def semantic(self) -> np.ndarray:
        """``H x W`` int64 class-index mask: each object's pixels carry its class."""
        lookup = np.concatenate([[0], self.classes]).astype(np.int64)
        return lookup[self.labels]

    def boxes(self) -> np.ndarray:
        """``(N, 4)`` float32 boxes ``x0, y0, x1, y1`` (exclusive ends, pixels); an object with
        no pixel left has a box of zeros."""
        from scipy import ndimage

        out = np.zeros((self.count, 4), np.float32)
        for i, sl in enumerate(ndimage.find_objects(self.labels, max_label=self.count)):
            if sl is not None:
                out[i] = (sl[1].start, sl[0].start, sl[1].stop, sl[0].stop)
        return out

    def areas(self) -> np.ndarray:
        """``(N,)`` pixels each object covers."""
        return np.bincount(self.labels.ravel(), minlength=self.count + 1)[1 : self.count + 1]

    def without_empty(self) -> InstanceLabels:
        """The same objects without those that cover no pixel, renumbered 1..N'."""
        keep = self.areas() > 0
        if keep.all():
            return self
        lookup = np.zeros(self.count + 1, LABEL_DTYPE)
        lookup[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=LABEL_DTYPE)
        return InstanceLabels(lookup[self.labels], self.classes[keep], self.scores[keep])


def empty_labels(height: int, width: int) -> InstanceLabels:
    """No object in an ``height x width`` image."""
    return InstanceLabels(
        np.zeros((height, width), LABEL_DTYPE), np.zeros(0, np.int64), np.zeros(0, np.float32)
    )


def paint_labels(
    masks: Sequence[np.ndarray] | Iterator[np.ndarray],
    classes: Sequence[int],
    height: int,
    width: int,
    *,
    scores: Sequence[float] | None = None,
) -> InstanceLabels:
    """Objects given as binary masks painted into one :class:`InstanceLabels`.

    Where objects overlap: without ``scores`` (ground truth) larger objects are painted first,
    so a small object on a large one keeps its pixels; with ``scores`` (predictions) the higher
    score wins. Objects left with no pixel are dropped; ids follow the input order.
    """
    masks = [np.asarray(m, bool) for m in masks]
    classes = np.asarray(classes, np.int64).reshape(-1)
    if len(masks) != len(classes):
        raise ValueError(f"{len(masks)} masks but {len(classes)} classes")
    given = np.ones(len(masks), np.float32) if scores is None else np.asarray(scores, np.float32)
    labels = np.zeros((height, width), LABEL_DTYPE)
    if scores is None:
        order = sorted(range(len(masks)), key=lambda k: -int(masks[k].sum()))
    else:
        order = sorted(range(len(masks)), key=lambda k: float(given[k]))
    for k in order:
        labels[masks[k]] = k + 1
    return InstanceLabels(labels, classes, given).without_empty()


def from_label_image(
    image: np.ndarray, *, class_index: int = 1, path: str | None = None
) -> InstanceLabels:
    """A label image of any ids (not necessarily consecutive; 0 = background) as
    :class:`InstanceLabels`, every object of class ``class_index``, ids renumbered 1..N in
    the order of their old ids.

    Raises
    ------
    DataError
        The image is not a 2-D array of non-negative integers, or holds more than
        :data:`MAX_OBJECTS` objects.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2 or not np.issubdtype(image.dtype, np.integer):
        raise DataError(
            f"a label image is one channel of integers, not {image.dtype} {image.shape}",
            path=path,
        )
    if image.size and image.min() < 0:
        raise DataError("a label image has no negative ids", path=path)
    ids, inverse = np.unique(image, return_inverse=True)
    inverse = inverse.reshape(image.shape)
    if ids.size and ids[0] != 0:  # no background pixel: every id is an object
        inverse = inverse + 1
        n = ids.size
    else:
        n = max(0, ids.size - 1)
    if n > MAX_OBJECTS:
        raise DataError(
            f"{n} objects in one label image; at most {MAX_OBJECTS} are supported", path=path
        )
    return InstanceLabels(
        inverse.astype(LABEL_DTYPE),
        np.full(n, class_index, np.int64),
        np.ones(n, np.float32),
    )
