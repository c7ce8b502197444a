"""Image/mask folder datasets: images and masks matched by file stem (how, and the folder
names: :mod:`seglab.data.pairing`).

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

Label images (instance masks: Cellpose, StarDist), ``labels=`` (``DataConfig.labels``)
-------------------------------------------------------------------------------------
A label image holds one integer id per object (0 = background, any ids, not necessarily
consecutive). The masks are read as label images (``mapping.kind == "instances"``):

* with ``labels="instances"``, whatever their bit depth;
* with ``labels="auto"`` (the default), when the masks stored as 16- or 32-bit integers hold
  more than a binary set of values (0/1, 0/255, 0/65535 stay binary masks stored deep), no
  ``num_classes`` is declared and ``classes``, if given, names one class; or when
  ``classes.json`` says ``"labels": "instances"``. 8-bit masks among them are read as label
  images too, with a warning.

Then :meth:`~FolderSource.instances` and :meth:`~FolderSource.instance_labels` give one object
per id, of class 1 (classes ``["background", "object"]``, or the two ``classes`` given), and
:meth:`~FolderSource.load_mask` the foreground (1 wherever an object is), so semantic training
on label images works. A colour mask, negative ids or more than
:data:`~seglab.core.labels.MAX_OBJECTS` objects in one mask are errors naming the file.
``labels="classes"`` reads every mask as class values (the rules above), 16-bit ones too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seglab.core.checks import check_choice
from seglab.core.constants import IGNORE_INDEX
from seglab.core.labels import MAX_OBJECTS, InstanceLabels, from_label_image
from seglab.data.base import Instance, ProblemLog, SegmentationSource
from seglab.data.mask_mapping import (
    LABEL_MODES,
    LOSSY_FORMATS,
    MaskMapping,
    clean_lossy_values,
    describe_value,
    infer_mapping,
    instance_mapping,
    is_label_dtype,
    looks_binary,
    lossy_message,
    mask_values,
    read_classes_json,
)
from seglab.data.pairing import image_files, pair_files
from seglab.errors import DataError
from seglab.io import read_mask


class FolderSource(SegmentationSource):
    """An image folder and a mask folder matched by stem.

    Opening reads every mask once to learn the value mapping; masks that cannot be read, JPEG
    masks whose values compression changed, and masks whose values do not fit the declared
    classes are recorded as problems (errors: the item is left out). ``allow_large`` lifts the
    decompression-bomb limit for the masks (see :func:`seglab.io.read_mask`). ``labels``
    (``auto``, ``classes``, ``instances``) says whether the masks are label images (see the
    module docstring).

    Raises
    ------
    DataError
        A folder is missing or the mask folder holds no mask files; the masks together hold
        more values or colours than any class mask (or than the declared classes).
    ConfigError
        ``labels`` is not one of the choices, or label images are read with other than two
        declared classes.
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
        labels: str = "auto",
    ):
        check_choice("labels", labels, LABEL_MODES)
        self.images_dir, self.masks_dir = Path(images), Path(masks)
        self._labels = labels
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
        self._deep_keys: set[str] = set()  # stored as 16/32-bit integers: label images in auto
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
            elif is_label_dtype(meta.dtype):
                self._deep_keys.add(item.key)
            kept.append(item)
        self.items = kept

    def _learn_mapping(self, classes: list[str] | None, num_classes: int | None) -> MaskMapping:
        declared = None
        if classes is None and num_classes is None:
            declared = read_classes_json(self.masks_dir.parent / "classes.json")
        self._read_values()
        if self._are_label_images(declared, classes, num_classes):
            named = declared is not None and declared.kind == "instances"
            mapping = declared if named else instance_mapping(classes, num_classes)
            self._check_label_images(warn_shallow=not named)
            return mapping
        if declared is not None:
            if declared.kind == "instances":
                raise DataError(
                    'this file declares label images ("labels": "instances") but the masks '
                    "were asked to be read as class masks (labels: classes); remove one of them",
                    path=self.masks_dir.parent / "classes.json",
                    field="labels",
                )
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

    def _are_label_images(
        self, declared: MaskMapping | None, classes: list[str] | None, num_classes: int | None
    ) -> bool:
        """Whether the masks are label images (rules in the module docstring)."""
        if self._labels != "auto":
            return self._labels == "instances"
        if declared is not None:
            return declared.kind == "instances"
        if num_classes is not None or (classes is not None and len(classes) != 2):
            return False  # declared class values
        deep = [self.mask_values[k] for k in self._deep_keys]
        return bool(deep) and not looks_binary(set().union(*deep))

    def _check_label_images(self, *, warn_shallow: bool) -> None:
        """Leave out (and log) the masks that cannot be label images: colour masks, negative
        ids, more objects than a label image holds; warn about 8-bit masks read as label
        images because the others are 16-bit (``warn_shallow``, with ``labels="auto"``)."""
        kept, shallow = [], []
        for item in self.items:
            ids = [v for v in self.mask_values[item.key] if v != 0]
            if item.key in self._colour_keys:
                self.log.error(
                    item.mask_path,
                    None,
                    "colour mask among label images: a label image holds one integer id per "
                    "pixel (0 = background); save it as a 16-bit grayscale PNG",
                )
                continue
            if ids and min(ids) < 0:
                self.log.error(item.mask_path, None, f"negative ids ({min(ids)}) in a label image")
                continue
            if len(ids) > MAX_OBJECTS:
                self.log.error(
                    item.mask_path,
                    None,
                    f"{len(ids)} objects in one label image; at most {MAX_OBJECTS} are supported",
                )
                continue
            if item.key not in self._deep_keys:
                shallow.append(item.key)
            kept.append(item)
        self.items = kept
        if shallow and warn_shallow and self._labels == "auto":
            self.log.warning(
                self.masks_dir,
                None,
                f"{len(shallow)} of {len(kept)} masks are 8-bit ({self._mask_name(shallow[0])}"
                f"{', ...' if len(shallow) > 1 else ''}) among 16/32-bit label images: they are "
                "read as label images too (each value an object); if they are class masks, "
                "keep the two kinds in separate datasets",
            )

    @property
    def instance_masks(self) -> bool:
        """True when the masks are label images (one object per id), not class masks."""
        return self.mapping.kind == "instances"

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

    def instance_labels(self, index: int) -> InstanceLabels:
        """The objects of item ``index``: the label image itself (ids renumbered 1..N, class 1)
        for label images; the connected components of each class for class masks."""
        if not self.instance_masks:
            return super().instance_labels(index)
        item = self.items[index]
        raw, _ = read_mask(item.mask_path, allow_large=self.allow_large)
        return from_label_image(raw, class_index=1, path=str(item.mask_path))

    def instances(self, index: int) -> list[Instance]:
        """Objects of item ``index``: one per id of a label image, else one per connected
        component of each class."""
        if not self.instance_masks:
            return super().instances(index)
        return [Instance(mask, 1) for mask in self.instance_labels(index).masks()]
