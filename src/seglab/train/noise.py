"""The noise of a validation curve: how far apart two epochs' scores must be to differ.

A val score is the mean of ``n`` per-image scores, so its **standard error** (SE) is
``sd / sqrt(n)`` (:func:`standard_error`), ``sd`` the spread of the per-image scores
(``val_dice_sd`` in ``metrics.csv``). When the spread was not logged, a score with mean ``v`` in
``[0, 1]`` can spread at most ``sqrt(v * (1 - v))`` (the Bhatia-Davis inequality: a variable in
``[m, M]`` with mean ``mu`` has variance at most ``(M - mu) * (mu - m)``), so
:func:`max_standard_error` is an upper bound: a missing spread makes a judgement more cautious,
never less.

The curve's own epoch-to-epoch **jitter** (:func:`jitter`) comes from its second differences
``x[i-1] - 2 x[i] + x[i+1]``: they cancel a steady (linear) trend, and of independent noise of
standard deviation ``s`` they have variance ``(1 + 4 + 1) s**2 = 6 s**2``. The median of their
absolute values, divided by ``0.6745`` (the median absolute value of a unit normal), estimates
their standard deviation while ignoring a few real jumps; dividing by ``sqrt(6)`` gives ``s``.
The noise of an epoch is the larger of its SE and the jitter (:func:`epoch_noise`).

The difference of two values with independent noises ``a`` and ``b`` has standard deviation
``sqrt(a**2 + b**2)``; it is real beyond :data:`NOISE_Z` of those, its **band** (:func:`band`).

>>> round(standard_error(0.25, 50), 4)
0.0354
>>> max_standard_error(0.5, 25)
0.1
>>> round(band(0.0354, 0.0354), 3)
0.15
>>> jitter([0.1 * i for i in range(10)]) < 1e-12  # a straight line does not jitter
True
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

# A difference between two epochs is real when it exceeds NOISE_Z standard errors of that
# difference. 3 rather than 2: the best epoch is the largest of many noisy values, so a flat
# noisy curve 20 epochs long often ends 2-3 standard errors below its best; with 3, a few such
# curves in a hundred still show a "real" drop (and then, with flat losses, read as unstable).
NOISE_Z = 3.0
MIN_JITTER_POINTS = 7  # the curve's own jitter is estimated from at least 5 second differences


def standard_error(sd: float, num_val: int) -> float:
    """The SE of a mean of ``num_val`` scores whose standard deviation is ``sd``."""
    return sd / math.sqrt(num_val)


def max_standard_error(mean: float, num_val: int) -> float:
    """The largest SE a mean ``mean`` of ``num_val`` scores in ``[0, 1]`` can have (the
    Bhatia-Davis bound); ``nan`` when ``mean`` is outside ``[0, 1]``, where it does not apply."""
    if not 0.0 <= mean <= 1.0:
        return math.nan
    return math.sqrt(mean * (1.0 - mean) / num_val)


def jitter(values: Sequence[float]) -> float:
    """The epoch-to-epoch noise of a curve: the median absolute second difference scaled to a
    standard deviation (``x[i-1] - 2 x[i] + x[i+1]`` of independent noise has variance 6 σ²;
    second differences ignore a steady trend and the median a few real jumps); 0 for fewer
    than :data:`MIN_JITTER_POINTS` values, too few for a median to mean much."""
    if len(values) < MIN_JITTER_POINTS:
        return 0.0
    second = [abs(a - 2 * b + c) for a, b, c in zip(values, values[1:], values[2:], strict=False)]
    return statistics.median(second) / (0.6745 * math.sqrt(6))


def epoch_noise(se: float, curve_jitter: float) -> float:
    """The noise of one epoch's value: the larger of its SE and the curve's jitter (the
    jitter alone when the SE is unknown, ``nan``)."""
    return max(se, curve_jitter) if math.isfinite(se) else curve_jitter


def band(noise_a: float, noise_b: float) -> float:
    """How far apart two values with independent noises ``noise_a`` and ``noise_b`` must be to
    differ: :data:`NOISE_Z` standard deviations of their difference."""
    return NOISE_Z * math.hypot(noise_a, noise_b)
