"""The Data Science Bowl 2018 layout: one folder per image, each object its own mask file.

::

    stage1_train/
      0a7d30b2.../images/0a7d30b2....png     the image (one per folder, any name)
      0a7d30b2.../masks/*.png                one binary mask per object (0 = background)

Each folder is one item (its name is the key); each mask file one object of class 1 (classes
``["background", "object"]``, or the two ``classes`` given); :meth:`DsbSource.load_mask` is the
union of the objects. Opening lists the files only (a DSB split has tens of thousands of mask
files); the masks are read when an item is, so a fault in a mask file is found by
``seglab data check`` (which reads them all) or when the item is loaded:

* an unreadable mask file, a mask whose size differs from its image, or a JPEG mask whose
  values compression changed: a :class:`~seglab.errors.DataError` naming the file (the item
  is left out);
* an empty mask file (no object pixel): a warning naming it, the object left out;
* a folder without ``images/``, with no image or several in ``images/``, or without ``masks/``:
  left out when opening, with a problem naming the folder (an image with no object needs an
  empty ``masks/`` folder).

A folder of such folders whose images have no ``masks/`` at all is an unlabelled split
(:func:`dsb_layout` says ``"images"``), as the DSB stage-1 test set is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seglab.core.labels import InstanceLabels, empty_labels, paint_labels
from seglab.data.base import Instance, Item, ProblemLog, SegmentationSource
from seglab.data.mask_mapping import (
    LOSSY_FORMATS,
    clean_lossy_values,
    instance_mapping,
    lossy_message,
    mask_values,
)
from seglab.errors import DataError
from seglab.io import is_image_file, read_image_size, read_mask

IMAGES_DIR = "images"
MASKS_DIR = "masks"


def _image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted (DSB folders are flat)."""
    return sorted(p for p in folder.iterdir() if is_image_file(p) and not p.is_dir())


def _is_item_folder(folder: Path) -> bool:
    """Whether ``folder`` looks like one DSB item: ``images/`` holding exactly one image."""
    images = folder / IMAGES_DIR
    return images.is_dir() and len(_image_files(images)) == 1


def dsb_layout(folder: str | Path) -> str | None:
    """What kind of DSB split ``folder`` is: ``"dsb"`` when a sub-folder holds ``images/``
    (one image) and ``masks/``; ``"images"`` when sub-folders hold ``images/`` with one image
    each and none holds ``masks/`` (an unlabelled split); ``None`` otherwise.

    One image per ``images/`` is required so that a project folder holding an image/mask
    dataset in a sub-folder (``project/data/images`` + ``project/data/masks``) is not taken
    for a DSB split of one image.
    """
    folder = Path(folder)
    unlabelled = False
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        if not _is_item_folder(child):
            continue
        if (child / MASKS_DIR).is_dir():
            return "dsb"
        unlabelled = True
    return "images" if unlabelled else None


class DsbSource(SegmentationSource):
    """A DSB-2018 split: one item per sub-folder, one object per mask file (module docstring).

    ``classes`` (background first) may name the objects' class; ``allow_large`` lifts the
    decompression-bomb limit (see :func:`seglab.io.read_mask`).

    Raises
    ------
    DataError
        ``root`` is not a folder.
    ConfigError
        Other than two classes are declared (DSB objects are of one class).

    Examples
    --------
    >>> source = DsbSource("stage1_train")  # doctest: +SKIP
    >>> labels = source.instance_labels(0)  # doctest: +SKIP
    >>> labels.count, labels.shape  # doctest: +SKIP
    (27, (256, 256))
    """

    kind = "dsb"

    def __init__(
        self,
        folder: str | Path,
        *,
        root: str | Path | None = None,
        classes: list[str] | None = None,
        num_classes: int | None = None,
        allow_large: bool = False,
    ):
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError("folder not found", path=folder)
        names = instance_mapping(classes, num_classes).classes
        log = ProblemLog()
        self.folder = folder
        self.mask_files: dict[str, list[Path]] = {}
        items = []
        for child in sorted(p for p in folder.iterdir() if p.is_dir()):
            item = self._item(child, log)
            if item is not None:
                items.append(item)
        if not items and not log.errors:
            log.error(
                folder,
                None,
                "no image folder here holds images/ (one image) and masks/ (one PNG per object)",
            )
        super().__init__(Path(root) if root else folder, items, names, log)
        self.allow_large = allow_large

    def _item(self, folder: Path, log: ProblemLog) -> Item | None:
        """The item of one image folder, or ``None`` (the reason logged) when it is not one."""
        if folder.name.startswith((".", "__")):  # .ipynb_checkpoints, __MACOSX
            return None
        images_dir, masks_dir = folder / IMAGES_DIR, folder / MASKS_DIR
        if not images_dir.is_dir():
            log.warning(folder, None, f"no {IMAGES_DIR}/ folder inside (left out)")
            return None
        images = _image_files(images_dir)
        if not images:
            log.warning(images_dir, None, "no image file in this folder (left out)")
            return None
        if len(images) > 1:
            shown = ", ".join(p.name for p in images[:4]) + (", ..." if len(images) > 4 else "")
            log.error(
                images_dir,
                None,
                f"{len(images)} images ({shown}); a DSB image folder holds one image (left out)",
            )
            return None
        if not masks_dir.is_dir():
            log.warning(
                folder,
                None,
                f"no {MASKS_DIR}/ folder: image left out (an image with no object needs an "
                f"empty {MASKS_DIR}/ folder)",
            )
            return None
        self.mask_files[folder.name] = _image_files(masks_dir)
        return Item(key=folder.name, image_path=images[0], mask_path=masks_dir)

    def image_size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of item ``index``'s image, from its file header."""
        w, h = read_image_size(self.items[index].image_path)
        return h, w

    def read_instances(self, index: int, *, log: ProblemLog | None = None) -> list[Instance]:
        """One :class:`Instance` per mask file of item ``index`` (sorted by file name; the
        ``annotation_id`` is the file name). An empty mask is left out, with a warning in
        ``log`` when one is given (``seglab data check`` gives one).

        Raises
        ------
        DataError
            A mask file is unreadable, differs in size from the image, or is a JPEG whose
            values compression changed; the error names the file.
        """
        item = self.items[index]
        h, w = self.image_size(index)
        out = []
        for path in self.mask_files[item.key]:
            raw, meta = read_mask(path, allow_large=self.allow_large)
            if raw.shape[:2] != (h, w):
                raise DataError(
                    f"mask is {raw.shape[1]}x{raw.shape[0]} but its image "
                    f"{item.image_path.name} is {w}x{h} (width x height)",
                    path=path,
                )
            if meta.format in LOSSY_FORMATS and not clean_lossy_values(vals := mask_values(raw)):
                raise DataError(lossy_message(meta.format, vals), path=path)
            mask = raw.any(axis=-1) if raw.ndim == 3 else raw != 0
            if not mask.any():
                if log is not None:
                    log.warning(path, None, "empty mask (no object pixel): left out")
                continue
            out.append(Instance(mask, 1, annotation_id=path.name))
        return out

    def instances(self, index: int) -> list[Instance]:
        """One :class:`Instance` per non-empty mask file of item ``index`` (see
        :meth:`read_instances`)."""
        return self.read_instances(index)

    def instance_labels(self, index: int) -> InstanceLabels:
        """The objects of item ``index`` as one label image (where masks overlap, the smaller
        object keeps the pixels)."""
        objects = self.read_instances(index)
        if not objects:
            return empty_labels(*self.image_size(index))
        h, w = objects[0].mask.shape
        return paint_labels([o.mask for o in objects], [1] * len(objects), h, w)

    def load_mask(self, index: int) -> np.ndarray:
        """``H x W`` int64: 1 wherever an object is (the union of the masks), else 0."""
        objects = self.read_instances(index)
        if not objects:
            return np.zeros(self.image_size(index), np.int64)
        return np.logical_or.reduce([o.mask for o in objects]).astype(np.int64)


__all__ = ["DsbSource", "dsb_layout"]
