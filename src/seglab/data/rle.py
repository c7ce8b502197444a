"""Run-length encodings of binary masks: the seed's CSV format and COCO RLE.

Two formats, which differ in pixel order and in what the numbers mean:

**Seed RLE** (Kaggle style, used in ``train_masks.csv``-like files). The mask is flattened
row-major (C order, ``mask.ravel()``); pixels ``!= 0`` are foreground. The string is
space-separated ``start length`` pairs, one per foreground run, with 1-based starts, sorted and
not overlapping. An empty mask is the empty string. For ``[[0, 1, 1], [0, 0, 1]]`` the flat mask
is ``0 1 1 0 0 1`` and the RLE is ``"2 2 6 1"``.

**COCO RLE** (``segmentation`` of ``iscrowd`` annotations, and of most tools' mask output). The
mask is flattened column-major (Fortran order, ``mask.ravel(order="F")``) and described by a
dict ``{"size": [h, w], "counts": ...}``, where counts are the lengths of alternating runs,
starting with a run of zeros, which may have length 0. The same mask is
``{"size": [2, 3], "counts": [2, 1, 1, 2]}`` uncompressed (column order ``0 0 1 0 1 1``).
``counts`` may also be *compressed*: pycocotools' string of characters ``'0'``..``'o'``, each
carrying 5 bits of a count, later counts stored as differences (``"2111"`` here). Compressed
encoding and decoding go through :mod:`pycocotools.mask`; seglab validates the input first,
because pycocotools returns uninitialised memory for strings whose counts add up to fewer pixels
than the image has.

Example
-------
>>> import numpy as np
>>> mask = np.array([[0, 1, 1], [0, 0, 1]])
>>> encode_rle(mask)
'2 2 6 1'
>>> encode_coco_rle(mask)
{'size': [2, 3], 'counts': '2111'}
>>> coco_uncompressed_rle(mask)
{'size': [2, 3], 'counts': [2, 1, 1, 2]}
>>> bool((decode_rle("2 2 6 1", (2, 3)) == mask).all())
True
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from seglab.errors import DataError

__all__ = [
    "RLE_CSV_HEADER",
    "coco_to_seed_rle",
    "coco_uncompressed_rle",
    "decode_coco_rle",
    "decode_rle",
    "encode_coco_rle",
    "encode_rle",
    "polygons_to_mask",
    "read_rle_csv",
    "seed_rle_to_coco",
    "write_rle_csv",
]

RLE_CSV_HEADER = ("img_id", "rle_mask")
_RLE_SYNTAX = re.compile(r"[0-9\s]*", re.ASCII)
_MAX_DIGITS = 18  # int64 holds every 18-digit number; longer tokens are not pixel indices.


def _binary(mask: np.ndarray, name: str = "mask") -> np.ndarray:
    """Return ``mask != 0`` after checking that ``mask`` is a 2-D integer or boolean array."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (height, width) array, got shape {mask.shape}; "
            "pass one mask at a time, e.g. mask[..., 0] or mask[0] for a stack"
        )
    if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
        raise ValueError(
            f"{name} must have an integer or boolean dtype, got {mask.dtype}; "
            "threshold it first, e.g. mask > 0.5"
        )
    return mask != 0


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    if (
        len(shape) != 2
        or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape)
        or min(shape) < 0
    ):
        raise ValueError(f"shape must be (height, width) with two integers >= 0, got {shape!r}")
    return int(shape[0]), int(shape[1])


# ----------------------------------------------------------------------------- seed RLE


def encode_rle(mask: np.ndarray) -> str:
    """Encode a 2-D mask as the seed's run-length string (row-major, 1-based starts).

    Pixels ``!= 0`` are foreground. An empty mask gives ``""``.

    >>> encode_rle(np.array([[0, 1, 1], [0, 0, 1]]))
    '2 2 6 1'

    Raises
    ------
    ValueError
        If ``mask`` is not 2-D or not of an integer or boolean dtype.
    """
    flat = _binary(mask).ravel().view(np.int8)
    # Changes of the zero-padded flat mask are run starts (0 -> 1) and run ends (1 -> 0).
    edges = np.flatnonzero(np.diff(flat, prepend=0, append=0))
    runs = edges.copy()
    runs[0::2] += 1
    runs[1::2] -= edges[0::2]
    return " ".join(map(str, runs.tolist()))


def decode_rle(
    rle: str,
    shape: tuple[int, int],
    *,
    path: str | Path | None = None,
    field: str | None = None,
) -> np.ndarray:
    """Decode the seed's run-length string into a ``uint8`` 0/1 mask of ``shape``.

    ``""`` or a whitespace-only string is an empty mask; any whitespace separates numbers.
    ``path`` and ``field`` (e.g. ``"line 12"``) only go into error messages.

    >>> decode_rle("2 2 6 1", (2, 3))
    array([[0, 1, 1],
           [0, 0, 1]], dtype=uint8)

    Raises
    ------
    DataError
        If the string is not pairs of integers, a start or length is below 1, runs are not
        sorted or overlap, or a run goes past the last pixel.
    ValueError
        If ``shape`` is not two integers >= 0.
    """
    height, width = _check_shape(shape)
    size = height * width
    mask = np.zeros(size, dtype=np.uint8)

    def fail(message: str) -> DataError:
        return DataError(f"bad run-length mask: {message}", path=path, field=field)

    if not isinstance(rle, str):
        raise fail(
            f"expected a string of 'start length' pairs, got {type(rle).__name__} {rle!r}; "
            "an empty mask is written as an empty string"
        )
    tokens = rle.split()
    if not tokens:
        return mask.reshape(height, width)
    if not _RLE_SYNTAX.fullmatch(rle):
        bad = next(t for t in tokens if not (t.isascii() and t.isdigit()))
        hint = "; an empty mask is written as an empty string" if bad.lower() == "nan" else ""
        raise fail(
            f"{bad!r} (number {tokens.index(bad) + 1}) is not a non-negative integer; "
            f"the mask must be space-separated 'start length' integer pairs{hint}"
        )
    if len(tokens) % 2:
        raise fail(
            f"{len(tokens)} numbers is odd; the mask must be 'start length' pairs, "
            f"check the end of the string: ...{' '.join(tokens[-3:])!r}"
        )
    if max(map(len, tokens)) > _MAX_DIGITS:
        raise fail(f"a number has more than {_MAX_DIGITS} digits; the image has {size} pixels")
    # The syntax is checked above, so the fast text parser cannot stop early or misread.
    numbers = np.fromstring(rle, dtype=np.int64, sep=" ")
    starts, lengths = numbers[0::2], numbers[1::2]
    for name, values in (("start", starts), ("length", lengths)):
        if (values < 1).any():
            i = int(np.argmax(values < 1))
            raise fail(
                f"run {i + 1} has {name} {values[i]}; starts are 1-based pixel indices and "
                "lengths are at least 1"
            )
    ends = starts + lengths - 1  # last pixel of each run, 1-based
    overlaps = starts[1:] <= ends[:-1]
    if overlaps.any():
        i = int(np.argmax(overlaps)) + 1
        raise fail(
            f"run {i + 1} (start {starts[i]}) begins before run {i} (start {starts[i - 1]}, "
            f"length {lengths[i - 1]}) ends at pixel {ends[i - 1]}; runs must be sorted by start "
            "and must not overlap"
        )
    if ends[-1] > size:
        raise fail(
            f"the last run ends at pixel {ends[-1]} but a {height}x{width} image has {size} "
            "pixels; check that the shape is (height, width) of the right image"
        )
    # Runs are sorted and disjoint, so each index appears at most once per fancy assignment.
    delta = np.zeros(size + 1, dtype=np.int8)
    delta[starts - 1] += 1
    delta[ends] -= 1
    mask[:] = np.cumsum(delta[:-1], dtype=np.int8)
    return mask.reshape(height, width)


def write_rle_csv(
    path: str | Path,
    rows: Iterable[tuple[str, np.ndarray | str]],
    *,
    header: tuple[str, str] = RLE_CSV_HEADER,
) -> int:
    """Write ``(img_id, mask or rle string)`` rows to a CSV file; return the number of rows.

    Arrays are encoded with :func:`encode_rle`; strings are written as given. Ids containing
    commas or quotes are quoted by the :mod:`csv` module.

    >>> import tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "masks.csv")
    >>> write_rle_csv(out, [("a.png", np.eye(2, dtype=np.uint8)), ("b.png", "")])
    2
    """
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for img_id, value in rows:
            rle = value if isinstance(value, str) else encode_rle(value)
            writer.writerow((img_id, rle))
            count += 1
    return count


def read_rle_csv(path: str | Path, *, header: tuple[str, str] = RLE_CSV_HEADER) -> dict[str, str]:
    """Read an ``img_id,rle_mask`` CSV file into ``{img_id: rle string}``.

    Other columns are allowed and ignored. Each RLE is checked to be an even number of
    non-negative integers; decode it with :func:`decode_rle` once the image shape is known.

    Raises
    ------
    DataError
        Naming the file and ``line N``: missing header columns, a row with a different number
        of columns than the header, an empty or duplicate ``img_id``, a malformed RLE.
    """
    # utf-8-sig: spreadsheet programs put a byte-order mark before the first column name.
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, strict=True)  # malformed quoting is an error, not a guess
        try:
            return _read_rle_rows(reader, path, header)
        except UnicodeDecodeError as error:
            raise DataError(
                f"not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8 CSV",
                path=path,
            ) from None
        except csv.Error as error:
            raise DataError(
                f"not a valid CSV file: {error}", path=path, field=f"line {reader.line_num}"
            ) from None


def _read_rle_rows(reader, path: str | Path, header: tuple[str, str]) -> dict[str, str]:
    """Parse the rows of a :func:`csv.reader` for :func:`read_rle_csv`."""
    id_column, rle_column = header
    masks: dict[str, str] = {}
    first_line: dict[str, int] = {}
    columns = next(reader, None)
    if columns is None:
        raise DataError(
            f"the file is empty; expected a header line '{id_column},{rle_column}'", path=path
        )
    columns = [c.strip() for c in columns]
    missing = [c for c in header if c not in columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}: the header has {columns}, and "
            f"{list(header)} are required; add a header line '{id_column},{rle_column}'",
            path=path,
            field="line 1",
        )
    id_index, rle_index = columns.index(id_column), columns.index(rle_column)
    for row in reader:
        where = f"line {reader.line_num}"
        if not row:  # blank line
            continue
        if len(row) != len(columns):
            raise DataError(
                f"{len(row)} columns, but the header has {len(columns)} ({columns}); "
                "quote ids that contain commas",
                path=path,
                field=where,
            )
        img_id, rle = row[id_index].strip(), row[rle_index].strip()
        if not img_id:
            raise DataError(
                f"empty {id_column}; every row needs an image id", path=path, field=where
            )
        if img_id in masks:
            raise DataError(
                f"duplicate {id_column} {img_id!r}, first on line {first_line[img_id]}; "
                "merge the two masks into one row (one row per image)",
                path=path,
                field=where,
            )
        if not _RLE_SYNTAX.fullmatch(rle) or len(rle.split()) % 2:
            hint = "; an empty mask is an empty field" if rle.lower() == "nan" else ""
            raise DataError(
                f"{rle_column} {rle[:40]!r} is not space-separated 'start length' pairs of "
                f"non-negative integers{hint}",
                path=path,
                field=where,
            )
        masks[img_id] = rle
        first_line[img_id] = reader.line_num
    return masks


# ----------------------------------------------------------------------------- COCO RLE


def encode_coco_rle(mask: np.ndarray) -> dict:
    """Encode a 2-D mask as compressed COCO RLE ``{"size": [h, w], "counts": str}``.

    The counts are pycocotools' compressed string, decoded to ASCII so the dict is
    JSON-serialisable. Pixels ``!= 0`` are foreground.

    >>> encode_coco_rle(np.array([[0, 1, 1], [0, 0, 1]]))
    {'size': [2, 3], 'counts': '2111'}
    """
    binary = _binary(mask)
    encoded = coco_mask.encode(np.asfortranarray(binary, dtype=np.uint8))
    return {"size": [int(n) for n in binary.shape], "counts": encoded["counts"].decode("ascii")}


def coco_uncompressed_rle(mask: np.ndarray) -> dict:
    """Encode a 2-D mask as uncompressed COCO RLE ``{"size": [h, w], "counts": list[int]}``.

    Column-major runs, alternating and starting with zeros (a first count of 0 when the top-left
    pixel is foreground). This is the ``iscrowd`` format that many annotation tools write.

    >>> coco_uncompressed_rle(np.array([[1, 1], [0, 1]]))
    {'size': [2, 2], 'counts': [0, 1, 1, 2]}
    """
    flat = _binary(mask).ravel(order="F")
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
        ``height``/``width``, or the counts are malformed or do not cover exactly h*w pixels.
    """

    def fail(message: str) -> DataError:
        return DataError(f"bad COCO RLE: {message}", path=path, field=field)

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
    counts = segmentation["counts"]
    if isinstance(counts, str):
        if not counts.isascii():
            raise fail("compressed counts contain non-ASCII characters")
        counts = counts.encode("ascii")
    if isinstance(counts, (list, tuple, np.ndarray)):
        try:
            numbers = np.asarray(counts)
        except ValueError:  # ragged nesting
            numbers = np.asarray(counts, dtype=object)
        if numbers.size == 0:
            numbers = numbers.astype(np.int64)
        if numbers.ndim != 1 or numbers.dtype.kind not in "iu":
            bad = next((n for n in counts if not _is_int(n)), None)
            if bad is None:  # integers too large for int64
                raise fail(f"uncompressed count {max(counts)} is larger than any image")
            raise fail(f"uncompressed counts must be a flat list of integers, found {bad!r}")
        if numbers.size and numbers.min() < 0:
            raise fail(f"uncompressed counts must be >= 0, found {numbers.min()}")
        total = int(numbers.sum(dtype=np.uint64))
        if total != h * w:
            raise fail(
                f"uncompressed counts add up to {total} pixels but size {h}x{w} has "
                f"{h * w}; check the size and that the counts are column-major (COCO order)"
            )
        uint_counts = numbers.astype(np.uint32)
        rle = coco_mask.frPyObjects({"size": [h, w], "counts": uint_counts}, h, w)
    elif isinstance(counts, bytes):
        try:
            parsed = _compressed_counts(counts)
        except ValueError as error:
            raise fail(f"compressed counts cannot be decoded: {error}") from None
        # pycocotools does not check this: a short string leaves pixels uninitialised.
        if (parsed < 0).any() or int(parsed.sum()) != h * w:
            raise fail(
                f"compressed counts add up to {int(parsed.sum())} pixels (or contain a negative "
                f"count) but size {h}x{w} has {h * w}; check the size, or the string is corrupt"
            )
        rle = {"size": [h, w], "counts": counts}
    else:
        raise fail(
            f"counts must be a compressed string or a list of integers, got {type(counts).__name__}"
        )
    try:
        with warnings.catch_warnings():
            # pycocotools' Cython object predates numpy 2's __array__(copy=...) protocol.
            warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
            mask = coco_mask.decode(rle)
    except Exception as error:  # pycocotools raises bare ValueError/TypeError/OverflowError
        raise fail(f"pycocotools cannot decode it: {error}") from error
    if mask.shape != (h, w) or mask.max(initial=0) > 1:
        raise fail(f"pycocotools decoded it to shape {mask.shape}, not a {h}x{w} 0/1 mask")
    return np.ascontiguousarray(mask)


def polygons_to_mask(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Rasterise COCO polygons (flat ``[x1, y1, ...]`` lists, >= 3 points each) with pycocotools.

    Returns an ``H x W`` uint8 0/1 mask, the union of the polygons, exactly as pycocotools'
    ``annToMask`` draws them.
    """
    if not polygons:
        return np.zeros((height, width), np.uint8)
    rles = coco_mask.frPyObjects([[float(v) for v in p] for p in polygons], height, width)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        return np.ascontiguousarray(coco_mask.decode(coco_mask.merge(rles)))


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
