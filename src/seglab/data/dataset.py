"""Opening datasets by config, seeded splits, and the torch ``Dataset`` over any source.

>>> from seglab.data import open_dataset
>>> train = open_dataset("cig_butts", split="train")  # doctest: +SKIP
>>> image, mask = train.load(0)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from seglab.config import DataConfig
from seglab.data.base import SegmentationSource
from seglab.data.layout import SplitSpec, discover
from seglab.errors import ConfigError, DataError, SeglabError

Transform = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def open_split(spec: SplitSpec, config: DataConfig | None = None) -> SegmentationSource:
    """Open one split found by :func:`seglab.data.layout.discover` (``config.labels`` says
    what the values of mask files mean, see :mod:`seglab.data.folders`)."""
    from seglab.data.coco import CocoSource
    from seglab.data.dsb import DsbSource
    from seglab.data.folders import FolderSource
    from seglab.data.inputs import ImageFolderSource

    config = config or DataConfig()
    if spec.kind == "coco":
        source: SegmentationSource = CocoSource(
            spec.annotations, spec.images, root=spec.root, crowd=config.crowd
        )
    elif spec.kind == "masks":
        source = FolderSource(
            spec.images,
            spec.masks,
            root=spec.root,
            classes=config.classes,
            num_classes=config.num_classes,
            allow_large=config.allow_large_images,
            labels=config.labels,
        )
    elif spec.kind == "dsb":
        source = DsbSource(
            spec.images,
            root=spec.root,
            classes=config.classes,
            num_classes=config.num_classes,
            allow_large=config.allow_large_images,
        )
    else:
        source = ImageFolderSource(spec.images, root=spec.root)
    source.allow_large = config.allow_large_images
    return source


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A reproducible train/val split of ``range(n)``: the same ``seed`` gives the same split.

    At least one image goes to each side when ``n >= 2`` and ``val_fraction > 0``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise SeglabError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if n < 2 or val_fraction == 0:
        return list(range(n)), []
    n_val = min(n - 1, max(1, round(n * val_fraction)))
    order = np.random.default_rng(seed).permutation(n)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())


def fold_indices(n: int, folds: int, fold: int, seed: int) -> tuple[list[int], list[int]]:
    """``(train, val)`` indices of fold ``fold`` (1..``folds``) of a K-fold split of
    ``range(n)``: a seeded permutation cut into ``folds`` parts whose sizes differ by at most
    one; val is part ``fold``, train the others. Every index is in exactly one fold's val, and
    the same ``seed`` gives the same folds.

    >>> fold_indices(5, 2, 1, seed=0), fold_indices(5, 2, 2, seed=0)
    (([0, 1], [2, 3, 4]), ([2, 3, 4], [0, 1]))
    """
    if folds < 2:
        raise SeglabError(f"folds must be 2 or more, got {folds}")
    if not 1 <= fold <= folds:
        raise SeglabError(f"fold must be from 1 to {folds}, got {fold}")
    if n < folds:
        raise SeglabError(f"{folds} folds need at least {folds} images, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    val = np.array_split(order, folds)[fold - 1]
    chosen = set(val.tolist())
    return [i for i in range(n) if i not in chosen], sorted(chosen)


def _fold_split(config: DataConfig, specs: dict[str, SplitSpec], split: str) -> SegmentationSource:
    """Split ``train`` or ``val`` of fold ``config.fold`` of the train split on disk."""
    where = config.path or config.images or config.annotations
    if config.fold is None:
        raise ConfigError(
            f"data.folds is {config.folds} but data.fold is not set: a split of a "
            f"cross-validation is one fold's; set data.fold to 1..{config.folds} (seglab train "
            "--folds trains every fold)"
        )
    if "train" not in specs:
        raise DataError(
            f"no 'train' split to cut into {config.folds} folds (found: "
            f"{', '.join(specs) or 'none'})",
            path=where,
        )
    source = open_split(specs["train"], config)
    if len(source) < config.folds:
        raise DataError(
            f"{config.folds} folds need at least {config.folds} train images and the train "
            f"split has {len(source)}: use --folds {max(2, len(source))} or fewer, or more images",
            path=where,
        )
    train, val = fold_indices(len(source), config.folds, config.fold, config.seed)
    return subset(source, train if split == "train" else val)


def subset(source: SegmentationSource, indices: list[int]) -> SegmentationSource:
    """A view of ``source`` with only the items at ``indices`` (problems are shared)."""
    out = copy.copy(source)
    out.items = [source.items[i] for i in indices]
    return out


def open_dataset(
    path: str | Path | DataConfig | None = None, *, split: str = "train", **options
) -> SegmentationSource:
    """Open split ``train``, ``val`` or ``test`` of a dataset.

    ``path`` is a dataset path or a :class:`~seglab.config.DataConfig`; ``options`` are
    DataConfig fields. Without a val split on disk, ``train`` and ``val`` are a seeded split of
    the train images (``val_fraction``, ``seed``). With ``folds`` and ``fold``, ``train`` and
    ``val`` are that fold's parts of the whole train split on disk (:func:`fold_indices`; a
    val split on disk is not used); ``test`` is always the test split.

    Raises
    ------
    DataError
        The split does not exist, the dataset cannot be read at all, or it has fewer train
        images than ``folds``.
    ConfigError
        ``folds`` without ``fold`` for split ``train`` or ``val``.
    """
    config = path if isinstance(path, DataConfig) else DataConfig(path=path, **options)
    specs = discover(
        config.path, annotations=config.annotations, images=config.images, masks=config.masks
    )
    if config.folds is not None and split in ("train", "val"):
        return _fold_split(config, specs, split)
    if split in specs:
        source = open_split(specs[split], config)
        if split == "train" and "val" not in specs and config.val_fraction > 0:
            source = subset(source, split_indices(len(source), config.val_fraction, config.seed)[0])
        return source
    if split == "val" and "train" in specs and config.val_fraction > 0:
        source = open_split(specs["train"], config)
        return subset(source, split_indices(len(source), config.val_fraction, config.seed)[1])
    raise DataError(
        f"no {split!r} split (found: {', '.join(specs) or 'none'})",
        path=config.path or config.images or config.annotations,
    )


def image_to_tensor(image: np.ndarray):
    """``H x W x C`` image -> ``C x H x W`` float32 tensor, scaled as
    :func:`seglab.core.arrays.image_to_float` says (uint8 / 255, uint16 / 65535)."""
    import torch

    from seglab.core.arrays import image_to_chw

    return torch.from_numpy(image_to_chw(image))


class SegmentationDataset:
    """A torch ``Dataset`` of ``(image, mask)``: float32 ``C x H x W`` and int64 ``H x W``.

    ``transform`` takes and returns numpy ``(image, mask)``. An image or mask that cannot be
    read is skipped with a warning naming the file (another item is returned in its place), so an
    epoch never crashes on one bad file; ``strict=True`` raises instead.
    """

    def __init__(
        self,
        source: SegmentationSource,
        transform: Transform | None = None,
        *,
        strict: bool = False,
    ):
        if len(source) == 0:
            raise DataError("the dataset has no usable images", path=source.root)
        self.source = source
        self.transform = transform
        self.strict = strict
        self.bad: set[int] = set()

    def __len__(self) -> int:
        return len(self.source)

    def _load(self, index: int):
        image, mask = self.source.load(index)
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask

    def load_readable(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(image, mask)`` of item ``index`` after the transform, numpy; an unreadable item is
        skipped with a warning naming its file and the next readable one is returned instead
        (``strict=True``: the :class:`DataError` is raised)."""
        n = len(self.source)
        for step in range(n):
            i = (index + step) % n
            if i in self.bad:
                continue
            try:
                return self._load(i)
            except DataError as exc:
                if self.strict:
                    raise
                self.bad.add(i)
                warnings.warn(f"skipping unreadable item: {exc}", RuntimeWarning, stacklevel=2)
        raise DataError("no readable image left in the dataset", path=self.source.root)

    def __getitem__(self, index: int):
        import torch

        image, mask = self.load_readable(index)
        return image_to_tensor(image), torch.from_numpy(np.ascontiguousarray(mask, np.int64))
