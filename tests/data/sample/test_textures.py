"""Ground textures: every ground is drawn, reproducible, in range and not flat."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.data.sample.textures import GROUNDS, cv_points, draw_ground, fbm, random_colour


@pytest.mark.parametrize("kind", GROUNDS)
def test_draw_ground_every_kind(kind):
    image = draw_ground(np.random.default_rng(0), kind, 128, 128 / 512)
    assert image.shape == (128, 128, 3) and image.dtype == np.float32
    assert np.isfinite(image).all() and image.std() > 0.01
    assert 0.05 < float(np.median(image)) < 1.2  # a photo-like brightness before the camera
    again = draw_ground(np.random.default_rng(0), kind, 128, 128 / 512)
    np.testing.assert_array_equal(image, again)


def test_fbm_is_standardised_at_any_size():
    for size in (16, 64, 300):
        noise = fbm(np.random.default_rng(1), size, 4)
        assert noise.shape == (size, size) and noise.dtype == np.float32
        assert abs(float(noise.mean())) < 0.1 and 0.8 < float(noise.std()) < 1.2


def test_random_colour_stays_in_its_ranges():
    rng = np.random.default_rng(2)
    for _ in range(50):
        r, g, b = random_colour(rng, ((0, 1), (0, 0.1), (0.8, 0.9)))  # near-white greys
        assert min(r, g, b) >= 0.8 * 0.9 - 1e-6 and max(r, g, b) <= 0.9 + 1e-6


def test_cv_points_are_fixed_point_with_four_fractional_bits():
    np.testing.assert_array_equal(cv_points([[1.5, 2.25], [0, 10.03]]), [[24, 36], [0, 160]])
