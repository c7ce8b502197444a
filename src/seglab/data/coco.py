"""COCO datasets for semantic (and instance) segmentation.

Reads a COCO annotation JSON of any name, as written by CVAT, Label Studio, Roboflow, makesense,
the COCO API and the seed's ``cig_butts`` set, and validates it while reading: every problem is
recorded with the file, the JSON key path and the annotation id, and the faulty record is left out
(see :mod:`seglab.data.checks` for the full report). Polygons and RLE become masks through
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

import json
from pathlib import Path
from typing import Any

import numpy as np

from seglab.data.base import (
    IGNORE_INDEX,
    FileLog,
    Instance,
    Item,
    ProblemLog,
    SegmentationSource,
)
from seglab.data.coco_fields import check_geometry, is_id, is_number, resolve_file_name
from seglab.errors import DataError

CROWD_MODES = ("ignore", "foreground", "background")
_IMAGE_DIR_NAMES = ("images", "image", "imgs", "img", "JPEGImages", "data")


def is_coco_json(path: Path) -> bool:
    """Cheap test: does ``path`` look like a COCO annotation file (has "images" near the start)?"""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    return '"images"' in head or '"annotations"' in head or '"categories"' in head


def find_annotation_file(folder: str | Path) -> Path | None:
    """Find the COCO JSON of a split folder: in the folder itself or in ``annotations/``.

    Returns ``None`` when there is none; raises :class:`DataError` listing the candidates when
    several files qualify (pass ``--annotations FILE`` to choose).
    """
    folder = Path(folder)
    for place in (folder, folder / "annotations"):
        if not place.is_dir():
            continue
        found = sorted(p for p in place.glob("*.json") if p.is_file() and is_coco_json(p))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise DataError(
                f"several COCO annotation files found ({names}); choose one with "
                "--annotations FILE (and --images DIR)",
                path=place,
            )
    return None


def find_images_dir(annotations: Path, split_dir: Path) -> Path:
    """Where the images of a COCO split live: ``images/`` (or a common alias) or beside the JSON."""
    for base in (split_dir, annotations.parent):
        for name in _IMAGE_DIR_NAMES:
            if (base / name).is_dir():
                return base / name
    return annotations.parent


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("annotation file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read annotation file ({exc})", path=path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=path
        ) from None


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
        self._parse(_read_json(self.json_path))

    # -- parsing -------------------------------------------------------------------------
    def _parse(self, data: Any) -> None:
        path = self.json_path
        if not isinstance(data, dict):
            raise DataError(
                f"top level is a {type(data).__name__}, expected a COCO object with "
                '"images", "annotations" and "categories"',
                path=path,
            )
        for key in ("images", "categories"):
            if key not in data:
                raise DataError(f'missing key "{key}": not a COCO annotation file?', path=path)
            if not isinstance(data[key], list):
                raise DataError(
                    f"must be a list, got {type(data[key]).__name__}", path=path, field=key
                )
        anns = data.get("annotations", [])
        if "annotations" not in data:
            self.log.warning(path, "annotations", 'no "annotations" key: every image unlabelled')
        elif not isinstance(anns, list):
            raise DataError(
                f"must be a list, got {type(anns).__name__}", path=path, field="annotations"
            )
        self._parse_categories(data["categories"], anns)
        images = self._parse_images(data["images"])
        self._parse_annotations(anns, images)
        self._find_unlisted(images)

    def _parse_categories(self, cats: list[Any], anns: list[Any]) -> None:
        path, seen = self.json_path, {}
        for i, cat in enumerate(cats):
            fld = f"categories[{i}]"
            if not isinstance(cat, dict) or not is_id(cat.get("id")):
                self.log.error(path, fld, "category needs an integer or string 'id'")
                continue
            if cat["id"] in seen:
                self.log.error(path, f"{fld}.id", f"duplicate category id {cat['id']!r}")
                continue
            seen[cat["id"]] = cat
        used = {a.get("category_id") for a in anns if isinstance(a, dict)}
        supers = {c.get("supercategory") for c in seen.values()}
        kept = []
        for cid, cat in seen.items():
            if cid not in used and cat.get("name") in supers and len(seen) > 1:
                self.log.warning(
                    path,
                    f"categories (id={cid!r})",
                    f"category {cat.get('name')!r} is only the supercategory of the others and "
                    "has no annotations; left out of the classes",
                )
                continue
            kept.append(cat)
        if len(kept) >= IGNORE_INDEX:
            raise DataError(
                f"{len(kept)} categories: at most {IGNORE_INDEX - 1} fit class indices "
                f"(255 marks ignored pixels)",
                path=path,
                field="categories",
            )
        kept.sort(key=lambda c: (isinstance(c["id"], str), c["id"]))
        self.categories = kept
        self.category_index = {c["id"]: i + 1 for i, c in enumerate(kept)}
        self.classes = ["background"] + [str(c.get("name", c["id"])) for c in kept]

    def _parse_images(self, records: list[Any]) -> dict[Any, Item]:
        path, images, by_key = self.json_path, {}, set()
        for i, rec in enumerate(records):
            fld = f"images[{i}]"
            if not isinstance(rec, dict):
                self.log.error(path, fld, "image record must be an object")
                continue
            iid = rec.get("id")
            if not is_id(iid):
                self.log.error(
                    path, f"{fld}.id", f"image id must be an integer or string, got {iid!r}"
                )
                continue
            fld = f"images[{i}] (id={iid!r})"
            if iid in images:
                self.log.error(path, f"{fld}.id", f"duplicate image id {iid!r}")
                continue
            name = rec.get("file_name")
            if not isinstance(name, str) or not name:
                self.log.error(path, f"{fld}.file_name", "missing or empty file_name")
                continue
            w, h = rec.get("width"), rec.get("height")
            if w is not None or h is not None:
                if not (
                    is_number(w)
                    and is_number(h)
                    and int(w) == w
                    and int(h) == h
                    and w > 0
                    and h > 0
                ):
                    self.log.error(
                        path,
                        f"{fld}.width/height",
                        f"width and height must be positive integers, got {w!r}x{h!r}",
                    )
                    continue
                w, h = int(w), int(h)
            file, reason = resolve_file_name(name, self.images_dir, self.root)
            if file is None:
                self.log.error(path, f"{fld}.file_name", f"{name!r}: {reason}")
                continue
            key = name
            if key in by_key:
                self.log.error(path, f"{fld}.file_name", f"file {name!r} is listed twice")
                continue
            by_key.add(key)
            images[iid] = Item(key=key, image_path=file, image_id=iid, width=w, height=h)
            self.annotations[key] = []
        self._all_listed = [it.image_path for it in images.values()]
        return images

    def _parse_annotations(self, anns: list[Any], images: dict[Any, Item]) -> None:
        path, seen_ids = self.json_path, set()
        str_ids = {str(k): k for k in images}
        for i, ann in enumerate(anns):
            if not isinstance(ann, dict):
                self.log.error(path, f"annotations[{i}]", "annotation must be an object")
                continue
            aid = ann.get("id")
            fld = f"annotations[{i}] (id={aid!r})"
            if aid is not None:
                if aid in seen_ids:
                    self.log.error(path, f"{fld}.id", f"duplicate annotation id {aid!r}")
                    continue
                seen_ids.add(aid)
            iid = ann.get("image_id")
            if iid not in images:
                if str(iid) in str_ids:
                    self.log.warning(
                        path,
                        f"{fld}.image_id",
                        f"{iid!r} matched to image id {str_ids[str(iid)]!r} of another type",
                    )
                    iid = str_ids[str(iid)]
                else:
                    self.log.error(path, f"{fld}.image_id", f"unknown or unusable image id {iid!r}")
                    continue
            cid = ann.get("category_id")
            if cid not in self.category_index:
                self.log.error(
                    path,
                    f"{fld}.category_id",
                    f"unknown category id {cid!r} (known: {sorted(self.category_index, key=str)})",
                )
                continue
            item = images[iid]
            if check_geometry(ann, item.width, item.height, fld, self.file_log):
                self.annotations[item.key].append(ann)
        self.items = list(images.values())

    def _find_unlisted(self, images: dict[Any, Item]) -> None:
        from seglab.io import is_image_file

        listed = {p.resolve() for p in self._all_listed}
        if not self.images_dir.is_dir():
            self.log.error(self.images_dir, None, "images folder not found; pass --images DIR")
            return
        found = sorted(p for p in self.images_dir.rglob("*") if p.is_file() and is_image_file(p))
        self.unlisted_files = [p for p in found if p.resolve() not in listed]
        if self.unlisted_files:
            names = ", ".join(p.name for p in self.unlisted_files[:5])
            more = (
                f" and {len(self.unlisted_files) - 5} more" if len(self.unlisted_files) > 5 else ""
            )
            self.log.warning(
                self.images_dir,
                None,
                f"{len(self.unlisted_files)} image files are not in {self.json_path.name} "
                f"and are not used: {names}{more}",
            )

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

    def annotation_rle(self, ann: dict[str, Any], height: int, width: int) -> dict:
        """One annotation (polygons or RLE) as a validated pycocotools RLE object."""
        from seglab.data.rle import coco_rle_object, polygons_to_rle

        seg = ann["segmentation"]
        if isinstance(seg, dict):
            fld = f"annotation id={ann.get('id')!r}.segmentation"
            return coco_rle_object(seg, height=height, width=width, path=self.json_path, field=fld)
        polys = [p for p in seg if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
        return polygons_to_rle(polys, height, width)

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
        from pycocotools import mask as mask_utils

        from seglab.data.rle import decode_rle_objects

        h, w = self.image_size(index)
        key = self.items[index].key
        anns = self.annotations[key]
        if key not in self._rles:
            self._rles[key] = [self.annotation_rle(ann, h, w) for ann in anns]
        rles = self._rles[key]
        if not rles:
            return anns, np.zeros((h, w, 0), np.uint8), np.zeros(0, np.int64)
        return anns, decode_rle_objects(rles), np.asarray(mask_utils.area(rles), np.int64)

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
