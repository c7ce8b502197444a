"""Known answers of the noise helpers behind the verdict: SEs, the Bhatia-Davis bound, jitter,
bands."""

from __future__ import annotations

import math

import pytest

from seglab.train.noise import (
    MIN_JITTER_POINTS,
    NOISE_Z,
    band,
    epoch_noise,
    jitter,
    max_standard_error,
    standard_error,
)


def test_standard_error_of_a_known_spread():
    assert standard_error(0.2, 16) == pytest.approx(0.05)
    assert standard_error(0.25, 50) == pytest.approx(0.25 / math.sqrt(50))
    assert standard_error(0.0, 10) == 0.0


def test_bhatia_davis_bound():
    assert max_standard_error(0.5, 25) == pytest.approx(0.1)  # sqrt(0.25 / 25)
    assert max_standard_error(0.9, 100) == pytest.approx(0.03)  # sqrt(0.09 / 100)
    assert max_standard_error(0.0, 10) == 0.0 and max_standard_error(1.0, 10) == 0.0
    assert math.isnan(max_standard_error(1.5, 10))  # a loss, not a score in [0, 1]
    assert math.isnan(max_standard_error(-0.1, 10))


def test_the_bound_is_never_below_a_measured_spread():
    # scores in [0, 1] with mean 0.5: the widest spread is half zeros, half ones (sd 0.5)
    scores = [0.0, 1.0] * 10
    mean = sum(scores) / len(scores)
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    assert standard_error(sd, len(scores)) == pytest.approx(max_standard_error(mean, len(scores)))
    spread = [0.3, 0.7, 0.5, 0.4, 0.6]
    mean = sum(spread) / len(spread)
    sd = math.sqrt(sum((s - mean) ** 2 for s in spread) / len(spread))
    assert standard_error(sd, 5) < max_standard_error(mean, 5)


def test_a_straight_line_does_not_jitter():
    assert jitter([0.3 + 0.02 * i for i in range(12)]) == pytest.approx(0.0, abs=1e-12)
    assert jitter([0.7] * 10) == 0.0


def test_alternating_jitter_around_a_line():
    e = 0.01
    values = [0.5 + 0.01 * i + e * (-1) ** i for i in range(15)]
    # every second difference is +-4e, so the median is 4e, scaled by 0.6745 * sqrt(6)
    assert jitter(values) == pytest.approx(4 * e / (0.6745 * math.sqrt(6)))


def test_too_few_points_have_no_jitter():
    values = [0.0, 1.0] * 10
    assert jitter(values[: MIN_JITTER_POINTS - 1]) == 0.0
    assert jitter(values[:MIN_JITTER_POINTS]) > 0


def test_epoch_noise_is_the_larger_of_se_and_jitter():
    assert epoch_noise(0.03, 0.01) == 0.03
    assert epoch_noise(0.01, 0.03) == 0.03
    assert epoch_noise(math.nan, 0.02) == 0.02  # no SE: the jitter alone


def test_band_of_two_noises():
    assert band(0.03, 0.04) == pytest.approx(NOISE_Z * 0.05)
    assert band(0.25 / math.sqrt(50), 0.25 / math.sqrt(50)) == pytest.approx(0.150, abs=5e-4)
    assert band(0.0, 0.0) == 0.0
