"""Unlabelled image folders (test sets, folders to predict on)."""

from __future__ import annotations

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
        files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))
        items = [Item(key=p.relative_to(folder).as_posix(), image_path=p) for p in files]
        super().__init__(Path(root) if root else folder, items, ["background"], ProblemLog())
        self.images_dir = folder
