"""What mask values mean: the mapping from raw values (or colours) to class indices, learnt
once over a mask folder (:func:`infer_mapping`) or read from ``classes.json``; whether masks are
label images instead, one object per value (:func:`is_label_dtype`, :func:`looks_binary`,
:func:`instance_mapping`); and what cannot be trusted in a mask (values a lossy format
changed). The rules are in :mod:`seglab.data.folders`' docstring;
:class:`~seglab.data.folders.FolderSource` applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError, DataError

MAX_CLASSES = 254
LOSSY_FORMATS = ("JPEG", "MPO")
"""Formats whose compression changes pixel values (MPO: the JPEG of some cameras)."""
LABEL_MODES = ("auto", "classes", "instances")
"""What mask values can mean (``DataConfig.labels``): decided from the files, a class per
value, or an object per value (label images)."""
OBJECT_CLASSES = ["background", "object"]
"""The classes of label images when none are named: every object is of class 1."""
_BINARY_SETS = ({0, 1}, {0, 255}, {0, 65535})


def is_label_dtype(dtype: str | np.dtype) -> bool:
    """Whether a mask stored as ``dtype`` (:attr:`~seglab.io.ImageMeta.dtype`, the file's own
    sample type) is read as a label image when ``labels="auto"``: 16- and 32-bit integers.
    8-bit masks hold classes (255 ids are too few for most instance data; Cellpose, StarDist
    and ``seglab data convert --to labels`` write 16 bits)."""
    dt = np.dtype(dtype)
    return dt.kind in "iu" and dt.itemsize >= 2


def looks_binary(values: set) -> bool:
    """Whether a set of mask values is a binary mask (0/1, 0/255 or 0/65535, or one of them
    alone): a 16-bit mask of those is a binary mask stored deep, not a label image."""
    return any(set(values) <= full for full in _BINARY_SETS)


def clean_lossy_values(values: set) -> bool:
    """Can the values of a lossy (JPEG) mask be trusted? Only when every sample is 0 or 255:
    compression moves any other value, and the class values cannot be told back."""
    flat = {c for v in values for c in (v if isinstance(v, tuple) else (v,))}
    return flat <= {0, 255}


def describe_value(value) -> str:
    """A mask value as a person reads it: ``7``, or ``#ff0000`` for a colour."""
    return hex_colour(value) if isinstance(value, tuple) else str(value)


def lossy_message(fmt: str, values: set) -> str:
    shown = ", ".join(describe_value(v) for v in sorted(values)[:10])
    more = ", ..." if len(values) > 10 else ""
    return (
        f"{fmt} mask: lossy compression changed its values ({len(values)} distinct: {shown}"
        f"{more}), so the classes cannot be read from it; save masks as PNG (lossless), "
        "e.g. from the annotation tool, or threshold binary masks at 128"
    )


@dataclass
class MaskMapping:
    """How raw mask values (or colours) become class indices."""

    kind: str  # "binary", "values", "colors" or "instances" (label images)
    classes: list[str]
    lookup: dict[Any, int] = field(default_factory=dict)
    palette: list[tuple[int, int, int]] | None = None

    def apply(self, raw: np.ndarray, path: Path) -> np.ndarray:
        """Map one raw mask to an int64 class-index mask; unknown values raise DataError.

        ``kind="instances"`` (label images) gives the foreground: 1 wherever an object is."""
        if self.kind == "instances":
            if raw.ndim == 3:
                raise DataError(
                    "colour mask in a folder of label images; a label image holds one integer "
                    "id per pixel (0 = background)",
                    path=path,
                )
            return (raw != 0).astype(np.int64)
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
        if self.kind == "instances":
            return {
                "kind": self.kind,
                "classes": self.classes,
                "mapping": {},
                "labels": "instances",
                "ignore_index": IGNORE_INDEX,
            }
        return {
            "kind": self.kind,
            "classes": self.classes,
            "mapping": {key(k): v for k, v in self.lookup.items()},
            "ignore_index": IGNORE_INDEX,
        }


def instance_mapping(classes: list[str] | None, num_classes: int | None) -> MaskMapping:
    """The mapping of label images: any non-zero id is an object of class 1; ``classes``
    (background first) may name that class.

    Raises
    ------
    ConfigError
        More or fewer than 2 classes are declared: a label image holds objects of one class.
    """
    if num_classes is not None and num_classes != 2:
        raise ConfigError(
            f"label images hold objects of one class, so 2 classes (background and that class), "
            f"not {num_classes}; leave --num-classes out, or read the masks as class masks "
            "(labels: classes)",
        )
    if classes is not None and len(classes) != 2:
        raise ConfigError(
            f"label images hold objects of one class: name it after the background "
            f"(--classes background,NAME), not {len(classes)} names ({', '.join(classes)})",
        )
    return MaskMapping("instances", list(classes) if classes else list(OBJECT_CLASSES))


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
                f"the masks hold {len(lookup)} colours (black and "
                f"{', '.join(hex_colour(c) for c in colours[:12])}) but {num_classes} classes "
                "were declared; fix the masks holding colours that are not classes, or "
                "declare more classes"
            )
        if len(lookup) > MAX_CLASSES:
            raise DataError(
                f"the masks hold {len(lookup)} colours: these look like photos, not colour "
                "masks (JPEG-compressed or anti-aliased?). Save masks as PNG with one colour "
                "per class"
            )
        kind = "binary" if len(lookup) == 2 and classes is None else "colors"
        if kind == "binary":
            names = ["background", "foreground"]
        return MaskMapping(kind, names, lookup, palette=list(lookup))
    ints = sorted(int(v) for v in values)
    if num_classes is not None:
        names = classes or ["background"] + [f"class_{i}" for i in range(1, num_classes)]
        for full in (255, 65535):  # 8- and 16-bit binary masks
            if num_classes == 2 and set(ints) <= {0, full}:
                return MaskMapping("binary", names, {0: 0, full: 1})
        lookup = {v: v for v in range(num_classes)}
        lookup[IGNORE_INDEX] = IGNORE_INDEX
        return MaskMapping("values", names, lookup)
    if any(set(ints) <= {0, full} for full in (1, 255, 65535)):
        return MaskMapping("binary", ["background", "foreground"], {v: int(v > 0) for v in ints})
    if len(ints) > MAX_CLASSES:
        raise DataError(
            f"the masks hold {len(ints)} distinct values: these look like images, not class "
            "masks (JPEG-compressed or anti-aliased?). Save masks as PNG with one value per "
            "class, or declare --num-classes"
        )
    others = [v for v in ints if v != 255]
    if 255 in ints and others == list(range(len(others))):
        if len(others) == 2:
            return MaskMapping("binary", ["background", "foreground"], {0: 0, 1: 1, 255: 255})
        lookup = {v: v for v in others}
        lookup[IGNORE_INDEX] = IGNORE_INDEX
        return MaskMapping("values", ["background"] + [f"class_{v}" for v in others[1:]], lookup)
    lookup = {v: i for i, v in enumerate(ints)}
    names = ["background" if ints[0] == 0 else f"value_{ints[0]}"] + [
        f"value_{v}" for v in ints[1:]
    ]
    return MaskMapping("values", names, lookup)


def read_classes_json(path: Path) -> MaskMapping | None:
    """The mapping declared by a ``classes.json`` file, or None when there is no such file.

    ``{"classes": [...], "mask_values": {"value": class}}`` declares class masks;
    ``{"classes": ["background", NAME], "labels": "instances"}`` (as ``seglab data convert
    --to labels`` writes) declares label images."""
    import json

    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        names = [str(c) for c in info["classes"]]
        label_images = isinstance(info, dict) and info.get("labels") == "instances"
        values = {} if label_images else {int(k): int(v) for k, v in info["mask_values"].items()}
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read it ({exc})", path=path) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            'expected {"classes": [names], "mask_values": {"value": class}}',
            path=path,
            field=str(exc),
        ) from None
    if label_images:
        return _instances_json(names, path)
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


def _instances_json(names: list[str], path: Path) -> MaskMapping:
    """The mapping of a ``classes.json`` declaring label images (``"labels": "instances"``)."""
    if len(names) != 2:
        raise DataError(
            f"label images hold one class: classes must be [background, NAME], not {names}",
            path=path,
            field="classes",
        )
    return MaskMapping("instances", names)
