"""Typed configs and NAME=VALUE parsing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from seglab.config import DataConfig, flag_of, parse_assignments, parse_value, train_config
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


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"threshold": 1.5}, r"threshold \(--threshold\): Input should be less than 1"),
        ({"threshold": 0}, r"threshold \(--threshold\): Input should be greater than 0"),
        ({"threshold": float("nan")}, r"threshold \(--threshold\)"),
        ({"batch_size": 0}, r"batch_size \(--batch-size\)"),
        ({"time_limit": "soon"}, r"time_limit \(--time-limit\): time limit 'soon'"),
        ({"data": {"val_fraction": 1}}, r"data\.val_fraction \(--val-fraction\)"),
        ({"data": {"strict": "maybe"}}, r"data\.strict \(--strict-data\)"),
        ({"limit_val_batches": 0}, r"limit_val_batches: "),  # no flag sets it: none named
    ],
)
def test_a_bad_train_option_names_the_field_and_its_flag(options, message):
    with pytest.raises(ConfigError, match=message):
        train_config({"data": {"path": "d"}}, **options)


def test_a_bad_value_in_a_config_file_names_the_file_field_and_flag(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data: {path: d}\nthreshold: 1.5\n")
    with pytest.raises(ConfigError, match=r"run\.yaml: threshold \(--threshold\)"):
        train_config(path)


def test_flag_of_follows_the_field_name_unless_told_otherwise():
    assert flag_of("image_size") == "--image-size"
    assert flag_of("data.num_classes") == "--num-classes"
    assert flag_of("model.name") == "--model" and flag_of("data.crowd") is None
    assert flag_of("epoch") is None and flag_of("data.nope") is None  # no such field, no flag
    assert flag_of("data") is None and flag_of("model.options.depth") is None


def test_val_ap_is_the_monitor_of_instance_runs_only():
    with pytest.raises(ConfigError, match=r"monitor \(--monitor\): val_ap scores objects"):
        train_config(data="d", monitor="val_ap")
    config = train_config(data="d", task="instance", monitor="val_ap")
    assert config.monitor == "val_ap" and config.instance_method == "border"
    assert train_config(data="d", task="instance", model="maskrcnn").instance_method == "maskrcnn"
    assert train_config(data="d").instance_method is None
