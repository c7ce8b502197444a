"""Finding and reading a COCO annotation file: where the JSON and its images are, and the
validated categories, image records and annotations it holds.

Every problem is recorded in a :class:`~seglab.data.base.ProblemLog` with the file, the JSON key
path and the annotation id, and the faulty record is left out;
:class:`~seglab.data.coco.CocoSource` turns what is left into masks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seglab.core.constants import IGNORE_INDEX
from seglab.data.base import FileLog, Item, ProblemLog
from seglab.data.coco_fields import check_geometry, is_id, is_number, resolve_file_name
from seglab.errors import DataError

MAX_PIXELS = 1 << 31
"""Largest ``width * height`` a COCO image record may give (46,000 px a side)."""
_IMAGE_DIR_NAMES = ("images", "image", "imgs", "img", "JPEGImages", "data")


# -- finding the files ---------------------------------------------------------------------------


def is_coco_json(path: Path) -> bool:
    """Cheap test: does ``path`` look like a COCO annotation file (has "images" near the start)?"""
    head = _head(path)
    return head is not None and any(f'"{key}"' in head for key in COCO_KEYS)


COCO_KEYS = ("images", "annotations", "categories")
_NAME_HINTS = ("annotation", "coco", "instances", "labels")


def _head(path: Path, size: int = 1 << 16) -> str | None:
    """The first ``size`` characters of ``path`` (``None`` when it cannot be read)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(size)
    except OSError:
        return None


def is_broken_annotations(path: Path, folder: Path) -> bool:
    """Is ``path`` a JSON that was meant to hold the annotations but cannot: empty, not JSON
    text, or named (or placed) as annotations without any COCO key? Such a file must be reported,
    not taken for "no annotations"."""
    head = _head(path)
    if head is None:
        return True
    text = head.lstrip("\ufeff \t\r\n")
    if not text or text[0] not in "{[":
        return True  # empty, or not a JSON object or array: nothing else in a dataset is
    named = any(hint in path.name.lower() for hint in _NAME_HINTS)
    return named or folder.name == "annotations"


def find_annotation_file(folder: str | Path) -> Path | None:
    """Find the COCO JSON of a split folder: in the folder itself or in ``annotations/``.

    A JSON that is empty, not JSON, or named as annotations without holding COCO keys is
    returned too, so reading it reports what is wrong instead of the folder passing for
    unlabelled images. Returns ``None`` when there is none; raises :class:`DataError` listing
    the candidates when several files qualify (pass ``--annotations FILE`` to choose).
    """
    folder = Path(folder)
    for place in (folder, folder / "annotations"):
        if not place.is_dir():
            continue
        jsons = sorted(p for p in place.glob("*.json") if p.is_file())
        found = [p for p in jsons if is_coco_json(p)]
        if not found:
            found = [p for p in jsons if is_broken_annotations(p, place)]
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


def read_coco_json(path: Path) -> Any:
    """The parsed JSON of ``path``; :class:`DataError` saying why when it cannot be read: not
    found, not UTF-8, empty, not JSON (with the line and column), nested too deeply."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("annotation file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(
            f"not UTF-8 text (byte {exc.start}: {exc.reason}); COCO JSON must be saved as UTF-8",
            path=path,
        ) from None
    except (OSError, MemoryError) as exc:
        raise DataError(f"cannot read annotation file ({exc})", path=path) from None
    if not text.strip():
        raise DataError(
            "the annotation file is empty; export the annotations again (COCO JSON)", path=path
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=path
        ) from None
    except RecursionError:
        raise DataError(
            "JSON nested too deeply to be a COCO file (arrays or objects thousands of levels "
            "deep); export the annotations again",
            path=path,
        ) from None
    except MemoryError:
        raise DataError("annotation file too large for this machine's memory", path=path) from None


# -- validating the records ----------------------------------------------------------------------


@dataclass(frozen=True)
class CocoCategories:
    """The categories kept, ordered by id: their records, ``{category id: class index}`` (from
    1) and the class names (``background`` first)."""

    records: list[dict[str, Any]]
    index: dict[Any, int]
    classes: list[str]


def coco_annotations(data: Any, path: Path, log: ProblemLog) -> list[Any]:
    """The ``annotations`` list of a COCO object, after checking its top-level keys.

    Raises
    ------
    DataError
        ``data`` is not an object, lacks ``images`` or ``categories``, or one of the three is
        not a list.
    """
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
            raise DataError(f"must be a list, got {type(data[key]).__name__}", path=path, field=key)
    anns = data.get("annotations", [])
    if "annotations" not in data:
        log.warning(path, "annotations", 'no "annotations" key: every image unlabelled')
    elif not isinstance(anns, list):
        raise DataError(
            f"must be a list, got {type(anns).__name__}", path=path, field="annotations"
        )
    return anns


def parse_categories(
    cats: list[Any], anns: list[Any], path: Path, log: ProblemLog
) -> CocoCategories:
    """The usable categories; a dataset-name supercategory without annotations is left out.

    Raises
    ------
    DataError
        More categories than class indices (255 marks ignored pixels).
    """
    seen: dict[Any, dict[str, Any]] = {}
    for i, cat in enumerate(cats):
        fld = f"categories[{i}]"
        if not isinstance(cat, dict) or not is_id(cat.get("id")):
            log.error(path, fld, "category needs an integer or string 'id'")
            continue
        fld = f"categories[{i}] (id={cat['id']!r})"
        if cat["id"] in seen:
            log.error(path, f"{fld}.id", f"duplicate category id {cat['id']!r}")
            continue
        if "name" in cat and not (isinstance(cat["name"], str) and cat["name"]):
            log.error(path, f"{fld}.name", f"must be a non-empty string, got {cat['name']!r}")
            continue
        if cat.get("supercategory") is not None and not isinstance(cat["supercategory"], str):
            log.warning(
                path,
                f"{fld}.supercategory",
                f"must be a string, got {cat['supercategory']!r}: ignored",
            )
            cat = {k: v for k, v in cat.items() if k != "supercategory"}
        seen[cat["id"]] = cat
    used = {
        a.get("category_id") for a in anns if isinstance(a, dict) and is_id(a.get("category_id"))
    }
    supers = {c.get("supercategory") for c in seen.values()}
    kept = []
    for cid, cat in seen.items():
        if cid not in used and cat.get("name") in supers and len(seen) > 1:
            log.warning(
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
    return CocoCategories(
        records=kept,
        index={c["id"]: i + 1 for i, c in enumerate(kept)},
        classes=["background"] + [str(c.get("name", c["id"])) for c in kept],
    )


def parse_images(
    records: list[Any], path: Path, images_dir: Path, root: Path, log: ProblemLog
) -> dict[Any, Item]:
    """``{image id: Item}`` of the usable image records, in file order; a record is left out
    when its id, file name or size is unusable, or its file is missing or listed twice."""
    images: dict[Any, Item] = {}
    by_key: set[str] = set()
    if not records:
        log.error(path, "images", "lists no images: nothing to train or check on")
    for i, rec in enumerate(records):
        fld = f"images[{i}]"
        if not isinstance(rec, dict):
            log.error(path, fld, "image record must be an object")
            continue
        iid = rec.get("id")
        if not is_id(iid):
            log.error(path, f"{fld}.id", f"image id must be an integer or string, got {iid!r}")
            continue
        fld = f"images[{i}] (id={iid!r})"
        if iid in images:
            log.error(path, f"{fld}.id", f"duplicate image id {iid!r}")
            continue
        name = rec.get("file_name")
        if not isinstance(name, str) or not name:
            log.error(path, f"{fld}.file_name", "missing or empty file_name")
            continue
        size = _image_size(rec, fld, path, log)
        if size is None:
            continue
        file, reason = resolve_file_name(name, images_dir, root)
        if file is None:
            log.error(path, f"{fld}.file_name", f"{name!r}: {reason}")
            continue
        key = name
        if key in by_key:
            log.error(path, f"{fld}.file_name", f"file {name!r} is listed twice")
            continue
        by_key.add(key)
        w, h = size
        images[iid] = Item(key=key, image_path=file, image_id=iid, width=w, height=h)
    return images


def _image_size(
    rec: dict[str, Any], fld: str, path: Path, log: ProblemLog
) -> tuple[int | None, int | None] | None:
    """``(width, height)`` of an image record (``None`` each when not given), or ``None`` when
    they are given but are not positive integers (logged)."""
    w, h = rec.get("width"), rec.get("height")
    if w is None and h is None:
        return w, h
    if not (is_number(w) and is_number(h) and int(w) == w and int(h) == h and w > 0 and h > 0):
        log.error(
            path,
            f"{fld}.width/height",
            f"width and height must be positive integers, got {w!r}x{h!r}",
        )
        return None
    if int(w) * int(h) > MAX_PIXELS:
        # masks are painted at the JSON's size: refuse before allocating gigabytes
        log.error(
            path,
            f"{fld}.width/height",
            f"{int(w)}x{int(h)} is over {MAX_PIXELS:,} pixels: not a size an image has; fix it",
        )
        return None
    return int(w), int(h)


def parse_annotations(
    anns: list[Any],
    images: dict[Any, Item],
    category_index: dict[Any, int],
    path: Path,
    log: ProblemLog,
    file_log: FileLog,
) -> dict[str, list[dict[str, Any]]]:
    """``{image key: [annotation, ...]}`` of the usable annotations (every image, in order, with
    or without any); an ``image_id`` of the other type ("7" vs 7) is matched with a warning."""
    found: dict[str, list[dict[str, Any]]] = {item.key: [] for item in images.values()}
    seen_ids = set()
    str_ids = {str(k): k for k in images}
    for i, ann in enumerate(anns):
        if not isinstance(ann, dict):
            log.error(path, f"annotations[{i}]", "annotation must be an object")
            continue
        aid = ann.get("id")
        if aid is not None and not is_id(aid):
            log.error(path, f"annotations[{i}].id", f"must be an integer or a string, got {aid!r}")
            continue
        fld = f"annotations[{i}] (id={aid!r})"
        if aid is None:
            log.warning(path, f"{fld}.id", "annotation without an id (COCO requires one)")
        elif aid in seen_ids:
            log.error(path, f"{fld}.id", f"duplicate annotation id {aid!r}")
            continue
        else:
            seen_ids.add(aid)
        if not _typed_fields(ann, fld, path, log):
            continue
        iid = ann.get("image_id")
        if iid not in images:
            if str(iid) in str_ids:
                log.warning(
                    path,
                    f"{fld}.image_id",
                    f"{iid!r} matched to image id {str_ids[str(iid)]!r} of another type",
                )
                iid = str_ids[str(iid)]
            else:
                log.error(path, f"{fld}.image_id", f"unknown or unusable image id {iid!r}")
                continue
        cid = ann.get("category_id")
        if cid not in category_index:
            log.error(
                path,
                f"{fld}.category_id",
                f"unknown category id {cid!r} (known: {sorted(category_index, key=str)})",
            )
            continue
        item = images[iid]
        if check_geometry(ann, item.width, item.height, fld, file_log):
            found[item.key].append(ann)
    return found


def _typed_fields(ann: dict[str, Any], fld: str, path: Path, log: ProblemLog) -> bool:
    """Check the types of an annotation's ids, ``iscrowd`` and ``area``; ``False`` (logged)
    when it cannot be used. A loose type is never read as truth: ``"iscrowd": "0"`` is an
    error, not a crowd."""
    for key in ("image_id", "category_id"):
        if not is_id(ann.get(key)):
            log.error(
                path,
                f"{fld}.{key}",
                f"must be an integer or a string id, got {ann.get(key)!r}",
            )
            return False
    crowd = ann.get("iscrowd", 0)
    if not (isinstance(crowd, (int, bool)) and crowd in (0, 1)):
        log.error(
            path,
            f"{fld}.iscrowd",
            f"must be 0 or 1 (a number, not a string), got {crowd!r}; fix it or delete the key",
        )
        return False
    area = ann.get("area")
    if area is not None and not (is_number(area) and area >= 0):
        log.warning(
            path,
            f"{fld}.area",
            f"must be a non-negative number, got {area!r}: ignored (areas are counted from "
            "the masks)",
        )
    return True


def find_unlisted(
    images_dir: Path, listed: list[Path], json_path: Path, log: ProblemLog
) -> list[Path]:
    """The image files in ``images_dir`` that the JSON does not list (they are not used; a
    warning names a few)."""
    from seglab.io import is_image_file

    known = {p.resolve() for p in listed}
    if not images_dir.is_dir():
        log.error(images_dir, None, "images folder not found; pass --images DIR")
        return []
    found = sorted(p for p in images_dir.rglob("*") if p.is_file() and is_image_file(p))
    unlisted = [p for p in found if p.resolve() not in known]
    if unlisted:
        names = ", ".join(p.name for p in unlisted[:5])
        more = f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else ""
        log.warning(
            images_dir,
            None,
            f"{len(unlisted)} image files are not in {json_path.name} and are not used: "
            f"{names}{more}",
        )
    return unlisted
