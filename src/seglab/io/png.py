"""PNG details Pillow gets wrong, read from the file's own chunks.

Pillow keeps only the high byte of 16-bit colour PNGs (those are decoded with OpenCV here), and
finds an eXIf chunk stored after the pixels only by decoding every pixel.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from seglab.errors import DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# 16-bit PNG colour types that Pillow reduces to 8 bits: colour type -> mode name
PNG16_MODES = {2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}


def png_trailing_exif(path: Path) -> bytes | None:
    """The eXIf chunk of a PNG, read by skipping from chunk header to chunk header."""
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            return None
        while len(head := f.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kind == b"eXIf":
                return f.read(length)
            if kind == b"IEND":
                break
            f.seek(length + 4, 1)
    return None


def png16_colour_type(path: Path) -> int | None:
    """The colour type of a 16-bit colour PNG (2 RGB, 4 grey + alpha, 6 RGBA), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError:
        return None  # Pillow reports it
    is_png = len(head) == 26 and head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR"
    return head[25] if is_png and head[24] == 16 and head[25] in PNG16_MODES else None


def read_png16(path: Path, colour_type: int, size: tuple[int, int]) -> np.ndarray:
    """Decode a 16-bit colour PNG at full depth as ``H x W x C`` uint16 (RGB, LA or RGBA)."""
    import cv2  # only these files need it

    data = path.read_bytes()
    if not _png16_stream_ok(data, size, colour_type):
        raise DataError(
            "unreadable or truncated 16-bit PNG (its pixel data is cut or corrupt); "
            "re-export or remove the file",
            path=path,
        )
    # OpenCV prints its own warnings about a broken file to the terminal; the DataError below
    # says it once, with the file's name
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        arr = None
    finally:
        cv2.utils.logging.setLogLevel(level)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[:2] != size[::-1]:
        raise DataError(
            "unreadable or truncated 16-bit PNG; re-export or remove the file", path=path
        )
    # OpenCV gives BGR(A), and grey + alpha as BGRA with B = G = R
    order = {2: [2, 1, 0], 4: [0, 3], 6: [2, 1, 0, 3]}[colour_type]
    return np.ascontiguousarray(arr[..., order])


def _png16_stream_ok(data: bytes, size: tuple[int, int], colour_type: int) -> bool:
    """Check a 16-bit colour PNG's chunks (lengths, CRCs) and pixel stream (complete zlib data,
    valid row filters) before OpenCV decodes it: libpng prints its complaints about a broken
    file straight to the terminal, where they would come before seglab's own message."""
    width, height = size
    channels = {2: 3, 4: 2, 6: 4}[colour_type]
    pos, idat, interlaced = 8, [], False
    while True:
        if pos + 12 > len(data):
            return False  # cut before IEND
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if (
            len(body) < length
            or len(crc) < 4
            or zlib.crc32(kind + body) != int.from_bytes(crc, "big")
        ):
            return False
        if kind == b"IHDR":
            interlaced = len(body) == 13 and body[12] != 0
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    expected = height * (1 + width * channels * 2)  # a filter byte, then the row's samples
    stream = zlib.decompressobj()
    try:
        raw = stream.decompress(b"".join(idat), 2 * expected + 1)  # Adam7 adds filter bytes
    except zlib.error:
        return False
    if not stream.eof:
        return False
    if interlaced:
        return True
    if len(raw) != expected:
        return False
    filters = np.frombuffer(raw, np.uint8).reshape(height, -1)[:, 0]
    return bool((filters <= 4).all())
