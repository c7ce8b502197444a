"""Tests of seglab.core.checks: option checks that name the option and say what is valid."""

from __future__ import annotations

import pytest

from seglab.core.checks import check_batch_size, check_choice, check_threshold
from seglab.errors import ConfigError


def test_check_choice_names_the_parameter_and_the_choices():
    assert check_choice("segmentation", "rle", ("polygon", "rle")) == "rle"
    with pytest.raises(ConfigError, match=r"segmentation must be one of polygon, rle; got 'x'"):
        check_choice("segmentation", "x", ("polygon", "rle"))


@pytest.mark.parametrize("good", [1, 8, 8.0])
def test_check_batch_size_takes_whole_numbers_from_one(good):
    assert check_batch_size(good) == int(good)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "8", None])
def test_check_batch_size_refuses_the_rest_as_a_config_error(bad):
    with pytest.raises(ConfigError, match=r"batch_size=.* must be a whole number of at least 1"):
        check_batch_size(bad)


@pytest.mark.parametrize("good", [0, 0.0, 0.25, 1, 1.0, None])
def test_check_threshold_takes_probabilities_and_none(good):
    assert check_threshold(good) == (None if good is None else float(good))


def test_check_threshold_takes_numpy_scalars():
    import numpy as np

    assert check_threshold(np.float32(0.5)) == 0.5


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (1.5, r"--threshold 1.5 is outside \[0, 1\]"),
        (-0.1, r"--threshold -0.1 is outside \[0, 1\]"),
        (float("nan"), r"--threshold nan is outside"),
        (float("inf"), r"--threshold inf is outside"),
        ("0.5", r"--threshold '0.5': expected a probability"),
        (True, r"--threshold True: expected a probability"),
    ],
)
def test_check_threshold_refuses_the_rest_naming_the_option(bad, message):
    with pytest.raises(ConfigError, match=message):
        check_threshold(bad)
    with pytest.raises(ConfigError, match="threshold="):
        check_threshold(bad, option="threshold=")
