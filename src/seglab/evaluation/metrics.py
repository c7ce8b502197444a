"""Segmentation metrics on numpy masks: Dice, IoU, precision, recall (pure functions).

Conventions, used by every score seglab prints (classical methods, networks, other tools' masks):

* Dice as the seed defines it, per image: ``2 |A ∩ B| / (|A| + |B|)``; dataset scores are the
  mean over images (not pooled over pixels).
* Pixels whose target is ``ignore_index`` (255) are left out of every count.
* Binary scoring: anything ``!= 0`` (and not ignored) in the prediction or target is foreground.
* Empty vs empty (no object predicted, none in the target): the metric's denominator is 0 and the
  score is ``empty_score`` (default 1.0: predicting nothing where there is nothing is right;
  pass 0.0 to count such images as failures, or ``nan`` to leave them out of means). A metric that
  is undefined while the other side is not empty (precision with no prediction, recall with no
  target) is 0.0.
* Multi-class: per class ``c`` in ``1..K-1`` the binary scores of ``pred == c`` vs
  ``target == c``; the image's score is the mean over those classes.
"""

from __future__ import annotations

import numpy as np

from seglab.core.constants import IGNORE_INDEX
from seglab.errors import DataError

METRICS = ("dice", "iou", "precision", "recall")


def _check(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise DataError(
            f"prediction shape {pred.shape} differs from target shape {target.shape}; "
            "resize the prediction to the image size (nearest) before scoring"
        )
    return pred, target


def confusion(
    pred: np.ndarray, target: np.ndarray, *, ignore_index: int | None = IGNORE_INDEX
) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` pixel counts of binary foreground (``!= 0``), ignored pixels left out."""
    pred, target = _check(pred, target)
    valid = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    p = (pred != 0) & valid
    t = (target != 0) & valid
    tp = int(np.count_nonzero(p & t))
    return tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(t)) - tp


def _ratio(num: float, den: float, *, both_empty: bool, empty_score: float) -> float:
    if den > 0:
        return num / den
    return empty_score if both_empty else 0.0


def scores_from_counts(tp: int, fp: int, fn: int, *, empty_score: float = 1.0) -> dict[str, float]:
    """Dice, IoU, precision and recall from pixel counts (conventions in the module docstring)."""
    empty = tp + fp + fn == 0
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn, both_empty=empty, empty_score=empty_score),
        "iou": _ratio(tp, tp + fp + fn, both_empty=empty, empty_score=empty_score),
        "precision": _ratio(tp, tp + fp, both_empty=empty, empty_score=empty_score),
        "recall": _ratio(tp, tp + fn, both_empty=empty, empty_score=empty_score),
    }


def binary_scores(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    ignore_index: int | None = IGNORE_INDEX,
    empty_score: float = 1.0,
) -> dict[str, float]:
    """Dice, IoU, precision, recall of the foreground (``!= 0``) of two masks.

    >>> import numpy as np
    >>> a = np.array([[1, 1, 0, 0]]); b = np.array([[0, 1, 1, 0]])
    >>> binary_scores(a, b)["dice"]
    0.5
    """
    tp, fp, fn = confusion(pred, target, ignore_index=ignore_index)
    return scores_from_counts(tp, fp, fn, empty_score=empty_score)


def dice(pred: np.ndarray, target: np.ndarray, **options) -> float:
    """Binary Dice of one image: ``2|A∩B| / (|A|+|B|)`` (options as :func:`binary_scores`)."""
    return binary_scores(pred, target, **options)["dice"]


def iou(pred: np.ndarray, target: np.ndarray, **options) -> float:
    """Binary IoU (Jaccard) of one image: ``|A and B| / |A or B|``."""
    return binary_scores(pred, target, **options)["iou"]


def class_scores(
    pred: np.ndarray,
    target: np.ndarray,
    num_classes: int,
    *,
    ignore_index: int | None = IGNORE_INDEX,
    empty_score: float = 1.0,
) -> dict[str, float]:
    """Scores of one image over classes ``1..num_classes-1``: their mean (``dice``, ``iou``...)
    and each class's (``dice/1``, ``iou/1``...)."""
    pred, target = _check(pred, target)
    if num_classes < 2:
        raise DataError(f"num_classes must be >= 2 (background + classes), got {num_classes}")
    valid = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    out: dict[str, float] = {}
    per_class = []
    for c in range(1, num_classes):
        p, t = (pred == c) & valid, (target == c) & valid
        tp = int(np.count_nonzero(p & t))
        s = scores_from_counts(
            tp,
            int(np.count_nonzero(p)) - tp,
            int(np.count_nonzero(t)) - tp,
            empty_score=empty_score,
        )
        per_class.append(s)
        out.update({f"{k}/{c}": v for k, v in s.items()})
    for k in METRICS:
        out[k] = float(np.mean([s[k] for s in per_class]))
    return out
