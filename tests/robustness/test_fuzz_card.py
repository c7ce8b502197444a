"""Fuzzing the model card: arbitrary mutations of a valid ``model.json`` are read
(:func:`~seglab.models.card.read_card`) and rebuilt into a network
(:func:`~seglab.models.build.build_network`) and its preprocessing, or refused with seglab's
own error -- never another exception.

The example budget is fixed so ``make test`` stays fast; for a release check run longer:

    SEGLAB_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/robustness/test_fuzz_card.py
"""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from seglab.errors import SeglabError
from seglab.models import list_models
from seglab.models.build import build_network
from seglab.models.card import read_card
from seglab.predict.model import _preprocessing
from tests.robustness.fuzzing import FUZZ, JSON_VALUES

CARD = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_runs" / "binary" / "model.json"
BASE: dict[str, Any] = json.loads(CARD.read_text())

# values a person would plausibly write, so the fuzz also reaches the builders past the types
PLAUSIBLE = (
    st.sampled_from(list_models())
    | st.integers(-2, 70)
    | st.sampled_from(
        ["relu", "gelu", "batch", "group", "bilinear", "clahe", "resnet18", "background"]
    )
)
PATHS = [
    *[(key,) for key in BASE],
    *[("options", key) for key in ("base_width", "depth", "width_cap", "upsampling",
                                   "activation", "norm", "dropout", "encoder", "foo")],
    *[("input", key) for key in BASE["input"]],
    ("classes", 0),
    ("preprocess", 0),
]  # fmt: skip
DELETE = object()


@st.composite
def mutations(draw) -> list[tuple[tuple, Any]]:
    """A few edits ``(path, value)`` of the base card; the value may be :data:`DELETE`, any JSON
    value, a plausible one, or the old value with another type (a string, a list)."""
    edits = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(PATHS))
        kind = draw(st.sampled_from(["delete", "json", "plausible", "string", "list"]))
        if kind == "delete":
            value: Any = DELETE
        elif kind == "json":
            value = draw(JSON_VALUES)
        elif kind == "plausible":
            value = draw(PLAUSIBLE)
        else:
            value = kind  # resolved against the old value in _apply
        edits.append((path, value))
    return edits


def _apply(card: dict[str, Any], edits) -> dict[str, Any]:
    card = copy.deepcopy(card)
    for path, value in edits:
        parent: Any = card
        for step in path[:-1]:
            parent = parent.get(step) if isinstance(parent, dict) else None
        key = path[-1]
        if isinstance(parent, list) and isinstance(key, int):
            if key < len(parent):
                parent[key] = value if value is not DELETE else None
            continue
        if not isinstance(parent, dict):
            continue
        old = parent.get(key)
        if value is DELETE:
            parent.pop(key, None)
        elif value == "string":
            parent[key] = json.dumps(old)
        elif value == "list":
            parent[key] = [old]
        else:
            parent[key] = value
    return card


def _load(path: Path) -> None:
    """What every command that loads a run does with its card, short of the weights."""
    card = read_card(path)
    _preprocessing(card, path)
    # on the meta device: a mutated width may describe gigabytes, which is not what is tested
    with torch.device("meta"):
        build_network(card, source=path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz_card")


def test_the_base_card_loads(folder):
    path = folder / "model.json"
    path.write_text(json.dumps(BASE))
    _load(path)


@FUZZ
@given(edits=mutations())
def test_a_mutated_card_loads_or_is_refused_by_seglab(folder, edits):
    path = folder / "model.json"
    path.write_text(json.dumps(_apply(BASE, edits)))
    with contextlib.suppress(SeglabError):
        _load(path)


@FUZZ
@given(value=JSON_VALUES)
def test_any_json_document_loads_or_is_refused_by_seglab(folder, value):
    path = folder / "model.json"
    path.write_text(json.dumps(value))
    with contextlib.suppress(SeglabError):
        _load(path)
