"""Sliding-window prediction for images larger than the network should see at once.

Windows of ``tile x tile`` network-space pixels step by ``tile * (1 - overlap)``; the last
window in each direction is aligned to the image's end, so every pixel is covered and every
window has the same shape (all windows batch together). Each window's probabilities are
weighted by a 2-D Gaussian (nnU-Net's importance map: centres are trusted more than borders,
where the network saw zero padding instead of context) and blended as
``sum(w * p) / sum(w)``. A dimension not longer than the tile gets one window of its own
length.

>>> tile_starts(10, 4, 3)
[0, 3, 6]
>>> tile_starts(3, 4, 3)
[0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from seglab.core.arrays import round_up
from seglab.errors import ConfigError

ProbFn = Callable[[np.ndarray], np.ndarray]

MAX_OVERLAP = 0.9


def check_tiling(tile: int | None, overlap: float, multiple: int) -> int | None:
    """``tile`` rounded up to a multiple of the network's stride ``multiple`` (``None``: no
    tiling). Raises :class:`ConfigError` for a tile below the stride or an overlap outside
    ``[0, 0.9]``."""
    if not 0 <= overlap <= MAX_OVERLAP:
        raise ConfigError(
            f"overlap={overlap} is outside [0, {MAX_OVERLAP}]: it is the fraction of a tile "
            "shared with the next one (0.25 is a good default)"
        )
    if tile is None:
        return None
    if int(tile) != tile or tile < multiple:
        raise ConfigError(
            f"tile={tile} is smaller than the network's stride {multiple} (or not a whole "
            f"number): use a tile of at least {multiple} pixels, e.g. {max(256, multiple)}, "
            "or no tiling"
        )
    return round_up(int(tile), multiple)


def tile_step(tile: int, overlap: float) -> int:
    """Distance between neighbouring window starts: ``tile * (1 - overlap)``, at least 1."""
    return max(1, int(tile * (1 - overlap) + 1e-9))


def tile_starts(length: int, tile: int, step: int) -> list[int]:
    """Window starts along one axis of ``length`` pixels: ``0, step, 2 * step, ...`` and a
    last one at ``length - tile``, so the windows cover every pixel; ``[0]`` when
    ``length <= tile``."""
    if length <= tile:
        return [0]
    return [*range(0, length - tile, step), length - tile]


def gaussian_weights(
    size: int | tuple[int, int], *, sigma_scale: float = 1 / 8, floor: float = 1e-6
) -> np.ndarray:
    """A float32 ``H x W`` Gaussian importance map: 1 at the centre, ``sigma = side *
    sigma_scale`` along each side, symmetric, and at least ``floor`` everywhere (so a pixel
    only one window's border covers still gets a weight)."""
    height, width = (size, size) if isinstance(size, int) else size
    axes = []
    for side in (height, width):
        offset = np.arange(side, dtype=np.float64) - (side - 1) / 2
        sigma = max(side * sigma_scale, 1e-6)
        axes.append(np.exp(-0.5 * (offset / sigma) ** 2))
    weights = np.outer(axes[0], axes[1])
    weights /= weights.max()
    return np.maximum(weights, floor).astype(np.float32)


def windows(height: int, width: int, tile: int, overlap: float) -> list[tuple[int, int]]:
    """``(top, left)`` of every window over an ``height x width`` image."""
    step = tile_step(tile, overlap)
    return [(y, x) for y in tile_starts(height, tile, step) for x in tile_starts(width, tile, step)]


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sliding_window(
    prob_fn: ProbFn,
    images: np.ndarray,
    tile: int,
    *,
    overlap: float = 0.25,
    batch_size: int = 8,
) -> np.ndarray:
    """Blended probabilities ``N x K x H x W`` of ``N >= 1`` same-shaped images
    ``N x C x H x W``.

    ``prob_fn`` maps an ``B x C x h x w`` batch of windows to ``B x K x h x w``
    probabilities; it gets at most ``batch_size`` windows at a time, drawn from all the
    images. An image not larger than ``tile`` in either dimension is one window (no
    blending). Memory: the images, one float32 accumulator of the output's size and an
    ``H x W`` weight sum.
    """
    n, _, height, width = images.shape
    if height <= tile and width <= tile:
        parts = [prob_fn(images[i : i + batch_size]) for i in range(0, n, batch_size)]
        return np.concatenate(parts)
    th, tw = min(tile, height), min(tile, width)
    weights = gaussian_weights((th, tw))
    places = windows(height, width, tile, overlap)
    total = np.zeros((height, width), dtype=np.float32)
    for y, x in places:
        total[y : y + th, x : x + tw] += weights
    blended: np.ndarray | None = None
    jobs = [(i, y, x) for i in range(n) for y, x in places]
    for chunk in _chunks(jobs, batch_size):
        batch = np.stack([images[i, :, y : y + th, x : x + tw] for i, y, x in chunk])
        probs = prob_fn(batch)
        if blended is None:
            blended = np.zeros((n, probs.shape[1], height, width), dtype=np.float32)
        for (i, y, x), p in zip(chunk, probs, strict=True):
            blended[i, :, y : y + th, x : x + tw] += p * weights
    assert blended is not None  # at least one window
    blended /= total
    return blended
