"""Typed configs and NAME=VALUE parsing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from seglab.config import DataConfig, parse_assignments, parse_value
from seglab.errors import ConfigError


def test_parse_value_types():
    assert parse_value("3") == 3 and parse_value("0.5") == 0.5
    assert parse_value("True") is True and parse_value("none") is None
    assert parse_value("[8, 8]") == [8, 8] and parse_value("'a b'") == "a b"


def test_parse_assignments_splits_outside_brackets():
    got = parse_assignments(["sigma=2,tile=[8,8]", "mode=crop"])
    assert got == {"sigma": 2, "tile": [8, 8], "mode": "crop"}
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        parse_assignments(["sigma"])


def test_data_config_is_frozen_and_strict():
    config = DataConfig(path="x", val_fraction=0.3)
    with pytest.raises(ValidationError):
        config.val_fraction = 0.5
    with pytest.raises(ValidationError):
        DataConfig(val_fraction=1.5)
    with pytest.raises(ValidationError):
        DataConfig(bogus=1)
