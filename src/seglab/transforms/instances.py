"""Objects to the targets of a semantic network and back: interiors and borders.

The DSB-2018 winners' recipe for touching objects: a semantic network predicts, per pixel,
background, the interior of an object of each class, or an object's border; a watershed seeded
from the interiors cuts the foreground into objects. Here:

* :func:`border_target` turns a label image into that class mask: ``0`` background, ``c``
  (1..K) the interior of an object of class ``c``, ``K + 1`` the border (the pixels of an object
  within ``width`` pixels of another label: the background or a touching object).
* :func:`cut_instances` turns the network's softmax (``K + 2`` channels) back into objects.
* :func:`encode_ids` / :func:`decode_ids` carry a label image through the training pipeline,
  whose masks reserve 255 for ignored pixels (crops pad with it): ids from 255 up move one up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.core.labels import LABEL_DTYPE, InstanceLabels, empty_labels

BORDER_WIDTH = 2
"""Border width, pixels at the network's input size: thin enough for small nuclei to keep an
interior, thick enough to separate touching ones after a resize."""


def encode_ids(labels: np.ndarray) -> np.ndarray:
    """A label image as an int64 mask where 255 stays free for ignored pixels."""
    labels = np.asarray(labels, np.int64)
    return labels + (labels >= IGNORE_INDEX)


def decode_ids(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, ignored)`` of an :func:`encode_ids` mask: the label image (ignored pixels 0)
    and where the pipeline marked pixels 255."""
    mask = np.asarray(mask, np.int64)
    ignored = mask == IGNORE_INDEX
    labels = np.where(ignored, 0, mask - (mask > IGNORE_INDEX))
    return labels, ignored


def border_target(
    labels: np.ndarray,
    classes: np.ndarray,
    *,
    width: int = BORDER_WIDTH,
    ignored: np.ndarray | None = None,
) -> np.ndarray:
    """The interior/border class mask of a label image (see the module docstring).

    ``labels``: ``H x W`` ids (0 background); ``classes[i - 1]``: the class (1..K) of id ``i``
    (ids past the end are class 1: a pasted or mosaicked object keeps a class). ``ignored``
    pixels become :data:`~seglab.core.constants.IGNORE_INDEX`.
    """
    from scipy import ndimage

    labels = np.asarray(labels, np.int64)
    num_classes = int(classes.max()) if len(classes) else 1
    border_class = num_classes + 1
    lookup = np.ones(max(int(labels.max()) + 1, len(classes) + 1), np.int64)
    lookup[0] = 0
    lookup[1 : len(classes) + 1] = classes
    out = lookup[labels]
    size = 2 * max(1, int(width)) + 1
    # a pixel is interior when every label within `width` of it is its own
    low = ndimage.minimum_filter(labels, size=size, mode="nearest")
    high = ndimage.maximum_filter(labels, size=size, mode="nearest")
    out[(labels > 0) & ((low != labels) | (high != labels))] = border_class
    if ignored is not None:
        out[ignored] = IGNORE_INDEX
    return out


def target_from_encoded(mask: np.ndarray, classes: np.ndarray, width: int) -> np.ndarray:
    """:func:`border_target` of an :func:`encode_ids` mask, ignored pixels kept ignored."""
    labels, ignored = decode_ids(mask)
    return border_target(labels, classes, width=width, ignored=ignored)


@dataclass(frozen=True)
class CutSettings:
    """The thresholds of :func:`cut_instances` (stored in the model card's ``instance``)."""

    foreground: float = 0.5
    seed: float = 0.5
    min_area: int = 0


def cut_instances(probs: np.ndarray, settings: CutSettings = CutSettings()) -> InstanceLabels:
    """Objects from the softmax of a border network (``K + 2`` x H x W: background, K
    interiors, border).

    Foreground: ``1 - background > foreground``. Seeds: connected regions where the summed
    interiors exceed ``seed``. A watershed over the inverted interior probability grows the
    seeds through the foreground; foreground regions no seed reached become objects of their
    own. Each object's class is its most probable interior; its score its mean foreground
    probability. Objects under ``min_area`` pixels are dropped.
    """
    from scipy import ndimage
    from skimage.segmentation import watershed

    probs = np.asarray(probs, np.float32)
    if probs.ndim != 3 or probs.shape[0] < 3:
        raise ValueError(f"expected K + 2 >= 3 channels of probabilities, got {probs.shape}")
    height, width = probs.shape[1:]
    fg_prob = 1.0 - probs[0]
    interior = probs[1:-1].sum(0)
    foreground = fg_prob > settings.foreground
    if not foreground.any():
        return empty_labels(height, width)
    markers, _ = ndimage.label((interior > settings.seed) & foreground)
    labels = watershed(-interior, markers, mask=foreground)
    # foreground that no seed reached: whole regions of their own (small, faint objects)
    rest, n_rest = ndimage.label(foreground & (labels == 0))
    if n_rest:
        labels = np.where(rest > 0, rest + labels.max(), labels)
    return _objects(labels, probs, fg_prob, settings.min_area)


def _objects(
    labels: np.ndarray, probs: np.ndarray, fg_prob: np.ndarray, min_area: int
) -> InstanceLabels:
    """:class:`InstanceLabels` of a watershed's labels: small objects dropped, ids renumbered,
    classes and scores from the probabilities."""
    from scipy import ndimage

    n = int(labels.max())
    if n == 0:
        return empty_labels(*labels.shape)
    index = np.arange(1, n + 1)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = areas >= max(1, min_area)
    lookup = np.zeros(n + 1, LABEL_DTYPE)
    lookup[1:][keep] = np.arange(1, int(keep.sum()) + 1, dtype=LABEL_DTYPE)
    kept = index[keep]
    interiors = probs[1:-1]
    class_means = np.stack([np.asarray(ndimage.mean(p, labels, kept)) for p in interiors]).reshape(
        len(interiors), -1
    )
    scores = np.asarray(ndimage.mean(fg_prob, labels, kept), np.float32).reshape(-1)
    return InstanceLabels(lookup[labels], class_means.argmax(0).astype(np.int64) + 1, scores)
