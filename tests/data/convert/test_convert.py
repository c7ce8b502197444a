"""Tests of seglab.data.convert (whole datasets), and the small datasets the tests of
seglab.data.convert.to_masks, to_coco, to_csv and preview build."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from seglab.config import DataConfig
from seglab.core.overlay import class_colours
from seglab.data.coco import CocoSource
from seglab.data.convert import convert_dataset
from seglab.data.folders import FolderSource
from seglab.data.rle import encode_coco_rle, polygons_to_mask
from seglab.errors import ConfigError, SeglabError

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


# ----------------------------------------------------------------------------- datasets


def make_split_dataset(root: Path) -> Path:
    """``root/train`` (COCO) and ``root/test/images`` (no labels)."""
    make_coco_dataset(root / "train", multiclass=True)
    save_png(root / "test" / "images" / "t1.png", paint([], COCO_SIZE))
    return root


def test_convert_dataset_rejects_bad_format(tmp_path):
    config = DataConfig(path=make_split_dataset(tmp_path / "ds"))
    with pytest.raises(ConfigError, match="masks, coco, labels, dsb, rle-csv"):
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


def test_rle_csv_out_may_name_the_csv_of_a_dataset_with_one_labelled_split(tmp_path):
    config = DataConfig(path=make_split_dataset(tmp_path / "ds"))  # train + unlabelled test
    out = tmp_path / "out" / "train.csv"
    summary = convert_dataset(config, out, to="rle-csv")
    assert out.is_file() and summary["train"]["path"] == str(out)
    assert summary["train"]["rows"] == 3 and summary["test"]["path"] is None
    assert out.read_text().startswith("img_id,class,rle_mask\n")
    with pytest.raises(SeglabError, match=r"train\.csv: exists already.*--overwrite"):
        convert_dataset(config, out, to="rle-csv")
    out.write_text("old")
    convert_dataset(config, out, to="rle-csv", overwrite=True)
    assert out.read_text().startswith("img_id,class,rle_mask\n")


def test_rle_csv_out_naming_a_csv_with_several_labelled_splits_is_refused(tmp_path):
    make_coco_dataset(tmp_path / "ds" / "train")
    make_coco_dataset(tmp_path / "ds" / "val")
    config = DataConfig(path=tmp_path / "ds")
    with pytest.raises(ConfigError, match=r"masks\.csv: --out must be a folder.*2 labelled "
                       r"splits \(train, val\).*train\.csv, val\.csv"):  # fmt: skip
        convert_dataset(config, tmp_path / "masks.csv", to="rle-csv")
    assert not (tmp_path / "masks.csv").exists()
    config = DataConfig(path=tmp_path / "ds" / "train" / "images")  # images only
    with pytest.raises(ConfigError, match="no labelled split"):
        convert_dataset(config, tmp_path / "masks.csv", to="rle-csv")
    assert not (tmp_path / "masks.csv").exists()
