"""Choosing a classical method's parameters on training images, by Dice.

* Without ``tune``: the given parameters; a method's ``polarity`` left at ``auto`` is chosen on
  the training labels (the better of ``bright`` and ``dark``); methods with a fit step (k-means)
  learn from the labels (object and background colours).
* With ``tune``: every combination of the method's small grid (:attr:`ClassicalMethod.grid`,
  parameters given explicitly stay fixed) is scored on up to ``max_images`` training images and
  the best mean Dice wins. Validation images are never looked at.
"""

from __future__ import annotations

import inspect
import itertools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import ConfigError, DataError
from seglab.evaluation.metrics import dice


@dataclass(frozen=True)
class ClassicalMethod:
    """One classical method: ``function(image, **params) -> mask or labels``.

    ``grid`` is its tuning search space; ``fit(images, masks) -> params`` learns parameters from
    training labels (k-means colours); ``output`` is ``"mask"`` (bool) or ``"labels"`` (int,
    0 = background, one label per object).
    """

    name: str
    function: Callable[..., np.ndarray]
    grid: dict[str, list] = field(default_factory=dict)
    fit: Callable[[list, list], dict[str, Any]] | None = None
    output: str = "mask"
    summary: str = ""

    @property
    def parameters(self) -> dict[str, Any]:
        """Keyword parameters of the function and their defaults."""
        sig = inspect.signature(self.function)
        return {n: p.default for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY}

    def check_params(self, params: dict[str, Any]) -> None:
        """Raise :class:`ConfigError` naming unknown parameters and listing the valid ones."""
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            valid = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items())
            raise ConfigError(f"{self.name}: unknown parameter(s) {unknown}; valid: {valid}")

    def __call__(self, image: np.ndarray, **params: Any) -> np.ndarray:
        """Run the method; label outputs stay labels (see :func:`as_mask`)."""
        return self.function(image, **params)


def as_mask(output: np.ndarray) -> np.ndarray:
    """Bool object mask of a method's output (labels > 0 are objects)."""
    return output if output.dtype == np.bool_ else output > 0


def postprocessed(output: np.ndarray, post: Callable | None) -> np.ndarray:
    """Apply a mask pipeline (``(image, mask) -> (image, mask)``) to a method's output; labels
    keep their values where the cleaned mask keeps the pixel."""
    if post is None or not len(post):
        return output
    _, cleaned = post(None, as_mask(output).astype(np.int64))
    keep = cleaned == 1
    return keep if output.dtype == np.bool_ else np.where(keep, output, 0)


def _binary_target(mask: np.ndarray) -> np.ndarray:
    return np.where(mask == IGNORE_INDEX, IGNORE_INDEX, mask != 0)


def mean_dice(
    method: ClassicalMethod,
    params: dict[str, Any],
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    *,
    post: Callable | None = None,
) -> float:
    """Mean Dice of ``method(**params)`` (then ``post``) over images (foreground = any class)."""
    scores = [
        dice(as_mask(postprocessed(method(im, **params), post)), _binary_target(m))
        for im, m in zip(images, masks, strict=True)
    ]
    return float(np.mean(scores)) if scores else float("nan")


def candidates(
    method: ClassicalMethod, given: dict[str, Any], *, tune: bool
) -> list[dict[str, Any]]:
    """Parameter sets to try: the grid (given ones fixed) or the polarity choice."""
    if tune and method.grid:
        names = [n for n in method.grid if n not in given]
        combos = itertools.product(*(method.grid[n] for n in names))
        return [{**given, **dict(zip(names, c, strict=True))} for c in combos]
    if "polarity" in method.parameters and given.get("polarity", "auto") == "auto":
        return [{**given, "polarity": p} for p in ("bright", "dark")]
    return [dict(given)]


def fit_method(
    method: ClassicalMethod,
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    *,
    params: dict[str, Any] | None = None,
    tune: bool = False,
    post: Callable | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Choose parameters on training ``images``/``masks`` (already preprocessed; ``post`` is the
    mask clean-up applied to every output); return them and the trials.

    Each trial is ``{"params": ..., "dice": mean train Dice, "seconds": ...}``.
    """
    given = dict(params or {})
    method.check_params(given)
    if method.fit is not None and images:
        try:
            learned = method.fit(list(images), list(masks))
        except DataError as exc:  # e.g. training masks without any object
            warnings.warn(f"{method.name}: not fitted on the labels ({exc})", RuntimeWarning, 2)
            learned = {}
        given = {**learned, **given}
    trials = []
    options = candidates(method, given, tune=tune)
    if len(options) == 1 or not images:
        return options[0], trials
    for option in options:
        t0 = time.perf_counter()
        score = mean_dice(method, option, images, masks, post=post)
        trials.append({"params": option, "dice": score, "seconds": time.perf_counter() - t0})
    best = max(trials, key=lambda t: (not np.isnan(t["dice"]), t["dice"]))
    return best["params"], trials
