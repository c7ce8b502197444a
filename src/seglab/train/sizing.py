"""Getting images of any size into batches: channels, resizing, object-aware crops, padding.

Every function takes and returns numpy ``(image, mask)``: ``H x W x C`` image (uint8 or
float32) and ``H x W`` int64 mask (255 = ignore). Padding fills the image with 0 and the mask
with 255, so padded pixels count in no loss and no metric.

>>> import numpy as np
>>> image, mask = np.zeros((50, 70, 3), np.uint8), np.zeros((50, 70), np.int64)
>>> image, mask = resize_long_side(image, mask, 35)
>>> image.shape, mask.shape
((25, 35, 3), (25, 35))
>>> pad_to_multiple(image, mask, 16)[1].shape
(32, 48)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from seglab.data.base import IGNORE_INDEX


def match_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """``image`` with ``channels`` channels: gray is repeated to RGB, RGB becomes luma (BT.601)
    for a 1-channel model, extra channels (alpha) are dropped."""
    if image.ndim == 2:
        image = image[..., None]
    have = image.shape[2]
    if have == channels:
        return image
    if channels == 1:
        if have >= 3:
            weights = np.array([0.299, 0.587, 0.114], np.float32)
            gray = image[..., :3].astype(np.float32) @ weights
            if image.dtype == np.uint8:
                gray = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
            return gray[..., None].astype(image.dtype, copy=False)
        return image[..., :1]
    if have == 1:
        return np.repeat(image, channels, axis=2)
    if have > channels:
        return image[..., :channels]
    extra = np.repeat(image[..., -1:], channels - have, axis=2)
    return np.concatenate([image, extra], axis=2)


def _resize(array: np.ndarray, width: int, height: int, interpolation: int) -> np.ndarray:
    import cv2

    out = cv2.resize(array, (width, height), interpolation=interpolation)
    if array.ndim == 3 and out.ndim == 2:
        out = out[..., None]
    return out


def resize_long_side(
    image: np.ndarray, mask: np.ndarray | None, size: int | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize so that the longer side is ``size`` px (aspect kept; ``None``: unchanged).

    Images are resampled with area averaging when shrinking and bilinear when enlarging;
    masks with nearest neighbour, so class values (and 255) survive.
    """
    import cv2

    height, width = image.shape[:2]
    if size is None or max(height, width) == size:
        return image, mask
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = _resize(image, new_w, new_h, interpolation)
    if mask is not None:
        small = mask.astype(np.uint8) if mask.max(initial=0) <= 255 else mask.astype(np.int32)
        mask = _resize(small, new_w, new_h, cv2.INTER_NEAREST).astype(np.int64)
    return image, mask


def pad_to(
    image: np.ndarray, mask: np.ndarray | None, height: int, width: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pad at the bottom and right to at least ``height x width`` (image 0, mask 255)."""
    dh, dw = max(0, height - image.shape[0]), max(0, width - image.shape[1])
    if dh == 0 and dw == 0:
        return image, mask
    image = np.pad(image, ((0, dh), (0, dw), (0, 0)))
    if mask is not None:
        mask = np.pad(mask, ((0, dh), (0, dw)), constant_values=IGNORE_INDEX)
    return image, mask


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ``>= value``."""
    return -(-value // multiple) * multiple


def pad_to_multiple(
    image: np.ndarray, mask: np.ndarray | None, multiple: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pad so that height and width are multiples of ``multiple`` (a network's stride)."""
    height, width = image.shape[:2]
    return pad_to(image, mask, round_up(height, multiple), round_up(width, multiple))


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
