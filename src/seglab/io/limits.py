"""Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``), kept for every format.

A larger image is refused with a :class:`~seglab.errors.DataError` that says how to lift the
limit; ``allow_large=True`` lifts it for one read, and the global limit is never left changed.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from seglab.errors import DataError


def too_large(path: Path, detail: str, limit: int) -> DataError:
    """The error for an image above the limit; ``detail`` says how large it is."""
    return DataError(
        f"{detail}, more than the decompression-bomb safety limit of {limit:,} pixels "
        "(PIL.Image.MAX_IMAGE_PIXELS). If you trust this file, pass allow_large=True "
        "(CLI: --allow-large-images), or tile the image into smaller files.",
        path=path,
    )


@contextmanager
def pillow_limits(path: Path, allow_large: bool):
    """Turn Pillow's decompression-bomb warning/error into a :class:`DataError` (or lift it)."""
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
    if not allow_large and limit is not None and width * height > limit:
        raise too_large(path, f"image of {width} x {height} = {width * height:,} pixels", limit)
