"""Corpus cases: COCO annotation files with every required field deleted, null or of the wrong
type; bad polygons and RLE; escaping and over-long names; broken, empty, nested and huge JSON.

Each is read by ``seglab data check`` (exit 1 and the problem named when a record is unusable,
0 when seglab can go on with a warning) or ``seglab train`` (which must say what the check says
and stop before it starts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.builders import square, write_image
from tests.robustness.corpus import ERROR, FAILED, OK, Case, Env

JSON = "annotations.json"
DELETE = object()
"""A field value meaning: remove the key."""


def base_coco() -> dict[str, Any]:
    """Two 32x32 images, one 8x8 square on each, one category: valid."""
    return {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 32, "height": 32},
            {"id": 2, "file_name": "b.png", "width": 32, "height": 32},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [square(4, 4, 8)],
             "bbox": [4, 4, 8, 8], "area": 64, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "segmentation": [square(10, 10, 8)],
             "bbox": [10, 10, 8, 8], "area": 64, "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "thing", "supercategory": "things"}],
    }  # fmt: skip


def write_split(root: Path, text: str | bytes) -> Path:
    """``root/images/{a,b}.png`` (32x32) and ``root/annotations.json`` holding ``text``."""
    for name in ("a.png", "b.png"):
        write_image(root / "images" / name)
    path = root / JSON
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return root


def check(mutate: Callable[[dict], Any]) -> Callable[[Env], list[str]]:
    """A build: the base COCO changed by ``mutate``, read by ``seglab data check``."""

    def build(env: Env) -> list[str]:
        data = base_coco()
        mutate(data)
        return ["data", "check", write_split(env.path("coco"), json.dumps(data))]

    return build


def raw(text: str | bytes) -> Callable[[Env], list[str]]:
    """A build: ``annotations.json`` holding ``text`` as is."""
    return lambda env: ["data", "check", write_split(env.path("coco"), text)]


def setter(section: str, index: int, key: str, value: Any) -> Callable[[dict], None]:
    """Set (or with :data:`DELETE` remove) ``data[section][index][key]``."""

    def mutate(data: dict) -> None:
        record = data[section][index]
        if value is DELETE:
            record.pop(key, None)
        else:
            record[key] = value

    return mutate


def case(name: str, build, code: int, *says: str, absent=("data check OK",)) -> Case:
    """A COCO case; every message must name ``annotations.json`` (unless ``says`` names
    another file)."""
    texts = tuple(s for s in says if s)
    if texts and not any(s.endswith((".json", ".png")) for s in texts):
        texts = (JSON, *texts)
    return Case("coco", name, build, code, texts, absent if code != OK else ())


def field_cases(section: str, key: str, values: dict[str, tuple[Any, int, str]]) -> list[Case]:
    """One case per ``label: (value, exit, field text)`` of ``section[0].key``."""
    return [
        case(f"{section}[0].{key} {label}", check(setter(section, 0, key, value)), code, text)
        for label, (value, code, text) in values.items()
    ]


IMG = "images[0] (id=1)"
ANN = "annotations[0] (id=1)"
LONG = "a" * 300 + ".png"

CASES: list[Case] = [
    # -- the file itself --------------------------------------------------------------------
    case("not JSON", raw('{"images": [1, 2'), FAILED, "invalid JSON"),
    case("not JSON, no COCO key", raw("<html>oops</html>"), FAILED, "invalid JSON"),
    case("empty file", raw(""), FAILED, "empty"),
    case("only whitespace", raw("  \n "), FAILED, "empty"),
    case("nested 100,000 levels", raw("[" * 100_000 + "]" * 100_000), FAILED, "nested"),
    case("top level is a list", raw("[]"), FAILED, "top level"),
    case("top level is a number", raw("7"), FAILED, "top level"),
    case("top level is null", raw("null"), FAILED, "top level"),
    case("empty object", raw("{}"), FAILED, '"images"'),
    case("UTF-16 encoded", raw(json.dumps(base_coco()).encode("utf-16")), FAILED, "UTF-8"),
    case("UTF-8 with BOM", raw(b"\xef\xbb\xbf" + json.dumps(base_coco()).encode()), OK),
    case("invalid UTF-8 bytes", raw(b'{"images": [], "x": "\xff\xfe"}'), FAILED, "UTF-8"),
    case(
        "huge (20 MB info string)",
        check(lambda d: d.update(info={"description": "x" * 20_000_000})),
        OK,
    ),
    case(
        "NaN in a bbox",
        raw(json.dumps(base_coco()).replace("[4, 4, 8, 8]", "[NaN, 4, 8, 8]")),
        FAILED,
        f"{ANN}.bbox",
        "[x, y, w, h], got [nan, 4, 8, 8]",  # bracketed text is printed, not taken for markup
    ),
]


def setter_top(key: str, value: Any) -> Callable[[dict], None]:
    """Set (or remove) a top-level key."""

    def mutate(data: dict) -> None:
        if value is DELETE:
            data.pop(key, None)
        else:
            data[key] = value

    return mutate


CASES += [
    case(f"{key} {label}", check(setter_top(key, value)), code, text)
    for key in ("images", "categories")
    for label, value, code, text in (
        ("deleted", DELETE, FAILED, f'missing key "{key}"'),
        ("null", None, FAILED, key),
        ("a string", "x", FAILED, key),
        ("an object", {"1": {}}, FAILED, key),
    )
]
CASES += [
    case("annotations deleted", check(setter_top("annotations", DELETE)), OK, "annotations"),
    case("annotations null", check(setter_top("annotations", None)), FAILED, "annotations"),
    case("annotations a string", check(setter_top("annotations", "x")), FAILED, "annotations"),
    case("images empty", check(setter_top("images", [])), FAILED, "no images"),
    case("categories empty", check(setter_top("categories", [])), FAILED, "category_id"),
    case(
        "images[0] not an object",
        check(lambda d: d["images"].__setitem__(0, 7)),
        FAILED,
        "images[0]",
    ),
    case(
        "annotations[0] not an object",
        check(lambda d: d["annotations"].__setitem__(0, [])),
        FAILED,
        "annotations[0]",
    ),
    case(
        "categories[0] not an object",
        check(lambda d: d["categories"].__setitem__(0, "c")),
        FAILED,
        "categories[0]",
    ),
]

# -- images[0] fields -------------------------------------------------------------------------
CASES += field_cases("images", "id", {
    "deleted": (DELETE, FAILED, "images[0].id"),
    "null": (None, FAILED, "images[0].id"),
    "a list": ([1], FAILED, "images[0].id"),
    "an object": ({"a": 1}, FAILED, "images[0].id"),
    "a float": (1.5, FAILED, "images[0].id"),
    "a bool": (True, FAILED, "images[0].id"),
    "an empty string": ("", FAILED, "images[0].id"),
})  # fmt: skip
CASES += field_cases("images", "file_name", {
    "deleted": (DELETE, FAILED, f"{IMG}.file_name"),
    "null": (None, FAILED, f"{IMG}.file_name"),
    "a number": (7, FAILED, f"{IMG}.file_name"),
    "a list": (["a.png"], FAILED, f"{IMG}.file_name"),
    "empty": ("", FAILED, f"{IMG}.file_name"),
    "escaping with ..": ("../../etc/passwd", FAILED, "'..' refused"),
    "escaping with ..\\": ("..\\..\\a.png", FAILED, "'..' refused"),
    "absolute": ("/etc/passwd", FAILED, "absolute path refused"),
    "a drive letter": ("C:\\data\\a.png", FAILED, "absolute path refused"),
    "a URL (its file name is used)": ("http://example.com/a.png", OK, ""),
    "over-long (300 chars)": (LONG, FAILED, f"{IMG}.file_name"),
    "over-long path (5000 chars)": ("d/" * 2500 + "a.png", FAILED, f"{IMG}.file_name"),
    "a NUL byte": ("a\x00.png", FAILED, "control characters"),
    "a missing file": ("zz.png", FAILED, "image file not found"),
    "a folder": ("images", FAILED, f"{IMG}.file_name"),
})  # fmt: skip
CASES += field_cases("images", "width", {
    "deleted (height kept)": (DELETE, FAILED, f"{IMG}.width/height"),
    "null": (None, FAILED, f"{IMG}.width/height"),
    "a string": ("32", FAILED, f"{IMG}.width/height"),
    "zero": (0, FAILED, f"{IMG}.width/height"),
    "negative": (-32, FAILED, f"{IMG}.width/height"),
    "fractional": (32.5, FAILED, f"{IMG}.width/height"),
    "wrong (64, file is 32)": (64, FAILED, "JSON says 64x32"),
    "a bool": (True, FAILED, f"{IMG}.width/height"),
})  # fmt: skip
CASES += [
    case(
        "images[0] without width and height",
        check(lambda d: [d["images"][0].pop(k) for k in ("width", "height")]),
        OK,
    ),
    case("images: duplicate id", check(setter("images", 1, "id", 1)), FAILED, "duplicate image id"),
    case(
        "images: a file listed twice",
        check(setter("images", 1, "file_name", "a.png")),
        FAILED,
        "listed twice",
    ),
]

# -- annotations[0] fields ----------------------------------------------------------------------
CASES += field_cases("annotations", "id", {
    "deleted": (DELETE, OK, "annotations[0] (id=None).id"),
    "null": (None, OK, "annotations[0] (id=None).id"),
    "a list": ([1], FAILED, "annotations[0]"),
    "an object": ({"a": 1}, FAILED, "annotations[0]"),
    "a float": (1.5, FAILED, "annotations[0]"),
    "duplicate": (2, FAILED, "duplicate annotation id"),
})  # fmt: skip
CASES += field_cases("annotations", "image_id", {
    "deleted": (DELETE, FAILED, f"{ANN}.image_id"),
    "null": (None, FAILED, f"{ANN}.image_id"),
    "a list": ([1], FAILED, f"{ANN}.image_id"),
    "an object": ({"id": 1}, FAILED, f"{ANN}.image_id"),
    "unknown": (99, FAILED, f"{ANN}.image_id"),
    "a string of a known int id": ("1", OK, f"{ANN}.image_id"),
})  # fmt: skip
CASES += field_cases("annotations", "category_id", {
    "deleted": (DELETE, FAILED, f"{ANN}.category_id"),
    "null": (None, FAILED, f"{ANN}.category_id"),
    "a list": ([1], FAILED, f"{ANN}.category_id"),
    "an object": ({"id": 1}, FAILED, f"{ANN}.category_id"),
    "unknown": (5, FAILED, f"{ANN}.category_id"),
    "a string of a known int id": ("1", FAILED, f"{ANN}.category_id"),
})  # fmt: skip
CASES += field_cases("annotations", "iscrowd", {
    "a string \"0\"": ("0", FAILED, f"{ANN}.iscrowd"),
    "a string \"1\"": ("1", FAILED, f"{ANN}.iscrowd"),
    "2": (2, FAILED, f"{ANN}.iscrowd"),
    "a list": ([0], FAILED, f"{ANN}.iscrowd"),
    "null": (None, FAILED, f"{ANN}.iscrowd"),
    "deleted": (DELETE, OK, ""),
    "a bool": (False, OK, ""),
})  # fmt: skip
CASES += field_cases("annotations", "area", {
    "a string": ("64", OK, f"{ANN}.area"),
    "negative": (-1, OK, f"{ANN}.area"),
    "null": (None, OK, ""),
    "deleted": (DELETE, OK, ""),
})  # fmt: skip
CASES += field_cases("annotations", "bbox", {
    "a string": ("4,4,8,8", FAILED, f"{ANN}.bbox"),
    "three numbers": ([4, 4, 8], FAILED, f"{ANN}.bbox"),
    "strings inside": (["4", "4", "8", "8"], FAILED, f"{ANN}.bbox"),
    "negative size": ([4, 4, -8, 8], FAILED, f"{ANN}.bbox"),
    "outside the image": ([100, 100, 8, 8], FAILED, f"{ANN}.bbox"),
    "null": (None, OK, ""),
})  # fmt: skip
CASES += field_cases("annotations", "segmentation", {
    "deleted": (DELETE, OK, f"{ANN}.segmentation"),
    "null": (None, OK, f"{ANN}.segmentation"),
    "a string": ("4 4 12 4 12 12", FAILED, f"{ANN}.segmentation"),
    "a number": (7, FAILED, f"{ANN}.segmentation"),
    "a flat list of numbers": (square(4, 4, 8), FAILED, f"{ANN}.segmentation[0]"),
    "an odd-length polygon": ([[4, 4, 12, 4, 12, 12, 4]], FAILED, f"{ANN}.segmentation[0]"),
    "a 4-number polygon": ([[4, 4, 12, 12]], FAILED, f"{ANN}.segmentation[0]"),
    "a 2-point polygon": ([[4, 4]], OK, f"{ANN}.segmentation[0]"),
    "strings in a polygon": ([["4", "4", "12", "4", "12", "12"]], FAILED,
                             f"{ANN}.segmentation[0]"),
    "a nested polygon": ([[[4, 4], [12, 4], [12, 12]]], FAILED, f"{ANN}.segmentation[0]"),
    "a polygon outside the image": ([square(100, 100, 8)], FAILED, f"{ANN}.segmentation[0]"),
    "a polygon partly outside": ([square(28, 28, 8)], OK, f"{ANN}.segmentation[0]"),
    "an empty list": ([], OK, f"{ANN}.segmentation"),
    "RLE without counts": ({"size": [32, 32]}, FAILED, f"{ANN}.segmentation"),
    "RLE without size": ({"counts": [1024]}, FAILED, f"{ANN}.segmentation"),
    "RLE size of strings": ({"size": ["32", "32"], "counts": [1024]}, FAILED,
                            f"{ANN}.segmentation.size"),
    "RLE size not the image's": ({"size": [16, 16], "counts": [256]}, FAILED,
                                 f"{ANN}.segmentation.size"),
    "RLE counts negative": ({"size": [32, 32], "counts": [-4, 1028]}, FAILED,
                            f"{ANN}.segmentation.counts"),
    "RLE counts summing wrong": ({"size": [32, 32], "counts": [10, 10]}, FAILED,
                                 f"{ANN}.segmentation.counts"),
    "RLE counts an object": ({"size": [32, 32], "counts": {"a": 1}}, FAILED,
                             f"{ANN}.segmentation.counts"),
    "RLE compressed counts garbage": ({"size": [32, 32], "counts": "\x7f\x7f!!"}, FAILED,
                                      "annotation id=1"),
    "RLE compressed counts too long": ({"size": [32, 32], "counts": "0" * 5000}, FAILED,
                                       "annotation id=1"),
})  # fmt: skip

# -- categories[0] fields -----------------------------------------------------------------------
CASES += field_cases("categories", "id", {
    "deleted": (DELETE, FAILED, "categories[0]"),
    "null": (None, FAILED, "categories[0]"),
    "a list": ([1], FAILED, "categories[0]"),
    "a float": (1.5, FAILED, "categories[0]"),
})  # fmt: skip
CASES += field_cases("categories", "name", {
    "deleted": (DELETE, OK, ""),
    "null": (None, FAILED, "categories[0] (id=1).name"),
    "a number": (3, FAILED, "categories[0] (id=1).name"),
    "a list": (["thing"], FAILED, "categories[0] (id=1).name"),
    "an object": ({"en": "thing"}, FAILED, "categories[0] (id=1).name"),
})  # fmt: skip
CASES += field_cases("categories", "supercategory", {
    "a list": (["things"], OK, "categories[0] (id=1).supercategory"),
    "an object": ({"a": 1}, OK, "categories[0] (id=1).supercategory"),
})  # fmt: skip
CASES += [
    case(
        "categories: duplicate id",
        check(lambda d: d["categories"].append({"id": 1, "name": "x"})),
        FAILED,
        "duplicate category id",
    ),
    case(
        "categories: 300 of them",
        check(lambda d: d.update(categories=[{"id": i, "name": f"c{i}"} for i in range(1, 301)])),
        FAILED,
        "300 categories",
    ),
]


# -- seglab train says what the check says, and stops on errors before it starts ----------------
TINY = ["--model", "unet", "-m", "base_width=4", "-m", "depth=2", "--epochs", "1",
        "--batch-size", "2", "--augment", "none", "--workers", "0", "--quiet"]  # fmt: skip


def train_on(mutate: Callable[[dict], Any], *extra: str) -> Callable[[Env], list[str]]:
    """A build: six 32x32 images with a square each, changed by ``mutate``, trained on."""

    def build(env: Env) -> list[str]:
        root = env.path("coco")
        data = base_coco()
        data["images"] = [
            {"id": k, "file_name": f"{k}.png", "width": 32, "height": 32} for k in range(1, 7)
        ]
        data["annotations"] = [
            {"id": k, "image_id": k, "category_id": 1, "segmentation": [square(4 + k, 6, 9)],
             "iscrowd": 0}
            for k in range(1, 7)
        ]  # fmt: skip
        mutate(data)
        for k in range(1, 7):
            write_image(root / "images" / f"{k}.png", value=40)
        (root / JSON).write_text(json.dumps(data))
        return ["train", "--data", root, "--out", env.path("runs"), *TINY, *extra]

    return build


ODD = setter("annotations", 0, "segmentation", [[4, 4, 12, 4, 12, 12, 4]])
CASES += [
    Case("coco", "train on an odd-length polygon", train_on(ODD), ERROR,
         (JSON, "annotations[0] (id=1).segmentation[0]", "--skip-bad-data")),
    Case("coco", "train on a file_name escaping the dataset",
         train_on(setter("images", 0, "file_name", "../../x.png")), ERROR,
         (JSON, "images[0] (id=1).file_name", "--skip-bad-data")),
    Case("coco", "train on iscrowd \"0\"", train_on(setter("annotations", 0, "iscrowd", "0")),
         ERROR, (JSON, "annotations[0] (id=1).iscrowd")),
    Case("coco", "train --skip-bad-data on an odd-length polygon",
         train_on(ODD, "--skip-bad-data"), OK,
         ("data check: 1 error(s), left out of training", "segmentation[0]")),
]  # fmt: skip
