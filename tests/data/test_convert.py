"""Tests of seglab.data.convert: round trips between COCO, mask folders and RLE CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seglab.config import DataConfig
from seglab.data.base import IGNORE_INDEX
from seglab.data.coco import CocoSource
from seglab.data.convert import (
    convert_dataset,
    source_to_coco,
    source_to_masks,
    source_to_rle_csv,
)
from seglab.data.folders import FolderSource
from seglab.data.images import ImageFolderSource
from seglab.data.preview import class_colours
from seglab.data.rle import (
    decode_coco_rle,
    decode_rle,
    encode_coco_rle,
    polygons_to_mask,
    read_rle_csv,
)
from seglab.errors import ConfigError, SeglabError
from seglab.io import read_mask

COCO_SIZE = (48, 56)  # height, width
MASK_SIZE = 64


# ----------------------------------------------------------------------------- helpers


def disc(size: tuple[int, int], centre: tuple[int, int], radius: int) -> np.ndarray:
    """Boolean disc of ``radius`` around ``centre`` (x, y)."""
    out = np.zeros(size, np.uint8)
    cv2.circle(out, centre, radius, 1, -1)
    return out.astype(bool)


def ring(size: tuple[int, int], centre: tuple[int, int], outer: int, inner: int) -> np.ndarray:
    """Boolean ring: an object with a hole."""
    return disc(size, centre, outer) & ~disc(size, centre, inner)


def paint(masks: list[tuple[np.ndarray, int]], size: tuple[int, int]) -> np.ndarray:
    """An RGB image: grey ground, each (mask, class) painted in a distinct shade of its class."""
    image = np.full((*size, 3), 70, np.uint8)
    colours = class_colours(max([c for _, c in masks], default=1) + 1)
    for m, cls in masks:
        image[m] = (colours[cls].astype(int) * 3 // 4 + 40).clip(0, 255)
    return image


def save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def poly_mask(poly: list[float], size: tuple[int, int]) -> np.ndarray:
    return polygons_to_mask([poly], *size).astype(bool)


def make_coco_dataset(root: Path, *, multiclass: bool = False) -> Path:
    """A tiny COCO split in ``root``: images/ and ``_annotations.coco.json``; returns the JSON.

    * ``a.png`` (id "img-a"): a square polygon (class 1); with ``multiclass`` a triangle too.
    * ``sub/b.png`` (id "img-b"): a ring (an object with a hole) as compressed RLE, and a crowd
      region as uncompressed RLE.
    * ``c.png`` (id "img-c"): no annotations.
    Category ids are 3 (and 7), not 1..K, to check the renumbering.
    """
    size = COCO_SIZE
    h, w = size
    square = [8.0, 8.0, 24.0, 8.0, 24.0, 24.0, 8.0, 24.0]
    triangle = [30.0, 26.0, 50.0, 30.0, 36.0, 44.0]
    the_ring = ring(size, (18, 20), 12, 5)
    crowd = np.zeros(size, bool)
    crowd[34:46, 36:54] = True
    cats = [{"id": 3, "name": "disc", "supercategory": "thing"}]
    if multiclass:
        cats.append({"id": 7, "name": "tri", "supercategory": "thing"})
    anns = [
        {"id": 1, "image_id": "img-a", "category_id": 3, "segmentation": [square], "iscrowd": 0},
        {
            "id": 2,
            "image_id": "img-b",
            "category_id": 3,
            "segmentation": encode_coco_rle(the_ring),
            "iscrowd": 0,
        },
        {
            "id": 3,
            "image_id": "img-b",
            "category_id": 3,
            "segmentation": {"size": [h, w], "counts": _uncompressed(crowd)},
            "iscrowd": 1,
        },
    ]
    objects_a = [(poly_mask(square, size), 1)]
    if multiclass:
        anns.append({"id": 4, "image_id": "img-a", "category_id": 7, "segmentation": [triangle]})
        objects_a.append((poly_mask(triangle, size), 2))
    save_png(root / "images" / "a.png", paint(objects_a, size))
    save_png(root / "images" / "sub" / "b.png", paint([(the_ring, 1), (crowd, 1)], size))
    save_png(root / "images" / "c.png", paint([], size))
    images = [
        {"id": "img-a", "file_name": "a.png", "width": w, "height": h},
        {"id": "img-b", "file_name": "sub/b.png", "width": w, "height": h},
        {"id": "img-c", "file_name": "c.png", "width": w, "height": h},
    ]
    path = root / "_annotations.coco.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def _uncompressed(mask: np.ndarray) -> list[int]:
    from seglab.data.rle import coco_uncompressed_rle

    return coco_uncompressed_rle(mask)["counts"]


def make_mask_dataset(root: Path, *, multiclass: bool = False) -> tuple[Path, Path]:
    """A tiny mask-folder dataset: ``root/images`` and ``root/masks`` (64 px); returns both.

    ``d1``: two discs (class 1, and class 2 with ``multiclass`` else class 1); ``d2``: a ring
    of class 1 (with a hole) and a disc; ``empty``: nothing. Binary masks are stored 0/255,
    multiclass masks as class indices.
    """
    size = (MASK_SIZE, MASK_SIZE)
    second = 2 if multiclass else 1
    layouts = {
        "d1": [(disc(size, (20, 22), 14), 1), (disc(size, (46, 44), 10), second)],
        "d2": [(ring(size, (24, 24), 14, 6), 1), (disc(size, (50, 50), 8), second)],
        "empty": [],
    }
    for name, objects in layouts.items():
        mask = np.zeros(size, np.uint8)
        for m, cls in objects:
            mask[m] = cls if multiclass else 255
        save_png(root / "images" / f"{name}.png", paint(objects, size))
        save_png(root / "masks" / f"{name}.png", mask)
    return root / "images", root / "masks"


def masks_by_key(source) -> dict[str, np.ndarray]:
    return {Path(it.image_path).name: source.load_mask(i) for i, it in enumerate(source.items)}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# ----------------------------------------------------------------------------- masks


@pytest.mark.parametrize("multiclass", [False, True])
def test_coco_to_masks_reads_back_the_same_class_masks(tmp_path, multiclass):
    src = CocoSource(make_coco_dataset(tmp_path / "coco", multiclass=multiclass))
    summary = source_to_masks(src, tmp_path / "out")
    assert summary["images"] == summary["masks"] == 3
    assert summary["skipped"] == []
    back = FolderSource(tmp_path / "out" / "images", tmp_path / "out" / "masks")
    assert [it.key for it in back.items] == ["a", "c", "sub/b"]
    assert back.num_classes == src.num_classes
    expected, got = masks_by_key(src), masks_by_key(back)
    assert expected.keys() == got.keys()
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert (got["b.png"] == IGNORE_INDEX).any()  # the crowd region stays ignored
    info = json.loads((tmp_path / "out" / "classes.json").read_text())
    assert info["classes"] == src.classes
    assert info["ignore_index"] == IGNORE_INDEX
    raw, meta = read_mask(tmp_path / "out" / "masks" / "sub" / "b.png")
    assert set(np.unique(raw).tolist()) == {0, 1, 255}
    assert meta.mode == "P"
    np.testing.assert_array_equal(meta.palette[1], class_colours(src.num_classes)[1])


def test_binary_masks_without_ignore_are_0_255_grayscale(tmp_path):
    images, masks = make_mask_dataset(tmp_path / "ds")
    src = FolderSource(images, masks)
    source_to_masks(src, tmp_path / "out")
    raw, meta = read_mask(tmp_path / "out" / "masks" / "d1.png")
    assert meta.mode == "L"
    assert set(np.unique(raw).tolist()) == {0, 255}
    info = json.loads((tmp_path / "out" / "classes.json").read_text())
    assert info["mask_values"] == {"0": 0, "255": 1}
    assert info["mapping"]["kind"] == "binary"
    assert (tmp_path / "out" / "images" / "d1.png").read_bytes() == (images / "d1.png").read_bytes()
    back = FolderSource(tmp_path / "out" / "images", tmp_path / "out" / "masks")
    for key, mask in masks_by_key(src).items():
        np.testing.assert_array_equal(masks_by_key(back)[key], mask)


def test_source_to_masks_refuses_non_empty_out_and_out_inside_input(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("x")
    with pytest.raises(SeglabError, match="--overwrite"):
        source_to_masks(src, tmp_path / "out")
    source_to_masks(src, tmp_path / "out", overwrite=True)
    assert len(list((tmp_path / "out" / "masks").iterdir())) == 3
    with pytest.raises(SeglabError, match="inside the input"):
        source_to_masks(src, tmp_path / "ds" / "converted")


def test_unlabelled_source_to_masks_copies_images_only(tmp_path):
    images, _ = make_mask_dataset(tmp_path / "ds")
    summary = source_to_masks(ImageFolderSource(images), tmp_path / "out")
    assert summary["images"] == 3 and summary["masks"] == 0
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == [
        "d1.png",
        "d2.png",
        "empty.png",
    ]
    assert not (tmp_path / "out" / "masks").exists()


# ----------------------------------------------------------------------------- COCO


def test_masks_to_coco_rle_reads_back_exactly(tmp_path):
    images, masks = make_mask_dataset(tmp_path / "ds", multiclass=True)
    src = FolderSource(images, masks)
    out_json = tmp_path / "coco.json"
    coco = source_to_coco(src, out_json, segmentation="rle")
    assert [c["id"] for c in coco["categories"]] == [1, 2]
    assert [c["name"] for c in coco["categories"]] == src.classes[1:]
    assert [im["id"] for im in coco["images"]] == [1, 2, 3]
    assert [im["file_name"] for im in coco["images"]] == ["d1.png", "d2.png", "empty.png"]
    assert len(coco["annotations"]) == 4
    assert all(isinstance(a["segmentation"], dict) for a in coco["annotations"])
    assert all(a["iscrowd"] == 0 for a in coco["annotations"])
    back = CocoSource(out_json, images)
    assert back.problems == []
    expected, got = masks_by_key(src), masks_by_key(back)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_masks_to_coco_polygons_fit_discs_and_keep_holes(tmp_path):
    images, masks = make_mask_dataset(tmp_path / "ds")
    src = FolderSource(images, masks)
    coco = source_to_coco(src, tmp_path / "coco.json")
    h = w = MASK_SIZE
    by_image = {im["id"]: im["file_name"] for im in coco["images"]}
    objects = {name: src.instances(i) for i, name in enumerate(["d1.png", "d2.png", "empty.png"])}
    assert len(coco["annotations"]) == 4
    for ann in coco["annotations"]:
        truth = [o.mask for o in objects[by_image[ann["image_id"]]]]
        seg = ann["segmentation"]
        if isinstance(seg, dict):
            drawn = decode_coco_rle(seg).astype(bool)
        else:
            drawn = polygons_to_mask(seg, h, w) > 0
        best = max(iou(drawn, t) for t in truth)
        assert best >= 0.9, (ann["id"], best)
        assert ann["area"] == float(max(truth, key=lambda t: iou(drawn, t)).sum())
    kinds = {by_image[a["image_id"]]: [] for a in coco["annotations"]}
    for a in coco["annotations"]:
        kinds[by_image[a["image_id"]]].append(type(a["segmentation"]).__name__)
    assert kinds["d1.png"] == ["list", "list"]
    assert sorted(kinds["d2.png"]) == ["dict", "list"]  # the ring falls back to RLE
    ring_ann = next(a for a in coco["annotations"] if isinstance(a["segmentation"], dict))
    ring_mask = decode_coco_rle(ring_ann["segmentation"]).astype(bool)
    assert not ring_mask[24, 24]  # the hole is kept
    np.testing.assert_array_equal(ring_mask, ring((h, w), (24, 24), 14, 6))
    x, y, bw, bh = ring_ann["bbox"]
    assert (x, y, bw, bh) == (10.0, 10.0, 29.0, 29.0)


def test_coco_to_coco_keeps_crowds_holes_and_masks(tmp_path):
    src = CocoSource(make_coco_dataset(tmp_path / "coco", multiclass=True))
    out = tmp_path / "out"
    coco = source_to_coco(src, out / "annotations.json", images_dir=out / "images")
    assert (out / "images" / "sub" / "b.png").is_file()
    crowd = [a for a in coco["annotations"] if a["iscrowd"]]
    assert len(crowd) == 1 and isinstance(crowd[0]["segmentation"], dict)
    assert [c["id"] for c in coco["categories"]] == [1, 2]
    assert coco["categories"][0]["supercategory"] == "thing"
    back = CocoSource(out / "annotations.json")
    assert back.problems == []
    expected, got = masks_by_key(src), masks_by_key(back)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


# ----------------------------------------------------------------------------- RLE CSV


def test_binary_rle_csv_round_trip(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds"))
    rows = source_to_rle_csv(src, tmp_path / "masks.csv")
    assert rows == 3
    table = read_rle_csv(tmp_path / "masks.csv")
    assert table["empty.png"] == ""
    for key, mask in masks_by_key(src).items():
        np.testing.assert_array_equal(decode_rle(table[key], mask.shape), mask == 1)


def test_binary_rle_csv_from_coco_leaves_ignore_out(tmp_path):
    src = CocoSource(make_coco_dataset(tmp_path / "coco"))
    source_to_rle_csv(src, tmp_path / "masks.csv")
    table = read_rle_csv(tmp_path / "masks.csv")
    assert set(table) == {"a.png", "sub/b.png", "c.png"}
    for i, item in enumerate(src.items):
        mask = src.load_mask(i)
        np.testing.assert_array_equal(decode_rle(table[item.key], mask.shape), mask == 1)


def test_multiclass_rle_csv_has_a_class_column(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds", multiclass=True))
    rows = source_to_rle_csv(src, tmp_path / "masks.csv")
    with open(tmp_path / "masks.csv", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["img_id", "class", "rle_mask"]
    assert rows == len(table) - 1 == 4  # d1 and d2 hold both classes, empty none
    masks = masks_by_key(src)
    for img_id, name, rle in table[1:]:
        cls = src.classes.index(name)
        np.testing.assert_array_equal(decode_rle(rle, (MASK_SIZE, MASK_SIZE)), masks[img_id] == cls)


# ----------------------------------------------------------------------------- datasets


def make_split_dataset(root: Path) -> Path:
    """``root/train`` (COCO) and ``root/test/images`` (no labels)."""
    make_coco_dataset(root / "train", multiclass=True)
    save_png(root / "test" / "images" / "t1.png", paint([], COCO_SIZE))
    return root


def test_convert_dataset_rejects_bad_format(tmp_path):
    config = DataConfig(path=make_split_dataset(tmp_path / "ds"))
    with pytest.raises(ConfigError, match="masks, coco, rle-csv"):
        convert_dataset(config, tmp_path / "out", to="yolo")
    with pytest.raises(ConfigError, match="polygon, rle"):
        convert_dataset(config, tmp_path / "out", to="coco", segmentation="bitmap")
    assert not (tmp_path / "out").exists()


def test_convert_dataset_to_masks_copies_unlabelled_splits(tmp_path):
    config = DataConfig(path=make_split_dataset(tmp_path / "ds"))
    summary = convert_dataset(config, tmp_path / "out", to="masks")
    assert summary["train"]["images"] == 3 and summary["train"]["objects"] == 3
    assert summary["test"]["images"] == 1
    assert (tmp_path / "out" / "train" / "masks" / "sub" / "b.png").is_file()
    assert (tmp_path / "out" / "test" / "images" / "t1.png").is_file()
    assert not (tmp_path / "out" / "test" / "masks").exists()
    train = FolderSource(
        tmp_path / "out" / "train" / "images", tmp_path / "out" / "train" / "masks"
    )
    assert len(train) == 3 and train.num_classes == 3


def test_convert_dataset_to_coco_and_csv(tmp_path):
    config = DataConfig(path=make_split_dataset(tmp_path / "ds"))
    summary = convert_dataset(config, tmp_path / "coco", to="coco")
    assert summary["test"]["note"].startswith("unlabelled")
    assert not (tmp_path / "coco" / "test").exists()
    assert summary["train"]["objects"] == 4 and summary["train"]["files"] == 4
    back = CocoSource(tmp_path / "coco" / "train" / "annotations.json")
    src = CocoSource(tmp_path / "ds" / "train" / "_annotations.coco.json")
    expected, got = masks_by_key(src), masks_by_key(back)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)

    summary = convert_dataset(config, tmp_path / "csv", to="rle-csv")
    assert (tmp_path / "csv" / "train.csv").is_file()
    assert not (tmp_path / "csv" / "test.csv").exists()
    assert summary["train"]["images"] == 3


def test_convert_dataset_refuses_non_empty_out_and_out_inside_dataset(tmp_path):
    config = DataConfig(path=make_split_dataset(tmp_path / "ds"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("keep")
    with pytest.raises(SeglabError, match="--overwrite"):
        convert_dataset(config, tmp_path / "out", to="masks")
    convert_dataset(config, tmp_path / "out", to="masks", overwrite=True)
    assert (tmp_path / "out" / "notes.txt").read_text() == "keep"
    with pytest.raises(SeglabError, match="inside the input dataset"):
        convert_dataset(config, tmp_path / "ds" / "converted", to="coco")
    assert not (tmp_path / "ds" / "converted").exists()
