"""Instance metrics on two label images (pure functions): DSB-2018 mean AP, AP at one IoU,
the aggregated Jaccard index (AJI) and the count errors.

A label image is an ``H x W`` integer array: 0 is the background, every other value one object
(any ids, not necessarily consecutive). Conventions:

* Matching: a true and a predicted object match at threshold ``t`` when their IoU is above
  ``t``. For ``t >= 0.5`` an object has at most one such partner, so no assignment is needed.
* DSB-2018 AP at ``t``: ``TP / (TP + FP + FN)`` for one image (the Kaggle 2018 Data Science
  Bowl's metric); the mean AP averages it over ``t`` in 0.5, 0.55, ..., 0.95. Empty vs empty
  scores 1.0; objects on one side only score 0.0.
* AJI (Kumar et al., IEEE TMI 2017): each true object is paired with the predicted object of
  highest IoU with it; AJI is the sum of those intersections over the sum of those unions plus
  the areas of the predicted objects never paired.
* Counts, at IoU 0.5: found (TP), missed (FN), false (FP); a true object is *split* when two or
  more predicted objects lie mostly (over half their area) inside it, and a predicted object
  *merges* when two or more true objects lie mostly inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seglab.errors import DataError

DSB_THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
"""The IoU thresholds of the DSB-2018 mean AP: 0.5, 0.55, ..., 0.95."""


@dataclass(frozen=True)
class Overlaps:
    """The pixel counts two label images share: ``inter[i, j]`` between true object ``i`` and
    predicted object ``j`` (ids in ``true_ids`` / ``pred_ids``), and each object's area."""

    true_ids: np.ndarray
    pred_ids: np.ndarray
    inter: np.ndarray
    true_area: np.ndarray
    pred_area: np.ndarray

    @property
    def iou(self) -> np.ndarray:
        """IoU of every (true, predicted) pair, ``T x P``."""
        union = self.true_area[:, None] + self.pred_area[None, :] - self.inter
        return np.divide(self.inter, union, out=np.zeros(self.inter.shape), where=union > 0)


def overlaps(truth: np.ndarray, pred: np.ndarray) -> Overlaps:
    """Count what the objects of ``truth`` and ``pred`` share, in one pass over the pixels.

    Raises
    ------
    DataError
        The two label images differ in size.
    """
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise DataError(f"label images differ in size: {truth.shape} and {pred.shape}")
    true_ids, true_index = np.unique(truth, return_inverse=True)
    pred_ids, pred_index = np.unique(pred, return_inverse=True)
    # index 0 is the background when the image has any, so shift ids to make room for it
    t_bg = int(true_ids[0] == 0) if true_ids.size else 0
    p_bg = int(pred_ids[0] == 0) if pred_ids.size else 0
    rows, cols = true_ids.size + 1 - t_bg, pred_ids.size + 1 - p_bg
    t = true_index.ravel() + (1 - t_bg)
    p = pred_index.ravel() + (1 - p_bg)
    counts = np.bincount(t * cols + p, minlength=rows * cols).reshape(rows, cols)
    return Overlaps(
        true_ids=true_ids[t_bg:],
        pred_ids=pred_ids[p_bg:],
        inter=counts[1:, 1:].astype(np.int64),
        true_area=counts[1:, :].sum(axis=1).astype(np.int64),
        pred_area=counts[:, 1:].sum(axis=0).astype(np.int64),
    )


def dsb_ap(found: Overlaps, threshold: float) -> float:
    """``TP / (TP + FP + FN)`` at IoU above ``threshold`` (>= 0.5: one partner per object)."""
    n_true, n_pred = found.true_ids.size, found.pred_ids.size
    if n_true == 0 and n_pred == 0:
        return 1.0
    tp = int((found.iou > threshold).sum()) if n_true and n_pred else 0
    return tp / (n_true + n_pred - tp)


def dsb_mean_ap(found: Overlaps, thresholds: tuple[float, ...] = DSB_THRESHOLDS) -> float:
    """The DSB-2018 score of one image: :func:`dsb_ap` averaged over ``thresholds``."""
    return float(np.mean([dsb_ap(found, t) for t in thresholds]))


def aji(found: Overlaps) -> float:
    """The aggregated Jaccard index of one image (see the module docstring)."""
    if found.true_ids.size == 0 and found.pred_ids.size == 0:
        return 1.0
    if found.true_ids.size == 0 or found.pred_ids.size == 0:
        return 0.0
    iou = found.iou
    best = iou.argmax(axis=1)
    rows = np.arange(found.true_ids.size)
    paired = iou[rows, best] > 0
    inter = found.inter[rows, best] * paired
    union = np.where(
        paired, found.true_area + found.pred_area[best] - found.inter[rows, best], found.true_area
    )
    unused = np.ones(found.pred_ids.size, bool)
    unused[best[paired]] = False
    return float(inter.sum() / (union.sum() + found.pred_area[unused].sum()))


@dataclass(frozen=True)
class Counts:
    """Object counts of one image at IoU 0.5 (see the module docstring)."""

    true: int
    predicted: int
    found: int
    missed: int
    false: int
    split: int
    merged: int


def counts(found: Overlaps) -> Counts:
    """Found, missed, false, split and merged objects of one image."""
    tp = int((found.iou > 0.5).sum()) if found.inter.size else 0
    n_true, n_pred = found.true_ids.size, found.pred_ids.size
    if found.inter.size:
        pred_inside = found.inter > 0.5 * found.pred_area[None, :]  # pred j mostly in true i
        true_inside = found.inter > 0.5 * found.true_area[:, None]  # true i mostly in pred j
        split = int((pred_inside.sum(axis=1) >= 2).sum())
        merged = int((true_inside.sum(axis=0) >= 2).sum())
    else:
        split = merged = 0
    return Counts(n_true, n_pred, tp, n_true - tp, n_pred - tp, split, merged)
