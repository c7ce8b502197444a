"""What seglab reads as an image, and what it reports about a file it read (:class:`ImageMeta`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seglab.core.files import IMAGE_EXTENSIONS, is_image_file

__all__ = ["IMAGE_EXTENSIONS", "TIFF_EXTENSIONS", "ImageMeta", "is_image_file"]

TIFF_EXTENSIONS = (".tif", ".tiff")


@dataclass(frozen=True)
class ImageMeta:
    """What :func:`~seglab.io.read_image` / :func:`~seglab.io.read_mask` learned about a file.

    Attributes
    ----------
    path: the file read.
    format: container format as Pillow/tifffile names it ("JPEG", "PNG", "TIFF", ...).
    mode: Pillow mode of the stored image ("L", "RGB", "P", "I;16", ...; "RGB;16", "RGBA;16",
        "LA;16" for 16-bit colour PNGs), or for TIFFs the photometric interpretation
        ("MINISBLACK", "RGB", "PALETTE", ...).
    dtype: numpy dtype name of the stored samples, before any conversion.
    bit_depth: bits per stored sample (1, 8, 16, 32...).
    height, width: of the returned array (after EXIF orientation).
    channels: of the returned array (1 for masks read as H x W).
    stored_size: (width, height) as stored in the file, before EXIF orientation.
    exif_transposed: the file's orientation tag asked for a flip or rotation, which was applied.
    has_nonfinite: the image holds NaN or Inf.
    palette: for palette masks, an (N, 3) uint8 array of colours, else None.
    """

    path: str
    format: str
    mode: str
    dtype: str
    bit_depth: int
    height: int
    width: int
    channels: int
    stored_size: tuple[int, int]
    exif_transposed: bool = False
    has_nonfinite: bool = False
    palette: np.ndarray | None = field(default=None, compare=False, repr=False)
