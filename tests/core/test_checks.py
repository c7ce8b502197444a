"""Tests of seglab.core.checks: option checks that name the option and say what is valid."""

from __future__ import annotations

import pytest

from seglab.core.checks import check_batch_size, check_choice
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
