"""K-fold splits: ``fold_indices`` and ``open_dataset`` with ``folds`` / ``fold``."""

from __future__ import annotations

import pytest

from seglab.config import DataConfig, train_config
from seglab.data import open_dataset
from seglab.data.dataset import fold_indices
from seglab.errors import ConfigError, DataError, SeglabError
from tests.builders import write_discs


@pytest.mark.parametrize(("n", "folds"), [(10, 5), (11, 3), (7, 7), (100, 4)])
def test_folds_partition_the_images_in_near_equal_parts(n, folds):
    vals = []
    for fold in range(1, folds + 1):
        train, val = fold_indices(n, folds, fold, seed=3)
        assert not set(train) & set(val)  # a fold never validates on what it trains on
        assert sorted(train + val) == list(range(n))
        vals.append(val)
    every = sorted(i for val in vals for i in val)
    assert every == list(range(n))  # each image in exactly one fold's val
    sizes = [len(val) for val in vals]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == n


def test_folds_are_reproducible_by_seed():
    assert fold_indices(20, 4, 2, seed=7) == fold_indices(20, 4, 2, seed=7)
    assert fold_indices(20, 4, 2, seed=7) != fold_indices(20, 4, 2, seed=8)


@pytest.mark.parametrize(
    ("n", "folds", "fold", "message"),
    [(10, 1, 1, "2 or more"), (10, 3, 4, "from 1 to 3"), (10, 3, 0, "from 1 to 3"),
     (2, 3, 1, "at least 3 images")],
)  # fmt: skip
def test_bad_fold_arguments_are_refused(n, folds, fold, message):
    with pytest.raises(SeglabError, match=message):
        fold_indices(n, folds, fold, seed=0)


def test_open_dataset_gives_a_folds_train_and_val_from_the_whole_train_split(tmp_path):
    root = write_discs(tmp_path / "d", splits={"train": 9, "val": 2, "test": 3})
    seen: list[str] = []
    for fold in (1, 2, 3):
        config = DataConfig(path=root, folds=3, fold=fold, val_fraction=0.5)
        train = {item.key for item in open_dataset(config, split="train").items}
        val = {item.key for item in open_dataset(config, split="val").items}
        assert len(val) == 3 and len(train) == 6 and not train & val
        assert all(key.startswith("train") for key in train | val)  # the val split on disk: out
        seen += sorted(val)
        test = open_dataset(config, split="test")
        assert len(test) == 3  # untouched
    assert sorted(seen) == sorted(f"train{i}" for i in range(9))  # each validated on once


def test_a_fold_split_is_refused_without_fold_or_with_too_few_images(tmp_path):
    root = write_discs(tmp_path / "d", splits={"train": 3})
    with pytest.raises(ConfigError, match=r"data.fold is not set.*1..2"):
        open_dataset(DataConfig(path=root, folds=2), split="train")
    with pytest.raises(DataError, match=r"5 folds need at least 5 train images.*has 3") as info:
        open_dataset(DataConfig(path=root, folds=5, fold=1), split="val")
    assert str(root) in str(info.value)  # the dataset is named
    assert "--folds 3 or fewer" in str(info.value)


def test_the_config_refuses_a_fold_without_folds_or_past_them():
    with pytest.raises(ConfigError, match=r"data.fold: fold 2 needs folds"):
        train_config(data={"path": "d", "fold": 2})
    with pytest.raises(ConfigError, match=r"data.fold: fold 4 of 3 folds: choose a fold from 1"):
        train_config(data={"path": "d", "folds": 3, "fold": 4})
    with pytest.raises(ConfigError, match=r"data.folds \(--folds\)"):
        train_config(data={"path": "d", "folds": 1})
    assert train_config(data={"path": "d", "folds": 3}).data.fold is None
