"""What every converter shares: output folders that must not touch the input, clearing what is
replaced, the names and copies of images, and skipping unreadable items with a warning.

Used by :mod:`seglab.data.convert.to_masks`, :mod:`seglab.data.convert.to_coco`,
:mod:`seglab.data.convert.to_csv` and
:func:`seglab.data.convert.convert_dataset`.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from seglab.data.base import SegmentationSource
from seglab.errors import DataError, SeglabError


def _overlaps(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a in b.parents or b in a.parents


def input_paths(source: SegmentationSource) -> list[Path]:
    """The folders and files ``source`` reads: its root, images, masks and annotation file."""
    found = [source.root]
    for name in ("images_dir", "masks_dir", "json_path"):
        value = getattr(source, name, None)
        if value is not None:
            found.append(Path(value))
    return found


def refuse_inside(out: Path, inputs: Iterable[Path], targets: Iterable[Path]) -> None:
    """Refuse ``out`` inside the input, and any folder about to be replaced overlapping it."""
    out = Path(out)
    for src in inputs:
        if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
            raise SeglabError(
                f"{out}: the output folder is inside the input dataset ({src}); choose an "
                "output folder outside the dataset"
            )
        for target in targets:
            if _overlaps(target, src):
                raise SeglabError(
                    f"{target}: writing here would replace input files ({src}); choose another "
                    "output folder"
                )


def clear_paths(*paths: Path) -> None:
    """Delete each of ``paths`` (folder or file) that exists."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def relative_name(source: SegmentationSource, index: int) -> str:
    """The image's path relative to the source's images folder (the name copies get)."""
    item = source.items[index]
    base = getattr(source, "images_dir", None)
    if base is not None:
        try:
            return item.image_path.relative_to(base).as_posix()
        except ValueError:
            pass
    key = PurePosixPath(item.key.replace("\\", "/"))
    if key.suffix and not key.is_absolute() and ".." not in key.parts:
        return key.as_posix()
    return item.image_path.name


def skip_item(what: str, exc: DataError, skipped: list[str]) -> None:
    """Warn that an item of the ``what`` conversion is skipped and add it to ``skipped``."""
    warnings.warn(f"{what}: skipping unreadable item: {exc}", RuntimeWarning, stacklevel=3)
    skipped.append(str(exc))


def copy_image(source: SegmentationSource, index: int, dest_dir: Path, name: str) -> Path:
    """Copy the image file of item ``index`` to ``dest_dir / name``; return the copy's path."""
    dest = dest_dir / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.items[index].image_path, dest)
    return dest


__all__ = [
    "clear_paths",
    "copy_image",
    "input_paths",
    "refuse_inside",
    "relative_name",
    "skip_item",
]
