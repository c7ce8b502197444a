"""Tests of seglab.data.convert.common: output folders that never touch the input."""

from __future__ import annotations

import pytest

from seglab.data.convert.common import (
    clear_paths,
    copy_image,
    input_paths,
    refuse_inside,
    relative_name,
    skip_item,
)
from seglab.data.folders import FolderSource
from seglab.errors import DataError, SeglabError

from .test_convert import make_mask_dataset


def test_refuse_inside_refuses_out_in_the_input_and_targets_over_it(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds"))
    inputs = input_paths(src)
    assert tmp_path / "ds" / "images" in inputs and tmp_path / "ds" / "masks" in inputs
    refuse_inside(tmp_path / "out", inputs, [tmp_path / "out" / "images"])
    with pytest.raises(SeglabError, match="inside the input dataset"):
        refuse_inside(tmp_path / "ds" / "images" / "out", inputs, [])
    with pytest.raises(SeglabError, match="would replace input files"):
        refuse_inside(tmp_path / "out", inputs, [tmp_path / "ds"])


def test_relative_names_copies_and_clearing(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds"))
    names = [relative_name(src, i) for i in range(len(src))]
    assert names == ["d1.png", "d2.png", "empty.png"]
    copy = copy_image(src, 0, tmp_path / "out" / "images", "sub/d1.png")
    assert copy.read_bytes() == (tmp_path / "ds" / "images" / "d1.png").read_bytes()
    (tmp_path / "out" / "notes.txt").write_text("x")
    clear_paths(tmp_path / "out" / "images", tmp_path / "out" / "notes.txt", tmp_path / "nothing")
    assert list((tmp_path / "out").iterdir()) == []


def test_skip_item_warns_and_records():
    skipped: list[str] = []
    with pytest.warns(RuntimeWarning, match="masks: skipping unreadable item: broken"):
        skip_item("masks", DataError("broken"), skipped)
    assert skipped == [str(DataError("broken"))]
