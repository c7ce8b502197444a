"""Opening a file with Pillow: every failure becomes a :class:`~seglab.errors.DataError`.

Also what Pillow's modes say about the samples the file stored.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from seglab.errors import DataError
from seglab.io.limits import pillow_limits
from seglab.io.orientation import exif_orientation
from seglab.io.sniff import PERMISSION_DENIED, missing_reason, unreadable_reason

# stored sample type of the Pillow modes that are not 8-bit
_MODE_DTYPES = {"1": "bool", "I": "int32", "F": "float32"}
# exceptions Pillow and its plugins raise for files they cannot decode
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


def open_pillow(path: Path, allow_large: bool, *, decode: bool) -> tuple[Image.Image, str, int]:
    """Open (and with ``decode``, fully decode) an image with Pillow, naming the file in failures.

    Returns the image, its format and its EXIF orientation; the file is closed on return.
    """
    if not path.is_file():
        raise DataError(missing_reason(path), path=path)
    with pillow_limits(path, allow_large):
        try:
            with Image.open(path) as img:
                fmt = img.format or path.suffix.lstrip(".").upper()
                if decode:
                    img.load()
                orientation = exif_orientation(img, path, decoded=decode)
        except PermissionError:
            raise DataError(PERMISSION_DENIED, path=path) from None
        except UnidentifiedImageError:
            reason = unreadable_reason(path) or (
                "not an image Pillow can read (unknown format or corrupt header)"
            )
            raise DataError(f"{reason}; re-export or remove the file", path=path) from None
        except _DECODE_ERRORS as exc:
            raise DataError(
                f"unreadable or truncated image ({type(exc).__name__}: {exc}); "
                "re-export or remove the file",
                path=path,
            ) from None
    return img, fmt, orientation


def sample_dtype(img: Image.Image, fmt: str) -> np.dtype:
    """The numpy type of the samples a Pillow image of format ``fmt`` stored."""
    if img.mode.startswith("I;16") or (img.mode == "I" and fmt == "PNG"):
        return np.dtype(np.uint16)  # PNG has no 32-bit samples: older Pillow opens 16-bit as "I"
    return np.dtype(_MODE_DTYPES.get(img.mode, "uint8"))
