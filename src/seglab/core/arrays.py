"""Array helpers every layer shares, one home each: float conversion of images (and the
``C x H x W`` layout networks take), channel matching, resizing by the longer side, padding and
rounding up to a stride, and logits to probabilities.

Images are numpy ``H x W x C`` (uint8 or float32), masks ``H x W`` int64 class indices with
:data:`~seglab.core.constants.IGNORE_INDEX` for pixels that count for nothing. Padding fills
the image with 0 and the mask with the ignore index, so padded pixels count in no loss and no
metric.

>>> image, mask = np.zeros((50, 70, 3), np.uint8), np.zeros((50, 70), np.int64)
>>> image, mask = resize_long_side(image, mask, 35)
>>> image.shape, mask.shape
((25, 35, 3), (25, 35))
>>> pad_to_multiple(image, mask, 16)[1].shape
(32, 48)
>>> round_up(45, 4)
48
"""

from __future__ import annotations

import numpy as np

from seglab.core.constants import IGNORE_INDEX

__all__ = [
    "image_to_chw",
    "image_to_float",
    "match_channels",
    "pad_to",
    "pad_to_multiple",
    "probabilities",
    "resize_long_side",
    "round_up",
]


def image_to_float(image: np.ndarray, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """``image`` as floats in the scale networks see: uint8 divided by 255, uint16 by 65535,
    anything else (float, bool) as it is. Always a new array (never a view of ``image``).

    >>> image_to_float(np.array([[0, 255]], np.uint8))
    array([[0., 1.]], dtype=float32)
    """
    out = image.astype(dtype)
    if image.dtype == np.uint8:
        out /= dtype(255)
    elif image.dtype == np.uint16:
        out /= dtype(65535)
    return out


def image_to_chw(image: np.ndarray) -> np.ndarray:
    """An ``H x W x C`` image as the contiguous float32 ``C x H x W`` array a network takes
    (values scaled by :func:`image_to_float`)."""
    return np.ascontiguousarray(image_to_float(image).transpose(2, 0, 1))


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
    if array.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel
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
        # OpenCV resizes uint8 and int32, not int64
        small = mask.astype(np.uint8) if mask.max(initial=0) <= 255 else mask.astype(np.int32)
        mask = _resize(small, new_w, new_h, cv2.INTER_NEAREST).astype(np.int64)
    return image, mask


def round_up(value: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is ``>= value``.

    >>> round_up(30, 4), round_up(32, 4)
    (32, 32)
    """
    return -(-value // multiple) * multiple


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


def pad_to_multiple(
    image: np.ndarray, mask: np.ndarray | None, multiple: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pad so that height and width are multiples of ``multiple`` (a network's stride)."""
    height, width = image.shape[:2]
    return pad_to(image, mask, round_up(height, multiple), round_up(width, multiple))


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Probabilities of ``N x K x H x W`` logits: sigmoid of one channel (binary), softmax over
    the channels (axis 1) otherwise.

    >>> probabilities(np.zeros((1, 1, 1, 1), np.float32)).item()
    0.5
    >>> probabilities(np.zeros((1, 2, 1, 1), np.float32)).ravel().tolist()
    [0.5, 0.5]
    """
    if logits.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-logits))
    # shifted by the maximum so exp never overflows
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
