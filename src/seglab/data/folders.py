"""Image/mask folder datasets: images and masks matched by file stem.

Pairing
-------
An image ``cat.jpg`` is matched with the mask whose stem is ``cat`` or ``cat`` plus one of
``_mask``, ``-mask``, ``_masks``, ``_label``, ``_labels``, ``_gt``, ``_seg``, ``_segmentation``
(any image extension, PNG recommended). Files in sub-folders are matched by their relative path.
An image without a mask, or a mask without an image, is left out with a warning; when a mask
nearly matches (a name that differs in upper/lower case, an unknown suffix, another sub-folder)
the warning names it. A broken symbolic link is an error of its own, not a missing file.

What mask values mean (:func:`infer_mapping`), decided once over the whole dataset
----------------------------------------------------------------------------------
* Declared classes (``classes=[...]`` or ``num_classes=K``): a value ``v`` is class ``v``; 255 is
  ignored; any other value is an error naming the file and the values. (Exception: a 2-class
  dataset stored as 0/255, or 0/65535 in 16 bits, is read as binary.)
* Otherwise, grayscale or palette masks:
  ``{0, 255}``, ``{0, 1}`` or ``{0, 65535}`` (or either alone) -> binary, nonzero is the object;
  some masks 0/1 and the others 0/255 -> binary too, with a warning (declare 2 classes to read
  255 as "ignore" instead);
  values ``0..k`` plus 255 -> classes ``0..k`` with 255 ignored (the VOC convention);
  any other set of values -> the sorted values become classes ``0..K-1`` (e.g. 0/128/255 -> 0/1/2),
  with a warning for a value found in one mask only (a stray value looks just like a class).
  More than 254 values is an error: those masks are images, not labels.
* A ``classes.json`` beside the mask folder (as ``seglab data convert --to masks`` writes) gives
  the class names and ``mask_values`` (raw value -> class) and takes precedence over inference.
* Colour (RGB) masks: black is the background (class 0); the other colours, sorted, are classes
  ``1..K``; one colour besides black -> binary. More colours than declared classes is an error
  that names the masks holding each colour.
* JPEG masks are an error when compression changed their values (anything but 0 and 255 in each
  channel): class values cannot be recovered from them. Save masks as PNG.
The mapping (value or colour -> class) is kept in :attr:`FolderSource.mapping` and written to
runs and conversions as ``classes.json`` by :meth:`~seglab.data.mask_mapping.MaskMapping.to_json`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.data.base import Item, ProblemLog, SegmentationSource
from seglab.data.mask_mapping import (
    LOSSY_FORMATS,
    MaskMapping,
    clean_lossy_values,
    describe_value,
    infer_mapping,
    lossy_message,
    mask_values,
    read_classes_json,
)
from seglab.errors import DataError
from seglab.io import is_image_file, read_mask

MASK_SUFFIXES = (
    "",
    "_mask",
    "-mask",
    "_masks",
    "_label",
    "_labels",
    "_gt",
    "_seg",
    "_segmentation",
)
IMAGE_DIR_NAMES = ("images", "image", "imgs", "img", "input", "inputs", "x")
MASK_DIR_NAMES = (
    "masks",
    "mask",
    "labels",
    "label",
    "gt",
    "groundtruth",
    "ground_truth",
    "annotations",
    "segmentations",
    "targets",
    "y",
)


def find_folder_pair(folder: str | Path) -> tuple[Path, Path] | None:
    """Find an (images, masks) folder pair inside ``folder`` by the common names, else None."""
    folder = Path(folder)
    for img_name in IMAGE_DIR_NAMES:
        img_dir = folder / img_name
        if not img_dir.is_dir():
            continue
        for mask_name in MASK_DIR_NAMES:
            mask_dir = folder / mask_name
            if not mask_dir.is_dir():
                continue
            files = [p for p in mask_dir.rglob("*") if not p.is_dir()]
            # an empty mask folder is a pair with its masks missing (reading it says so), not
            # an unlabelled image folder; one of other files (YOLO .txt labels) is not masks
            if not files or any(is_image_file(p) for p in files):
                return img_dir, mask_dir
    return None


def image_files(folder: Path) -> list[Path]:
    """The files with an image extension under ``folder``, sorted; broken symbolic links are
    kept (reading them says what is wrong), folders named like images are not."""
    return sorted(
        p
        for p in folder.rglob("*")
        if is_image_file(p) and (p.is_file() or p.is_symlink()) and not p.is_dir()
    )


def _stems(folder: Path) -> dict[str, list[Path]]:
    """The image files under ``folder`` by their path relative to it, without extension."""
    stems: dict[str, list[Path]] = {}
    for p in image_files(folder):
        stems.setdefault(p.relative_to(folder).with_suffix("").as_posix(), []).append(p)
    return stems


def pair_files(images_dir: Path, masks_dir: Path, log: ProblemLog) -> list[Item]:
    """Match images with masks by stem; unmatched and ambiguous files are logged."""
    masks, images = _stems(masks_dir), _stems(images_dir)
    items, used, unmatched = [], set(), []
    for stem, paths in sorted(images.items()):
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            log.error(paths[0], None, f"several images share the stem {stem!r} ({names})")
            continue
        found = [(s, masks[stem + s]) for s in MASK_SUFFIXES if stem + s in masks]
        if not found:
            unmatched.append((stem, paths[0]))
            continue
        suffix, candidates = found[0]
        if len(candidates) > 1:
            names = ", ".join(p.name for p in candidates)
            log.error(candidates[0], None, f"several masks share the stem {stem!r} ({names})")
            continue
        used.add(stem + suffix)
        items.append(Item(key=stem, image_path=paths[0], mask_path=candidates[0]))
    orphans = {stem: masks[stem][0] for stem in sorted(set(masks) - used)}
    for stem, path in unmatched:
        hint = _near_miss(stem, orphans, masks_dir)
        log.warning(path, None, f"no mask found in {masks_dir} (image left out){hint}")
    for path in orphans.values():
        log.warning(path, None, "mask has no matching image (left out)")
    return items


def _near_miss(stem: str, orphans: dict[str, Path], masks_dir: Path) -> str:
    """A hint naming the unmatched mask that was probably meant for image ``stem``: one whose
    name differs only in upper/lower case, has an unknown suffix, or is in another sub-folder."""
    name = stem.rsplit("/", 1)[-1]
    names = {stem + s for s in MASK_SUFFIXES}
    for other, path in orphans.items():
        shown = path.relative_to(masks_dir).as_posix()
        if other.lower() in {n.lower() for n in names}:
            return f"; {shown} differs from it only in upper/lower case: rename one of them"
        if other.rsplit("/", 1)[-1] in {n.rsplit("/", 1)[-1] for n in names}:
            return (
                f"; {shown} has its name but is in another folder (masks are matched by their "
                "path inside the mask folder): move it"
            )
    for other, path in orphans.items():
        if len(other) > len(stem) and other.startswith(stem) and not other[len(stem)].isalnum():
            known = ", ".join(s for s in MASK_SUFFIXES if s)
            return (
                f"; {path.relative_to(masks_dir).as_posix()} starts with its name, but the "
                f"suffix {other[len(stem) :]!r} is not one seglab knows ({known}): rename it "
                f"{name}_mask{path.suffix}"
            )
    return ""


class FolderSource(SegmentationSource):
    """An image folder and a mask folder matched by stem.

    Opening reads every mask once to learn the value mapping; masks that cannot be read, JPEG
    masks whose values compression changed, and masks whose values do not fit the declared
    classes are recorded as problems (errors: the item is left out). ``allow_large`` lifts the
    decompression-bomb limit for the masks (see :func:`seglab.io.read_mask`).

    Raises
    ------
    DataError
        A folder is missing or the mask folder holds no mask files; the masks together hold
        more values or colours than any class mask (or than the declared classes).
    """

    kind = "masks"

    def __init__(
        self,
        images: str | Path,
        masks: str | Path,
        *,
        root: str | Path | None = None,
        classes: list[str] | None = None,
        num_classes: int | None = None,
        allow_large: bool = False,
    ):
        self.images_dir, self.masks_dir = Path(images), Path(masks)
        log = ProblemLog()
        for d in (self.images_dir, self.masks_dir):
            if not d.is_dir():
                raise DataError("folder not found", path=d)
        if not image_files(self.masks_dir):
            raise DataError(
                "no mask files in this folder (PNG masks named like their images are expected)",
                path=self.masks_dir,
            )
        items = pair_files(self.images_dir, self.masks_dir, log)
        if not items and not log.errors:
            log.error(
                self.masks_dir,
                None,
                f"no mask matches an image of {self.images_dir} by name (see the warnings)",
            )
        super().__init__(Path(root) if root else self.images_dir.parent, items, [], log)
        self.allow_large = allow_large
        self.mapping = self._learn_mapping(classes, num_classes)
        self.classes = self.mapping.classes

    def _read_values(self) -> None:
        """Read every mask's distinct values into ``mask_values``; leave out (and log) the
        masks that cannot be read or that lossy compression changed."""
        self.mask_values: dict[str, set] = {}
        self._colour_keys: set[str] = set()
        kept = []
        for item in self.items:
            try:
                raw, meta = read_mask(item.mask_path, allow_large=self.allow_large)
            except DataError as exc:
                self.log.error(exc.path or item.mask_path, exc.field, exc.reason)
                continue
            vals = mask_values(raw)
            if meta.format in LOSSY_FORMATS and not clean_lossy_values(vals):
                self.log.error(item.mask_path, None, lossy_message(meta.format, vals))
                continue
            self.mask_values[item.key] = vals
            if raw.ndim == 3:
                self._colour_keys.add(item.key)
            kept.append(item)
        self.items = kept

    def _learn_mapping(self, classes: list[str] | None, num_classes: int | None) -> MaskMapping:
        declared = None
        if classes is None and num_classes is None:
            declared = read_classes_json(self.masks_dir.parent / "classes.json")
        self._read_values()
        if declared is not None:
            self._drop_out_of_range(declared)
            return declared
        grey = set().union(*(v for k, v in self.mask_values.items() if k not in self._colour_keys))
        colour = set().union(*(v for k, v in self.mask_values.items() if k in self._colour_keys))
        undeclared = classes is None and num_classes is None
        try:
            if colour:
                colour |= {(v, v, v) for v in grey}
                mapping = infer_mapping(
                    colour, classes=classes, num_classes=num_classes, colour=True
                )
            elif undeclared and (mixed := self._mixed_binary(grey)) is not None:
                return mixed
            else:
                mapping = infer_mapping(grey, classes=classes, num_classes=num_classes)
        except DataError as exc:
            raise DataError(
                exc.reason + self._where_values(), path=exc.path or self.masks_dir, field=exc.field
            ) from None
        if not undeclared:
            self._drop_out_of_range(mapping)
        elif mapping.kind != "binary":
            self._warn_rare_values(mapping)
        return mapping

    def _masks_holding(self, value) -> list[str]:
        """The keys of the masks holding ``value`` (a grey colour also as the grey value)."""
        grey = value[0] if isinstance(value, tuple) and len(set(value)) == 1 else None
        return [
            k
            for k, vals in self.mask_values.items()
            if value in vals or (grey is not None and grey in vals)
        ]

    def _mask_path(self, key: str) -> Path:
        return next(it.mask_path for it in self.items if it.key == key)

    def _mask_name(self, key: str) -> str:
        return self._mask_path(key).relative_to(self.masks_dir).as_posix()

    def _where_values(self) -> str:
        """Where the values (or colours) of the masks are: each one's masks, rarest first."""
        values = set().union(*self.mask_values.values())
        if not values or len(values) > 24:
            ranked = sorted(self.mask_values, key=lambda k: -len(self.mask_values[k]))[:3]
            shown = ", ".join(f"{self._mask_name(k)} ({len(self.mask_values[k])})" for k in ranked)
            return f". Most values: {shown}" if shown else ""
        parts = []
        for v in sorted(values, key=lambda v: (len(self._masks_holding(v)), describe_value(v))):
            keys = self._masks_holding(v)
            names = ", ".join(self._mask_name(k) for k in keys[:2])
            more = f" and {len(keys) - 2} more" if len(keys) > 2 else ""
            parts.append(f"{describe_value(v)} in {names}{more}")
        return ". Found: " + "; ".join(parts)

    def _mixed_binary(self, grey: set) -> MaskMapping | None:
        """Binary masks stored two ways (some 0/1, the others 0/255): a binary mapping and a
        warning; ``None`` for any other set of masks. In the VOC convention a mask with 255
        (ignore) also holds classes, so a mask of only 0/255 is not one of those."""
        if grey != {0, 1, 255} or self._colour_keys:
            return None
        sets = list(self.mask_values.values())
        if not all(vals <= {0, 1} or vals <= {0, 255} for vals in sets):
            return None
        ones, full = self._masks_holding(1), self._masks_holding(255)
        self.log.warning(
            self.masks_dir,
            None,
            f"the masks mix 0/1 ({self._mask_name(ones[0])}, {len(ones)} masks) and 0/255 "
            f"({self._mask_name(full[0])}, {len(full)} masks): both are read as binary, nonzero "
            "is the object. If 255 means 'ignore' instead, declare --num-classes 2",
        )
        return MaskMapping("binary", ["background", "foreground"], {0: 0, 1: 1, 255: 1})

    def _warn_rare_values(self, mapping: MaskMapping) -> None:
        """Warn about the values (or colours) that are classes only because one mask holds
        them: a stray value in one mask looks just like a class (with 3 masks or more)."""
        if len(self.mask_values) < 3:
            return
        rare = []
        for value, index in mapping.lookup.items():
            keys = self._masks_holding(value)
            if index not in (0, IGNORE_INDEX) and len(keys) == 1:
                rare.append((value, index, keys[0]))
        fix = (
            "if it is not a class, fix the mask, or declare the classes (--num-classes / "
            "--classes) so values outside them are errors"
        )
        if len(rare) > 3:  # one warning, not one per value: noise holds hundreds of them
            shown = ", ".join(
                f"{describe_value(v)} in {self._mask_name(k)}" for v, _, k in rare[:6]
            )
            self.log.warning(
                self.masks_dir,
                None,
                f"{len(rare)} values are each in one mask only ({shown}"
                f"{', ...' if len(rare) > 6 else ''}), yet each becomes a class: stray values "
                f"(blended edges, resampling?) or real classes? {fix.capitalize()}",
            )
            return
        for value, index, key in rare:
            self.log.warning(
                self._mask_path(key),
                None,
                f"value {describe_value(value)} is only in this mask "
                f"(1 of {len(self.mask_values)}), "
                f"yet it becomes class {index} ({mapping.classes[index]!r}); {fix}",
            )

    def _drop_out_of_range(self, mapping: MaskMapping) -> None:
        kept = []
        for item in self.items:
            vals = self.mask_values.get(item.key, set())
            bad = sorted(v for v in vals if v not in mapping.lookup and not isinstance(v, tuple))
            if bad and mapping.kind != "binary":
                hint = (
                    "; values above 255 look like instance ids or intensities: a mask holds one "
                    "class index per pixel"
                    if bad[-1] > 255
                    else ""
                )
                self.log.error(
                    item.mask_path,
                    None,
                    f"mask values {bad[:8]} are outside the {len(mapping.classes)} declared "
                    f"classes (0..{len(mapping.classes) - 1}, 255 = ignore){hint}",
                )
                continue
            kept.append(item)
        self.items = kept

    def load_mask(self, index: int) -> np.ndarray:
        """Class-index mask of item ``index``, through the dataset's value mapping."""
        item = self.items[index]
        raw, _ = read_mask(item.mask_path, allow_large=self.allow_large)
        return self.mapping.apply(raw, item.mask_path)
