"""EXIF orientation (the TIFF Orientation tag for TIFFs): read it, and apply it exactly once.

The arrays seglab returns are what a viewer shows and what annotation tools draw on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seglab.io.png import png_trailing_exif

EXIF_ORIENTATION = 0x0112
TIFF_ORIENTATION = 274
# orientation -> (flip rows, flip columns), applied after swapping the axes for 5..8
ORIENTATION_FLIPS = {
    2: (False, True),
    3: (True, True),
    4: (True, False),
    5: (False, False),
    6: (False, True),
    7: (True, True),
    8: (True, False),
}


def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF/TIFF orientation (1..8) to an ``H x W [x C]`` array, as a viewer does."""
    if orientation not in ORIENTATION_FLIPS:
        return arr
    if orientation >= 5:
        arr = arr.swapaxes(0, 1)
    flip_rows, flip_cols = ORIENTATION_FLIPS[orientation]
    if flip_rows:
        arr = arr[::-1]
    if flip_cols:
        arr = arr[:, ::-1]
    return arr


def exif_orientation(img: Image.Image, path: Path, *, decoded: bool) -> int:
    """The EXIF orientation (1..8) of an open image; 1 when absent, invalid or unreadable."""
    try:
        if img.format == "PNG" and not decoded:
            # Pillow's PNG getexif decodes every pixel to find an eXIf chunk placed after them;
            # put that chunk where a decoded image would have it, and read the header only.
            if "exif" not in img.info and (trailing := png_trailing_exif(path)) is not None:
                img.info["exif"] = b"Exif\x00\x00" + trailing
            exif = Image.Image.getexif(img)
        else:
            exif = img.getexif()
        value = int(exif.get(EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not make the image unreadable
        return 1
    return value if value in ORIENTATION_FLIPS else 1


def tiff_orientation(value: object) -> int:
    """The orientation (1..8) a TIFF Orientation tag value asks for; 1 when absent or invalid."""
    return value if isinstance(value, int) and value in ORIENTATION_FLIPS else 1
