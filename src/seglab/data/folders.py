"""Image/mask folder datasets: images and masks matched by file stem.

Pairing
-------
An image ``cat.jpg`` is matched with the mask whose stem is ``cat`` or ``cat`` plus one of
``_mask``, ``-mask``, ``_masks``, ``_label``, ``_labels``, ``_gt``, ``_seg``, ``_segmentation``
(any image extension, PNG recommended). Files in sub-folders are matched by their relative path.

What mask values mean (:func:`infer_mapping`), decided once over the whole dataset
----------------------------------------------------------------------------------
* Declared classes (``classes=[...]`` or ``num_classes=K``): a value ``v`` is class ``v``; 255 is
  ignored; any other value is an error naming the file and the values. (Exception: a 2-class
  dataset stored as 0/255 is read as binary.)
* Otherwise, grayscale or palette masks:
  ``{0, 255}`` or ``{0, 1}`` (or either alone) -> binary, nonzero is the object;
  values ``0..k`` plus 255 -> classes ``0..k`` with 255 ignored (the VOC convention);
  any other set of values -> the sorted values become classes ``0..K-1`` (e.g. 0/128/255 -> 0/1/2).
* A ``classes.json`` beside the mask folder (as ``seglab data convert --to masks`` writes) gives
  the class names and ``mask_values`` (raw value -> class) and takes precedence over inference.
* Colour (RGB) masks: black is the background (class 0); the other colours, sorted, are classes
  ``1..K``; one colour besides black -> binary.
The mapping (value or colour -> class) is kept in :attr:`FolderSource.mapping` and written to
runs and conversions as ``classes.json`` by :func:`mapping_to_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.data.base import Item, ProblemLog, SegmentationSource
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
MAX_CLASSES = 254


def find_folder_pair(folder: str | Path) -> tuple[Path, Path] | None:
    """Find an (images, masks) folder pair inside ``folder`` by the common names, else None."""
    folder = Path(folder)
    for img_name in IMAGE_DIR_NAMES:
        img_dir = folder / img_name
        if not img_dir.is_dir():
            continue
        for mask_name in MASK_DIR_NAMES:
            mask_dir = folder / mask_name
            if mask_dir.is_dir() and any(is_image_file(p) for p in mask_dir.rglob("*")):
                return img_dir, mask_dir
    return None


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_file(p))


def pair_files(images_dir: Path, masks_dir: Path, log: ProblemLog) -> list[Item]:
    """Match images with masks by stem; unmatched and ambiguous files are logged."""
    masks: dict[str, list[Path]] = {}
    for m in _image_files(masks_dir):
        rel = m.relative_to(masks_dir).with_suffix("").as_posix()
        masks.setdefault(rel, []).append(m)
    images: dict[str, list[Path]] = {}
    for p in _image_files(images_dir):
        images.setdefault(p.relative_to(images_dir).with_suffix("").as_posix(), []).append(p)
    items, used = [], set()
    for stem, paths in sorted(images.items()):
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            log.error(paths[0], None, f"several images share the stem {stem!r} ({names})")
            continue
        found = [(s, masks[stem + s]) for s in MASK_SUFFIXES if stem + s in masks]
        if not found:
            log.warning(paths[0], None, f"no mask found in {masks_dir} (image left out)")
            continue
        suffix, candidates = found[0]
        if len(candidates) > 1:
            names = ", ".join(p.name for p in candidates)
            log.error(candidates[0], None, f"several masks share the stem {stem!r} ({names})")
            continue
        used.add(stem + suffix)
        items.append(Item(key=stem, image_path=paths[0], mask_path=candidates[0]))
    orphans = sorted(set(masks) - used)
    for stem in orphans:
        log.warning(masks[stem][0], None, "mask has no matching image (left out)")
    return items


@dataclass
class MaskMapping:
    """How raw mask values (or colours) become class indices."""

    kind: str  # "binary", "values" or "colors"
    classes: list[str]
    lookup: dict[Any, int] = field(default_factory=dict)
    palette: list[tuple[int, int, int]] | None = None

    def apply(self, raw: np.ndarray, path: Path) -> np.ndarray:
        """Map one raw mask to an int64 class-index mask; unknown values raise DataError."""
        if self.kind == "binary":
            if raw.ndim == 3:
                return (raw.any(axis=-1)).astype(np.int64)
            out = (raw != 0).astype(np.int64)
            if 1 in self.lookup.values() and self.lookup.get(255) == IGNORE_INDEX:
                out[raw == 255] = IGNORE_INDEX
            return out
        if self.kind == "colors":
            if raw.ndim != 3:
                raw = np.repeat(raw[..., None], 3, axis=-1)
            codes = _colour_codes(raw)
            table = {_code(c): v for c, v in self.lookup.items()}
            return _lookup(codes, table, path, describe=_describe_colour)
        if raw.ndim == 3:
            raise DataError(
                "colour mask in a dataset of grayscale masks; save every mask the same way",
                path=path,
            )
        return _lookup(raw.astype(np.int64), self.lookup, path, describe=str)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description of the mapping (written as ``classes.json``)."""
        key = hex_colour if self.kind == "colors" else str
        return {
            "kind": self.kind,
            "classes": self.classes,
            "mapping": {key(k): v for k, v in self.lookup.items()},
            "ignore_index": IGNORE_INDEX,
        }


def hex_colour(colour: tuple[int, int, int]) -> str:
    """``(255, 0, 0)`` -> ``"#ff0000"``."""
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _code(colour: tuple[int, int, int]) -> int:
    return (int(colour[0]) << 16) | (int(colour[1]) << 8) | int(colour[2])


def _colour_codes(raw: np.ndarray) -> np.ndarray:
    raw = raw.astype(np.int64)
    return (raw[..., 0] << 16) | (raw[..., 1] << 8) | raw[..., 2]


def _describe_colour(code: int) -> str:
    return f"#{code:06x}"


def _lookup(values: np.ndarray, table: dict[int, int], path: Path, *, describe) -> np.ndarray:
    uniq, inverse = np.unique(values, return_inverse=True)
    unknown = [u for u in uniq.tolist() if u not in table]
    if unknown:
        shown = ", ".join(describe(u) for u in unknown[:8])
        raise DataError(
            f"mask values outside the classes: {shown} (known: "
            f"{', '.join(describe(k) for k in sorted(table))}); fix the mask or declare the "
            "classes (--num-classes / --classes)",
            path=path,
        )
    mapped = np.array([table[u] for u in uniq.tolist()], dtype=np.int64)
    return mapped[inverse].reshape(values.shape)


def mask_values(raw: np.ndarray) -> set:
    """Distinct raw values (ints) or colours (RGB tuples) of one mask."""
    if raw.ndim == 3:
        return {((c >> 16) & 255, (c >> 8) & 255, c & 255) for c in np.unique(_colour_codes(raw))}
    return set(np.unique(raw).tolist())


def infer_mapping(
    values: set,
    *,
    classes: list[str] | None = None,
    num_classes: int | None = None,
    colour: bool = False,
) -> MaskMapping:
    """Decide what the raw values mean (rules in the module docstring)."""
    if classes is not None:
        num_classes = len(classes)
    if colour:
        colours = sorted(v for v in values if v != (0, 0, 0))
        lookup = {(0, 0, 0): 0, **{c: i + 1 for i, c in enumerate(colours)}}
        names = classes or ["background"] + [hex_colour(c) for c in colours]
        if num_classes is not None and len(lookup) > num_classes:
            raise DataError(
                f"the masks hold {len(lookup)} colours but {num_classes} classes were declared"
            )
        kind = "binary" if len(lookup) == 2 and classes is None else "colors"
        if kind == "binary":
            names = ["background", "foreground"]
        return MaskMapping(kind, names, lookup, palette=list(lookup))
    ints = sorted(int(v) for v in values)
    if num_classes is not None:
        names = classes or ["background"] + [f"class_{i}" for i in range(1, num_classes)]
        if num_classes == 2 and set(ints) <= {0, 255}:
            return MaskMapping("binary", names, {0: 0, 255: 1})
        lookup = {v: v for v in range(num_classes)}
        lookup[IGNORE_INDEX] = IGNORE_INDEX
        return MaskMapping("values", names, lookup)
    if set(ints) <= {0, 1} or set(ints) <= {0, 255}:
        return MaskMapping("binary", ["background", "foreground"], {v: int(v > 0) for v in ints})
    others = [v for v in ints if v != 255]
    if 255 in ints and others == list(range(len(others))):
        if len(others) == 2:
            return MaskMapping("binary", ["background", "foreground"], {0: 0, 1: 1, 255: 255})
        lookup = {v: v for v in others}
        lookup[IGNORE_INDEX] = IGNORE_INDEX
        return MaskMapping("values", ["background"] + [f"class_{v}" for v in others[1:]], lookup)
    if len(ints) > MAX_CLASSES:
        raise DataError(
            f"the masks hold {len(ints)} distinct values: these look like images, not class "
            "masks (JPEG-compressed or anti-aliased?). Save masks as PNG with one value per "
            "class, or declare --num-classes"
        )
    lookup = {v: i for i, v in enumerate(ints)}
    names = ["background" if ints[0] == 0 else f"value_{ints[0]}"] + [
        f"value_{v}" for v in ints[1:]
    ]
    return MaskMapping("values", names, lookup)


def read_classes_json(path: Path) -> MaskMapping | None:
    """The mapping declared by a ``classes.json`` file, or None when there is no such file."""
    import json

    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        names = [str(c) for c in info["classes"]]
        values = {int(k): int(v) for k, v in info["mask_values"].items()}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read it ({exc})", path=path) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            'expected {"classes": [names], "mask_values": {"value": class}}',
            path=path,
            field=str(exc),
        ) from None
    bad = [v for v in values.values() if not (0 <= v < len(names) or v == IGNORE_INDEX)]
    if len(names) < 2 or bad:
        raise DataError(
            f"needs at least 2 classes and class indices below {len(names)} (or 255)",
            path=path,
            field="mask_values",
        )
    binary = len(names) == 2 and set(values) <= {0, 1, 255} and values.get(255, 1) == 1
    if binary:
        return MaskMapping("binary", names, values)
    return MaskMapping("values", names, values)


class FolderSource(SegmentationSource):
    """An image folder and a mask folder matched by stem.

    Opening reads every mask once to learn the value mapping; masks whose values do not fit the
    declared classes, or whose size differs from their image, are recorded as problems.
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
    ):
        self.images_dir, self.masks_dir = Path(images), Path(masks)
        log = ProblemLog()
        for d in (self.images_dir, self.masks_dir):
            if not d.is_dir():
                raise DataError("folder not found", path=d)
        items = pair_files(self.images_dir, self.masks_dir, log)
        super().__init__(Path(root) if root else self.images_dir.parent, items, [], log)
        self.mapping = self._learn_mapping(classes, num_classes)
        self.classes = self.mapping.classes

    def _learn_mapping(self, classes: list[str] | None, num_classes: int | None) -> MaskMapping:
        declared = None
        if classes is None and num_classes is None:
            declared = read_classes_json(self.masks_dir.parent / "classes.json")
        grey: set = set()
        colour: set = set()
        self.mask_values: dict[str, set] = {}
        kept = []
        for item in self.items:
            try:
                raw, _ = read_mask(item.mask_path)
            except DataError as exc:
                self.log.error(exc.path or item.mask_path, exc.field, exc.reason)
                continue
            vals = mask_values(raw)
            self.mask_values[item.key] = vals
            (colour if raw.ndim == 3 else grey).update(vals)
            kept.append(item)
        self.items = kept
        if declared is not None:
            mapping = declared
            self._drop_out_of_range(mapping)
            return mapping
        if colour:
            colour |= {(v, v, v) for v in grey}
            mapping = infer_mapping(colour, classes=classes, num_classes=num_classes, colour=True)
        else:
            mapping = infer_mapping(grey, classes=classes, num_classes=num_classes)
        if num_classes is not None or classes is not None:
            self._drop_out_of_range(mapping)
        return mapping

    def _drop_out_of_range(self, mapping: MaskMapping) -> None:
        kept = []
        for item in self.items:
            vals = self.mask_values.get(item.key, set())
            bad = sorted(v for v in vals if v not in mapping.lookup and not isinstance(v, tuple))
            if bad and mapping.kind != "binary":
                self.log.error(
                    item.mask_path,
                    None,
                    f"mask values {bad[:8]} are outside the {len(mapping.classes)} declared "
                    f"classes (0..{len(mapping.classes) - 1}, 255 = ignore)",
                )
                continue
            kept.append(item)
        self.items = kept

    def load_mask(self, index: int) -> np.ndarray:
        """Class-index mask of item ``index``, through the dataset's value mapping."""
        item = self.items[index]
        raw, _ = read_mask(item.mask_path, allow_large=self.allow_large)
        return self.mapping.apply(raw, item.mask_path)
