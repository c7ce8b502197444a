"""Mask R-CNN's training and validation samples: an image and its objects as torchvision's
detection target.

A sample is made as :class:`~seglab.train.data.SegmentationSamples` makes one, with the
source's label image (:meth:`~seglab.data.base.SegmentationSource.instance_labels`) as the
mask: read -> :func:`~seglab.transforms.prepare.prepare_image` (nearest resize: ids kept) ->
crop (:func:`~seglab.train.sizing.random_crop`) -> augmentation
(:meth:`~seglab.transforms.augment.Augmentation.apply`). Ids travel through the crop and the
augmentation encoded by :func:`~seglab.transforms.instances.encode_ids`, which keeps 255 free
for the pixels those steps invent (padding, rotation corners): those become background, as
Mask R-CNN has no ignored pixels. Mosaic and copy-paste are left out: they move class masks,
not objects.

The target, :func:`instance_targets`: ``boxes`` (float32 ``N x 4``, ``x0, y0, x1, y1``, ends
exclusive), ``labels`` (int64 classes) and ``masks`` (uint8 ``N x H x W``) of the objects
keeping at least ``min_pixels`` pixels after the crop; an image without any is a valid sample
(``boxes`` ``0 x 4``). All randomness of a sample comes from
``numpy.random.default_rng([seed, epoch, index])``, the samplers of :mod:`seglab.train.data`
handing out the keys, so samples are the same with any number of workers and after a resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from seglab.data.base import SegmentationSource
from seglab.data.dataset import SegmentationDataset, image_to_tensor
from seglab.train.data import CACHE_BYTES, PreparedCache, SampleSpec
from seglab.train.sizing import random_crop
from seglab.transforms.instances import decode_ids, encode_ids
from seglab.transforms.prepare import prepare_image

if TYPE_CHECKING:
    import torch

MIN_OBJECT_PIXELS = 4
"""Objects a crop leaves with fewer pixels are no target: a sliver at a crop's edge is not an
object the network could be asked to find."""

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(image H x W x C, label image H x W int32, classes (N,) int64 of ids 1..N)``."""


class InstanceSamples(SegmentationDataset):
    """A torch ``Dataset`` of ``(image C x H x W float32, target dict)`` (module docstring).

    ``train=True`` adds the crop and the augmentation; keys from the samplers of
    :mod:`seglab.train.data` (``epoch * len + index``) choose the epoch's random numbers.
    Prepared images and label images are kept in memory up to ``cache_bytes``.
    """

    def __init__(
        self,
        source: SegmentationSource,
        spec: SampleSpec,
        *,
        preprocess=None,
        augment=None,
        train: bool = False,
        strict: bool = False,
        min_pixels: int = MIN_OBJECT_PIXELS,
        cache_bytes: int = CACHE_BYTES,
    ):
        super().__init__(source, None, strict=strict)
        self.spec = spec
        self.preprocess = preprocess
        self.augment = augment
        self.train = train
        self.min_pixels = min_pixels
        self.cache = PreparedCache(cache_bytes)

    def _load(self, index: int) -> Sample:  # type: ignore[override]
        cached = self.cache.get(index)
        if cached is not None:
            return cached  # type: ignore[return-value]
        image, objects = self.source.load_objects(index)
        # the same function prepares images for prediction (MaskRCNNModel)
        image, labels = prepare_image(
            image,
            objects.labels,
            channels=self.spec.channels,
            preprocess=self.preprocess,
            long_side=self.spec.image_size,
        )
        sample = (image, np.asarray(labels, np.int32), objects.classes)
        self.cache.put(index, sample)
        return sample

    def sample(self, key: int) -> Sample:
        """The numpy ``(image, label image, classes)`` for sampler key ``key``."""
        n = len(self.source)
        index, epoch = key % n, key // n
        image, labels, classes = self.load_readable(index)  # type: ignore[misc]
        if not self.train:
            return image, labels, classes
        spec, aug = self.spec, self.augment
        rng = np.random.default_rng([spec.seed, epoch, index])
        codes = encode_ids(labels)  # 255 stays free for the pixels a crop or a rotation adds
        image, codes = random_crop(image, codes, spec.crop_size, rng, object_prob=spec.object_crop)
        if aug:
            image, codes = aug.apply(image, codes, seed=int(rng.integers(2**31)))
        labels, _ = decode_ids(codes)  # added pixels: background
        return image, labels.astype(np.int32), classes

    def __getitem__(self, key: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image, labels, classes = self.sample(int(key))
        return image_to_tensor(image), instance_targets(labels, classes, min_pixels=self.min_pixels)


def instance_targets(
    labels: np.ndarray, classes: np.ndarray, *, min_pixels: int = MIN_OBJECT_PIXELS
) -> dict[str, torch.Tensor]:
    """torchvision's detection target of a label image: ``boxes`` float32 ``N x 4``
    (``x0, y0, x1, y1``, ends exclusive), ``labels`` int64 (``classes[id - 1]``) and ``masks``
    uint8 ``N x H x W`` of the ids covering at least ``min_pixels`` pixels, in id order.

    >>> labels = np.zeros((4, 6), np.int32); labels[1:3, 2:5] = 1
    >>> target = instance_targets(labels, np.array([2]), min_pixels=1)
    >>> target["boxes"].tolist(), target["labels"].tolist(), tuple(target["masks"].shape)
    ([[2.0, 1.0, 5.0, 3.0]], [2], (1, 4, 6))
    """
    import torch
    from scipy import ndimage

    labels = np.asarray(labels)
    classes = np.asarray(classes, np.int64)
    height, width = labels.shape
    count = len(classes)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1 : count + 1]
    kept = np.flatnonzero(areas >= max(1, min_pixels)) + 1  # ids
    lookup = np.zeros(max(count, int(labels.max(initial=0))) + 1, np.int64)
    lookup[kept] = np.arange(1, len(kept) + 1)
    index = lookup[labels]  # 1..K for kept objects, 0 elsewhere
    masks = np.zeros((len(kept), height, width), np.uint8)
    ys, xs = np.nonzero(index)
    masks[index[ys, xs] - 1, ys, xs] = 1  # one pass over the pixels, not one per object
    boxes = np.zeros((len(kept), 4), np.float32)
    for k, found in enumerate(ndimage.find_objects(index, max_label=len(kept))):
        rows, cols = found  # type: ignore[misc]  # every kept object has pixels
        boxes[k] = (cols.start, rows.start, cols.stop, rows.stop)
    return {
        "boxes": torch.from_numpy(boxes),
        "labels": torch.from_numpy(classes[kept - 1]),
        "masks": torch.from_numpy(masks),
    }


def instance_collate(batch: list[tuple[Any, dict[str, Any]]]) -> tuple[list, list]:
    """The ``collate_fn`` of Mask R-CNN's loaders: ``(list of images, list of targets)``, each
    image at its own size (torchvision pads a batch itself)."""
    return [image for image, _ in batch], [target for _, target in batch]
