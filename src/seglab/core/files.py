"""File names and writes every command shares: which files are images, item keys as safe and
unique file names, output folders that never overwrite work by surprise, atomic writes.

>>> safe_name("a/b c.jpg")
'a__b_c'
>>> used = set(); unique_name("x", used), unique_name("X", used)
('x', 'X_2')
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

from seglab.errors import ConfigError

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


NAME_MAX = 255
"""The longest file or folder name, in bytes, that common file systems (ext4, APFS, NTFS) take."""


def check_output_path(path: str | Path, *, option: str = "--out") -> Path:
    """``path`` if a file or folder can be made there, else :class:`ConfigError` naming
    ``option`` and the path: a name longer than :data:`NAME_MAX` bytes, or a folder on the way
    that is a file. Checked before any work, so a long run does not fail at its last step."""
    path = Path(path)
    for index, part in enumerate(path.parts):
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            shown = part if len(part) <= 40 else f"{part[:20]}...{part[-12:]}"
            where = Path(*path.parts[:index]) if index else Path(".")
            raise ConfigError(
                f"{option}: the name {shown!r} in {where} is {size} bytes long; file systems "
                f"take at most {NAME_MAX}: choose a shorter {option}"
            )
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            raise ConfigError(
                f"{option} {path}: {parent} is a file, not a folder; choose another {option}"
            )
    return path


def make_folder(path: str | Path, *, option: str = "--out") -> Path:
    """Create the folder ``path`` and its parents (fine when it exists); an operating-system
    error becomes a :class:`ConfigError` naming ``option``, the path and why: every output
    folder seglab makes for an option goes through here."""
    path = check_output_path(path, option=option)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: exists and is not a folder; choose another {option}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{option} {path}: cannot create the folder ({_why(exc)}); choose another {option}"
        ) from None
    return path


def _why(exc: OSError) -> str:
    """An operating-system error in a few words."""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "no permission to write there"
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    return exc.strerror or str(exc)


def prepare_out(out: str | Path, overwrite: bool, *, what: str, option: str = "--out") -> Path:
    """Create ``out``; refuse a file, a non-empty folder unless ``overwrite``, or a path no
    folder can be made at (:func:`make_folder`); errors name ``option``."""
    out = check_output_path(out, option=option)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out}: exists and is not a folder; choose another {option}")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(
            f"{out}: folder is not empty; pass overwrite=True (--overwrite) to write the {what} "
            "into it anyway, or choose another output folder"
        )
    return make_folder(out, option=option)


def prepare_file(path: str | Path, *, option: str) -> Path:
    """Make the folder a file ``path`` will be written in (for an ``option`` naming a file, such
    as ``--rle-csv``); :class:`ConfigError` as :func:`make_folder` says."""
    path = check_output_path(path, option=option)
    make_folder(path.parent, option=option)
    return path


def atomic_write(path: str | Path, write: Callable[[Path], None], *, shared: bool = False) -> Path:
    """Call ``write(tmp)`` on a file beside ``path``, then rename it into place, so a reader
    (or a run killed mid-write) never sees half a file. ``shared``: several processes may write
    ``path`` at once (a study's workers), so each writes its own ``NAME.PID.tmp``."""
    path = Path(path)
    name = f"{path.name}.{os.getpid()}" if shared else path.name
    tmp = path.with_name(_tmp_name(name))
    write(tmp)
    os.replace(tmp, path)
    return path


def _tmp_name(name: str) -> str:
    """``NAME.tmp``; a name too long for the suffix (over 251 bytes) gets a short one from its
    digest, so every name :func:`check_output_path` accepts can be written atomically."""
    if len(os.fsencode(name)) + 4 <= NAME_MAX:
        return name + ".tmp"
    import hashlib

    return f"{hashlib.sha1(os.fsencode(name)).hexdigest()[:16]}.tmp"
