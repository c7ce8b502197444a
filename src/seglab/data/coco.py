"""COCO datasets for semantic (and instance) segmentation.

Reads a COCO annotation JSON of any name, as written by CVAT, Label Studio, Roboflow, makesense,
the COCO API and the seed's ``cig_butts`` set, and validates it while reading: every problem is
recorded with the file, the JSON key path and the annotation id, and the faulty record is left out
(see :mod:`seglab.data.checks` for the full report). Finding and validating the JSON is
:mod:`seglab.data.coco_parse`; here, what it keeps becomes masks: polygons and RLE through
pycocotools.

Semantics
---------
* Classes: background is 0; categories, ordered by id, are 1..K (any ids: non-contiguous,
  strings). With one category the dataset is binary. A category that no annotation uses and that
  is the ``supercategory`` of the others (Roboflow's dataset-name category) is dropped.
* Overlaps: larger objects are painted first, so a small object on a large one stays visible.
* ``iscrowd`` regions: ``crowd="ignore"`` (default) marks them 255 where no object covers them, so
  they count neither as object nor background; ``"foreground"`` paints them as their class;
  ``"background"`` leaves them out.
* Images listed with no annotation are kept as all-background and counted.
* Image ids may be integers or strings; an annotation's ``image_id`` of the other type ("7" vs 7)
  is matched with a warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.data.base import FileLog, Instance, ProblemLog, SegmentationSource
from seglab.data.coco_fields import clip_polygon
from seglab.data.coco_parse import (
    coco_annotations,
    find_annotation_file,
    find_images_dir,
    find_unlisted,
    is_coco_json,
    parse_annotations,
    parse_categories,
    parse_images,
    read_coco_json,
)
from seglab.errors import DataError

__all__ = [
    "CROWD_MODES",
    "CocoSource",
    "compose_mask",
    "find_annotation_file",
    "find_images_dir",
    "is_coco_json",
    "paint_mask",
]

CROWD_MODES = ("ignore", "foreground", "background")


class CocoSource(SegmentationSource):
    """A COCO split: validated image records, annotations grouped by image, class list."""

    kind = "coco"

    def __init__(
        self,
        annotations: str | Path,
        images: str | Path | None = None,
        *,
        root: str | Path | None = None,
        crowd: str = "ignore",
    ):
        if crowd not in CROWD_MODES:
            raise DataError(f"crowd must be one of {', '.join(CROWD_MODES)}, not {crowd!r}")
        self.json_path = Path(annotations)
        root = Path(root) if root is not None else self.json_path.parent
        self.images_dir = (
            Path(images) if images is not None else find_images_dir(self.json_path, root)
        )
        self.crowd = crowd
        self.unlisted_files: list[Path] = []
        self.categories: list[dict[str, Any]] = []
        self.category_index: dict[Any, int] = {}
        self.annotations: dict[str, list[dict[str, Any]]] = {}
        log = ProblemLog()
        super().__init__(root, [], [], log)
        self.file_log = FileLog(log, self.json_path)
        self._rles: dict[str, list[dict]] = {}
        self._parse(read_coco_json(self.json_path))

    # -- parsing -------------------------------------------------------------------------
    def _parse(self, data: Any) -> None:
        """Keep the usable categories, images and annotations of ``data`` (problems logged)."""
        path, log = self.json_path, self.log
        anns = coco_annotations(data, path, log)
        categories = parse_categories(data["categories"], anns, path, log)
        self.categories = categories.records
        self.category_index = categories.index
        self.classes = categories.classes
        images = parse_images(data["images"], path, self.images_dir, self.root, log)
        self.annotations = parse_annotations(
            anns, images, self.category_index, path, log, self.file_log
        )
        self.items = list(images.values())
        listed = [item.image_path for item in images.values()]
        self.unlisted_files = find_unlisted(self.images_dir, listed, path, log)

    # -- masks ---------------------------------------------------------------------------
    @property
    def num_annotated(self) -> int:
        """Number of images with at least one usable annotation."""
        return sum(1 for it in self.items if self.annotations[it.key])

    def image_size(self, index: int) -> tuple[int, int]:
        """``(height, width)`` of item ``index``: from the JSON, else from the file header."""
        item = self.items[index]
        if item.height is not None and item.width is not None:
            return item.height, item.width
        from seglab.io import read_image_size

        w, h = read_image_size(item.image_path)
        return h, w

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Image and mask of item ``index``; the JSON's size is compared with the image before
        any mask is painted at it (a wrong size is a :class:`DataError` naming the record)."""
        image = self.load_image(index)
        wrong = self.size_error(index, *image.shape[:2])
        if wrong is not None:
            raise wrong
        return image, self.load_mask(index)

    def size_error(self, index: int, height: int, width: int, note: str = "") -> DataError | None:
        """The error when item ``index``'s JSON size is not the ``height`` x ``width`` its image
        file has (``None`` when it is, or the JSON gives none); ``note`` ends the message."""
        item = self.items[index]
        if item.height is None or (item.height, item.width) == (height, width):
            return None
        return DataError(
            f"JSON says {item.width}x{item.height} but {item.image_path.name} is "
            f"{width}x{height}{note}",
            path=self.json_path,
            field=f"images (id={item.image_id!r}).width/height",
        )

    def annotation_rle(self, ann: dict[str, Any], height: int, width: int) -> dict:
        """One annotation (polygons or RLE) as a validated pycocotools RLE object."""
        from seglab.data.rle import coco_rle_object, polygons_to_rle

        seg = ann["segmentation"]
        if isinstance(seg, dict):
            fld = f"annotation id={ann.get('id')!r}.segmentation"
            return coco_rle_object(seg, height=height, width=width, path=self.json_path, field=fld)
        polys = [
            clip_polygon(p, width, height)
            for p in seg
            if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
        ]
        return polygons_to_rle([p for p in polys if len(p) >= 6], height, width)

    def annotation_mask(self, ann: dict[str, Any], height: int, width: int) -> np.ndarray:
        """Binary ``H x W`` uint8 mask of one annotation (polygons or RLE) via pycocotools."""
        from seglab.data.rle import decode_rle_objects

        rle = self.annotation_rle(ann, height, width)
        return np.ascontiguousarray(decode_rle_objects([rle])[:, :, 0])

    def _decoded(self, index: int) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
        """Annotations of item ``index``, their masks (``H x W x N``) and areas, decoded at once.

        The validated RLE objects are cached per image, so the checks of compressed strings run
        once per annotation, not once per epoch.
        """
        from seglab.data.rle import decode_rle_objects

        h, w = self.image_size(index)
        key = self.items[index].key
        anns = self.annotations[key]
        if key not in self._rles:
            self._rles[key] = [self.annotation_rle(ann, h, w) for ann in anns]
        rles = self._rles[key]
        if not rles:
            return anns, np.zeros((h, w, 0), np.uint8), np.zeros(0, np.int64)
        stack = decode_rle_objects(rles)
        # counted from the masks: pycocotools' area() overflows with over 255 objects at once
        return anns, stack, stack.reshape(h * w, -1).sum(axis=0, dtype=np.int64)

    def instances(self, index: int) -> list[Instance]:
        """One :class:`Instance` per usable annotation of item ``index``, in JSON order."""
        anns, stack, _ = self._decoded(index)
        return [
            Instance(
                mask=stack[:, :, k].astype(bool),
                class_index=self.category_index[ann["category_id"]],
                iscrowd=bool(ann.get("iscrowd", 0)),
                annotation_id=ann.get("id"),
            )
            for k, ann in enumerate(anns)
        ]

    def load_mask(self, index: int) -> np.ndarray:
        """Class-index mask of item ``index`` (see the module docstring for overlaps and crowds)."""
        anns, stack, areas = self._decoded(index)
        classes = [self.category_index[a["category_id"]] for a in anns]
        crowds = [bool(a.get("iscrowd", 0)) for a in anns]
        h, w = stack.shape[:2]
        return paint_mask(
            (stack[:, :, k] for k in range(len(anns))), classes, crowds, areas, h, w, self.crowd
        )


def paint_mask(masks, classes, crowds, areas, height, width, crowd="ignore") -> np.ndarray:
    """Paint binary masks into one class-index mask: larger objects first (so small ones stay
    visible), then crowd regions as ``crowd`` says (``ignore``: 255 where no object is)."""
    masks = list(masks)
    out = np.zeros((height, width), np.int64)
    objects = [k for k, c in enumerate(crowds) if not c or crowd == "foreground"]
    for k in sorted(objects, key=lambda k: -int(areas[k])):
        out[masks[k] != 0] = classes[k]
    if crowd == "ignore":
        for k in (k for k, c in enumerate(crowds) if c):
            out[(masks[k] != 0) & (out == 0)] = IGNORE_INDEX
    return out


def compose_mask(
    instances: list[Instance], height: int, width: int, *, crowd: str = "ignore"
) -> np.ndarray:
    """:func:`paint_mask` for a list of :class:`Instance`."""
    return paint_mask(
        [i.mask for i in instances],
        [i.class_index for i in instances],
        [i.iscrowd for i in instances],
        [int(i.mask.sum()) for i in instances],
        height,
        width,
        crowd,
    )
