"""The embedded sample dataset: deterministic files, valid COCO, labels on the objects."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from seglab.data.rle import polygons_to_mask
from seglab.data.sample import generate_scene, scene_rng, write_sample
from seglab.errors import ConfigError, SeglabError

SMALL = {"n_train": 3, "n_val": 2, "n_test": 2, "size": 128}


def rasterise(polygons: list[list[float]], size: int) -> np.ndarray:
    """Union of the polygons' masks, as COCO loaders compute them."""
    return polygons_to_mask(polygons, size, size).astype(bool)


def read_tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_write_is_deterministic(tmp_path):
    write_sample(tmp_path / "a", seed=3, **SMALL)
    write_sample(tmp_path / "b", seed=3, **SMALL)
    write_sample(tmp_path / "c", seed=4, **SMALL)
    a, b, c = (read_tree(tmp_path / name) for name in "abc")
    assert len(a) == 3 + 2 + 2 + 2  # images and two JSON files
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[name] != c[name] for name in a if name.endswith(".jpg"))


def test_images_do_not_depend_on_split_sizes(tmp_path):
    write_sample(tmp_path / "a", n_train=1, n_val=1, n_test=0, size=128)
    write_sample(tmp_path / "b", n_train=3, n_val=2, n_test=1, size=128)
    for name in ("train/images/00000000.jpg", "val/images/00000000.jpg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    written = np.asarray(Image.open(tmp_path / "b" / "val/images/00000001.jpg"), np.float32)
    regenerated, _ = generate_scene(scene_rng(0, "val", 1), size=128)
    assert np.abs(written - regenerated).mean() < 4  # the same picture, up to JPEG


def test_layout_and_coco_json(tmp_path):
    summary = write_sample(tmp_path / "s", n_train=4, n_val=2, n_test=2, size=256, seed=1)
    root = tmp_path / "s"
    assert summary["path"] == str(root)
    assert not (root / "test" / "coco_annotations.json").exists()
    assert len(list((root / "test" / "images").glob("*.jpg"))) == 2
    for split, n in (("train", 4), ("val", 2)):
        path = root / split / "coco_annotations.json"
        raw = json.loads(path.read_text())
        assert raw["licenses"] == [] and "info" in raw
        assert raw["categories"] == [{"id": 1, "name": "cig_butt", "supercategory": "litter"}]
        coco = COCO(str(path))
        assert sorted(coco.getImgIds()) == list(range(1, n + 1))
        assert summary["splits"][split]["objects"] == len(raw["annotations"])
        ann_ids = [a["id"] for a in raw["annotations"]]
        assert len(set(ann_ids)) == len(ann_ids)
        for info in raw["images"]:
            with Image.open(root / split / "images" / info["file_name"]) as image:
                assert image.size == (info["width"], info["height"]) == (256, 256)
                assert image.mode == "RGB"
        for ann in raw["annotations"]:
            assert ann["category_id"] == 1 and ann["iscrowd"] == 0
            (polygon,) = ann["segmentation"]
            assert len(polygon) >= 6
            x, y, w, h = ann["bbox"]
            assert min(x, y) >= 0 and w > 0 and h > 0 and x + w <= 256 and y + h <= 256
            mask = coco.annToMask(ann).astype(bool)
            assert ann["area"] == float(mask.sum()) > 0
            ys, xs = np.nonzero(mask)
            assert [x, y, w, h] == [xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1]


def test_labels_lie_on_the_object_edges(tmp_path):
    """The image's edges follow the polygons: shifted or transposed polygons miss them."""
    write_sample(tmp_path / "s", n_train=10, n_val=0, n_test=0, size=512, seed=2)
    coco = COCO(str(tmp_path / "s" / "train" / "coco_annotations.json"))

    def boundary_gradient(grad: np.ndarray, polygons: list[list[float]]) -> float:
        mask = rasterise(polygons, 512).astype(np.uint8)
        boundary = mask.astype(bool) & ~cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)
        return float(grad[boundary].mean())

    true, moved = [], {"right": [], "down": [], "transposed": []}
    for image_id in coco.getImgIds():
        polygons = [a["segmentation"][0] for a in coco.imgToAnns[image_id]]
        if not polygons:
            continue
        file_name = coco.imgs[image_id]["file_name"]
        gray = np.asarray(Image.open(tmp_path / "s" / "train" / "images" / file_name).convert("L"))
        gray = gray.astype(np.float32)
        grad = np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1))
        true.append(boundary_gradient(grad, polygons))
        xy = [np.asarray(p).reshape(-1, 2) for p in polygons]
        for name, change in (("right", [10, 0]), ("down", [0, 10])):
            shifted = [np.clip(p + change, 0, 511).ravel().tolist() for p in xy]
            moved[name].append(boundary_gradient(grad, shifted))
        moved["transposed"].append(
            boundary_gradient(grad, [p[:, ::-1].ravel().tolist() for p in xy])
        )
    assert len(true) >= 6
    for name, values in moved.items():
        assert np.mean(true) > 1.4 * np.mean(values), name
        assert np.mean(np.greater(true, values)) >= 0.8, name


def test_refuses_non_empty_folder_without_overwrite(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SeglabError, match="overwrite=True"):
        write_sample(out, **SMALL)
    write_sample(out, n_train=3, n_val=1, n_test=1, size=128, overwrite=True)
    write_sample(out, n_train=1, n_val=1, n_test=1, size=128, overwrite=True)
    assert len(list((out / "train" / "images").glob("*.jpg"))) == 1  # stale images removed
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "options",
    [{"n_train": -1}, {"n_val": 1.5}, {"size": 32}, {"size": True}, {"seed": -2}],
)
def test_rejects_bad_options(tmp_path, options):
    with pytest.raises(ConfigError):
        write_sample(tmp_path / "s", **options)
