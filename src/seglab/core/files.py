"""File names and writes every command shares: which files are images, item keys as safe and
unique file names, output folders that never overwrite work by surprise, atomic writes.

>>> safe_name("a/b c.jpg")
'a__b_c'
>>> used = set(); unique_name("x", used), unique_name("X", used)
('x', 'X_2')
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from seglab.errors import SeglabError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
"""Extensions seglab reads as images (case-insensitive)."""


def is_image_file(path: str | Path) -> bool:
    """True when ``path`` has an extension seglab reads as an image."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def safe_name(key: str) -> str:
    """A file name (without extension) for an item key: ``"a/b c.jpg"`` -> ``"a__b_c"``."""
    name = key.replace("\\", "/")
    if is_image_file(name):
        name = name[: -len(Path(name).suffix)]
    name = name.replace("/", "__")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")
    return name[:120] or "item"


def unique_name(name: str, used: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... if taken (case-insensitively); records it."""
    candidate, k = name, 1
    while candidate.lower() in used:
        k += 1
        candidate = f"{name}_{k}"
    used.add(candidate.lower())
    return candidate


def prepare_out(out: str | Path, overwrite: bool, *, what: str) -> Path:
    """Create ``out``; refuse a file, or a non-empty folder unless ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SeglabError(f"{out}: exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SeglabError(
            f"{out}: folder is not empty; pass overwrite=True (--overwrite) to write the {what} "
            "into it anyway, or choose another output folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a file beside ``path``, then rename it into place, so a reader
    (or a run killed mid-write) never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
    return path
