"""Ground textures of the sample scenes, and the noise and colour helpers they share.

:func:`draw_ground` paints one of :data:`GROUNDS` (asphalt, grass, sand, paving, soil): two
random colours mixed by low-frequency noise, a multi-scale texture, grain and the ground's own
structure. :mod:`seglab.data.sample.scene` draws clutter, butts and the camera over it with the same
helpers: :func:`random_colour`, :func:`value_noise`, :func:`fbm`, and :func:`cv_colour` /
:func:`cv_points` for OpenCV calls with sub-pixel (``shift=4``) coordinates.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

GROUNDS = ("asphalt", "grass", "sand", "paving", "soil")
# (hue, saturation, value) ranges of the two colours a ground mixes.
_PALETTES = {
    "asphalt": (((0, 1), (0, 0.12), (0.2, 0.5)), ((0, 1), (0, 0.15), (0.3, 0.65))),
    "grass": (((0.17, 0.32), (0.35, 0.75), (0.22, 0.55)), ((0.08, 0.16), (0.3, 0.6), (0.4, 0.75))),
    "sand": (((0.07, 0.13), (0.15, 0.45), (0.55, 0.88)), ((0.05, 0.12), (0.2, 0.5), (0.4, 0.75))),
    "paving": (((0, 1), (0, 0.35), (0.35, 0.85)), ((0, 1), (0, 0.2), (0.3, 0.8))),
    "soil": (((0.04, 0.1), (0.25, 0.6), (0.2, 0.45)), ((0.05, 0.12), (0.2, 0.5), (0.35, 0.65))),
}


def random_colour(rng: np.random.Generator, hsv_ranges) -> np.ndarray:
    """A float32 RGB colour in [0, 1], uniform in ``((h0, h1), (s0, s1), (v0, v1))`` of HSV."""
    h, s, v = (rng.uniform(lo, hi) for lo, hi in hsv_ranges)
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def value_noise(
    rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]
) -> np.ndarray:
    """Value noise in [0, 1]: a random grid of ``cells`` upsampled (bicubic) to ``shape``."""
    grid = rng.random((cells[0] + 1, cells[1] + 1), dtype=np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def fbm(rng: np.random.Generator, size: int, cells: int, octaves: int = 4) -> np.ndarray:
    """Multi-scale value noise, zero mean and unit standard deviation.

    Built at four pixels per cell of the finest octave, then upsampled: far cheaper than at
    full resolution and indistinguishable.
    """
    res = min(size, 4 * (cells << (octaves - 1)))
    out = np.zeros((res, res), np.float32)
    for i in range(octaves):
        c = min(cells << i, res // 2)
        out += np.float32(0.6**i) * value_noise(rng, (res, res), (c, c))
    out = (out - out.mean()) / (out.std() + 1e-6)
    return out if res == size else cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)


def cv_colour(colour) -> tuple[float, ...]:
    """``colour`` (a scalar or an RGB array) as the tuple of floats that OpenCV draws with."""
    return tuple(float(c) for c in np.atleast_1d(colour))


def cv_points(points: np.ndarray) -> np.ndarray:
    """Points ``(..., 2)`` in pixels as OpenCV fixed point with 4 fractional bits (``shift=4``)."""
    return np.round(np.asarray(points) * 16).astype(np.int32)


def draw_ground(rng: np.random.Generator, kind: str, size: int, sc: float) -> np.ndarray:
    """A ``size x size x 3`` float32 RGB ground of ``kind`` (one of :data:`GROUNDS`).

    ``sc`` is ``size / 512``: the texture's features keep their size relative to the image.
    """
    first, second = (random_colour(rng, r) for r in _PALETTES[kind])
    low = min(size, 64)  # the colour mix is low-frequency: draw it small, upsample once
    mix = 1 / (1 + np.exp(-rng.uniform(1, 4) * fbm(rng, low, 2, 3)))
    image = cv2.resize(first + (second - first) * mix[..., None], (size, size))
    texture = np.float32(rng.uniform(0.05, 0.18)) * fbm(rng, size, max(2, int(12 * sc)), 4)
    grain = rng.random((size, size), dtype=np.float32) - np.float32(0.5)
    texture += np.float32(rng.uniform(0.07, 0.28)) * grain + np.float32(1)
    image *= texture[..., None]
    if kind in ("asphalt", "soil"):  # aggregate specks, 1-3 px
        half = max(size // 2, 1)
        specks = cv2.resize(rng.random((half, half), dtype=np.float32), (size, size))
        image += (0.3 * (specks > 0.93) - 0.2 * (specks < 0.06))[..., None].astype(np.float32)
    elif kind == "grass":
        _grass_blades(rng, image, first, second, sc)
    elif kind == "sand":
        yy, xx = np.ogrid[:size, :size]
        a, wave = rng.uniform(0, np.pi), rng.uniform(10, 30) * sc
        phase = (xx * np.cos(a) + yy * np.sin(a)) / wave + 0.4 * fbm(rng, size, 3, 2)
        image *= (1 + rng.uniform(0.03, 0.08) * np.sin(2 * np.pi * phase))[..., None]
    else:
        image *= _tiles(rng, size, sc)
    return image.astype(np.float32, copy=False)


def _grass_blades(rng, image, first, second, sc) -> None:
    size = image.shape[0]
    n = int(2500 * sc * sc)
    start = rng.uniform(0, size, (n, 2))
    angle = rng.normal(rng.uniform(0, np.pi), 0.6, n)
    length = rng.uniform(5, 18, n) * sc
    end = start + length[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    lines = np.round(np.stack([start, end], 1) * 16).astype(np.int32)
    shade = rng.integers(0, 6, n)
    for k in range(6):
        colour = (first if k % 2 else second) * (0.6 + 0.15 * k)
        cv2.polylines(image, list(lines[shade == k]), False, cv_colour(colour), 1, cv2.LINE_8, 4)


def _tiles(rng: np.random.Generator, size: int, sc: float) -> np.ndarray:
    """Paving: a (brick) grid of tiles of jittered colour, grout and darker edges, rotated."""
    w, h = rng.uniform(50, 160, 2) * sc
    brick = rng.random() < 0.5
    big = int(np.ceil(size * 1.42))  # covers the image at any rotation
    rows, cols = int(big / h) + 1, int(big / w) + 2
    # Tile colours on a grid of half-tiles, so that brick rows can shift by half a tile.
    jitter = rng.uniform(0.75, 1.2, (rows, cols, 1)) * rng.uniform(0.92, 1.08, (rows, cols, 3))
    half = np.repeat(jitter.astype(np.float32), 2, axis=1)
    if brick:
        half[1::2] = np.roll(half[1::2], 1, axis=1)
    colour = cv2.resize(half, (round(cols * w), round(rows * h)), interpolation=cv2.INTER_NEAREST)
    colour = colour[:big, :big]
    r, c = np.mgrid[: rows + 1, : cols + 1].astype(np.float32)
    x0 = c * w - (w / 2) * (brick & (r % 2 == 1))
    vertical = np.stack([np.stack([x0, r * h], -1), np.stack([x0, (r + 1) * h], -1)], 2)
    horizontal = np.stack([[[0, y], [big, y]] for y in np.arange(rows + 1) * h])
    grout = np.zeros((big, big), np.float32)
    segments = [*cv_points(vertical.reshape(-1, 2, 2)), *cv_points(horizontal)]
    thick = max(1, round(rng.uniform(1.5, 4) * sc))
    cv2.polylines(grout, segments, False, 1.0, thick, cv2.LINE_8, 4)
    line = cv2.GaussianBlur(grout, (0, 0), 0.6)
    shade = (1 - 0.6 * cv2.GaussianBlur(grout, (0, 0), 3 * sc)) * (1 - line)
    factor = colour * cv2.merge([shade] * 3) + cv2.merge([rng.uniform(0.45, 0.8) * line] * 3)
    rotation = cv2.getRotationMatrix2D((big / 2, big / 2), rng.uniform(0, 90), 1.0)
    rotation[:, 2] -= (big - size) / 2
    return cv2.warpAffine(factor, rotation, (size, size), flags=cv2.INTER_LINEAR)


__all__ = [
    "GROUNDS",
    "cv_colour",
    "cv_points",
    "draw_ground",
    "fbm",
    "random_colour",
    "value_noise",
]
