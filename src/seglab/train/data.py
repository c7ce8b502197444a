"""Training and validation samples, the epoch-seeded sampler and the Lightning data module.

A training sample is made in this order: read (unreadable files skipped with a warning) ->
:func:`seglab.transforms.prepare.prepare_image` (channels matched to the model, preprocessing,
resize to the longer side ``image_size``: what prediction does too) -> mosaic (with its
probability) -> crop (``crop_size``, centred on an object with probability ``object_crop``) ->
copy-paste (with its probability) -> augmentation. What precedes mosaic is done once per image
and kept in memory (up to :data:`CACHE_BYTES`). Validation samples stop after the resize;
batches of any sizes are padded to the network's stride by
:func:`seglab.train.sizing.pad_collate` (padding is ignored by losses and metrics).

All randomness of a training sample comes from ``numpy.random.default_rng([seed, epoch,
index])``: the sampler hands each worker ``epoch * len + index``, so samples are the same with
any number of workers and after a resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seglab.data.base import SegmentationSource
from seglab.data.dataset import SegmentationDataset, image_to_tensor
from seglab.train.sizing import pad_collate, random_crop
from seglab.transforms.prepare import prepare_image

CACHE_BYTES = 2 * 2**30
"""Prepared images (read, decoded, resized) are kept in memory up to this many bytes per set
(and per loader worker): a small set is read from disk once, not once per epoch."""


class PreparedCache:
    """Prepared samples (tuples of arrays and anything else) kept in memory up to ``limit``
    bytes of arrays; what comes out is a copy, since crops and augmentations write into it."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit, self.used = limit, 0
        self._items: dict[int, tuple] = {}

    def get(self, index: int) -> tuple | None:
        """A copy of the sample kept for ``index``, or ``None``."""
        kept = self._items.get(index)
        if kept is None:
            return None
        return tuple(v.copy() if isinstance(v, np.ndarray) else v for v in kept)

    def put(self, index: int, sample: tuple) -> None:
        """Keep a copy of ``sample`` for ``index`` when it fits in what is left."""
        size = sum(v.nbytes for v in sample if isinstance(v, np.ndarray))
        if self.used + size <= self.limit:
            self._items[index] = tuple(v.copy() if isinstance(v, np.ndarray) else v for v in sample)
            self.used += size


@dataclass(frozen=True)
class SampleSpec:
    """How samples are made (see the module docstring)."""

    channels: int = 3
    image_size: int | None = None
    crop_size: int | None = None
    object_crop: float = 0.0
    seed: int = 0

    @classmethod
    def of(cls, config, channels: int) -> SampleSpec:
        """The samples a :class:`~seglab.config.TrainConfig` asks for, of ``channels``."""
        return cls(channels, config.image_size, config.crop_size, config.object_crop, config.seed)


class SegmentationSamples(SegmentationDataset):
    """A torch ``Dataset`` of ``(image C x H x W float32, mask H x W int64)``.

    ``train=True`` adds the random parts (mosaic, crop, copy-paste, augmentation); keys from
    :class:`EpochSampler` (``epoch * len + index``) choose the epoch's random numbers.
    ``target``, when given, maps each mask last, after every size change (an instance run's
    :class:`seglab.train.border.BorderTarget`).
    """

    def __init__(
        self,
        source: SegmentationSource,
        spec: SampleSpec,
        *,
        preprocess=None,
        augment=None,
        train: bool = False,
        strict: bool = False,
        cache_bytes: int = CACHE_BYTES,
        target=None,
    ):
        super().__init__(source, None, strict=strict)
        # the mask's last step (an instance run: object codes -> interiors and borders)
        self.target = target
        self.spec = spec
        self.preprocess = preprocess
        self.augment = augment
        self.train = train
        self.cache = PreparedCache(cache_bytes)

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        cached = self.cache.get(index)
        if cached is not None:
            return cached  # type: ignore[return-value]
        image, mask = self.source.load(index)
        # the same function prepares images for prediction (LoadedModel.prepare)
        pair = prepare_image(
            image,
            mask,
            channels=self.spec.channels,
            preprocess=self.preprocess,
            long_side=self.spec.image_size,
        )
        # read, decoded (COCO: every object's RLE) and resized once, not once per epoch
        self.cache.put(index, pair)
        return pair  # type: ignore[return-value]  # a mask in gives a mask out

    def sample(self, key: int) -> tuple[np.ndarray, np.ndarray]:
        """The numpy ``(image, mask)`` for sampler key ``key`` (epoch * len + index)."""
        n = len(self.source)
        index, epoch = key % n, key // n
        image, mask = self.load_readable(index)
        if not self.train:
            return image, mask
        spec, aug = self.spec, self.augment
        rng = np.random.default_rng([spec.seed, epoch, index])
        if aug is not None and aug.mosaic_p > 0 and rng.random() < aug.mosaic_p:
            from seglab.transforms.augment import mosaic

            others = [self.load_readable(int(rng.integers(n))) for _ in range(3)]
            side = spec.crop_size or max(image.shape[:2])
            image, mask = mosaic([(image, mask), *others], (side, side), rng)
        image, mask = random_crop(image, mask, spec.crop_size, rng, object_prob=spec.object_crop)
        if aug is not None and aug.copy_paste_p > 0 and rng.random() < aug.copy_paste_p:
            from seglab.transforms.augment import copy_paste

            donor = self.load_readable(int(rng.integers(n)))
            image, mask = copy_paste(image, mask, *donor, rng)
        if aug:
            image, mask = aug.apply(image, mask, seed=int(rng.integers(2**31)))
        return image, mask

    def __getitem__(self, key: int):
        import torch

        image, mask = self.sample(int(key))
        if self.target is not None:
            mask = self.target(mask)
        return image_to_tensor(image), torch.from_numpy(np.ascontiguousarray(mask, np.int64))


class EpochSampler:
    """Shuffled keys ``epoch * n + index``, the order a function of ``(seed, epoch)`` only.

    Lightning calls :meth:`set_epoch` before every epoch (also after a resume), so an epoch sees
    the same order and the same augmentations whether or not the run was interrupted.
    """

    def __init__(self, n: int, seed: int = 0, *, shuffle: bool = True):
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order and random numbers :meth:`__iter__` gives."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        order = np.arange(self.n)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch, 1]).permutation(self.n)
        return iter((self.epoch * self.n + order).tolist())


PASSES_PER_ROUND = 1_000_000
"""Keys of :class:`RoundSampler`: pass ``p`` of round ``r`` is "epoch" ``r * PASSES_PER_ROUND + p``
of :meth:`SegmentationSamples.sample` (a round never makes this many passes)."""


def _shard() -> tuple[int, int]:
    """``(rank, world size)`` of this process in a torch.distributed group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class RoundSampler:
    """Training keys for a run that time drives: shuffled passes over the data, one after the
    other, until :class:`seglab.train.timing.RoundSignal` says the round is over.

    The order is a function of ``(seed, round, pass)`` only, the round read from the signal
    (which the run's checkpoint restores before Lightning starts iterating: a resumed run
    repeats it); each process of a distributed run takes its share of every pass
    (``rank::world``). It has no length: Lightning validates when it stops.
    """

    def __init__(self, n: int, seed: int, signal):
        self.n, self.seed, self.signal = n, seed, signal

    def __iter__(self):
        rank, world = _shard()
        round_ = self.signal.round
        for p in range(PASSES_PER_ROUND):
            order = np.random.default_rng([self.seed, round_, p, 2]).permutation(self.n)
            base = (round_ * PASSES_PER_ROUND + p) * self.n
            for index in order[rank::world].tolist():
                if self.signal.over:
                    return
                yield base + index


class ShardSampler(EpochSampler):
    """:class:`EpochSampler` (validation: not shuffled) taking this process's share of the keys
    under torch.distributed, for loaders Lightning does not shard (a time-driven run)."""

    def __iter__(self):
        rank, world = _shard()
        return iter(list(super().__iter__())[rank::world])


def _loader(
    dataset, *, batch_size, sampler, multiple, workers, drop_last, pin_memory, collate=None
):
    from torch.utils.data import DataLoader

    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate or pad_collate(multiple),
        pin_memory=pin_memory,
        drop_last=drop_last,
        persistent_workers=workers > 0,
    )


def make_datamodule(
    train: SegmentationSamples,
    val: SegmentationSamples | None,
    *,
    batch_size: int,
    val_batch_size: int | None = None,
    multiple: int = 1,
    workers: int = 0,
    pin_memory: bool = False,
    seed: int = 0,
    signal=None,
    collate=None,
):
    """A ``LightningDataModule`` over the two sample sets (val may be ``None``).

    ``collate``: the loaders' ``collate_fn`` (``None``: :func:`pad_collate` to ``multiple``;
    Mask R-CNN's samples: :func:`seglab.train.instance_data.instance_collate`).

    Training batches are full (``drop_last``) when there are more images than one batch, so
    BatchNorm never sees a batch of one. With ``signal`` (a time-driven run,
    :mod:`seglab.train.timing`) the training loader draws from a :class:`RoundSampler` until the
    signal ends the round, and both loaders shard themselves under torch.distributed.
    """
    import lightning.pytorch as pl

    drop_last = len(train) > batch_size
    val_sampler = EpochSampler if signal is None else ShardSampler

    def train_sampler():
        if signal is None:
            return EpochSampler(len(train), seed)
        return RoundSampler(len(train), seed, signal)

    class SegDataModule(pl.LightningDataModule):
        def train_dataloader(self):
            return _loader(
                train,
                batch_size=batch_size,
                sampler=train_sampler(),
                multiple=multiple,
                workers=workers,
                drop_last=drop_last,
                pin_memory=pin_memory,
                collate=collate,
            )

        def val_dataloader(self):
            if val is None:
                return []
            return _loader(
                val,
                batch_size=val_batch_size or batch_size,
                sampler=val_sampler(len(val), seed, shuffle=False),
                multiple=multiple,
                workers=workers,
                drop_last=False,
                pin_memory=pin_memory,
                collate=collate,
            )

    return SegDataModule()
