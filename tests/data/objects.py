"""Tiny instance datasets with known objects: two touching squares and a disc apart, on 32x32,
written as label images, DSB folders or COCO (RLE, so every pixel is kept)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from seglab.data.rle import encode_coco_rle
from tests.builders import write_image

SIZE = 32


def three_objects(ids: tuple[int, int, int] = (1, 2, 3)) -> np.ndarray:
    """``SIZE x SIZE`` int64 label image: squares ``ids[0]`` (rows/cols 4..11) and ``ids[1]``
    (rows 4..11, cols 12..19) side by side, so they touch; a disc ``ids[2]`` (centre 24, 24,
    radius 4, 9 px across) apart from both."""
    labels = np.zeros((SIZE, SIZE), np.int64)
    labels[4:12, 4:12] = ids[0]
    labels[4:12, 12:20] = ids[1]
    yy, xx = np.mgrid[:SIZE, :SIZE]
    labels[(yy - 24) ** 2 + (xx - 24) ** 2 <= 16] = ids[2]
    return labels


def object_masks(labels: np.ndarray) -> list[np.ndarray]:
    """The boolean mask of each id of ``labels`` (sorted ids, 0 left out)."""
    return [labels == i for i in np.unique(labels) if i != 0]


def write_label_folder(
    root: Path, labels: dict[str, np.ndarray], *, dtype=np.uint16, mask_dir: str = "masks"
) -> Path:
    """``root/images/NAME.png`` + ``root/MASK_DIR/NAME.png``: each label image stored as
    ``dtype`` (16-bit PNG by default)."""
    for stem, label in labels.items():
        write_image(root / "images" / f"{stem}.png", *label.shape)
        path = root / mask_dir / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(label.astype(dtype)).save(path)
    return root


def write_dsb(root: Path, labels: dict[str, np.ndarray]) -> Path:
    """``root/ID/images/ID.png`` + ``root/ID/masks/ID_<k>.png`` (0/255, one per object)."""
    for ident, label in labels.items():
        write_image(root / ident / "images" / f"{ident}.png", *label.shape)
        (root / ident / "masks").mkdir(parents=True, exist_ok=True)
        for k, mask in enumerate(object_masks(label), start=1):
            Image.fromarray(mask.astype(np.uint8) * 255).save(
                root / ident / "masks" / f"{ident}_{k:03d}.png"
            )
    return root


def write_coco(root: Path, labels: dict[str, np.ndarray], *, name: str = "nucleus") -> Path:
    """``root/images/NAME.png`` + ``root/annotations.json``: one RLE annotation per object."""
    images, annotations = [], []
    for image_id, (stem, label) in enumerate(labels.items(), start=1):
        h, w = label.shape
        write_image(root / "images" / f"{stem}.png", h, w)
        images.append({"id": image_id, "file_name": f"{stem}.png", "width": w, "height": h})
        for mask in object_masks(label):
            ys, xs = np.nonzero(mask)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": 1,
                    "segmentation": encode_coco_rle(mask),
                    "area": int(mask.sum()),
                    "bbox": [
                        int(xs.min()),
                        int(ys.min()),
                        int(np.ptp(xs)) + 1,
                        int(np.ptp(ys)) + 1,
                    ],
                    "iscrowd": 0,
                }
            )
    data = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": name}]}
    (root / "annotations.json").write_text(json.dumps(data))
    return root
