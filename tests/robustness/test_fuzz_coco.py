"""Fuzzing the COCO reader: arbitrary mutations of a valid annotation file are read, checked and
turned into masks, or refused with seglab's own error -- never another exception.

The example budget is fixed so ``make test`` stays fast; for a release check run longer:

    SEGLAB_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/robustness/test_fuzz_coco.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seglab.data.checks import check_dataset
from seglab.data.coco import CocoSource
from seglab.errors import SeglabError
from tests.builders import write_image
from tests.robustness.cases_coco import JSON, base_coco
from tests.robustness.fuzzing import FUZZ, JSON_VALUES

KEYS = st.sampled_from(
    ["id", "image_id", "category_id", "segmentation", "bbox", "area", "iscrowd", "file_name",
     "width", "height", "name", "supercategory", "size", "counts"]
)  # fmt: skip


@st.composite
def mutations(draw) -> list[tuple[list[Any], str, Any]]:
    """A few edits ``(path to a record, key, value or DELETE)`` of the base COCO object."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(["images", "annotations", "categories"]))
        index = draw(st.integers(0, 1))
        key = draw(KEYS)
        value = draw(st.one_of(st.just("<delete>"), JSON_VALUES))
        deep = draw(st.booleans())
        edits.append(
            ([section, index, "segmentation", 0] if deep else [section, index], key, value)
        )
    return edits


def _apply(data: dict, edits) -> dict:
    for path, key, value in edits:
        record: Any = data
        for step in path:
            try:
                record = record[step]
            except (KeyError, IndexError, TypeError):
                record = None
                break
        if isinstance(record, dict):
            if value == "<delete>":
                record.pop(key, None)
            else:
                record[key] = value
        elif isinstance(record, list) and record:
            record[0] = value  # a polygon part replaced by anything
    return data


def _read_everything(root: Path) -> None:
    """What seglab does with a COCO split: parse, paint every mask, check every item."""
    try:
        source = CocoSource(root / JSON)
        for i in range(len(source)):
            try:
                source.load(i)
                source.instances(i)
            except SeglabError:
                pass  # one item refused with seglab's error: the others still load
        report = check_dataset(root)
        [str(p) for p in report.problems]
    except SeglabError:
        pass


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz") / "images"
    for name in ("a.png", "b.png"):
        write_image(folder / name)
    return folder


@FUZZ
@given(edits=mutations())
def test_mutated_records_are_read_or_refused_by_seglab(edits, images):
    root = images.parent
    (root / JSON).write_text(json.dumps(_apply(base_coco(), edits)))
    _read_everything(root)


@FUZZ
@given(cut=st.integers(0, 400), junk=st.binary(max_size=16))
def test_cut_and_spliced_files_are_read_or_refused_by_seglab(cut, junk, images):
    text = json.dumps(base_coco()).encode()
    (images.parent / JSON).write_bytes(text[:cut] + junk + text[cut + len(junk) :])
    _read_everything(images.parent)
