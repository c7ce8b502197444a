"""The seed's run-length format: row-major, 1-based ``start length`` pairs (see the package
docstring of :mod:`seglab.data.rle`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from seglab.errors import DataError

# ASCII digits and any whitespace (a spreadsheet's non-breaking space too): what str.split() splits
RLE_SYNTAX = re.compile(r"(?:[0-9]|\s)*")
_MAX_DIGITS = 18  # int64 holds every 18-digit number; longer tokens are not pixel indices.


def as_binary_mask(mask: np.ndarray, name: str = "mask") -> np.ndarray:
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
    flat = as_binary_mask(mask).ravel().view(np.int8)
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

    numbers = _rle_numbers(rle, size, fail)
    if numbers is None:  # an empty mask
        return mask.reshape(height, width)
    starts, lengths = numbers[0::2], numbers[1::2]
    ends = _check_runs(starts, lengths, height, width, fail)
    # Runs are sorted and disjoint, so each index appears at most once per fancy assignment.
    delta = np.zeros(size + 1, dtype=np.int8)
    delta[starts - 1] += 1
    delta[ends] -= 1
    mask[:] = np.cumsum(delta[:-1], dtype=np.int8)
    return mask.reshape(height, width)


def _rle_numbers(rle: str, size: int, fail: Callable[[str], DataError]) -> np.ndarray | None:
    """Check the string's syntax and parse its numbers; ``None`` when it holds none."""
    if not isinstance(rle, str):
        raise fail(
            f"expected a string of 'start length' pairs, got {type(rle).__name__} {rle!r}; "
            "an empty mask is written as an empty string"
        )
    tokens = rle.split()
    if not tokens:
        return None
    bad = None
    if not RLE_SYNTAX.fullmatch(rle):  # the fast check; the slow one only says which token
        bad = next((t for t in tokens if not (t.isascii() and t.isdigit())), None)
    if bad is not None:
        hint = "; an empty mask is written as an empty string" if bad.lower() == "nan" else ""
        raise fail(
            f"{bad[:20]!r} (number {tokens.index(bad) + 1}) is not a non-negative integer; "
            f"the mask must be space-separated 'start length' integer pairs{hint}"
        )
    if len(tokens) % 2:
        raise fail(
            f"{len(tokens)} numbers is odd; the mask must be 'start length' pairs, "
            f"check the end of the string: ...{' '.join(tokens[-3:])!r}"
        )
    if max(map(len, tokens)) > _MAX_DIGITS:
        raise fail(f"a number has more than {_MAX_DIGITS} digits; the image has {size} pixels")
    # The syntax is checked above, so the fast text parser cannot stop early or misread; the
    # tokens are joined by plain spaces, as it knows no other whitespace than ASCII's.
    return np.fromstring(" ".join(tokens), dtype=np.int64, sep=" ")


def _check_runs(
    starts: np.ndarray,
    lengths: np.ndarray,
    height: int,
    width: int,
    fail: Callable[[str], DataError],
) -> np.ndarray:
    """Check runs are >= 1, sorted, disjoint and inside the image; return their last pixels."""
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
    size = height * width
    if ends[-1] > size:
        raise fail(
            f"the last run ends at pixel {ends[-1]} but a {height}x{width} image has {size} "
            "pixels; check that the shape is (height, width) of the right image"
        )
    return ends
