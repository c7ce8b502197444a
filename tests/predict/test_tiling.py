"""Sliding-window tiling: windows cover every pixel, Gaussian weights, and a large image tiled
gives what it gives untiled."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.errors import ConfigError
from seglab.predict import load_model
from seglab.predict.tiling import (
    check_tiling,
    gaussian_weights,
    sliding_window,
    tile_starts,
    tile_step,
    windows,
)


@pytest.mark.parametrize("size", [8, 9, 256, (12, 7)])
def test_gaussian_weights_peak_in_the_centre_are_symmetric_and_positive_at_the_borders(size):
    w = gaussian_weights(size)
    h, wd = (size, size) if isinstance(size, int) else size
    assert w.shape == (h, wd) and w.dtype == np.float32
    assert w.max() == pytest.approx(1.0)
    assert w[(h - 1) // 2, (wd - 1) // 2] == w.max() == w[h // 2, wd // 2]
    np.testing.assert_array_equal(w, w[::-1])
    np.testing.assert_array_equal(w, w[:, ::-1])
    assert w.min() > 0 and w.min() >= 1e-6
    assert w[0, 0] < w[0, wd // 2] < w[h // 2, wd // 2]  # falls off towards the edges
    if h == wd == 256:  # sigma = 32: one sigma from the centre weighs exp(-1/2)
        assert w[127 + 32, 127] / w[127, 127] == pytest.approx(np.exp(-0.5), rel=0.02)


@pytest.mark.parametrize(
    ("length", "tile", "step", "expected"),
    [
        (10, 4, 3, [0, 3, 6]),
        (10, 4, 4, [0, 4, 6]),
        (8, 4, 4, [0, 4]),
        (4, 4, 1, [0]),
        (3, 4, 3, [0]),
        (2000, 256, 192, [0, 192, 384, 576, 768, 960, 1152, 1344, 1536, 1728, 1744]),
    ],
)
def test_tile_starts_cover_the_whole_length_and_end_at_the_end(length, tile, step, expected):
    starts = tile_starts(length, tile, step)
    assert starts == expected
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + tile] = True
    assert covered.all()
    if length > tile:
        assert starts[-1] == length - tile and all(s + tile <= length for s in starts)


def test_tiling_arguments_are_checked_with_the_fix_in_the_message():
    assert check_tiling(None, 0.25, 4) is None
    assert check_tiling(5, 0.25, 4) == 8  # rounded up to the stride
    assert check_tiling(256, 0.0, 16) == 256
    assert tile_step(256, 0.25) == 192 and tile_step(4, 0.9) == 1 and tile_step(10, 0) == 10
    with pytest.raises(ConfigError, match="stride 4"):
        check_tiling(2, 0.25, 4)
    with pytest.raises(ConfigError, match=r"overlap=0\.95"):
        check_tiling(64, 0.95, 4)
    with pytest.raises(ConfigError, match="overlap"):
        check_tiling(64, -0.1, 4)


def test_sliding_window_puts_every_window_back_where_it_came_from():
    rng = np.random.default_rng(0)
    images = rng.random((3, 2, 37, 50)).astype(np.float32)
    seen = []

    def pixelwise(batch):  # a per-pixel function: blending must give it back unchanged
        seen.append(batch.shape)
        return np.concatenate([batch[:, :1] * 2, batch[:, 1:] - 1], axis=1)

    out = sliding_window(pixelwise, images, 16, overlap=0.5, batch_size=5)
    expected = np.concatenate([images[:, :1] * 2, images[:, 1:] - 1], axis=1)
    np.testing.assert_allclose(out, expected, atol=1e-5)
    places = windows(37, 50, 16, 0.5)
    assert len(places) == 4 * 6  # starts 0, 8, 16, 21 and 0, 8, ..., 32, 34
    assert sum(s[0] for s in seen) == 3 * len(places)  # windows of all images share batches
    assert max(s[0] for s in seen) == 5 and {s[2:] for s in seen} == {(16, 16)}


def test_sliding_window_on_a_small_image_is_one_window_and_a_thin_one_one_row():
    images = np.ones((2, 1, 12, 40), np.float32)
    shapes = []

    def record(batch):
        shapes.append(batch.shape)
        return batch

    np.testing.assert_array_equal(sliding_window(record, images, 64), images)
    assert shapes == [(2, 1, 12, 40)]
    shapes.clear()
    np.testing.assert_allclose(sliding_window(record, images, 16, overlap=0.0), images)
    assert {s[2:] for s in shapes} == {(12, 16)}  # a dimension below the tile: one window
    assert sum(s[0] for s in shapes) == 2 * 3  # starts 0, 16, 24


def disc_image(height: int, width: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(image, truth)``: bright discs (value ~120, radius 4-8) one per 32-pixel cell, centre
    jittered, on a ~N(40, 8) background -- write_discs' images, many to an image."""
    rng = np.random.default_rng(seed)
    cell = 32
    rows, cols = -(-height // cell), -(-width // cell)
    centre = cell / 2 + rng.uniform(-6, 6, (2, rows, cols))
    radius = rng.uniform(4, 8, (rows, cols))
    yy, xx = np.mgrid[:height, :width]
    cy, cx = yy // cell, xx // cell
    truth = (yy % cell - centre[0][cy, cx]) ** 2 + (xx % cell - centre[1][cy, cx]) ** 2 <= (
        radius[cy, cx] ** 2
    )
    image = rng.normal(40, 8, (height, width, 3))
    image[truth] = rng.normal(120, 8, (int(truth.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


def dice(mask: np.ndarray, truth: np.ndarray) -> float:
    mask = mask.astype(bool)
    return 2 * (mask & truth).sum() / (mask.sum() + truth.sum())


@pytest.mark.slow
def test_a_2000x1500_image_tiled_matches_it_untiled(tiny_run):
    """The issue's done-when: tiling (256, overlap 0.25) changes nothing that matters."""
    run_dir, _ = tiny_run
    model = load_model(run_dir)
    image, truth = disc_image(1500, 2000)
    assert truth.mean() > 0.05  # ~2900 discs
    whole = model.predict_proba(image)
    tiled = model.predict_proba(image, tile=256, overlap=0.25)
    assert tiled.shape == whole.shape == (1500, 2000) and tiled.dtype == np.float32
    whole_mask, tiled_mask = model.to_mask(whole), model.to_mask(tiled)
    assert (whole_mask == tiled_mask).mean() >= 0.995
    assert dice(whole_mask, truth) > 0.8 and dice(tiled_mask, truth) > 0.8
    # Away from the tiles' inner edges (where a tile saw zero padding instead of the image),
    # the blended probabilities are the untiled ones.
    seams = np.zeros(whole.shape, bool)
    margin = 16
    for y, x in windows(1500, 2000, 256, 0.25):
        for edge in (y, y + 256):
            if 0 < edge < 1500:
                seams[max(0, edge - margin) : edge + margin] = True
        for edge in (x, x + 256):
            if 0 < edge < 2000:
                seams[:, max(0, edge - margin) : edge + margin] = True
    assert (~seams).mean() > 0.3
    diff = np.abs(tiled - whole)
    assert diff[~seams].max() < 1e-3
    assert diff.mean() < 1e-3
