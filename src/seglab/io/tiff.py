"""Reading a TIFF's first image with tifffile (imported only when a TIFF is read).

tifffile reads what Pillow cannot: 16-bit RGB, float, multi-channel, ``C x H x W`` planar pages
and ImageJ ``CYX`` channel stacks. Any other multi-page TIFF gives its first page, with a
warning that names the file and says how many pages it has.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seglab.errors import DataError
from seglab.io.limits import check_size
from seglab.io.orientation import TIFF_ORIENTATION, tiff_orientation
from seglab.io.sniff import PERMISSION_DENIED, missing_reason, unreadable_reason


@dataclass(frozen=True)
class Tiff:
    """A TIFF's first image as stored (before orientation and any conversion)."""

    width: int
    height: int
    orientation: int
    photometric: str = ""
    array: np.ndarray | None = None  # H x W or H x W x C; palette TIFFs hold indices
    bit_depth: int = 8
    alpha_channels: tuple[int, ...] = ()
    palette: np.ndarray | None = None  # (N, 3) uint8 colours of a palette TIFF


def read_tiff(path: Path, allow_large: bool, *, decode: bool = True) -> Tiff:
    """Read the first image of a TIFF with tifffile (only its header when ``decode`` is False)."""
    import tifffile

    if not path.is_file():
        raise DataError(missing_reason(path), path=path)
    try:
        with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise DataError("TIFF file holds no image", path=path)
            page = tif.pages[0]
            width, height = int(page.imagewidth), int(page.imagelength)
            orientation = tiff_orientation(page.tags.valueof(TIFF_ORIENTATION, 1))
            if not decode:
                return Tiff(width, height, orientation)
            check_size(path, width, height, allow_large)
            pages = 1
            if tif.is_imagej and len(tif.pages) > 1 and tif.series[0].axes == "CYX":
                # ImageJ / Fiji store a C x H x W stack as one page per channel
                arr = np.moveaxis(tif.series[0].asarray(), 0, -1)
            else:
                pages = _page_count(tif)
                arr = page.asarray()
                if page.samplesperpixel > 1 and page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
                    arr = np.moveaxis(arr, 0, -1)  # C x H x W planes
            extras = tuple(int(e) for e in page.extrasamples)
            base = page.samplesperpixel - len(extras)
            alpha = tuple(base + i for i, e in enumerate(extras) if e in (1, 2))  # assoc./unassoc.
            photometric = getattr(page.photometric, "name", str(page.photometric))
            palette = None
            if photometric == "PALETTE" and page.colormap is not None:
                cmap = np.asarray(page.colormap).T  # (N, 3), 16-bit; some writers store 8-bit
                palette = (cmap // 257 if cmap.max() > 255 else cmap).astype(np.uint8)
            bit_depth = int(page.bitspersample)
    except (DataError, MemoryError):
        raise
    except PermissionError:
        raise DataError(PERMISSION_DENIED, path=path) from None
    except Exception as exc:  # tifffile and its codecs raise many types for a broken file
        reason = unreadable_reason(path) or (
            f"unreadable or truncated TIFF ({type(exc).__name__}: {exc})"
        )
        raise DataError(f"{reason}; re-export or remove the file", path=path) from None
    if pages > 1:  # warned outside the try: a warning turned error is not a broken file
        warnings.warn(
            f"{path}: multi-page TIFF: seglab reads page 1 of {pages} (one image per file); "
            "save the other pages as files of their own to use them",
            UserWarning,
            stacklevel=3,
        )
    if arr.ndim not in (2, 3) or arr.shape[:2] != (height, width):
        raise DataError(
            f"cannot read an array of shape {arr.shape} as one {width} x {height} image "
            "(expected H x W, H x W x C or C x H x W); save volumes as one file per slice",
            path=path,
        )
    alpha = alpha if arr.ndim == 3 and all(i < arr.shape[-1] for i in alpha) else ()
    return Tiff(width, height, orientation, photometric, arr, bit_depth, alpha, palette)


@contextmanager
def _quiet_tifffile():
    """Keep tifffile from logging what it finds wrong in a file: the DataError seglab raises
    says it once, with the file's name, instead of lines of tag offsets before it."""
    logger = logging.getLogger("tifffile")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _page_count(tif) -> int:
    """The number of pages of a TIFF, not counting reduced-resolution copies of the first page
    (pyramidal TIFFs); seglab reads page 1 only."""
    count = len(tif.pages)  # seeks the page headers only, without reading any page
    if count > 1 and getattr(tif.pages[1], "is_reduced", False):
        return 1
    return count
