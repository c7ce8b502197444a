"""Validating COCO records: ids, file names, boxes, polygons and RLE.

Each function records what is wrong in a :class:`FileLog` under the field it concerns
(``annotations[3] (id=7).segmentation[0]``) and says whether the record can still be used.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seglab.data.base import FileLog


def is_id(value: Any) -> bool:
    """A usable COCO id: a non-bool integer or a non-empty string."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value != ""
    )


def is_number(value: Any) -> bool:
    """A finite int or float (not bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def resolve_file_name(file_name: str, images_dir: Path, root: Path) -> tuple[Path | None, str]:
    """Resolve a COCO ``file_name`` inside the dataset, refusing names that escape it.

    Tries ``images_dir/file_name``, ``root/file_name`` and ``images_dir/<basename>``, in that
    order. Returns ``(path or None, reason)``; the reason is empty when the path is usable.
    """
    if any(ord(c) < 32 or ord(c) == 127 for c in file_name):
        return None, "file name holds control characters (NUL, newline, ...): fix the export"
    name = file_name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or Path(name).is_absolute():
        return None, "absolute path refused: file names must be relative to the images folder"
    if ".." in Path(name).parts:
        return None, "path with '..' refused: it would read a file outside the dataset"
    candidates = [images_dir / name, root / name, images_dir / Path(name).name]
    for cand in candidates:
        try:
            if cand.is_file():
                return cand, ""
        except (OSError, ValueError) as exc:  # over-long names, NUL bytes
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return None, f"unusable file name ({reason})"
    return None, f"image file not found (looked for {candidates[0]})"


def check_geometry(
    ann: dict[str, Any], w: int | None, h: int | None, fld: str, log: FileLog
) -> bool:
    """Check an annotation's ``bbox`` and ``segmentation`` against a ``w`` x ``h`` image.

    Records every fault in ``log`` under ``fld`` (e.g. ``annotations[3] (id=7)``) and returns
    whether the annotation can be drawn (polygon parts that cannot are skipped).
    """
    bbox = ann.get("bbox")
    if bbox is not None:
        _check_bbox(bbox, w, h, f"{fld}.bbox", log)
    seg = ann.get("segmentation")
    if seg is None or seg == [] or seg == {}:
        log.warning(
            f"{fld}.segmentation",
            "no segmentation (box-only annotation): not used for masks",
        )
        return False
    if isinstance(seg, dict):
        return check_rle(seg, h, w, f"{fld}.segmentation", log)
    if not isinstance(seg, list):
        log.error(
            f"{fld}.segmentation",
            f"must be a list of polygons or an RLE object, got {type(seg).__name__}",
        )
        return False
    # Every part is checked (a list, not a short-circuit) so each fault is recorded.
    usable = [
        _check_polygon(poly, w, h, f"{fld}.segmentation[{j}]", log) for j, poly in enumerate(seg)
    ]
    return any(usable)  # only the usable parts are drawn (see annotation_mask)


def _check_bbox(bbox: Any, w: int | None, h: int | None, fld: str, log: FileLog) -> None:
    """Check a ``bbox`` field: four numbers, a non-negative size, on the image."""
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)):
        log.error(fld, f"bbox must be 4 numbers [x, y, w, h], got {bbox!r}")
    elif bbox[2] < 0 or bbox[3] < 0:
        log.error(fld, f"bbox has negative width or height: {bbox}")
    elif w is not None and h is not None:
        x0, y0, x1, y1 = bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]
        if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
            log.error(fld, f"bbox {bbox} lies entirely outside the {w}x{h} image")
        elif x0 < -1 or y0 < -1 or x1 > w + 1 or y1 > h + 1:
            log.warning(fld, f"bbox {bbox} extends outside the {w}x{h} image")


def _check_polygon(poly: Any, w: int | None, h: int | None, fld: str, log: FileLog) -> bool:
    """Check one polygon part of a ``segmentation``; return whether it can be drawn."""
    if not isinstance(poly, list) or not all(is_number(v) for v in poly):
        log.error(fld, "polygon must be a flat list of finite numbers [x1, y1, x2, y2, ...]")
        return False
    if len(poly) == 4:
        log.error(
            fld,
            "polygon of 4 numbers (2 points): pycocotools would draw it as a box; fix or delete it",
        )
        return False
    if len(poly) % 2:
        log.error(fld, f"polygon has an odd number of coordinates ({len(poly)})")
        return False
    if len(poly) < 6:
        log.warning(
            fld,
            f"polygon with fewer than 3 points ({len(poly) // 2}) has no area: skipped",
        )
        return False
    if w is not None and h is not None:
        xs, ys = poly[0::2], poly[1::2]
        if max(xs) <= 0 or max(ys) <= 0 or min(xs) >= w or min(ys) >= h:
            log.error(fld, f"polygon lies entirely outside the {w}x{h} image")
            return False
        if min(xs) < -1 or min(ys) < -1 or max(xs) > w + 1 or max(ys) > h + 1:
            log.warning(
                fld,
                f"polygon extends outside the {w}x{h} image (x {min(xs):g}..{max(xs):g}, "
                f"y {min(ys):g}..{max(ys):g}); clipped",
            )
    return True


def check_rle(seg: dict[str, Any], h: int | None, w: int | None, fld: str, log: FileLog) -> bool:
    """Check the structure of an RLE ``segmentation`` (full decoding is left to pycocotools)."""
    size, counts = seg.get("size"), seg.get("counts")
    if size is None or counts is None:
        missing = "size" if size is None else "counts"
        log.error(fld, f'RLE is missing "{missing}"')
        return False
    if not (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(v, int) and v > 0 for v in size)
    ):
        log.error(f"{fld}.size", f"RLE size must be [height, width], got {size!r}")
        return False
    if h is not None and (size[0], size[1]) != (h, w):
        log.error(
            f"{fld}.size",
            f"RLE size {size} differs from the image's [height, width] [{h}, {w}]",
        )
        return False
    if isinstance(counts, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            log.error(f"{fld}.counts", "uncompressed RLE counts must be non-negative integers")
            return False
        if sum(counts) != size[0] * size[1]:
            log.error(
                f"{fld}.counts",
                f"uncompressed RLE counts sum to {sum(counts)}, "
                f"not height*width = {size[0] * size[1]}",
            )
            return False
    elif not isinstance(counts, (str, bytes)):
        log.error(
            f"{fld}.counts",
            f"RLE counts must be a list or a string, got {type(counts).__name__}",
        )
        return False
    return True


def clip_polygon(poly: list[float], width: int, height: int) -> list[float]:
    """``poly`` (flat ``[x1, y1, ...]``) clipped to a box one image size around the image.

    pycocotools walks every edge pixel by pixel in C ints: a vertex thousands of images away
    costs gigabytes and one past 2^31 crashes the process. Clipping (Sutherland-Hodgman) keeps
    what is drawn inside the image (up to the rounding of an edge's pixels where it is cut).
    Polygons inside that box, every real one, are returned as given.
    """
    side = float(max(width, height))
    low_x, low_y, high_x, high_y = -side, -side, width + side, height + side
    xs, ys = poly[0::2], poly[1::2]
    if min(xs) >= low_x and min(ys) >= low_y and max(xs) <= high_x and max(ys) <= high_y:
        return poly
    points = list(zip(xs, ys, strict=True))
    for axis, bound, keep_above in ((0, low_x, True), (0, high_x, False),
                                    (1, low_y, True), (1, high_y, False)):  # fmt: skip
        points = _clip_edge(points, axis, bound, keep_above)
        if not points:
            return []
    return [v for point in points for v in point]


def _clip_edge(points, axis: int, bound: float, keep_above: bool) -> list[tuple[float, float]]:
    """One Sutherland-Hodgman pass: the part of a closed polygon on one side of a line."""

    def inside(p) -> bool:
        return p[axis] >= bound if keep_above else p[axis] <= bound

    def cross(p, q) -> tuple[float, float]:
        t = (bound - p[axis]) / (q[axis] - p[axis])
        return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

    out = []
    for k, q in enumerate(points):
        p = points[k - 1]
        if inside(q):
            if not inside(p):
                out.append(cross(p, q))
            out.append(q)
        elif inside(p):
            out.append(cross(p, q))
    return out
