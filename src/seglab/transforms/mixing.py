"""Multi-image mixing for training: :func:`mosaic` (four samples on one canvas) and
:func:`copy_paste` (labelled objects of one sample pasted onto another).

Same conventions as :mod:`seglab.transforms.augment`: ``H x W x C`` images (uint8 or float), ``H x
W``
masks with 0 background, 1..254 classes, 255 ignore; padding is image 0, mask 255.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seglab.core.constants import IGNORE_INDEX


def _check_sample(image: np.ndarray, mask: np.ndarray) -> None:
    if image.ndim not in (2, 3) or (image.ndim == 3 and not 1 <= image.shape[2] <= 4):
        raise ValueError(f"image must be H x W x C with C in 1..4, not {image.shape}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape}")
    # class indices are 0..255 (255 = ignore); a label image's object ids go higher
    if mask.size and mask.min() < 0:
        raise ValueError(f"mask values must not be negative, got {mask.min()}")


def _check_same_kind(images: Sequence[np.ndarray], what: str) -> None:
    first = images[0]
    for image in images[1:]:
        if (
            image.dtype != first.dtype
            or image.shape[2:] != first.shape[2:]
            or (image.ndim != first.ndim)
        ):
            raise ValueError(
                f"{what}: images differ in dtype or channels: {first.dtype} {first.shape} and "
                f"{image.dtype} {image.shape}"
            )


def mosaic(
    samples: Sequence[tuple[np.ndarray, np.ndarray]],
    size: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Compose 2 to 4 samples into the four quadrants of one image.

    The canvas is split at a random centre within its middle half (25-75 % of each side). The
    quadrants are given to the samples in random order (with fewer than 4 samples, samples are
    used again). Each quadrant holds a random crop of its sample; a sample smaller than its
    quadrant is placed against the centre and the rest is padded (image 0, mask 255).

    Parameters
    ----------
    samples:
        ``(image, mask)`` pairs; the images share dtype and channel count, sizes may differ.
    size:
        ``(height, width)`` of the result.
    rng:
        Source of all random choices.

    Returns
    -------
    image, mask
        ``height x width`` image with the samples' dtype and channels, and an int64 mask.

    Raises
    ------
    ValueError
        For fewer than 2 or more than 4 samples, images of different dtype or channels, a mask
        not matching its image, or a size that is not two positive ints.
    """
    if not 2 <= len(samples) <= 4:
        raise ValueError(f"mosaic needs 2 to 4 samples, not {len(samples)}")
    height, width = (int(v) for v in size)
    if height < 1 or width < 1:
        raise ValueError(f"mosaic size must be positive, not {size}")
    images = [np.asarray(image) for image, _ in samples]
    masks = [np.asarray(mask) for _, mask in samples]
    for image, mask in zip(images, masks, strict=True):
        _check_sample(image, mask)
    _check_same_kind(images, "mosaic")

    first = images[0]
    canvas = np.zeros((height, width, *first.shape[2:]), first.dtype)
    canvas_mask = np.full((height, width), IGNORE_INDEX, np.int64)
    cy = int(rng.uniform(0.25, 0.75) * height)
    cx = int(rng.uniform(0.25, 0.75) * width)
    order = rng.permutation(4)
    quadrants = [
        (slice(0, cy), slice(0, cx), True, True),  # top left: toward the centre is the end
        (slice(0, cy), slice(cx, width), True, False),
        (slice(cy, height), slice(0, cx), False, True),
        (slice(cy, height), slice(cx, width), False, False),
    ]
    for quadrant, index in zip(quadrants, order, strict=True):
        rows, cols, rows_to_end, cols_to_end = quadrant
        image, mask = images[index % len(images)], masks[index % len(masks)]
        qh, qw = rows.stop - rows.start, cols.stop - cols.start
        src_rows, dst_rows = _place(image.shape[0], qh, rows_to_end, rng)
        src_cols, dst_cols = _place(image.shape[1], qw, cols_to_end, rng)
        target = (slice(rows.start + dst_rows.start, rows.start + dst_rows.stop),
                  slice(cols.start + dst_cols.start, cols.start + dst_cols.stop))  # fmt: skip
        canvas[target] = image[src_rows, src_cols]
        canvas_mask[target] = mask[src_rows, src_cols]
    return canvas, canvas_mask


def _place(length: int, room: int, to_end: bool, rng: np.random.Generator) -> tuple[slice, slice]:
    """Source and destination slices along one axis: a random crop of ``length`` to ``room``,
    or, when it is shorter, all of it placed at the end (``to_end``) or start of the room."""
    if length >= room:
        start = int(rng.integers(0, length - room + 1))
        return slice(start, start + room), slice(0, room)
    offset = room - length if to_end else 0
    return slice(0, length), slice(offset, offset + length)


def copy_paste(
    image: np.ndarray,
    mask: np.ndarray,
    donor_image: np.ndarray,
    donor_mask: np.ndarray,
    rng: np.random.Generator,
    *,
    max_objects: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste objects of a donor sample into a sample.

    The donor's objects are the 8-connected components of each foreground class (1..254).
    Between 1 and ``max_objects`` of them, chosen at random, are each flipped left-right with
    probability 1/2 and pasted at a random position: their pixels replace the image's, and their
    class the mask's. Ignore (255) and background pixels are never pasted. An object larger than
    the target is cropped to a random window of the target's size.

    Parameters
    ----------
    image, mask:
        The target sample (``H x W x C`` or ``H x W`` image, ``H x W`` mask).
    donor_image, donor_mask:
        The donor sample; same image dtype and channels as the target, any size.
    rng:
        Source of all random choices.
    max_objects:
        Most objects pasted.

    Returns
    -------
    image, mask
        New arrays (the inputs are not changed), the mask as int64; with no donor object, the
        input image and mask unchanged.

    Raises
    ------
    ValueError
        For images of different dtype or channels, or a mask not matching its image.
    """
    image, mask = np.asarray(image), np.asarray(mask)
    donor_image, donor_mask = np.asarray(donor_image), np.asarray(donor_mask)
    _check_sample(image, mask)
    _check_sample(donor_image, donor_mask)
    _check_same_kind([image, donor_image], "copy_paste")
    if max_objects < 1:
        return image, mask.astype(np.int64, copy=False)
    objects = _donor_objects(donor_mask)
    if not objects:
        return image, mask.astype(np.int64, copy=False)

    out_image = image.copy()
    out_mask = mask.astype(np.int64, copy=True)
    count = int(rng.integers(1, min(max_objects, len(objects)) + 1))
    for index in rng.choice(len(objects), size=count, replace=False):
        _paste_object(objects[int(index)], donor_image, out_image, out_mask, rng)
    return out_image, out_mask


# (class, label image, label, (top, left, height, width)) of one donor object
_DonorObject = tuple[int, np.ndarray, int, tuple[int, int, int, int]]


def _donor_objects(donor_mask: np.ndarray) -> list[_DonorObject]:
    """The 8-connected components of each foreground class (1..254) of ``donor_mask``."""
    import cv2

    objects: list[_DonorObject] = []
    for value in np.unique(donor_mask):
        if not 1 <= value < IGNORE_INDEX:
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            (donor_mask == value).astype(np.uint8), connectivity=8
        )
        for label in range(1, count):
            x, y, w, h = (int(v) for v in stats[label, :4])
            objects.append((int(value), labels, label, (y, x, h, w)))
    return objects


def _paste_object(
    obj: _DonorObject,
    donor_image: np.ndarray,
    out_image: np.ndarray,
    out_mask: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Paste one donor object (cropped, maybe flipped) at a random place, in place."""
    value, labels, label, (y, x, h, w) = obj
    height, width = out_mask.shape
    # An object larger than the target: a random window of the target's size.
    if h > height:
        y += int(rng.integers(0, h - height + 1))
        h = height
    if w > width:
        x += int(rng.integers(0, w - width + 1))
        w = width
    shape = labels[y : y + h, x : x + w] == label
    pixels = donor_image[y : y + h, x : x + w]
    if rng.random() < 0.5:
        shape, pixels = shape[:, ::-1], pixels[:, ::-1]
    if not shape.any():
        return
    ty = int(rng.integers(0, height - h + 1))
    tx = int(rng.integers(0, width - w + 1))
    out_image[ty : ty + h, tx : tx + w][shape] = pixels[shape]
    out_mask[ty : ty + h, tx : tx + w][shape] = value
