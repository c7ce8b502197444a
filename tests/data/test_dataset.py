"""Splits and the torch Dataset: tensors, seeded splits, corrupt images skipped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seglab.data import SegmentationDataset, open_dataset, split_indices
from seglab.errors import DataError
from tests.builders import coco_dataset, mask_dataset, square


def _many(tmp_path, n=10):
    images = [{"id": i, "file_name": f"{i:03d}.png", "width": 32, "height": 32} for i in range(n)]
    anns = [
        {"id": i, "image_id": i, "category_id": 1, "segmentation": [square(i, i, 4)], "iscrowd": 0}
        for i in range(n)
    ]
    coco_dataset(tmp_path, images=images, annotations=anns)
    return tmp_path


def test_split_is_seeded_disjoint_and_complete():
    train, val = split_indices(100, 0.2, seed=3)
    assert len(val) == 20 and len(train) == 80
    assert sorted(train + val) == list(range(100))
    assert split_indices(100, 0.2, seed=3) == (train, val)
    assert split_indices(100, 0.2, seed=4) != (train, val)
    assert split_indices(2, 0.01, seed=0)[1] != []  # at least one val image
    assert split_indices(1, 0.5, seed=0) == ([0], [])


def test_open_dataset_splits_train_when_no_val(tmp_path):
    _many(tmp_path / "train")
    train = open_dataset(tmp_path, split="train", val_fraction=0.3, seed=1)
    val = open_dataset(tmp_path, split="val", val_fraction=0.3, seed=1)
    keys_t, keys_v = {i.key for i in train.items}, {i.key for i in val.items}
    assert len(keys_t) == 7 and len(keys_v) == 3 and not keys_t & keys_v
    again = open_dataset(tmp_path, split="val", val_fraction=0.3, seed=1)
    assert [i.key for i in again.items] == [i.key for i in val.items]


def test_given_val_split_is_used_as_is(tmp_path):
    _many(tmp_path / "train", 4)
    _many(tmp_path / "valid", 2)
    assert len(open_dataset(tmp_path, split="train")) == 4
    assert len(open_dataset(tmp_path, split="val")) == 2
    with pytest.raises(DataError, match="no 'test' split"):
        open_dataset(tmp_path, split="test")


def test_torch_dataset_gives_float_image_and_int64_mask(tmp_path):
    coco_dataset(tmp_path)
    ds = SegmentationDataset(open_dataset(tmp_path, val_fraction=0))
    image, mask = ds[0]
    assert image.dtype == torch.float32 and image.shape == (3, 32, 32)
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert mask.dtype == torch.int64 and mask.shape == (32, 32) and int(mask.sum()) == 64


def test_transform_is_applied_to_image_and_mask(tmp_path):
    coco_dataset(tmp_path)

    def flip(image, mask):
        return image[:, ::-1], mask[:, ::-1]

    ds = SegmentationDataset(open_dataset(tmp_path, val_fraction=0), flip)
    _, mask = ds[0]
    assert mask[4:12, 20:28].all() and mask[4:12, 4:12].sum() == 0


def test_corrupt_image_is_skipped_with_a_warning(tmp_path):
    _many(tmp_path, 4)
    bad = tmp_path / "images" / "001.png"
    bad.write_bytes(bad.read_bytes()[:40])
    ds = SegmentationDataset(open_dataset(tmp_path, val_fraction=0))
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    with pytest.warns(RuntimeWarning, match=r"001\.png"):
        batches = list(loader)
    assert sum(b[0].shape[0] for b in batches) == 4  # the epoch completes
    assert ds.bad == {1}


def test_strict_mode_makes_corrupt_images_fatal(tmp_path):
    _many(tmp_path, 2)
    bad = tmp_path / "images" / "000.png"
    bad.write_bytes(bad.read_bytes()[:40])
    ds = SegmentationDataset(open_dataset(tmp_path, val_fraction=0), strict=True)
    with pytest.raises(DataError, match=r"000\.png"):
        ds[0]


def test_mask_folder_dataset_through_torch(tmp_path):
    mask = np.zeros((16, 16), np.uint8)
    mask[2:5, 2:5] = 255
    mask_dataset(tmp_path, {"x": mask})
    image, target = SegmentationDataset(open_dataset(tmp_path, val_fraction=0))[0]
    assert image.shape == (3, 16, 16) and int(target.sum()) == 9


def test_splits_are_listed_train_val_test(tmp_path):
    from seglab.data import discover

    for name in ("test", "val", "train"):
        _many(tmp_path / name, 2)
    assert list(discover(tmp_path)) == ["train", "val", "test"]
