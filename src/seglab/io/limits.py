"""Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``), kept for every format.

A larger image is refused with a :class:`~seglab.errors.DataError` that says how to lift the
limit; ``allow_large=True`` lifts it for one read (``--allow-large-images`` of the ``seglab data``
commands), and the environment variable ``SEGLAB_ALLOW_LARGE_IMAGES=1`` lifts it for every read
of a process, whatever the command (``seglab predict`` on a whole-slide image, training); the
global limit is never left changed.
"""

from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from seglab.errors import DataError

ALLOW_LARGE_ENV = "SEGLAB_ALLOW_LARGE_IMAGES"


def large_allowed(allow_large: bool) -> bool:
    """Is the limit lifted: by ``allow_large``, or by ``SEGLAB_ALLOW_LARGE_IMAGES`` set to
    anything but ``""``/``0``?"""
    return allow_large or os.environ.get(ALLOW_LARGE_ENV, "").strip() not in ("", "0")


def too_large(path: Path, detail: str, limit: int) -> DataError:
    """The error for an image above the limit; ``detail`` says how large it is."""
    return DataError(
        f"{detail}, more than the decompression-bomb safety limit of {limit:,} pixels "
        "(PIL.Image.MAX_IMAGE_PIXELS). If you trust this file, pass --allow-large-images "
        f"(seglab data commands; allow_large=True in Python) or set {ALLOW_LARGE_ENV}=1 "
        "(any command), or tile the image into smaller files.",
        path=path,
    )


@contextmanager
def pillow_limits(path: Path, allow_large: bool):
    """Turn Pillow's decompression-bomb warning/error into a :class:`DataError` (or lift it)."""
    allow_large = large_allowed(allow_large)
    limit = Image.MAX_IMAGE_PIXELS
    if allow_large:
        Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; seglab refuses from 1x, as for TIFFs
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        detail = f"image of {int(found[1]):,} pixels" if found else f"image too large ({exc})"
        raise too_large(path, detail, limit) from None
    finally:
        if allow_large:
            Image.MAX_IMAGE_PIXELS = limit


def check_size(path: Path, width: int, height: int, allow_large: bool) -> None:
    """Refuse a ``width x height`` image above Pillow's limit, for readers other than Pillow."""
    limit = Image.MAX_IMAGE_PIXELS
    if not large_allowed(allow_large) and limit is not None and width * height > limit:
        raise too_large(path, f"image of {width} x {height} = {width * height:,} pixels", limit)
