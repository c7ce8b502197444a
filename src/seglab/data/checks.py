"""``seglab data check``: validate a dataset, summarise it, and name every problem.

:func:`check_dataset` opens every split the way training will, then reads every image and label:
it records unreadable or truncated images, image sizes that differ from the COCO JSON, invalid
RLE, masks whose size differs from their image, mask values outside the classes, plus everything
the readers found while parsing (missing files, unknown ids, bad polygons, paths escaping the
dataset...). Each :class:`~seglab.data.base.Problem` names the file and the field.

For labelled splits it also describes the objects (:mod:`seglab.data.object_stats`): objects
per image, pairs of touching objects and, given a crop size, the objects every crop must cut.
Those come from the objects the check decodes anyway (COCO annotations, connected components
of class masks, label images, DSB mask files), so they cost little: on by default
(``objects=True``); ``objects=False`` (``--no-objects``) leaves the touching and crop counts out
(the count per image stays). Class masks with more than :data:`MAX_COMPONENT_CLASSES` classes
are not split into objects.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seglab.config import DataConfig
from seglab.core.constants import IGNORE_INDEX
from seglab.core.labels import InstanceLabels, empty_labels, paint_labels
from seglab.data.base import Instance, Item, Problem, ProblemLog, SegmentationSource
from seglab.data.dataset import open_split
from seglab.data.layout import discover
from seglab.data.object_stats import ObjectStats
from seglab.errors import ConfigError, DataError
from seglab.io import ImageMeta, read_image

SMALL_OBJECT_PIXELS = 16
"""Objects with fewer pixels than this are flagged: often annotation noise, or too small to learn
at a reduced image size."""
MAX_COMPONENT_CLASSES = 16
"""Class masks with more classes than this are not split into connected components (objects)."""


@dataclass(frozen=True)
class _Label:
    """One item's label as the check counts it: the class mask, the (non-crowd) objects' areas
    and names (``annotation id=7``, ``mask a_2.png``, or ``""``), and the objects as a label
    image (``None`` when object stats are off)."""

    mask: np.ndarray
    areas: list[int]
    names: list[str]
    objects: InstanceLabels | None


@dataclass
class SplitSummary:
    """What one split holds."""

    name: str
    kind: str
    location: str
    images_listed: int = 0
    images_readable: int = 0
    annotated: int = 0
    unannotated: int = 0
    unlisted_files: int = 0
    classes: list[str] = field(default_factory=list)
    class_pixels: list[int] = field(default_factory=list)
    ignore_pixels: int = 0
    objects_per_image: list[int] = field(default_factory=list)
    object_areas: list[int] = field(default_factory=list)
    small_objects: int = 0
    image_sizes: Counter = field(default_factory=Counter)
    channels: Counter = field(default_factory=Counter)
    mapping: dict[str, Any] | None = None
    small_examples: list[str] = field(default_factory=list)
    objects: ObjectStats | None = None

    @property
    def class_share(self) -> list[float]:
        """Share of labelled pixels per class (ignore pixels excluded)."""
        total = sum(self.class_pixels)
        return [c / total if total else 0.0 for c in self.class_pixels]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (sizes as ``"WxH"`` strings)."""
        d = asdict(self)
        d["image_sizes"] = {f"{w}x{h}": n for (w, h), n in self.image_sizes.items()}
        d["channels"] = {str(k): v for k, v in self.channels.items()}
        d["class_share"] = self.class_share
        d["objects"] = (
            self.objects.to_dict(self.objects_per_image) if self.objects is not None else None
        )
        return d


@dataclass
class CheckReport:
    """The result of :func:`check_dataset`: one summary per split and every problem found."""

    path: str
    splits: list[SplitSummary]
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        """Problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """Problems of severity ``warning``."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no error was found (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form of the whole report."""
        return {
            "path": self.path,
            "ok": self.ok,
            "splits": [s.to_dict() for s in self.splits],
            "problems": [asdict(p) for p in self.problems],
        }


def _coco_instances(source, index: int, h: int, w: int, log: ProblemLog) -> list[Instance]:
    """Decode each annotation on its own so one bad RLE names its annotation id."""
    out = []
    for ann in source.annotations[source.items[index].key]:
        try:
            m = source.annotation_mask(ann, h, w)
        except DataError as exc:
            log.error(source.json_path, f"annotation id={ann.get('id')!r}", exc.reason)
            continue
        out.append(
            Instance(
                m.astype(bool),
                source.category_index[ann["category_id"]],
                bool(ann.get("iscrowd", 0)),
                ann.get("id"),
            )
        )
    return out


def _check_item(
    source: SegmentationSource, index: int, summary: SplitSummary, log: ProblemLog, allow_large
) -> None:
    """Read one item's image and label into ``summary``; name every fault in ``log``."""
    item = source.items[index]
    read = _read_item_image(item, summary, log, allow_large)
    if read is None or not source.labelled:
        return
    (h, w), meta = read
    with_objects = summary.objects is not None
    if source.kind == "coco":
        label = _coco_label(source, index, h, w, meta, log, with_objects)
    elif source.kind == "dsb":
        label = _dsb_label(source, index, h, w, log, with_objects)
    else:
        label = _folder_label(source, index, h, w, log, with_objects)
    if label is not None:
        _count_label(source, item, label, summary)


def _read_item_image(
    item: Item, summary: SplitSummary, log: ProblemLog, allow_large
) -> tuple[tuple[int, int], ImageMeta] | None:
    """Read an item's image and count its size and channels; ``None`` (logged) if unreadable."""
    try:
        image, meta = read_image(item.image_path, allow_large=allow_large)
    except DataError as exc:
        log.error(exc.path or item.image_path, exc.field, exc.reason)
        return None
    summary.images_readable += 1
    h, w = image.shape[:2]
    summary.image_sizes[(w, h)] += 1
    summary.channels[image.shape[2]] += 1
    if meta.has_nonfinite:
        log.warning(item.image_path, None, "image holds NaN or Inf values")
    return (h, w), meta


def _from_instances(
    mask: np.ndarray,
    instances: list[Instance],
    h: int,
    w: int,
    with_objects: bool,
    *,
    named: str = "",
) -> _Label:
    """A :class:`_Label` of a class mask and its objects given one binary mask each; ``named``
    formats an object's ``annotation_id`` into its name in warnings (``""``: unnamed)."""
    objects = [i for i in instances if not i.iscrowd]
    painted = None
    if with_objects:
        painted = (
            paint_labels([o.mask for o in objects], [o.class_index for o in objects], h, w)
            if objects
            else empty_labels(h, w)
        )
    return _Label(
        mask,
        [int(o.mask.sum()) for o in objects],
        [named.format(o.annotation_id) if o.annotation_id is not None else "" for o in objects],
        painted,
    )


def _coco_label(
    source, index: int, h: int, w: int, meta: ImageMeta, log: ProblemLog, with_objects: bool
) -> _Label | None:
    """The class mask and objects of a COCO item; ``None`` (logged) if the JSON size is wrong."""
    item = source.items[index]
    rotated = meta.exif_transposed and meta.stored_size == (item.width, item.height)
    note = " (the JSON gives the size before EXIF rotation; re-export the images)"
    wrong = source.size_error(index, h, w, note if rotated else "")
    if wrong is not None:
        log.error(wrong.path, wrong.field, wrong.reason)
        return None
    instances = _coco_instances(source, index, h, w, log)
    from seglab.data.coco import compose_mask

    mask = compose_mask(instances, h, w, crowd=source.crowd)
    return _from_instances(mask, instances, h, w, with_objects, named="annotation id={!r} ")


def _dsb_label(
    source, index: int, h: int, w: int, log: ProblemLog, with_objects: bool
) -> _Label | None:
    """The foreground and objects of a DSB item (one mask file each); ``None`` (logged) when a
    mask file is unreadable or mis-sized. Empty mask files are warnings, named by the reader."""
    try:
        instances = source.read_instances(index, log=log)
    except DataError as exc:
        log.error(exc.path or source.items[index].mask_path, exc.field, exc.reason)
        return None
    mask = np.zeros((h, w), np.int64)
    for inst in instances:
        mask[inst.mask] = 1
    return _from_instances(mask, instances, h, w, with_objects, named="mask {} ")


def _folder_label(
    source: SegmentationSource, index: int, h: int, w: int, log: ProblemLog, with_objects: bool
) -> _Label | None:
    """The mask and objects of a mask-folder item; ``None`` (logged) if unreadable or mis-sized."""
    item = source.items[index]
    label_images = bool(getattr(source, "instance_masks", False))
    try:
        objects = source.instance_labels(index) if label_images else None
        mask = (
            (objects.labels != 0).astype(np.int64)
            if objects is not None
            else source.load_mask(index)
        )
    except DataError as exc:
        log.error(exc.path or item.mask_path, exc.field, exc.reason)
        return None
    if mask.shape != (h, w):
        log.error(
            item.mask_path,
            None,
            f"mask is {mask.shape[1]}x{mask.shape[0]} but its image "
            f"{item.image_path.name} is {w}x{h}",
        )
        return None
    if item.mask_path.suffix.lower() in (".jpg", ".jpeg"):
        log.warning(item.mask_path, None, "JPEG mask: lossy compression changes class values")
    if objects is not None:  # a label image: its objects without a full-size mask each
        areas = objects.areas().tolist()
        return _Label(mask, areas, [""] * len(areas), objects if with_objects else None)
    instances = source.instances(index) if source.num_classes <= MAX_COMPONENT_CLASSES else []
    return _from_instances(mask, instances, h, w, with_objects)


def _count_label(
    source: SegmentationSource, item: Item, label: _Label, summary: SplitSummary
) -> None:
    """Add one label's class pixels, objects and small objects to ``summary``."""
    mask = label.mask
    counts = np.bincount(mask[mask != IGNORE_INDEX].ravel(), minlength=source.num_classes)
    for c in range(source.num_classes):
        summary.class_pixels[c] += int(counts[c])
    summary.ignore_pixels += int((mask == IGNORE_INDEX).sum())
    summary.objects_per_image.append(len(label.areas))
    for area, named in zip(label.areas, label.names, strict=True):
        summary.object_areas.append(area)
        if area < SMALL_OBJECT_PIXELS:
            summary.small_objects += 1
            summary.small_examples.append(f"{named}in {item.image_path.name} ({area} px)")
    if summary.objects is not None and label.objects is not None:
        summary.objects.add(label.objects, item.key)
    if label.areas or (counts[1:].sum() > 0):
        summary.annotated += 1
    else:
        summary.unannotated += 1


def check_split(
    source: SegmentationSource,
    name: str,
    *,
    allow_large: bool = False,
    objects: bool = True,
    crop_size: int | None = None,
) -> tuple[SplitSummary, list[Problem]]:
    """Read every image and label of one opened split; return its summary and problems.

    ``objects``: also count touching objects and, with ``crop_size``, the objects a crop of
    that side must cut (:class:`~seglab.data.object_stats.ObjectStats`, labelled splits only).
    """
    log = ProblemLog(list(source.problems))
    location = str(getattr(source, "json_path", None) or getattr(source, "images_dir", source.root))
    summary = SplitSummary(
        name=name,
        kind=source.kind,
        location=location,
        images_listed=len(source.items),
        classes=list(source.classes),
        class_pixels=[0] * source.num_classes,
        unlisted_files=len(getattr(source, "unlisted_files", [])),
    )
    mapping = getattr(source, "mapping", None)
    summary.mapping = mapping.to_json() if mapping is not None else None
    if objects and source.labelled:
        summary.objects = ObjectStats(crop_size)
    for i in range(len(source)):
        _check_item(source, i, summary, log, allow_large)
    if summary.small_objects:
        shown = "; ".join(summary.small_examples[:5])
        log.warning(
            location,
            None,
            f"{summary.small_objects} very small objects (< {SMALL_OBJECT_PIXELS} px): {shown}"
            + (" ..." if summary.small_objects > 5 else ""),
        )
    return summary, log.problems


def check_dataset(
    config: DataConfig | str | Path, *, objects: bool = True, crop_size: int | None = None
) -> CheckReport:
    """Validate every split of a dataset and summarise it.

    ``objects``: count touching objects (and, with ``crop_size`` in pixels, the objects every
    crop of that side must cut) in each labelled split's ``objects`` (see the module docstring).

    Raises
    ------
    DataError
        Only when no dataset can be found at all; every other fault is in the report.
    ConfigError
        ``crop_size`` is not a positive number of pixels.

    Examples
    --------
    >>> report = check_dataset("cig_butts")  # doctest: +SKIP
    >>> report.ok, [str(p) for p in report.errors][:3]  # doctest: +SKIP
    """
    if not isinstance(config, DataConfig):
        config = DataConfig(path=Path(config))
    if crop_size is not None and (isinstance(crop_size, bool) or int(crop_size) < 1):
        raise ConfigError(f"crop size must be a positive number of pixels, not {crop_size!r}")
    specs = discover(
        config.path, annotations=config.annotations, images=config.images, masks=config.masks
    )
    splits, problems = [], []
    for name, spec in specs.items():
        try:
            source = open_split(spec, config)
        except DataError as exc:
            problems.append(Problem("error", exc.path or str(spec.root), exc.field, exc.reason))
            continue
        summary, found = check_split(
            source,
            name,
            allow_large=config.allow_large_images,
            objects=objects,
            crop_size=crop_size,
        )
        splits.append(summary)
        problems.extend(found)
    where = config.path or config.annotations or config.images
    return CheckReport(str(where), splits, problems)
