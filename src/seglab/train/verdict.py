"""A plain-words verdict on a finished run's curves: overfitting, unstable, still improving...

:func:`overfitting_verdict` reads the per-epoch rows of a run's ``metrics.csv`` (as returned by
:func:`seglab.train.plots.read_metrics`) and returns a :class:`Verdict`: which kind of fit the
curves show, the best epoch of the monitored metric, and a one- or two-sentence message with the
numbers and what to do next. A drop of the val score is weighed against the noise of the
validation set (the standard error of its per-image scores) and against the loss curves before
it is called overfitting (the statistics: :mod:`seglab.train.noise`). The rules are in
:func:`overfitting_verdict`'s docstring.

>>> rows = [
...     {"epoch": e, "train_loss": 1.0 - 0.04 * e, "val_loss": 0.6 + 0.02 * abs(e - 6),
...      "val_dice": 0.82 - 0.01 * abs(e - 6), "val_dice_sd": 0.1}
...     for e in range(1, 21)
... ]
>>> v = overfitting_verdict(rows, num_val=50)
>>> v.kind, v.best_epoch, round(v.best_value, 3)
('overfitting', 6, 0.82)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal, get_args

from seglab.core.checks import check_choice
from seglab.errors import ConfigError
from seglab.train.noise import band, epoch_noise, jitter, max_standard_error, standard_error
from seglab.train.plots import cell_float

Kind = Literal[
    "overfitting",
    "unstable",
    "too small to tell",
    "underfitting",
    "still improving",
    "good fit",
    "too short",
]
KINDS: tuple[str, ...] = get_args(Kind)

MIN_EPOCHS = 3  # fewer validated epochs than this: "too short"
TAIL_FRACTION = 0.2  # "the end" of a run: its last 20 % of validated epochs (at least one)
SCORE_MIN_DELTA = 0.005  # a change in a "max" metric (Dice, IoU in [0, 1]) that counts
LOSS_MIN_DELTA = 0.01  # a change in a "min" metric (a loss) that counts, relative to its size
VAL_LOSS_RISE = 0.10  # val loss this far (relative) above its minimum: overfitting
LOW_SCORE = 0.5  # best Dice (or the max metric) below this is poor...
SMALL_TRAIN_DROP = 0.20  # ...with train loss down less than this over the run: underfitting
TOO_NOISY = 0.05  # a val score with an SE above this (a band of over ±0.2) is too noisy to judge
COLLAPSE_SCORE = 0.1  # Dice fallen below this, by at least this much from its best: collapsed...
COLLAPSE_TRAIN_DROP = 0.5  # ...while train loss is down less than this from the first epoch

ADVICE = {
    "overfitting": "The best weights are kept; try stronger augmentation (--augment heavy), "
    "fewer epochs or --patience.",
    "unstable": "Try a lower learning rate (--lr) or a warmup (--scheduler-option "
    "warmup_epochs=2), and check the masks and the class balance (e.g. --loss-option "
    "pos_weight=3).",
    "too small to tell": "Validate on more images (a bigger val split, or --val-fraction "
    "without one) to tell a real drop from noise; the best weights are kept meanwhile.",
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
        One of :data:`KINDS`: ``"overfitting"``, ``"unstable"``, ``"too small to tell"``,
        ``"underfitting"``, ``"still improving"``, ``"good fit"`` or ``"too short"``.
    monitor:
        The metric judged, e.g. ``"val_dice"``.
    best_epoch:
        The epoch of the best value as the rows number it (their ``epoch`` column, which counts
        from 1), the first when tied; ``None`` without validated epochs.
    best_value:
        The best monitored value (``nan`` without validated epochs).
    last_epoch:
        The last epoch in the metrics (validated or not), as the rows number it; ``None``
        without rows.
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
    rows: Sequence[dict],
    *,
    monitor: str = "val_dice",
    mode: str | None = None,
    num_val: int | None = None,
) -> Verdict:
    """Judge a run's fit from its per-epoch metrics.

    Rows whose ``monitor`` cell is missing, empty or NaN (epochs without validation) are left
    out of the monitored curve; "validated epochs" below means the rows that remain. The "end"
    of the run is its last 20 % of validated epochs (at least the last one). Epochs are
    reported as the rows number them.

    **Noise.** The standard error (SE) of the monitored value at an epoch is
    ``<monitor>_sd / sqrt(num_val)`` when the row has a finite ``<monitor>_sd`` column (e.g.
    ``val_dice_sd``, the spread of the per-image scores) and ``num_val`` is given. Without the
    spread, a ``"max"`` score ``v`` in ``[0, 1]`` gets ``sqrt(v * (1 - v) / num_val)``: the
    largest spread any scores in ``[0, 1]`` with mean ``v`` can have (Bhatia-Davis), so a
    missing spread makes the verdict more cautious, never less. The noise of an epoch
    is the larger of its SE and the curve's own jitter (from the median second difference of
    the validated values, with at least 7 of them; none otherwise), which also stands alone
    when ``num_val`` is unknown. A difference between two epochs is real when it exceeds
    ``3 * sqrt(noise_a**2 + noise_b**2)`` (its "band"; as if the two errors were independent,
    which errs on the cautious side for two epochs scored on the same images) as well as the
    change that counts:
    ``0.005`` for a ``"max"`` metric (Dice and IoU are in ``[0, 1]``), 1 % of its size for a
    ``"min"`` metric (a loss). A loss rise is real beyond 1 % and the loss curve's own jitter.

    The first rule that applies gives the kind:

    1. **too short**: fewer than 3 validated epochs (none at all: the message says so).
    2. **unstable** (collapse): the last Dice (the monitored value for a ``"max"`` metric,
       else ``val_dice``) is below 0.1 and at least 0.1 below its best, while train loss is
       down less than 50 % from the first epoch (or unknown): the model fell back to predicting
       one class, not overfitting.
    3. **still improving**: the best epoch is at the end and beats the best value before the
       end by more than the change that counts and ``3 * sqrt(2)`` times the curve's jitter
       (not the val set's SE: a trend over the last epochs is on the same images). The message
       also warns when ``val_loss`` rose (rule 4a) or the score is still below 0.5.
    4. **overfitting**: (a) the last ``val_loss`` is more than 10 % (and beyond its jitter)
       above its minimum, reached earlier, while ``train_loss`` is lower than it was at that
       minimum; or (b) the best epoch is before the end, the last value is worse than the best
       beyond the band, and the losses agree: from the best epoch to the last, ``train_loss``
       fell while ``val_loss`` rose beyond its noise (with no losses in the rows, the score
       alone decides).
    5. **unstable** (drop): as 4b, but the losses do not agree (train loss did not fall, or
       val loss did not rise): the score moved without the loss signature of overfitting.
    6. **too small to tell**: the last value is worse than the best by more than the change
       that counts but within the band, and ``num_val`` is known with an SE at the best epoch
       above 0.05 (5 % of the best value for a ``"min"`` metric): the validation set cannot
       tell a real drop from noise.
    7. **underfitting**: the best Dice is below 0.5 (the monitored value for a ``"max"``
       metric, else the best ``val_dice`` when the rows have one) and the last ``train_loss`` is
       less than 20 % below the first one (when the rows have train losses).
    8. **good fit**: otherwise: the monitored value levelled off at its best, a drop within the
       noise included (the message gives the band).

    Parameters
    ----------
    rows:
        One dict per epoch with ``epoch`` (counting from 1; the row's position from 1 when
        missing), ``train_loss``, ``val_loss``, the ``monitor`` column and optionally
        ``<monitor>_sd``, numbers or numeric strings; e.g. from
        :func:`seglab.train.plots.read_metrics`. Missing columns are allowed.
    monitor:
        The column to judge, e.g. ``"val_dice"``, ``"val_iou"`` or ``"val_loss"``.
    mode:
        ``"max"`` (higher is better) or ``"min"``; ``None`` infers ``"min"`` when the name
        contains ``"loss"``, else ``"max"``.
    num_val:
        Images per validation; ``None`` when unknown (the curve's jitter is the noise).

    Returns
    -------
    Verdict

    Raises
    ------
    ConfigError
        ``mode`` is neither ``"max"``, ``"min"`` nor ``None``, or ``num_val`` is not a whole
        number of at least 1.
    """
    mode = _check_mode(monitor, mode)
    curve = _curve(rows, monitor, mode, _check_num_val(num_val))
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
    drop = _drop(curve)
    within = "" if drop is None else f"; {drop.fell} is within {drop.noise_words}"
    return (
        _collapse(curve, rows)
        or _still_improving(curve, val_rise, low)
        or _overfitting_or_unstable(curve, val_rise, drop)
        or _too_small(curve, drop)
        or _underfitting(curve, low, rows, within)
        or curve.verdict(
            "good fit",
            f"{curve.head}; it levelled off (last {curve.fmt(curve.last_value)} at epoch "
            f"{curve.valid[-1][0]}){within}",
        )
    )


# -- the curve and its noise ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Curve:
    """The monitored curve of a run, as the rules read it.

    ``valid`` holds ``(epoch, value, row)`` of the validated epochs; ``best`` is the index in
    ``valid`` of the first best value (``None`` without validated epochs); ``jitter`` is the
    curve's own epoch-to-epoch noise (0 when too short to say).
    """

    monitor: str
    mode: str
    valid: list[tuple[int, float, dict]]
    last_epoch: int | None
    best: int | None
    num_val: int | None
    jitter: float

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
        ran = "" if self.last_epoch is None else f" of {self.last_epoch}"
        best_epoch = self.valid[self.best][0] if self.best is not None else None
        return f"Best {self.monitor} {self.fmt(self.best_value)} at epoch {best_epoch}{ran}"

    def fmt(self, value: float) -> str:
        return _format_score(value) if self.mode == "max" else _format_loss(value)

    def counts(self, change: float, reference: float) -> bool:
        """Whether an improvement ``change`` (> 0 is better) over ``reference`` is real."""
        if self.mode == "max":
            return change > SCORE_MIN_DELTA
        return change > LOSS_MIN_DELTA * max(abs(reference), 1e-12)

    def se(self, i: int) -> tuple[float, bool]:
        """``(standard error, measured)`` of ``valid[i]``'s value from ``num_val`` images:
        from the logged per-image spread (measured), else the largest spread a ``[0, 1]``
        score can have; ``nan`` when neither applies."""
        if self.num_val is None:
            return math.nan, False
        _, value, row = self.valid[i]
        sd = cell_float(row.get(f"{self.monitor}_sd"))
        if math.isfinite(sd):
            return standard_error(sd, self.num_val), True
        if self.mode == "max":
            return max_standard_error(value, self.num_val), False
        return math.nan, False

    def noise(self, i: int) -> float:
        """The noise of ``valid[i]``'s value: the larger of its SE and the curve's jitter."""
        return epoch_noise(self.se(i)[0], self.jitter)

    def verdict(self, kind: Kind, what: str, notes: str = "") -> Verdict:
        """The Verdict of ``kind`` at the best epoch; ``what`` states the evidence."""
        if self.best is None:
            return Verdict(kind, self.monitor, None, math.nan, self.last_epoch, math.nan, what)
        epoch, value, row = self.valid[self.best]
        gap = cell_float(row.get("val_loss")) - cell_float(row.get("train_loss"))
        message = f"{what}: {kind}. {ADVICE[kind]}{notes}"
        return Verdict(kind, self.monitor, epoch, value, self.last_epoch, gap, message)


@dataclass(frozen=True)
class _Drop:
    """How much worse the last value is than the best (``size`` > 0), against its ``band``."""

    size: float
    band: float
    fell: str  # e.g. "the 0.034 fall of val_dice from its best"
    noise_words: str  # e.g. "the noise of 50 val images (±0.125)"
    too_noisy: bool  # the val set's SE alone is too large to resolve a drop

    @property
    def real(self) -> bool:
        return self.size > self.band


def _check_mode(monitor: str, mode: str | None) -> str:
    if mode is None:
        mode = "min" if "loss" in monitor.lower() else "max"
    return check_choice("mode", mode, ("max", "min"))


def _check_num_val(num_val: object) -> int | None:
    if num_val is None:
        return None
    if isinstance(num_val, bool) or not isinstance(num_val, int | float):
        raise ConfigError(f"num_val={num_val!r} must be a whole number of at least 1 (or None)")
    if int(num_val) != num_val or num_val < 1:
        raise ConfigError(f"num_val={num_val} must be a whole number of at least 1 (or None)")
    return int(num_val)


def _curve(rows: Sequence[dict], monitor: str, mode: str, num_val: int | None) -> _Curve:
    """The validated epochs of ``rows`` (those with a finite ``monitor``) and the best one."""
    epochs = [_epoch(row, i) for i, row in enumerate(rows)]
    valid = [
        (epoch, value, row)
        for epoch, row in zip(epochs, rows, strict=True)
        if math.isfinite(value := cell_float(row.get(monitor)))
    ]
    sign = 1.0 if mode == "max" else -1.0
    best = max(range(len(valid)), key=lambda i: sign * valid[i][1]) if valid else None
    last = max(epochs) if epochs else None
    return _Curve(monitor, mode, valid, last, best, num_val, jitter([v for _, v, _ in valid]))


def _drop(curve: _Curve) -> _Drop | None:
    """The last value's fall from the best, when the best is before the end and the fall
    exceeds the change that counts; ``None`` otherwise."""
    if curve.best is None or curve.at_end:
        return None
    size = curve.sign * (curve.best_value - curve.last_value)
    if not curve.counts(size, curve.last_value):
        return None
    last = len(curve.valid) - 1
    width = band(curve.noise(curve.best), curve.noise(last))
    se, measured = curve.se(curve.best)
    if math.isfinite(se) and se >= curve.jitter:
        spread = "" if measured else "up to "
        why = "" if measured else f"; their per-image {curve.monitor} spread was not logged"
        words = f"the noise of {curve.num_val} val images ({spread}±{curve.fmt(width)}{why})"
    elif width > 0:
        words = f"the curve's own epoch-to-epoch noise (±{curve.fmt(width)})"
    else:
        words = "any noise measurable here (no val image count, no epoch-to-epoch jitter)"
    scale = 1.0 if curve.mode == "max" else abs(curve.best_value)
    way = "fall" if curve.mode == "max" else "rise"
    fell = f"the {curve.fmt(size)} {way} of {curve.monitor} from its best"
    return _Drop(size, width, fell, words, math.isfinite(se) and se > TOO_NOISY * scale)


# -- the rules -----------------------------------------------------------------------------------


def _collapse(curve: _Curve, rows: Sequence[dict]) -> Verdict | None:
    """Rule 2: Dice fell to about 0 while the train loss is still high."""
    name = curve.monitor if curve.mode == "max" else "val_dice"
    points = [
        (_epoch(row, i), v)
        for i, row in enumerate(rows)
        if math.isfinite(v := cell_float(row.get(name)))
    ]
    dice = [v for _, v in points]
    if len(dice) < MIN_EPOCHS or not (dice[-1] < COLLAPSE_SCORE <= max(dice) - dice[-1]):
        return None
    drop = _train_drop(rows)
    if drop is not None and drop[0] >= COLLAPSE_TRAIN_DROP:
        return None
    train = (
        ""
        if drop is None
        else f" while train loss fell only {100 * drop[0]:.0f} % from epoch {drop[1]}"
    )
    return curve.verdict(
        "unstable",
        f"{curve.head}; {name} collapsed from {max(dice):.3f} to {dice[-1]:.3f} by epoch "
        f"{points[-1][0]}{train}, the mark of a model predicting (almost) only one class",
    )


def _still_improving(
    curve: _Curve, val_rise: tuple[float, int] | None, low: float | None
) -> Verdict | None:
    """Rule 3: the best epoch is at the end and clearly beats the best before it."""
    if not curve.at_end:
        return None
    values, sign = curve.values, curve.sign
    before = max(values[: len(values) - curve.tail], key=lambda v: sign * v)
    gain = sign * (curve.best_value - before)
    # Only the curve's jitter here, not the val set's SE: the advice (train longer) is cheap
    # to follow and harmless when wrong, and a trend over the last epochs is on the same images.
    if not curve.counts(gain, before) or gain <= band(curve.jitter, curve.jitter):
        return None
    notes = ""
    if val_rise is not None:
        notes += (
            f" Val loss is {val_rise[0]:.0f} % above its minimum at epoch "
            f"{val_rise[1]} though: watch for overfitting."
        )
    if low is not None:
        notes += (
            f" {_score_name(curve)} is still low ({low:.3f}); if it levels off below "
            f"{LOW_SCORE}, try a "
            "bigger model or a higher learning rate."
        )
    what = (
        f"{curve.head}, {curve.fmt(gain)} better than before the last {curve.tail} validated epochs"
    )
    return curve.verdict("still improving", what, notes)


def _overfitting_or_unstable(
    curve: _Curve, val_rise: tuple[float, int] | None, drop: _Drop | None
) -> Verdict | None:
    """Rules 4 and 5: the val loss rose from its minimum (4a), or the score fell beyond its
    noise, with the losses agreeing (4b) or not (5)."""
    if val_rise is not None:
        pct, min_epoch = val_rise
        return curve.verdict(
            "overfitting",
            f"{curve.head}; val loss rose {pct:.0f} % from its minimum at epoch {min_epoch} "
            "while train loss kept falling",
        )
    if drop is None or not drop.real:
        return None
    last_epoch, _, last_row = curve.valid[-1]
    best_epoch, _, best_row = curve.valid[curve.best]  # type: ignore[index]
    fell = f"{curve.head}; {drop.fell} to {curve.fmt(curve.last_value)} at epoch {last_epoch} is"
    losses = _loss_change(best_row, last_row, jitter(_column(curve.valid, "val_loss")))
    if losses is None:
        return curve.verdict("overfitting", f"{fell} beyond {drop.noise_words}")
    train_fell, val_rose, words = losses
    if train_fell and val_rose:
        return curve.verdict(
            "overfitting",
            f"{fell} beyond {drop.noise_words}, while {words} since epoch {best_epoch}",
        )
    return curve.verdict(
        "unstable",
        f"{fell} beyond {drop.noise_words}, but the losses do not show overfitting ({words} "
        f"since epoch {best_epoch})",
    )


def _too_small(curve: _Curve, drop: _Drop | None) -> Verdict | None:
    """Rule 6: a drop within the noise of a val set too small to resolve it."""
    if drop is None or drop.real or not drop.too_noisy:
        return None
    return curve.verdict(
        "too small to tell",
        f"{curve.head}; {drop.fell} to {curve.fmt(curve.last_value)} at epoch "
        f"{curve.valid[-1][0]} is within {drop.noise_words}",
    )


def _underfitting(
    curve: _Curve, low: float | None, rows: Sequence[dict], within: str
) -> Verdict | None:
    """Rule 7: a low best Dice while the train loss hardly fell."""
    if low is None:
        return None
    drop = _train_drop(rows)
    if drop is None or drop[0] < SMALL_TRAIN_DROP:
        train = (
            ""
            if drop is None
            else f" and train loss fell only {100 * drop[0]:.0f} % from epoch {drop[1]}"
        )
        score = "" if curve.mode == "max" else f" (best val_dice {low:.3f})"
        return curve.verdict("underfitting", f"{curve.head}{score}{train}{within}")
    return None


# -- helpers -------------------------------------------------------------------------------------


def _epoch(row: dict, index: int) -> int:
    """The row's ``epoch`` as-is; its position counting from 1 when missing."""
    epoch = cell_float(row.get("epoch"))
    return int(epoch) if math.isfinite(epoch) else index + 1


def _format_score(value: float) -> str:
    return f"{value:.3f}"


def _format_loss(value: float) -> str:
    return f"{value:.4g}"


def _rows_note(n: int) -> str:
    return f" ({n} epoch{'s' * (n != 1)} logged)" if n else " (no epochs logged)"


def _column(valid: Sequence[tuple[int, float, dict]], key: str) -> list[float]:
    """The finite values of ``key`` over the validated rows."""
    return [v for _, _, row in valid if math.isfinite(v := cell_float(row.get(key)))]


def _loss_change(best: dict, last: dict, val_jitter: float) -> tuple[bool, bool, str] | None:
    """``(train loss fell, val loss rose beyond its noise, words)`` from the best row to the
    last; ``None`` when either row lacks a loss."""
    t0, t1 = cell_float(best.get("train_loss")), cell_float(last.get("train_loss"))
    v0, v1 = cell_float(best.get("val_loss")), cell_float(last.get("val_loss"))
    if not all(math.isfinite(x) for x in (t0, t1, v0, v1)):
        return None
    train_fell = t0 - t1 > LOSS_MIN_DELTA * abs(t0)
    val_rose = v1 - v0 > max(LOSS_MIN_DELTA * abs(v0), band(val_jitter, val_jitter))
    words = (
        f"train loss went {_format_loss(t0)} → {_format_loss(t1)} and val loss "
        f"{_format_loss(v0)} → {_format_loss(v1)}"
    )
    return train_fell, val_rose, words


def _val_loss_rise(rows: Sequence[dict]) -> tuple[float, int] | None:
    """``(percent, epoch of the minimum)`` when the last val loss is > 10 % above an earlier
    minimum, beyond the val loss curve's jitter, and train loss is lower than it was at that
    minimum; else ``None``."""
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
    val_jitter = jitter([p[1] for p in points])
    if v_last - v_min <= band(val_jitter, val_jitter):
        return None
    rise = (v_last - v_min) / max(abs(v_min), 1e-12)
    return (100 * rise, min_epoch) if rise > VAL_LOSS_RISE else None


def _score_name(curve: _Curve) -> str:
    """What the low score is called: the monitored metric, or Dice under a loss monitor."""
    return "Dice" if curve.mode != "max" or curve.monitor == "val_dice" else curve.monitor


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


def _train_drop(rows: Sequence[dict]) -> tuple[float, int] | None:
    """``(fraction, first epoch)``: how far (relative) the last train loss is below the first
    one, and the epoch of that first one; ``None`` when unknown."""
    train = [
        (v, _epoch(row, i))
        for i, row in enumerate(rows)
        if math.isfinite(v := cell_float(row.get("train_loss")))
    ]
    if len(train) < 2 or train[0][0] == 0:
        return None
    return (train[0][0] - train[-1][0]) / abs(train[0][0]), train[0][1]
