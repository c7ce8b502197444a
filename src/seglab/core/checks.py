"""Checks of options at the public boundary, with the fix in the message."""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection

from seglab.errors import ConfigError


def check_choice(name: str, value: object, choices: Collection[str]) -> str:
    """``value`` if it is one of ``choices``, else :class:`ConfigError` naming ``name`` and
    listing the choices.

    >>> check_choice("mode", "crop", ("crop", "pad"))
    'crop'
    """
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value  # type: ignore[return-value]


def check_batch_size(batch_size: object) -> int:
    """``batch_size`` if it is a whole number >= 1, else :class:`ConfigError` (for every
    command that batches images: predict, evaluate, the report).

    >>> check_batch_size(8)
    8
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | float):
        raise ConfigError(f"batch_size={batch_size!r} must be a whole number of at least 1")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size} must be a whole number of at least 1")
    return int(batch_size)


def check_threshold(threshold: object, *, option: str = "--threshold") -> float | None:
    """``threshold`` as a float if it is a probability in [0, 1] (``None`` passes: the run's
    own), else :class:`ConfigError` naming ``option``.

    >>> check_threshold(0.4), check_threshold(None)
    (0.4, None)
    """
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ConfigError(f"{option} {threshold!r}: expected a probability between 0 and 1")
    if not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise ConfigError(
            f"{option} {threshold:g} is outside [0, 1]: it is the probability above which a "
            "pixel is foreground (leave it out to use the run's own, from model.json)"
        )
    return float(threshold)  # numpy scalars too
