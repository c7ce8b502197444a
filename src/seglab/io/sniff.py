"""What a file holds, from its first bytes: which reader to use, and why it is not an image.

The extension says what a file should hold; the first bytes say what it does. seglab picks the
reader by the content (a PNG named ``.tif`` is read as a PNG, a TIFF named ``.png`` as a TIFF),
and when no reader can read a file, :func:`unreadable_reason` says what the file is instead (empty,
text, HTML, a PDF...) so the message tells a person what went wrong.
"""

from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

from seglab.io.meta import TIFF_EXTENSIONS

# magic numbers of the formats seglab reads, and of a few files that end up named .png/.jpg
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"),
)
_HEAD = 512
PERMISSION_DENIED = "permission denied: the file cannot be read; check its permissions"


def read_head(path: Path, size: int = _HEAD) -> bytes | None:
    """The first ``size`` bytes of ``path``, or ``None`` when it cannot be opened."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return None


def content_format(head: bytes) -> str | None:
    """The format the bytes ``head`` start with (``"PNG"``, ``"TIFF"``, ``"a PDF document"``...),
    or ``None`` when they match no known signature."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)


def is_tiff(path: Path) -> bool:
    """Read ``path`` with the TIFF reader? By its content, else (unreadable, empty, unknown
    bytes) by its extension, so the error comes from the reader its name promises."""
    head = read_head(path, 16)
    found = content_format(head) if head else None
    if found is None:
        return path.suffix.lower() in TIFF_EXTENSIONS
    return found == "TIFF"


def missing_reason(path: Path) -> str:
    """Why ``path`` is not a file that can be opened: missing, a folder, a broken or looping
    symbolic link, or not readable."""
    if path.is_symlink():
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "symbolic link loop (the link points back to itself); fix or remove it"
            target = os.readlink(path)
            return f"broken symbolic link (it points to {target}, which does not exist)"
    if path.is_dir():
        return "a folder, not an image file"
    if not path.exists():
        return "file not found"
    if not os.access(path, os.R_OK):
        return PERMISSION_DENIED
    return "not a regular file (a device, pipe or socket?)"


def unreadable_reason(path: Path) -> str | None:
    """What ``path`` holds when it is not an image: ``"the file is empty (0 bytes)"``, text,
    HTML, another format named like an image; ``None`` when nothing tells."""
    head = read_head(path)
    if head is None:
        return None
    if not head:
        return "the file is empty (0 bytes): the copy or download did not finish"
    found = content_format(head)
    if found is not None and found.startswith("a "):
        return f"the file is {found}, not an image"
    if found == "PNG" and len(head) >= 24 and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        if width == 0 or height == 0:
            return f"the PNG header declares an empty image ({width} x {height} pixels)"
    text = _as_text(head)
    if text is None:
        return None
    start = " ".join(text.split())[:40]
    if "<svg" in text.lower():
        return "the file is an SVG drawing (vector graphics); export it as PNG"
    kind = "HTML (a web page: was an error page saved?)" if _is_html(text) else "text"
    return f"the file holds {kind}, not image data (it starts {start!r})"


def _as_text(head: bytes) -> str | None:
    """``head`` decoded, when it is printable UTF-8 text (the last character may be cut)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return text if text and printable == len(text) else None


def _is_html(text: str) -> bool:
    start = text.lstrip().lower()
    return start.startswith(("<!doctype html", "<html", "<head", "<body"))
