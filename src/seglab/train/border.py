"""The ``border`` instance family's data: any semantic network learns object interiors and
borders (:mod:`seglab.transforms.instances`) through the semantic training loop.

A source's objects travel through the sample pipeline (resize, crop, augmentation) as one
``int64`` mask of object codes -- object ``i`` of class ``c`` among ``K`` is ``(i - 1) * K + c``,
moved past 255, which the pipeline keeps for ignored pixels -- so each object's pixels move
together and keep their class. :class:`BorderTarget`, the last step of a sample, turns the codes
into the interior/border classes at the size the network sees, so the border width is in the
network's pixels whatever resize came before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.core.labels import InstanceLabels
from seglab.data.base import SegmentationSource
from seglab.transforms.instances import BORDER_WIDTH, border_target, decode_ids, encode_ids

SMALL_OBJECT_SIDE = 12.0
"""Objects whose median side at the network's size is under this (px) get 1 px borders, so
that they keep an interior to seed from."""


def object_codes(objects: InstanceLabels, num_classes: int) -> np.ndarray:
    """The ``int64`` object-code mask of ``objects`` (module docstring), 255 left free."""
    k = max(1, num_classes - 1)
    lookup = np.zeros(objects.count + 1, np.int64)
    ids = np.arange(1, objects.count + 1, dtype=np.int64)
    lookup[1:] = (ids - 1) * k + objects.classes
    return encode_ids(lookup[objects.labels])


class BorderSource(SegmentationSource):
    """A view of a labelled source whose masks are object codes (:func:`object_codes`).

    ``classes`` are the network's outputs: the source's classes and ``border``. Index it as the
    source it wraps (do not subset the view: subset the source first).
    """

    kind = "border"

    def __init__(self, source: SegmentationSource):
        super().__init__(source.root, source.items, [*source.classes, "border"], source.log)
        self.source = source
        self.allow_large = source.allow_large

    def load_image(self, index: int) -> np.ndarray:
        """The wrapped source's image."""
        return self.source.load_image(index)

    def load_mask(self, index: int) -> np.ndarray:
        """The object codes of item ``index``."""
        return object_codes(self.source.instance_labels(index), self.source.num_classes)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Image and object codes, their sizes checked
        (:meth:`~seglab.data.base.SegmentationSource.load_objects`)."""
        image, objects = self.source.load_objects(index)
        return image, object_codes(objects, self.source.num_classes)


@dataclass(frozen=True)
class BorderTarget:
    """Object codes -> the interior/border class mask (picklable: loader workers use it)."""

    num_classes: int  # the dataset's, background included
    width: int = BORDER_WIDTH

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        codes, ignored = decode_ids(mask)
        k = max(1, self.num_classes - 1)
        top = int(codes.max()) if codes.size else 0
        classes = (np.arange(top, dtype=np.int64) % k) + 1  # of codes 1..top
        return border_target(codes, classes, width=self.width, ignored=ignored)


def border_width(object_area: float, scale: float) -> int:
    """1 px for objects under :data:`SMALL_OBJECT_SIDE` a side at the network's size (median
    area ``object_area`` px at the images' size, times ``scale``), else :data:`BORDER_WIDTH`."""
    side = math.sqrt(max(0.0, object_area)) * scale
    return 1 if 0 < side < SMALL_OBJECT_SIDE else BORDER_WIDTH


def batch_ap(logits, target) -> list[float]:
    """Each image's DSB-2018 mean AP of a border network's ``logits`` (``N x (K + 2) x H x
    W``) against its interior/border ``target`` (``N x H x W``, 255 ignored), both cut at the
    card's default thresholds: the true objects are the cut of the target itself, which gives
    the objects back (touching ones parted by their border). Ignored pixels (padding, crowds)
    count as background on both sides."""
    import torch

    from seglab.evaluation.instance_metrics import dsb_mean_ap, overlaps
    from seglab.transforms.instances import cut_instances

    channels = logits.shape[1]
    probs = torch.softmax(logits.detach().float(), 1).cpu().numpy()
    masks = target.detach().cpu().numpy()
    scores = []
    for prob, mask in zip(probs, masks, strict=True):
        ignored = mask == IGNORE_INDEX
        prob[:, ignored] = 0.0
        prob[0, ignored] = 1.0
        truth = np.stack([(mask == c) | (ignored & (c == 0)) for c in range(channels)])
        pred_labels = cut_instances(prob).labels
        true_labels = cut_instances(truth.astype(np.float32)).labels
        scores.append(dsb_mean_ap(overlaps(true_labels, pred_labels)))
    return scores
