"""What every converter shares: output folders that must not touch the input, clearing what is
replaced, the names and copies of images, skipping unreadable items with a warning, and the
objects of an item checked against its image.

Used by :mod:`seglab.data.convert.to_masks`, :mod:`seglab.data.convert.to_coco`,
:mod:`seglab.data.convert.to_csv`, :mod:`seglab.data.convert.to_labels`,
:mod:`seglab.data.convert.to_dsb` and :func:`seglab.data.convert.convert_dataset`.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from seglab.core.labels import InstanceLabels
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


def item_objects(source: SegmentationSource, index: int) -> InstanceLabels | None:
    """The objects of item ``index`` (``None`` for an unlabelled source), its image read and
    the sizes checked (:meth:`~SegmentationSource.load_objects`): a :class:`DataError` names
    an unreadable or mismatched file."""
    if source.labelled:
        return source.load_objects(index)[1]
    source.load_image(index)
    return None


def copy_image(source: SegmentationSource, index: int, dest_dir: Path, name: str) -> Path:
    """Copy the image file of item ``index`` to ``dest_dir / name``; return the copy's path."""
    dest = dest_dir / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source.items[index].image_path, dest)
    return dest


def merged_classes(source: SegmentationSource) -> str | None:
    """A note when ``source`` has several object classes, which formats holding objects of one
    class (label images, DSB folders) merge into one; ``None`` when there is one class."""
    if not source.labelled or source.num_classes <= 2:
        return None
    names = ", ".join(source.classes[1:])
    note = (
        f"{source.num_classes - 1} classes ({names}) merged into one: label images and DSB "
        "folders hold objects of one class; convert --to coco to keep the classes"
    )
    warnings.warn(note, RuntimeWarning, stacklevel=3)
    return note


def object_class_name(source: SegmentationSource) -> str:
    """The name of the one class objects are written as: the source's, when it has one."""
    return source.classes[1] if source.labelled and source.num_classes == 2 else "object"


__all__ = [
    "clear_paths",
    "copy_image",
    "input_paths",
    "item_objects",
    "merged_classes",
    "object_class_name",
    "refuse_inside",
    "relative_name",
    "skip_item",
]
