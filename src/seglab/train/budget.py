"""The arithmetic of a time budget, and the clock it reads (light: no torch, no Lightning).

:mod:`seglab.train.timing` drives a run with it; the recipe uses it to say what a run will do.
The clock is here, in one place, so that tests can replace it
(``monkeypatch.setattr(budget, "now", fake)``) and simulate a slow or a fast machine: callers
read it as ``budget.now()``, never ``from ... import now``.

>>> training_end(600, pause=4.0), validation_interval(600, pause=4.0)
(593.0, 40.0)
"""

from __future__ import annotations

import time

VAL_SHARE = 0.1
"""Validation (and the checkpoint written with it) takes at most this share of the budget."""

MAX_VALIDATIONS = 20
"""At most this many validations in a run: enough points for the curves and the verdict."""

TAIL_SECONDS = 2.0
"""Kept for what follows the last validation outside the fit: the plots and ``summary.json``."""

SAFETY = 1.25
"""The final validation is budgeted at this multiple of the last one measured."""


def now() -> float:
    """Seconds on a monotonic clock."""
    return time.perf_counter()


def training_end(seconds: float, *, pause: float) -> float:
    """Elapsed seconds at which training stops in a budget of ``seconds``, when one validation
    with its checkpoint (a ``pause`` in training) takes ``pause`` seconds: what is left is the
    final validation (:data:`SAFETY` x ``pause``) and :data:`TAIL_SECONDS`. At least a tenth
    of the budget trains, whatever validation costs."""
    return max(0.1 * seconds, seconds - SAFETY * pause - TAIL_SECONDS)


def validation_interval(seconds: float, *, pause: float) -> float:
    """Seconds of training between validations: validation stays under :data:`VAL_SHARE` of the
    time, with at most :data:`MAX_VALIDATIONS` of them."""
    end = training_end(seconds, pause=pause)
    return max(end / MAX_VALIDATIONS, pause / VAL_SHARE if pause > 0 else 0.0)
