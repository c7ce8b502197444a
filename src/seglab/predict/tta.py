"""Test-time augmentation: predict on flipped copies of a batch and average.

The four flips of the plane (none, horizontal, vertical, both) each undo themselves, so every
copy's probabilities are flipped back with the same flip before averaging. Flips keep an
image's shape (rectangular ones too), so all copies go through the network as one batch.

>>> import numpy as np
>>> batch = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
>>> flip(batch, "horizontal")[0, 0].tolist()
[[1.0, 0.0], [3.0, 2.0]]
>>> np.allclose(tta_probabilities(lambda b: b, batch), batch)
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ProbFn = Callable[[np.ndarray], np.ndarray]

FLIPS = ("none", "horizontal", "vertical", "both")
_AXES = {"none": (), "horizontal": (-1,), "vertical": (-2,), "both": (-2, -1)}


def flip(batch: np.ndarray, which: str) -> np.ndarray:
    """``batch`` (``... x H x W``) flipped left-right (``horizontal``), top-bottom
    (``vertical``), both, or not at all (``none``); each flip is its own inverse."""
    if which not in _AXES:
        raise ValueError(f"unknown flip {which!r}; choose one of {', '.join(FLIPS)}")
    axes = _AXES[which]
    return np.flip(batch, axis=axes) if axes else batch


def tta_probabilities(
    prob_fn: ProbFn, batch: np.ndarray, *, flips: tuple[str, ...] = FLIPS
) -> np.ndarray:
    """The mean over ``flips`` of ``flip(prob_fn(flip(batch)))``.

    ``prob_fn`` maps an ``N x C x H x W`` batch to ``N x K x H x W`` probabilities; it is
    called once, on the ``len(flips) * N`` flipped copies stacked together.
    """
    n = len(batch)
    copies = np.concatenate([flip(batch, which) for which in flips])
    probs = prob_fn(np.ascontiguousarray(copies))
    total = np.zeros((n, *probs.shape[1:]), dtype=np.float32)
    for i, which in enumerate(flips):
        total += flip(probs[i * n : (i + 1) * n], which)
    return total / np.float32(len(flips))
