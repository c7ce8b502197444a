"""Training-only sizing: object-aware crops and the collate that pads a batch.

Crops take and return numpy ``(image, mask)``: ``H x W x C`` image (uint8 or float32) and
``H x W`` int64 mask (255 = ignore). Padding fills the image with 0 and the mask with 255, so
padded pixels count in no loss and no metric. Channels, resizing, padding and rounding up to a
stride are shared with prediction: :mod:`seglab.core.arrays`.

>>> import numpy as np
>>> image, mask = np.zeros((20, 30, 3), np.uint8), np.ones((20, 30), np.int64)
>>> crop, crop_mask = random_crop(image, mask, 32, np.random.default_rng(0))
>>> crop.shape, int(crop_mask[-1, -1])
((32, 32, 3), 255)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from seglab.core.arrays import pad_to, round_up
from seglab.core.constants import IGNORE_INDEX


def choose_crop(
    mask: np.ndarray, size: int, rng: np.random.Generator, object_prob: float
) -> tuple[int, int]:
    """Top-left corner of a ``size`` square crop of ``mask`` (at least ``size`` a side).

    With probability ``object_prob`` (and when there are objects) the crop contains an object
    pixel: a class present in the mask is drawn uniformly (so rare classes get their share),
    then one of its pixels, which lands anywhere in the crop's central half. Otherwise the
    corner is uniform. Small objects in large images are therefore seen in most crops.
    """
    height, width = mask.shape
    max_y, max_x = height - size, width - size
    if object_prob > 0 and rng.random() < object_prob:
        counts = np.bincount(mask.ravel().clip(0, IGNORE_INDEX), minlength=IGNORE_INDEX + 1)
        present = np.flatnonzero(counts[1:IGNORE_INDEX]).tolist()
        present = [c + 1 for c in present]
        if present:
            cls = present[int(rng.integers(len(present)))]
            ys, xs = np.nonzero(mask == cls)
            k = int(rng.integers(len(ys)))
            jitter = rng.integers(-(size // 4), size // 4 + 1, size=2)
            y = int(ys[k]) - size // 2 + int(jitter[0])
            x = int(xs[k]) - size // 2 + int(jitter[1])
            return int(np.clip(y, 0, max_y)), int(np.clip(x, 0, max_x))
    return int(rng.integers(max_y + 1)), int(rng.integers(max_x + 1))


def random_crop(
    image: np.ndarray,
    mask: np.ndarray,
    size: int | None,
    rng: np.random.Generator,
    *,
    object_prob: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A ``size x size`` crop (padded first when the image is smaller); ``None``: unchanged.

    ``object_prob``: share of crops that contain an object pixel, see :func:`choose_crop`.
    """
    if size is None:
        return image, mask
    image, mask = pad_to(image, mask, size, size)
    y, x = choose_crop(mask, size, rng, object_prob)
    return image[y : y + size, x : x + size], mask[y : y + size, x : x + size]


def pad_collate(multiple: int = 1) -> Callable:
    """A ``collate_fn`` that pads ``(image C x H x W, mask H x W)`` tensors of any sizes to the
    batch's largest height and width, rounded up to ``multiple`` (image 0, mask 255).

    Images of mixed sizes therefore never crash a batch, and padded pixels are ignored.
    """

    def collate(batch):
        import torch

        height = round_up(max(int(img.shape[-2]) for img, _ in batch), multiple)
        width = round_up(max(int(img.shape[-1]) for img, _ in batch), multiple)
        channels = int(batch[0][0].shape[0])
        images = torch.zeros(len(batch), channels, height, width, dtype=batch[0][0].dtype)
        masks = torch.full((len(batch), height, width), IGNORE_INDEX, dtype=torch.int64)
        for i, (img, msk) in enumerate(batch):
            h, w = img.shape[-2:]
            images[i, :, :h, :w] = img
            masks[i, :h, :w] = msk
        return images, masks

    return collate
