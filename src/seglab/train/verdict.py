"""A plain-words verdict on a finished run's curves: overfitting, underfitting, still improving...

:func:`overfitting_verdict` reads the per-epoch rows of a run's ``metrics.csv`` (as returned by
:func:`seglab.train.plots.read_metrics`) and returns a :class:`Verdict`: which kind of fit the
curves show, the best epoch of the monitored metric, and a one- or two-sentence message with the
numbers and what to do next. The rules are in :func:`overfitting_verdict`'s docstring.

>>> rows = [
...     {"epoch": e, "train_loss": 1.0 - 0.04 * e, "val_loss": 0.6 + 0.02 * abs(e - 5),
...      "val_dice": 0.82 - 0.01 * abs(e - 5)}
...     for e in range(20)
... ]
>>> v = overfitting_verdict(rows)
>>> v.kind, v.best_epoch, round(v.best_value, 3)
('overfitting', 5, 0.82)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from seglab.errors import ConfigError
from seglab.train.plots import cell_float

Kind = Literal["overfitting", "underfitting", "still improving", "good fit", "too short"]
KINDS: tuple[str, ...] = ("overfitting", "underfitting", "still improving", "good fit", "too short")

MIN_EPOCHS = 3  # fewer validated epochs than this: "too short"
TAIL_FRACTION = 0.2  # "the end" of a run: its last 20 % of validated epochs (at least one)
SCORE_MIN_DELTA = 0.005  # a change in a "max" metric (Dice, IoU in [0, 1]) that counts
LOSS_MIN_DELTA = 0.01  # a change in a "min" metric (a loss) that counts, relative to its size
VAL_LOSS_RISE = 0.10  # val loss this far (relative) above its minimum: overfitting
LOW_SCORE = 0.5  # best Dice (or the max metric) below this is poor...
SMALL_TRAIN_DROP = 0.20  # ...and with train loss down less than this from epoch 0: underfitting

ADVICE = {
    "overfitting": "The best weights are kept; try stronger augmentation (--augment heavy), "
    "fewer epochs or --patience.",
    "underfitting": "The model is not fitting even the training data; try a bigger model, a "
    "higher learning rate or more epochs.",
    "still improving": "Train for more epochs or give it a longer --time-limit.",
    "good fit": "The best weights are kept; more epochs are unlikely to help much.",
    "too short": "Train for more epochs (at least 3 validated ones) to judge the fit.",
}


@dataclass(frozen=True)
class Verdict:
    """What a run's curves say about its fit.

    Attributes
    ----------
    kind:
        ``"overfitting"``, ``"underfitting"``, ``"still improving"``, ``"good fit"`` or
        ``"too short"``.
    monitor:
        The metric judged, e.g. ``"val_dice"``.
    best_epoch:
        The 0-based epoch of the best value (messages count from 1), the first when tied; ``None``
        without validated epochs.
    best_value:
        The best monitored value (``nan`` without validated epochs).
    last_epoch:
        The last epoch in the metrics (validated or not); ``None`` without rows.
    gap:
        The generalisation gap at the best epoch: ``val_loss - train_loss`` (positive when the
        validation loss is above the training loss); ``nan`` when either is missing.
    message:
        One or two sentences for the user: the numbers, the verdict and what to do.
    """

    kind: Kind
    monitor: str
    best_epoch: int | None
    best_value: float
    last_epoch: int | None
    gap: float
    message: str

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (NaN floats become ``None``)."""
        return {
            k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in asdict(self).items()
        }

    def __str__(self) -> str:
        return self.message


def overfitting_verdict(
    rows: Sequence[dict], *, monitor: str = "val_dice", mode: str | None = None
) -> Verdict:
    """Judge a run's fit from its per-epoch metrics.

    Rows whose ``monitor`` cell is missing, empty or NaN (epochs without validation) are left
    out of the monitored curve; "validated epochs" below means the rows that remain. A change of
    the monitored value counts when it exceeds ``0.005`` for a ``"max"`` metric (Dice and IoU
    are in ``[0, 1]``) or 1 % of its size for a ``"min"`` metric (a loss). The "end" of the run
    is its last 20 % of validated epochs (at least the last one). The first rule that applies
    gives the kind:

    1. **too short**: fewer than 3 validated epochs (none at all: the message says so).
    2. **still improving**: the best epoch is at the end and beats the best value before the
       end by more than the change that counts. The message also warns when ``val_loss`` rose
       (rule 3a) or the score is still below 0.5.
    3. **overfitting**: (a) the last ``val_loss`` is more than 10 % above its minimum, reached
       earlier, while ``train_loss`` is lower than it was at that minimum; or (b) the best epoch
       is before the end and the last monitored value is worse than the best by more than the
       change that counts.
    4. **underfitting**: the best Dice is below 0.5 (the monitored value for a ``"max"``
       metric, else the best ``val_dice`` when the rows have one) and the last ``train_loss`` is
       less than 20 % below the first one (when the rows have train losses).
    5. **good fit**: otherwise: the monitored value levelled off at its best without getting
       worse.

    Parameters
    ----------
    rows:
        One dict per epoch with ``epoch`` (0-based; the row's index when missing),
        ``train_loss``, ``val_loss`` and the ``monitor`` column, numbers or numeric strings;
        e.g. from :func:`seglab.train.plots.read_metrics`. Missing columns are allowed.
    monitor:
        The column to judge, e.g. ``"val_dice"``, ``"val_iou"`` or ``"val_loss"``.
    mode:
        ``"max"`` (higher is better) or ``"min"``; ``None`` infers ``"min"`` when the name
        contains ``"loss"``, else ``"max"``.

    Returns
    -------
    Verdict

    Raises
    ------
    ConfigError
        ``mode`` is neither ``"max"``, ``"min"`` nor ``None``.
    """
    mode = _check_mode(monitor, mode)
    curve = _curve(rows, monitor, mode)
    if not curve.valid:
        return curve.verdict(
            "too short",
            f"No validation epochs with {monitor} in the metrics{_rows_note(len(rows))}, so the "
            "fit cannot be judged. Check that the run has a validation split and trains at least "
            "3 epochs.",
        )
    n = len(curve.valid)
    if n < MIN_EPOCHS:
        return curve.verdict(
            "too short", f"{curve.head}, from only {n} validated epoch{'s' * (n > 1)}"
        )
    val_rise = _val_loss_rise(rows)
    low = _low_score(curve.best_value, mode, rows)
    return (
        _still_improving(curve, val_rise, low)
        or _overfitting(curve, val_rise)
        or _underfitting(curve, low, rows)
        or curve.verdict(
            "good fit",
            f"{curve.head}; it levelled off (last {curve.fmt(curve.last_value)} at epoch "
            f"{curve.valid[-1][0] + 1}) without getting worse",
        )
    )


# -- the rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Curve:
    """The monitored curve of a run, as the rules read it.

    ``valid`` holds ``(epoch, value, row)`` of the validated epochs; ``best`` is the index in
    ``valid`` of the first best value (``None`` without validated epochs).
    """

    monitor: str
    mode: str
    valid: list[tuple[int, float, dict]]
    last_epoch: int | None
    best: int | None

    @property
    def sign(self) -> float:
        """``sign * value``: higher is better."""
        return 1.0 if self.mode == "max" else -1.0

    @property
    def values(self) -> list[float]:
        return [value for _, value, _ in self.valid]

    @property
    def best_value(self) -> float:
        return self.valid[self.best][1] if self.best is not None else math.nan

    @property
    def last_value(self) -> float:
        return self.valid[-1][1]

    @property
    def tail(self) -> int:
        """How many validated epochs are "the end" of the run."""
        return max(1, math.ceil(TAIL_FRACTION * len(self.valid)))

    @property
    def at_end(self) -> bool:
        return self.best is not None and self.best >= len(self.valid) - self.tail

    @property
    def head(self) -> str:
        """The first words of every message: the best value and where it was."""
        ran = "" if self.last_epoch is None else f" of {self.last_epoch + 1}"
        best_epoch = self.valid[self.best][0] if self.best is not None else None
        return f"Best {self.monitor} {self.fmt(self.best_value)} at epoch {best_epoch + 1}{ran}"

    def fmt(self, value: float) -> str:
        return _format_score(value) if self.mode == "max" else _format_loss(value)

    def counts(self, change: float, reference: float) -> bool:
        """Whether an improvement ``change`` (> 0 is better) over ``reference`` is real."""
        if self.mode == "max":
            return change > SCORE_MIN_DELTA
        return change > LOSS_MIN_DELTA * max(abs(reference), 1e-12)

    def verdict(self, kind: Kind, what: str, notes: str = "") -> Verdict:
        """The Verdict of ``kind`` at the best epoch; ``what`` states the evidence."""
        if self.best is None:
            return Verdict(kind, self.monitor, None, math.nan, self.last_epoch, math.nan, what)
        epoch, value, row = self.valid[self.best]
        gap = cell_float(row.get("val_loss")) - cell_float(row.get("train_loss"))
        message = f"{what}: {kind}. {ADVICE[kind]}{notes}"
        return Verdict(kind, self.monitor, epoch, value, self.last_epoch, gap, message)


def _check_mode(monitor: str, mode: str | None) -> str:
    if mode is None:
        mode = "min" if "loss" in monitor.lower() else "max"
    if mode not in ("max", "min"):
        raise ConfigError(f"mode must be 'max' or 'min', not {mode!r}")
    return mode


def _curve(rows: Sequence[dict], monitor: str, mode: str) -> _Curve:
    """The validated epochs of ``rows`` (those with a finite ``monitor``) and the best one."""
    epochs = [_epoch(row, i) for i, row in enumerate(rows)]
    valid = [
        (epoch, value, row)
        for epoch, row in zip(epochs, rows, strict=True)
        if math.isfinite(value := cell_float(row.get(monitor)))
    ]
    sign = 1.0 if mode == "max" else -1.0
    best = max(range(len(valid)), key=lambda i: sign * valid[i][1]) if valid else None
    return _Curve(monitor, mode, valid, max(epochs) if epochs else None, best)


def _still_improving(
    curve: _Curve, val_rise: tuple[float, int] | None, low: float | None
) -> Verdict | None:
    """Rule 2: the best epoch is at the end and clearly beats the best before it."""
    if not curve.at_end:
        return None
    values, sign = curve.values, curve.sign
    before = max(values[: len(values) - curve.tail], key=lambda v: sign * v)
    gain = sign * (curve.best_value - before)
    if not curve.counts(gain, before):
        return None
    notes = ""
    if val_rise is not None:
        notes += (
            f" Val loss is {val_rise[0]:.0f} % above its minimum at epoch "
            f"{val_rise[1] + 1} though: watch for overfitting."
        )
    if low is not None:
        notes += (
            f" Dice is still low ({low:.3f}); if it levels off below {LOW_SCORE}, try a "
            "bigger model or a higher learning rate."
        )
    what = (
        f"{curve.head}, {curve.fmt(gain)} better than before the last {curve.tail} validated epochs"
    )
    return curve.verdict("still improving", what, notes)


def _overfitting(curve: _Curve, val_rise: tuple[float, int] | None) -> Verdict | None:
    """Rule 3: the val loss rose from its minimum (a), or the monitored value fell back (b)."""
    if val_rise is not None:
        pct, min_epoch = val_rise
        return curve.verdict(
            "overfitting",
            f"{curve.head}; val loss rose {pct:.0f} % from its minimum at epoch {min_epoch + 1} "
            "while train loss kept falling",
        )
    last_value = curve.last_value
    if not curve.at_end and curve.counts(curve.sign * (curve.best_value - last_value), last_value):
        return curve.verdict(
            "overfitting",
            f"{curve.head}; {curve.monitor} has {'fallen' if curve.mode == 'max' else 'risen'} "
            f"back to {curve.fmt(last_value)} by epoch {curve.valid[-1][0] + 1}",
        )
    return None


def _underfitting(curve: _Curve, low: float | None, rows: Sequence[dict]) -> Verdict | None:
    """Rule 4: a low best Dice while the train loss hardly fell."""
    if low is None:
        return None
    drop = _train_drop(rows)
    if drop is None or drop < SMALL_TRAIN_DROP:
        train = "" if drop is None else f" and train loss fell only {100 * drop:.0f} % from epoch 1"
        score = "" if curve.mode == "max" else f" (best val_dice {low:.3f})"
        return curve.verdict("underfitting", f"{curve.head}{score}{train}")
    return None


# -- helpers -------------------------------------------------------------------------------------


def _epoch(row: dict, index: int) -> int:
    epoch = cell_float(row.get("epoch"))
    return int(epoch) if math.isfinite(epoch) else index


def _format_score(value: float) -> str:
    return f"{value:.3f}"


def _format_loss(value: float) -> str:
    return f"{value:.4g}"


def _rows_note(n: int) -> str:
    return f" ({n} epoch{'s' * (n != 1)} logged)" if n else " (no epochs logged)"


def _val_loss_rise(rows: Sequence[dict]) -> tuple[float, int] | None:
    """``(percent, epoch of the minimum)`` when the last val loss is > 10 % above an earlier
    minimum and train loss is lower than it was at that minimum; else ``None``."""
    points = [
        (_epoch(row, i), cell_float(row.get("val_loss")), cell_float(row.get("train_loss")))
        for i, row in enumerate(rows)
    ]
    points = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    if len(points) < MIN_EPOCHS:
        return None
    low = min(range(len(points)), key=lambda i: points[i][1])
    (min_epoch, v_min, t_at_min), (_, v_last, t_last) = points[low], points[-1]
    if low == len(points) - 1 or t_last >= t_at_min:
        return None
    rise = (v_last - v_min) / max(abs(v_min), 1e-12)
    return (100 * rise, min_epoch) if rise > VAL_LOSS_RISE else None


def _low_score(best_value: float, mode: str, rows: Sequence[dict]) -> float | None:
    """The best Dice-like score when it is below :data:`LOW_SCORE`, else ``None``."""
    if mode == "max":
        score = best_value
    else:
        dice = [v for row in rows if math.isfinite(v := cell_float(row.get("val_dice")))]
        if not dice:
            return None
        score = max(dice)
    return score if score < LOW_SCORE else None


def _train_drop(rows: Sequence[dict]) -> float | None:
    """How far (relative) the last train loss is below the first; ``None`` when unknown."""
    train = [v for row in rows if math.isfinite(v := cell_float(row.get("train_loss")))]
    if len(train) < 2 or train[0] == 0:
        return None
    return (train[0] - train[-1]) / abs(train[0])
