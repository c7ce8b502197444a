"""COCO RLE through pycocotools, validated first (see :mod:`seglab.data.rle`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from seglab.data.rle.seed import as_binary_mask, decode_rle, encode_rle
from seglab.errors import DataError

MAX_COUNT = 2**32 - 1
"""The longest run pycocotools stores (its counts are 32-bit unsigned integers)."""


def encode_coco_rle(mask: np.ndarray) -> dict:
    """Encode a 2-D mask as compressed COCO RLE ``{"size": [h, w], "counts": str}``.

    The counts are pycocotools' compressed string, decoded to ASCII so the dict is
    JSON-serialisable. Pixels ``!= 0`` are foreground.

    >>> encode_coco_rle(np.array([[0, 1, 1], [0, 0, 1]]))
    {'size': [2, 3], 'counts': '2111'}
    """
    binary = as_binary_mask(mask)
    encoded = coco_mask.encode(np.asfortranarray(binary, dtype=np.uint8))
    return {"size": [int(n) for n in binary.shape], "counts": encoded["counts"].decode("ascii")}


def coco_uncompressed_rle(mask: np.ndarray) -> dict:
    """Encode a 2-D mask as uncompressed COCO RLE ``{"size": [h, w], "counts": list[int]}``.

    Column-major runs, alternating and starting with zeros (a first count of 0 when the top-left
    pixel is foreground). This is the ``iscrowd`` format that many annotation tools write.

    >>> coco_uncompressed_rle(np.array([[1, 1], [0, 1]]))
    {'size': [2, 2], 'counts': [0, 1, 1, 2]}
    """
    flat = as_binary_mask(mask).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate(([0], changes, [flat.size]))).tolist()
    if flat.size and flat[0]:
        counts.insert(0, 0)
    return {"size": [int(n) for n in mask.shape], "counts": counts}


def _compressed_counts(counts: bytes) -> np.ndarray:
    """Parse pycocotools' compressed counts string (as ``rleFrString`` does), vectorised.

    Raises ValueError with the reason; the caller adds the location.
    """
    chars = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if ((chars < 0) | (chars > 63)).any():
        bad = counts[int(np.argmax((chars < 0) | (chars > 63)))]
        raise ValueError(f"character {chr(bad)!r} is not one of '0'..'o'")
    if chars.size == 0:
        return np.zeros(0, dtype=np.int64)
    last = (chars & 0x20) == 0  # a character without the continuation bit ends a number
    if not last[-1]:
        raise ValueError("the string ends in the middle of a number (it looks truncated)")
    group_starts = np.concatenate(([0], np.flatnonzero(last)[:-1] + 1))
    group_sizes = np.diff(np.concatenate((group_starts, [chars.size])))
    if group_sizes.max() > 7:
        raise ValueError("a count is longer than 7 characters, too large for any image")
    shift = 5 * (np.arange(chars.size) - np.repeat(group_starts, group_sizes))
    values = np.add.reduceat((chars & 0x1F) << shift, group_starts)
    negative = (chars[last] & 0x10) != 0  # sign bit of the last character
    values[negative] -= np.int64(1) << (5 * group_sizes[negative])
    # From the fourth count on, each is stored as the difference to the count two before it.
    values[1::2] = np.cumsum(values[1::2])
    values[2::2] = np.cumsum(values[2::2])
    return values


def coco_rle_object(
    segmentation: Mapping,
    *,
    height: int | None = None,
    width: int | None = None,
    path: str | Path | None = None,
    field: str | None = None,
) -> dict:
    """Validate a COCO RLE dict and return it as pycocotools' object (compressed ``bytes``).

    The result can be passed to ``pycocotools.mask.decode``/``area``/``merge`` as it is; the
    checks are those of :func:`decode_coco_rle`, without decoding the pixels.

    Raises
    ------
    DataError
        As :func:`decode_coco_rle`.
    """

    def fail(message: str) -> DataError:
        return DataError(f"bad COCO RLE: {message}", path=path, field=field)

    h, w = _rle_size(segmentation, height, width, fail)
    counts = segmentation["counts"]
    if isinstance(counts, str):
        if not counts.isascii():
            raise fail("compressed counts contain non-ASCII characters")
        counts = counts.encode("ascii")
    if isinstance(counts, (list, tuple, np.ndarray)):
        return _uncompressed_rle_object(counts, h, w, fail)
    if isinstance(counts, bytes):
        return _compressed_rle_object(counts, h, w, fail)
    raise fail(
        f"counts must be a compressed string or a list of integers, got {type(counts).__name__}"
    )


def _rle_size(
    segmentation: Mapping,
    height: int | None,
    width: int | None,
    fail: Callable[[str], DataError],
) -> tuple[int, int]:
    """Check the RLE dict's keys and ``size`` (against ``height``/``width``); return ``(h, w)``."""
    if not isinstance(segmentation, Mapping):
        raise fail(
            f"expected a dict with 'size' and 'counts', got {type(segmentation).__name__}; "
            "a list is a polygon segmentation, which is not RLE"
        )
    missing = [key for key in ("size", "counts") if key not in segmentation]
    if missing:
        raise fail(
            f"missing key(s) {missing}, found {sorted(map(str, segmentation))}; an RLE "
            'segmentation looks like {"size": [height, width], "counts": ...}'
        )
    size = segmentation["size"]
    if (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or not all(_is_int(n) and n > 0 for n in size)
    ):
        raise fail(f"size must be [height, width] with two positive integers, got {size!r}")
    h, w = int(size[0]), int(size[1])
    if (height is not None and h != height) or (width is not None and w != width):
        expected = ", ".join(
            f"{name} {value}" for name, value in (("height", height), ("width", width)) if value
        )
        raise fail(
            f"size [height, width] is [{h}, {w}] but the image has {expected}; the RLE belongs "
            "to another image or has height and width swapped"
        )
    return h, w


def _uncompressed_rle_object(
    counts: list | tuple | np.ndarray, h: int, w: int, fail: Callable[[str], DataError]
) -> dict:
    """Check uncompressed (list) counts cover exactly ``h * w`` pixels; compress them."""
    try:
        numbers = np.asarray(counts)
    except ValueError:  # ragged nesting
        numbers = np.asarray(counts, dtype=object)
    if numbers.size == 0:
        numbers = numbers.astype(np.int64)
    if numbers.ndim != 1 or numbers.dtype.kind not in "iu":
        bad = [n for n in counts if not _is_int(n)]  # a list: None may be the bad one
        if not bad:  # integers too large for int64
            raise fail(f"uncompressed count {max(counts)} is larger than any image")
        raise fail(f"uncompressed counts must be a flat list of integers, found {bad[0]!r}")
    if numbers.size and numbers.min() < 0:
        raise fail(f"uncompressed counts must be >= 0, found {numbers.min()}")
    if numbers.size and numbers.max() > MAX_COUNT:  # checked first: a sum could wrap around
        raise fail(
            f"uncompressed count {numbers.max()} is larger than COCO RLE holds ({MAX_COUNT})"
        )
    total = int(numbers.sum(dtype=np.uint64))
    if total != h * w:
        raise fail(
            f"uncompressed counts add up to {total} pixels but size {h}x{w} has "
            f"{h * w}; check the size and that the counts are column-major (COCO order)"
        )
    uint_counts = numbers.astype(np.uint32)
    return coco_mask.frPyObjects({"size": [h, w], "counts": uint_counts}, h, w)


def _compressed_rle_object(counts: bytes, h: int, w: int, fail: Callable[[str], DataError]) -> dict:
    """Check compressed counts parse and cover exactly ``h * w`` pixels."""
    try:
        parsed = _compressed_counts(counts)
    except ValueError as error:
        raise fail(f"compressed counts cannot be decoded: {error}") from None
    if parsed.size and parsed.max() > MAX_COUNT:  # pycocotools would cut it to 32 bits
        raise fail(f"compressed count {parsed.max()} is larger than COCO RLE holds ({MAX_COUNT})")
    # pycocotools does not check this: a short string leaves pixels uninitialised.
    if (parsed < 0).any() or int(parsed.sum()) != h * w:
        raise fail(
            f"compressed counts add up to {int(parsed.sum())} pixels (or contain a negative "
            f"count) but size {h}x{w} has {h * w}; check the size, or the string is corrupt"
        )
    return {"size": [h, w], "counts": counts}


def decode_coco_rle(
    segmentation: Mapping,
    *,
    height: int | None = None,
    width: int | None = None,
    path: str | Path | None = None,
    field: str | None = None,
) -> np.ndarray:
    """Decode a COCO RLE dict (compressed or uncompressed counts) into a ``uint8`` 0/1 mask.

    ``height`` and ``width``, when given, must match ``segmentation["size"]``. ``path`` and
    ``field`` (e.g. ``"annotations[3].segmentation"``) only go into error messages.

    >>> decode_coco_rle({"size": [2, 3], "counts": "2111"})
    array([[0, 1, 1],
           [0, 0, 1]], dtype=uint8)

    Raises
    ------
    DataError
        If a key is missing, the size is not two positive integers or differs from
        ``height``/``width``, the counts are malformed or do not cover exactly h*w pixels, or
        (without ``height``/``width``) the size is above the decompression-bomb limit.
    """
    rle = coco_rle_object(segmentation, height=height, width=width, path=path, field=field)
    h, w = rle["size"]
    if height is None and width is None:
        _check_decoded_size(h, w, path, field)
    try:
        mask = decode_rle_objects([rle])[:, :, 0]
    except Exception as error:  # pycocotools raises bare ValueError/TypeError/OverflowError
        raise DataError(
            f"bad COCO RLE: pycocotools cannot decode it: {error}", path=path, field=field
        ) from error
    if mask.shape != (h, w) or mask.max(initial=0) > 1:
        raise DataError(
            f"bad COCO RLE: pycocotools decoded it to shape {mask.shape}, not a {h}x{w} 0/1 mask",
            path=path,
            field=field,
        )
    return np.ascontiguousarray(mask)


def _check_decoded_size(h: int, w: int, path: str | Path | None, field: str | None) -> None:
    """Refuse to decode a ``size`` no image gave (an RLE bomb: a few bytes of counts claiming
    billions of pixels) above the images' decompression-bomb limit."""
    from PIL import Image

    from seglab.io.limits import ALLOW_LARGE_ENV, large_allowed

    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and h * w > limit and not large_allowed(False):
        raise DataError(
            f"bad COCO RLE: size {h}x{w} is {h * w:,} pixels, more than the decompression-bomb "
            f"limit of {limit:,}; check the size, or set {ALLOW_LARGE_ENV}=1 if it is right",
            path=path,
            field=field,
        )


def decode_rle_objects(rles: list[dict]) -> np.ndarray:
    """Decode pycocotools RLE objects at once into an ``H x W x N`` uint8 array (0/1)."""
    with warnings.catch_warnings():
        # pycocotools' Cython object predates numpy 2's __array__(copy=...) protocol.
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return coco_mask.decode(rles)


def polygons_to_mask(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons (flat ``[x1, y1, ...]`` lists, >= 3 points each) with pycocotools.

    Returns an ``H x W`` uint8 0/1 mask, the union of the polygons, exactly as pycocotools'
    ``annToMask`` draws them.
    """
    if not polygons:
        return np.zeros((height, width), np.uint8)
    rle = polygons_to_rle(polygons, height, width)
    return np.ascontiguousarray(decode_rle_objects([rle])[:, :, 0])


def polygons_to_rle(polygons: list[list[float]], height: int, width: int) -> dict:
    """The union of COCO polygons as one pycocotools RLE object (no pixels decoded)."""
    rles = coco_mask.frPyObjects([[float(v) for v in p] for p in polygons], height, width)
    return coco_mask.merge(rles)


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def seed_rle_to_coco(
    rle: str,
    shape: tuple[int, int],
    *,
    path: str | Path | None = None,
    field: str | None = None,
) -> dict:
    """Convert a seed run-length string for an image of ``shape`` into compressed COCO RLE.

    >>> seed_rle_to_coco("2 2 6 1", (2, 3))
    {'size': [2, 3], 'counts': '2111'}
    """
    return encode_coco_rle(decode_rle(rle, shape, path=path, field=field))


def coco_to_seed_rle(
    segmentation: Mapping, *, path: str | Path | None = None, field: str | None = None
) -> str:
    """Convert a COCO RLE dict (compressed or uncompressed) into a seed run-length string.

    >>> coco_to_seed_rle({"size": [2, 3], "counts": [2, 1, 1, 2]})
    '2 2 6 1'
    """
    return encode_rle(decode_coco_rle(segmentation, path=path, field=field))
