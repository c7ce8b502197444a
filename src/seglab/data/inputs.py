"""Unlabelled images: folders, single files and glob patterns (test sets, inputs to segment)."""

from __future__ import annotations

import glob
from pathlib import Path

from seglab.data.base import Item, ProblemLog, SegmentationSource
from seglab.errors import DataError
from seglab.io import is_image_file


class ImageFolderSource(SegmentationSource):
    """Every image file under a folder, sorted by relative path; no labels."""

    kind = "images"

    def __init__(self, images: str | Path, *, root: str | Path | None = None):
        folder = Path(images)
        if not folder.is_dir():
            raise DataError("folder not found", path=folder)
        from seglab.data.folders import image_files

        files = image_files(folder)  # broken links kept: reading them names the fault
        items = [Item(key=p.relative_to(folder).as_posix(), image_path=p) for p in files]
        super().__init__(Path(root) if root else folder, items, ["background"], ProblemLog())
        self.images_dir = folder


class ImageListSource(SegmentationSource):
    """Given image files (keys are their names, made unique with the parent folder if needed)."""

    kind = "images"

    def __init__(self, files: list[Path], *, root: str | Path | None = None):
        names = [p.name for p in files]
        items = [
            Item(
                key=p.name if names.count(p.name) == 1 else f"{p.parent.name}/{p.name}",
                image_path=p,
            )
            for p in files
        ]
        base = Path(root) if root else (files[0].parent if files else Path("."))
        super().__init__(base, items, ["background"], ProblemLog())
        self.images_dir = base


def image_source(spec: str | Path) -> SegmentationSource:
    """Images to segment from a folder (recursive), one file, or a glob pattern (``"dir/*.png"``).

    Raises
    ------
    DataError
        Nothing matches, or a file is not an image type seglab reads.
    """
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        source: SegmentationSource = ImageFolderSource(path)
    elif path.is_file():
        if not is_image_file(path):
            raise DataError("not an image file seglab reads (by its extension)", path=path)
        source = ImageListSource([path])
    elif any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if is_image_file(p))
        source = ImageListSource(files)
    else:
        raise DataError("no such file or folder", path=path)
    if len(source) == 0:
        raise DataError("no image files found", path=path)
    return source
