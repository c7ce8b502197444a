"""Tests of seglab.train.data: the epoch-seeded sampler, training/validation samples, loaders."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from seglab.core.arrays import resize_long_side
from seglab.data.dataset import image_to_tensor, open_dataset
from seglab.errors import DataError
from seglab.train.data import EpochSampler, SampleSpec, SegmentationSamples, make_datamodule
from seglab.transforms import build_pipeline
from seglab.transforms.augment import Augmentation
from tests.builders import write_discs

# --- EpochSampler ---------------------------------------------------------------------------


def test_sampler_same_epoch_same_order():
    sampler = EpochSampler(10, seed=3)
    sampler.set_epoch(2)
    first = list(sampler)
    assert list(sampler) == first
    again = EpochSampler(10, seed=3)  # e.g. after a resume
    again.set_epoch(2)
    assert list(again) == first


def test_sampler_epochs_and_seeds_differ():
    sampler = EpochSampler(20, seed=3)
    orders = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        orders.append([key - epoch * 20 for key in sampler])
    assert orders[0] != orders[1] and orders[1] != orders[2]
    other = EpochSampler(20, seed=4)
    assert [k for k in other] != orders[0]


def test_sampler_keys_cover_each_index_once_per_epoch():
    sampler = EpochSampler(7, seed=0)
    assert len(sampler) == 7
    for epoch in (0, 1, 5):
        sampler.set_epoch(epoch)
        keys = list(sampler)
        assert sorted(keys) == list(range(epoch * 7, epoch * 7 + 7))
        assert sorted(k % 7 for k in keys) == list(range(7))
        assert {k // 7 for k in keys} == {epoch}


def test_sampler_without_shuffle_is_in_order():
    sampler = EpochSampler(5, seed=9, shuffle=False)
    assert list(sampler) == [0, 1, 2, 3, 4]
    sampler.set_epoch(3)
    assert list(sampler) == [15, 16, 17, 18, 19]


# --- SegmentationSamples --------------------------------------------------------------------


def samples(root: Path, split: str = "train", **options) -> SegmentationSamples:
    spec_fields = {k: options.pop(k) for k in list(options) if k in SampleSpec.__annotations__}
    return SegmentationSamples(
        open_dataset(root, split=split), SampleSpec(**spec_fields), **options
    )


def test_training_crops_have_the_crop_size(discs):
    data = samples(discs, crop_size=16, object_crop=0.7, seed=1, train=True)
    assert len(data) == 8
    for key in range(len(data)):
        image, mask = data[key]
        assert image.shape == (3, 16, 16) and image.dtype == torch.float32
        assert mask.shape == (16, 16) and mask.dtype == torch.int64
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
        assert set(mask.unique().tolist()) <= {0, 1, 255}


def test_training_crops_are_windows_of_the_image(discs):
    train = samples(discs, crop_size=16, seed=1, train=True)
    whole = samples(discs)
    for key in (0, 5, 11):
        image, mask = train[key]
        full, full_mask = whole[key % 8]
        found = [
            (y, x)
            for y in range(17)
            for x in range(17)
            if torch.equal(full[:, y : y + 16, x : x + 16], image)
        ]
        assert found
        y, x = found[0]
        assert torch.equal(full_mask[y : y + 16, x : x + 16], mask)


def test_same_key_gives_the_same_sample(discs):
    data = samples(discs, crop_size=16, object_crop=0.5, seed=1, train=True)
    for key in (0, 3, 13):
        a, b = data[key], data[key]
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    other = samples(discs, crop_size=16, object_crop=0.5, seed=1, train=True)  # a new worker
    assert torch.equal(other[13][0], data[13][0])


def test_epochs_of_the_same_index_differ(discs):
    data = samples(discs, crop_size=16, seed=1, train=True)
    n = len(data)
    differ = sum(not torch.equal(data[i][0], data[n + i][0]) for i in range(n))
    assert differ >= n - 1


def test_seed_changes_the_samples(discs):
    a = samples(discs, crop_size=16, seed=1, train=True)
    b = samples(discs, crop_size=16, seed=2, train=True)
    assert sum(not torch.equal(a[i][0], b[i][0]) for i in range(8)) >= 7


def test_mix_augmentations_are_deterministic_per_key(discs):
    aug = Augmentation(("mosaic", "copy_paste"), (1.0, 1.0))
    data = samples(discs, crop_size=24, seed=1, train=True, augment=aug)
    for key in (2, 10):
        a, b = data[key], data[key]
        assert a[0].shape == (3, 24, 24) and a[1].shape == (24, 24)
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert set(a[1].unique().tolist()) <= {0, 1, 255}
    assert not torch.equal(data[2][0], data[10][0])


def test_validation_gives_the_whole_resized_image(discs):
    source = open_dataset(discs, split="val")
    data = SegmentationSamples(source, SampleSpec(image_size=16, crop_size=8, object_crop=1.0))
    image, mask = data[1]
    assert image.shape == (3, 16, 16) and mask.shape == (16, 16)
    expected, expected_mask = resize_long_side(*source.load(1), 16)
    assert torch.equal(image, image_to_tensor(expected))
    assert torch.equal(mask, torch.from_numpy(expected_mask))
    again = data[1 + 4]  # keys of later epochs give the same validation image
    assert torch.equal(again[0], image)


def test_validation_without_image_size_keeps_the_size(discs):
    source = open_dataset(discs, split="val")
    image, mask = SegmentationSamples(source, SampleSpec())[0]
    assert image.shape == (3, 32, 32)
    raw_image, raw_mask = source.load(0)
    assert torch.equal(image, image_to_tensor(raw_image))
    assert torch.equal(mask, torch.from_numpy(raw_mask))


def test_unreadable_image_is_skipped_with_a_warning(discs):
    source = open_dataset(discs, split="train")
    bad = source.items[2].image_path
    bad.write_bytes(b"this is not a PNG")
    data = SegmentationSamples(source, SampleSpec(crop_size=16), train=True)
    with pytest.warns(RuntimeWarning, match=re.escape(bad.name)):
        image, mask = data[2]
    assert image.shape == (3, 16, 16) and mask.shape == (16, 16)
    whole = SegmentationSamples(source, SampleSpec())
    with pytest.warns(RuntimeWarning, match=re.escape(bad.name)):
        replaced = whole[2]
    assert torch.equal(replaced[0], whole[3][0])  # the next readable image instead
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole[2]  # warned once per dataset: the bad item is remembered
        whole[10]


class CountingSource:
    """A source that counts how often each item is read."""

    def __init__(self, source):
        self.source, self.reads = source, {}

    def __len__(self):
        return len(self.source)

    def __getattr__(self, name):
        return getattr(self.source, name)

    def load(self, index):
        self.reads[index] = self.reads.get(index, 0) + 1
        return self.source.load(index)


def test_prepared_images_are_read_once_and_handed_out_as_copies(discs):
    source = CountingSource(open_dataset(discs, split="train"))
    data = SegmentationSamples(source, SampleSpec(image_size=16), train=False)
    first = data.sample(3)
    first[0][:] = 0  # a crop or an augmentation writing into what it was given
    again = data.sample(3 + len(data))  # the next epoch
    assert source.reads == {3: 1}
    assert again[0].any() and again[0].shape == (16, 16, 3)
    small = SegmentationSamples(source, SampleSpec(image_size=16), cache_bytes=100)
    small.sample(5)
    small.sample(5)
    assert source.reads[5] == 2  # over the cache's size: read each time


def test_unreadable_image_raises_when_strict(discs):
    source = open_dataset(discs, split="train")
    source.items[2].image_path.write_bytes(b"\x89PNG garbage")
    data = SegmentationSamples(source, SampleSpec(crop_size=16), train=True, strict=True)
    data[1]
    with pytest.raises(DataError, match=r"train2\.png"):
        data[2]


def test_preprocess_pipeline_is_applied(discs):
    source = open_dataset(discs, split="train")
    pipe = build_pipeline("gaussian:sigma=1")
    plain = SegmentationSamples(source, SampleSpec())[0][0]
    image, mask = SegmentationSamples(source, SampleSpec(), preprocess=pipe)[0]
    raw_image, raw_mask = source.load(0)
    smooth, _ = pipe(raw_image, raw_mask)
    assert torch.equal(image, image_to_tensor(smooth))
    assert not torch.equal(image, plain)
    assert float(image.std()) < float(plain.std())
    assert torch.equal(mask, torch.from_numpy(raw_mask))


def test_one_channel_model_gets_gray_images(discs):
    source = open_dataset(discs, split="train")
    image, _ = SegmentationSamples(source, SampleSpec(channels=1, crop_size=16), train=True)[0]
    assert image.shape == (1, 16, 16)
    whole, _ = SegmentationSamples(source, SampleSpec(channels=1))[0]
    raw = source.load(0)[0].astype(np.float64)
    luma = raw @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(whole[0].numpy() * 255, np.rint(luma), atol=1e-3)


# --- make_datamodule ------------------------------------------------------------------------


def mixed_sizes(tmp_path: Path) -> Path:
    """Train: 5 images of 40 px; val: 40 px and 20 px images."""
    root = write_discs(tmp_path / "mixed", splits={"train": 5, "val": 1}, size=40)
    small = write_discs(tmp_path / "small", splits={"val": 1}, size=20, seed=1)
    for kind in ("images", "masks"):
        shutil.copy(small / "val" / kind / "val0.png", root / "val" / kind / "val1.png")
    return root


def test_datamodule_batches_are_padded_to_the_multiple(tmp_path):
    root = mixed_sizes(tmp_path)
    train = samples(root, crop_size=24, seed=0, train=True)
    val = samples(root, split="val")
    module = make_datamodule(train, val, batch_size=2, multiple=16)

    loader = module.train_dataloader()
    assert isinstance(loader.sampler, EpochSampler)
    batches = list(loader)
    assert len(batches) == 2  # 5 images, batches of 2: the last one (of 1) is dropped
    for images, masks in batches:
        assert images.shape == (2, 3, 32, 32) and images.dtype == torch.float32
        assert masks.shape == (2, 32, 32) and masks.dtype == torch.int64
        assert (masks[:, 24:] == 255).all() and (masks[:, :, 24:] == 255).all()
        assert (images[:, :, 24:] == 0).all()

    ((images, masks),) = list(module.val_dataloader())
    assert images.shape == (2, 3, 48, 48) and masks.shape == (2, 48, 48)
    assert (masks[0, 40:] == 255).all() and (masks[0, :40, :40] != 255).all()
    assert (masks[1, 20:] == 255).all() and (masks[1, :, 20:] == 255).all()
    assert (masks[1, :20, :20] != 255).all()
    assert torch.equal(images[1, :, :20, :20], val[1][0])


def test_datamodule_training_order_follows_the_epoch(tmp_path):
    root = mixed_sizes(tmp_path)
    train = samples(root, crop_size=24, seed=0, train=True)
    module = make_datamodule(train, None, batch_size=5, val_batch_size=1)
    loader = module.train_dataloader()
    assert module.val_dataloader() == []
    loader.sampler.set_epoch(1)
    first = next(iter(loader))[0]
    assert first.shape == (5, 3, 24, 24)  # all the images fit one batch: nothing dropped
    assert torch.equal(next(iter(loader))[0], first)
    loader.sampler.set_epoch(2)
    assert not torch.equal(next(iter(loader))[0], first)
