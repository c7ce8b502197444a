"""The dataset side of an evaluation: which dataset, which split(s), the images to score and
how many classes to score them with."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

from seglab.config import DataConfig
from seglab.data.base import SegmentationSource
from seglab.errors import ConfigError, DataError

SPLITS = ("val", "train", "test", "all")


class Entry(NamedTuple):
    """One image to score: item ``index`` of ``source``, shown and written as ``key``."""

    source: SegmentationSource
    index: int
    key: str


def data_config(data: str | Path | DataConfig | None, run_dir: Path | None) -> DataConfig:
    """The dataset to score against: ``data`` read as the run was trained (its val fraction,
    seed, classes...), or the run's own dataset when ``data`` is None."""
    if isinstance(data, DataConfig):
        return data
    trained = None
    if run_dir is not None and (run_dir / "config.yaml").is_file():
        from seglab.config import load_config

        trained = load_config(run_dir / "config.yaml").data
    if data is None:
        if trained is None:
            raise ConfigError("give the labelled dataset to score against (data=..., --data)")
        return trained
    if trained is None:
        return DataConfig(path=Path(data))
    places = {"path": Path(data), "annotations": None, "images": None, "masks": None}
    return trained.model_copy(update=places)


def ensemble_data_config(
    data: str | Path | DataConfig | None, runs: list[Path], config_dir: Path, split: str
) -> DataConfig:
    """The dataset an ensemble (member ``runs``) is scored on: ``data`` read as the run in
    ``config_dir`` was trained (a folds run, or the first member), or that run's dataset,
    without its folds -- a fold's val split is training data for the other folds, so the
    ensemble is scored on the split named, a val split on disk for ``val``.

    Raises
    ------
    ConfigError
        ``split`` is ``val``, the members were trained in folds on that dataset and it has no
        val split on disk: every image of ``val`` would be one the ensemble trained on.
    """
    if isinstance(data, DataConfig):
        return data  # given in full: scored as given
    config = data_config(data, config_dir)
    folds = config.folds
    config = config.model_copy(update={"folds": None, "fold": None})
    if data is None:
        _warn_other_splits(runs, config)
    if folds is not None and data is None and split == "val" and not _has_val_split(config):
        where = config.path or config.images or config.annotations
        scores = config_dir / "folds.json"
        if not scores.is_file():
            scores = Path("FOLD_RUN") / "summary.json"
        raise ConfigError(
            f"the ensemble was trained in {folds} folds on every train image of {where}, "
            "which has no val split on disk: there is nothing held out to score it on. Give "
            "--split test, or --data a labelled set it has not seen (each fold's own val "
            f"score is in {scores})"
        )
    return config


def _has_val_split(config: DataConfig) -> bool:
    from seglab.data.layout import discover

    specs = discover(
        config.path, annotations=config.annotations, images=config.images, masks=config.masks
    )
    return "val" in specs


def _warn_other_splits(runs: list[Path], config: DataConfig) -> None:
    """Warn when members were trained on other data or another seeded split than ``config``
    (their own val images may be another member's training images)."""
    from seglab.config import load_config

    keys = ("path", "images", "annotations", "val_fraction", "seed")
    mine = [getattr(config, k) for k in keys]
    for run in runs:
        if not (run / "config.yaml").is_file():
            continue
        theirs = load_config(run / "config.yaml").data
        if [getattr(theirs, k) for k in keys] != mine:
            warnings.warn(
                f"{run} was trained on another dataset or split than the one scored "
                f"({config.path or config.images}, seed {config.seed}): some of the images "
                "scored may be its training images",
                RuntimeWarning,
                stacklevel=4,
            )
            return


def open_sources(config: DataConfig, split: str) -> list[tuple[str, SegmentationSource]]:
    """The labelled split(s) to score: one of ``train``, ``val``, ``test`` (as in training:
    without a val folder, val is the run's seeded share of train), or ``all`` of them."""
    from seglab.data.dataset import open_dataset, open_split
    from seglab.data.layout import discover

    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    where = config.path or config.images or config.annotations
    if split == "all":
        specs = discover(
            config.path, annotations=config.annotations, images=config.images, masks=config.masks
        )
        named = [(n, open_split(s, config)) for n, s in specs.items() if s.kind != "images"]
    else:
        named = [(split, open_dataset(config, split=split))]
    named = [(n, s) for n, s in named if s.labelled]
    if not named:
        raise DataError(f"no labelled {split!r} images to score against", path=where)
    classes = named[0][1].classes
    for name, source in named[1:]:
        if source.classes != classes:
            raise DataError(
                f"split {name!r} has classes {source.classes}, {named[0][0]!r} has {classes}; "
                "evaluate one split at a time",
                path=where,
            )
    return named


def entries(named: list[tuple[str, SegmentationSource]]) -> list[Entry]:
    """One :class:`Entry` per item of the named splits (keys prefixed by the split when there
    are several)."""
    prefix = len(named) > 1  # keys of several splits may collide: "train/0001", "val/0001"
    return [
        Entry(source, i, f"{name}/{item.key}" if prefix else item.key)
        for name, source in named
        for i, item in enumerate(source.items)
    ]


def scored_classes(data_classes: list[str], model_classes: list[str] | None) -> int:
    """How many classes to score: the dataset's, or 2 (foreground vs background) when a binary
    model meets a multiclass dataset or the other way round; else :class:`DataError`."""
    if model_classes is None or len(model_classes) == len(data_classes):
        return len(data_classes)
    if min(len(model_classes), len(data_classes)) <= 2:
        warnings.warn(
            f"the model has {len(model_classes)} classes and the dataset {len(data_classes)}: "
            "scored as foreground (any class) vs background",
            RuntimeWarning,
            stacklevel=4,  # the caller of evaluate
        )
        return 2
    raise DataError(
        f"the model predicts {len(model_classes)} classes ({', '.join(model_classes)}) but the "
        f"dataset has {len(data_classes)} ({', '.join(data_classes)}); score it on its own data"
    )
