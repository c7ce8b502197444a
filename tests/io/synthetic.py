"""Tiny synthetic image files with known pixels, for the tests of seglab.io."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

H, W = 6, 8  # stored height and width of most test images


def _rgb(h: int = H, w: int = W) -> np.ndarray:
    """An RGB image whose every pixel is different, so any flip or rotation shows."""
    i = np.arange(h * w).reshape(h, w)
    return np.stack([i * 5 % 256, (i * 7 + 50) % 256, 255 - i], axis=-1).astype(np.uint8)


def _grey(h: int = H, w: int = W) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) * 5).astype(np.uint8)


def _save(path: Path, arr: np.ndarray, **kwargs) -> Path:
    Image.fromarray(arr).save(path, **kwargs)
    return path


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += length + 12
    return chunks


def _png_bytes(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body)
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))
    return b"".join(out)


def _png16(path: Path, arr: np.ndarray, colour_type: int) -> Path:
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit colour or grey + alpha)."""
    h, w = arr.shape[:2]
    rows = arr.astype(">u2").reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(_png_bytes([(b"IHDR", header), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]))
    return path


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _assert_names_file(excinfo: pytest.ExceptionInfo, path: Path) -> str:
    message = str(excinfo.value)
    assert path.name in message
    return message


PALETTE = np.array([(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)], np.uint8)


def _indices(h: int = H, w: int = W) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) % len(PALETTE)).astype(np.uint8)


def _palette_png(path: Path, transparency: bytes | None = None) -> Path:
    img = Image.fromarray(_indices())
    img.putpalette(PALETTE.reshape(-1).tolist())
    if transparency is None:
        img.save(path)
    else:
        img.save(path, transparency=transparency)
    return path
