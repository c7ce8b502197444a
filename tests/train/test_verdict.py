"""Known verdicts on hand-made curves: overfitting, unstable, too small to tell, still improving,
underfitting, good fit... Epochs count from 1, as in metrics.csv."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import typing

import pytest

from seglab.errors import ConfigError
from seglab.train.verdict import ADVICE, KINDS, Kind, Verdict, overfitting_verdict


def _overfitting(n: int = 20) -> list[dict]:
    """Train loss falls steadily, val loss is U-shaped (minimum at 6), val Dice peaks at 6."""
    return [
        {
            "epoch": e,
            "lr": 1e-3,
            "train_loss": 0.85**e,
            "val_loss": 0.5 + 0.01 * (e - 6) ** 2,
            "val_dice": 0.82 - 0.01 * abs(e - 6),
        }
        for e in range(1, n + 1)
    ]


def _improving(n: int = 20) -> list[dict]:
    """Everything still getting better at the last epoch."""
    return [
        {
            "epoch": e,
            "train_loss": 0.1 + math.exp(-(e - 1) / 6),
            "val_loss": 0.15 + math.exp(-(e - 1) / 6),
            "val_dice": 0.9 * (1 - math.exp(-e / 6)),
        }
        for e in range(1, n + 1)
    ]


def _flat_poor(n: int = 20) -> list[dict]:
    """A model that learns nothing: Dice ~0.12, losses barely move."""
    return [
        {
            "epoch": e,
            "train_loss": 0.70 - 0.001 * e,
            "val_loss": 0.71 + 0.001 * (-1) ** e,
            "val_dice": 0.12 + 0.002 * (-1) ** e,
        }
        for e in range(1, n + 1)
    ]


def _plateau(n: int = 20) -> list[dict]:
    """Quick rise to Dice 0.9 by epoch 6, then a flat plateau with tiny noise."""
    return [
        {
            "epoch": i + 1,
            "train_loss": 0.1 + 0.5 * math.exp(-i / 2),
            "val_loss": 0.15 + 0.5 * math.exp(-i / 2) + 0.001 * (-1) ** i,
            "val_dice": 0.9 * (1 - math.exp(-i)) + 0.001 * (-1) ** i
            if i < 5
            else 0.9 + 0.001 * (-1) ** i,
        }
        for i in range(n)
    ]


def test_classic_overfitting_curve():
    v = overfitting_verdict(_overfitting())
    assert v.kind == "overfitting"
    assert (v.monitor, v.best_epoch, v.last_epoch) == ("val_dice", 6, 20)  # the rows' epochs
    assert v.best_value == pytest.approx(0.82)
    assert v.gap == pytest.approx(0.5 - 0.85**6)  # val_loss - train_loss at the best epoch
    assert "0.820" in v.message and "epoch 6 of 20" in v.message  # epochs printed as-is
    assert "--augment heavy" in v.message


def test_overfitting_from_the_score_alone_without_losses():
    rows = [{"epoch": r["epoch"], "val_dice": r["val_dice"]} for r in _overfitting()]
    v = overfitting_verdict(rows)
    assert (v.kind, v.best_epoch) == ("overfitting", 6)
    assert "0.680" in v.message  # the value it fell back to by the last epoch
    assert "no val image count, no epoch-to-epoch jitter" in v.message  # a smooth curve
    assert math.isnan(v.gap)


def test_overfitting_from_val_loss_rising_while_dice_plateaus():
    rows = _plateau()
    for r in rows:  # val loss creeps up 2 % an epoch after epoch 8, train loss keeps falling
        r["val_loss"] = 0.2 * (1 + 0.02 * max(0, r["epoch"] - 9))
    v = overfitting_verdict(rows)
    assert v.kind == "overfitting"
    assert "val loss rose 22 %" in v.message


def test_monotonically_improving_curve_is_still_improving():
    v = overfitting_verdict(_improving())
    assert v.kind == "still improving"
    assert v.best_epoch == 20 == v.last_epoch
    assert v.best_value == pytest.approx(0.9 * (1 - math.exp(-20 / 6)))
    assert "--time-limit" in v.message


def test_still_improving_warns_when_dice_is_low():
    rows = _improving()
    for r in rows:
        r["val_dice"] *= 0.4
        r["train_loss"] = 1.0 - 0.005 * r["epoch"]
    v = overfitting_verdict(rows)
    assert v.kind == "still improving"  # more epochs first, then a bigger model
    assert "still low" in v.message


def test_flat_poor_curves_are_underfitting():
    v = overfitting_verdict(_flat_poor())
    assert v.kind == "underfitting"
    assert v.best_value == pytest.approx(0.122)
    assert "bigger model" in v.message and "fell only 3 % from epoch 1" in v.message


def test_low_dice_with_train_loss_falling_a_lot_is_not_underfitting():
    rows = _flat_poor()
    for r in rows:
        r["train_loss"] = 0.7 * 0.8 ** r["epoch"]
    assert overfitting_verdict(rows).kind == "good fit"


def test_plateau_at_a_good_value_is_a_good_fit():
    v = overfitting_verdict(_plateau())
    assert v.kind == "good fit"
    assert v.best_value == pytest.approx(0.901)
    assert "levelled off" in v.message


def test_two_epochs_are_too_short():
    v = overfitting_verdict(_improving(2))
    assert v.kind == "too short"
    assert (v.best_epoch, v.last_epoch) == (2, 2)
    assert "only 2 validated epochs" in v.message


@pytest.mark.parametrize("rows", [[], [{"epoch": 1, "train_loss": 0.5, "val_dice": math.nan}]])
def test_no_validation_is_too_short(rows):
    v = overfitting_verdict(rows)
    assert v.kind == "too short"
    assert v.best_epoch is None and math.isnan(v.best_value)
    assert "No validation epochs" in v.message


def test_monitor_val_loss_picks_the_minimum():
    v = overfitting_verdict(_overfitting(), monitor="val_loss")
    assert (v.kind, v.monitor, v.best_epoch) == ("overfitting", "val_loss", 6)
    assert v.best_value == pytest.approx(0.5)
    # mode="max" on a loss picks the worst epoch instead: the mode is honoured
    assert overfitting_verdict(_overfitting(), monitor="val_loss", mode="max").best_epoch == 20


def test_monitor_val_loss_on_an_improving_run():
    v = overfitting_verdict(_improving(), monitor="val_loss")
    assert (v.kind, v.best_epoch) == ("still improving", 20)


def test_nan_rows_are_skipped():
    rows = _overfitting()
    for r in rows:
        if r["epoch"] % 2:  # validation every other epoch; the others logged as NaN or ""
            r["val_dice"] = math.nan if r["epoch"] % 4 == 1 else ""
            r["val_loss"] = math.nan
    rows[7]["val_dice"] = 0.83  # epoch 8 beats the peak at 6
    v = overfitting_verdict(rows)
    assert (v.kind, v.best_epoch) == ("overfitting", 8)
    assert v.best_value == pytest.approx(0.83)


def test_nan_rows_do_not_count_towards_the_minimum_epochs():
    rows = _improving(5)
    for r in rows[1:4]:
        r["val_dice"] = math.nan
    assert overfitting_verdict(rows).kind == "too short"


def test_rows_from_csv_strings_and_missing_epoch():
    rows = [{k: str(v) for k, v in r.items() if k != "epoch"} for r in _overfitting()]
    v = overfitting_verdict(rows)  # without an epoch column, rows count from 1
    assert (v.kind, v.best_epoch, v.last_epoch) == ("overfitting", 6, 20)


def test_epochs_are_used_as_the_rows_number_them():
    rows = [dict(r, epoch=r["epoch"] + 30) for r in _overfitting()]  # e.g. a resumed run
    v = overfitting_verdict(rows)
    assert (v.best_epoch, v.last_epoch) == (36, 50)
    assert "epoch 36 of 50" in v.message and "minimum at epoch 36" in v.message


def _noise_only(seed: int, *, num_val: int = 50, sd: float = 0.25) -> list[dict]:
    """A flat true Dice of 0.6 plus per-epoch noise within the SE of ``num_val`` images; train
    loss falling slowly, val loss 0.0007 above it."""
    rng = random.Random(seed)
    se = sd / math.sqrt(num_val)
    rows = []
    for e in range(1, 21):
        train = 0.40 - 0.001 * e
        rows.append(
            {
                "epoch": e,
                "train_loss": train,
                "val_loss": train + 0.0007 + rng.uniform(-0.001, 0.001),
                "val_dice": 0.6 + rng.uniform(-se, se),
                "val_dice_sd": sd,
            }
        )
    return rows


def _wobble(*, log_sd: bool = True) -> list[dict]:
    """The issue's run: val Dice 0.508 at epoch 8, 0.474 at the last (12), gap 0.0007."""
    dice = [0.30, 0.38, 0.43, 0.46, 0.48, 0.49, 0.50, 0.508, 0.49, 0.50, 0.485, 0.474]
    rows = []
    for e, d in enumerate(dice, start=1):
        train = 0.60 - 0.01 * e
        row = {"epoch": e, "train_loss": train, "val_loss": train + 0.0007, "val_dice": d}
        if log_sd:
            row["val_dice_sd"] = 0.25
        rows.append(row)
    return rows


def _collapse(dice: list[float]) -> list[dict]:
    """Dice after the first epoch falls to about 0 on 6 val images; train loss still high."""
    return [
        {
            "epoch": e,
            "train_loss": 0.95 - 0.005 * e,
            "val_loss": 0.97 + 0.002 * e,
            "val_dice": d,
            "val_dice_sd": 0.2 if d > 0.1 else 0.05 * d,
        }
        for e, d in enumerate(dice, start=1)
    ]


def _diverging(val_loss_rise: float, *, train_after: str = "falls") -> list[dict]:
    """Val Dice peaks at epoch 6 (0.82) and falls 0.015 an epoch (noise within the SE of 50
    images, sd 0.15); val loss has its minimum at 6, then rises ``val_loss_rise`` by epoch 20.
    Train loss falls steadily, or (``train_after="rises"``) climbs after epoch 6."""
    rng = random.Random(1)
    se = 0.15 / math.sqrt(50)
    rows = []
    for e in range(1, 21):
        after = max(0, e - 6)
        if train_after == "falls":
            train = 0.6 * 0.9**e
            val = 0.30 + 0.02 * max(0, 6 - e) + 0.30 * val_loss_rise * after / 14
        else:  # the whole run getting worse: train and val loss rising together
            train = 0.6 * 0.9 ** min(e, 6) * (1 + 0.03 * after)
            val = train + 0.01
        rows.append(
            {
                "epoch": e,
                "train_loss": train,
                "val_loss": val,
                "val_dice": 0.82
                - 0.03 * max(0, 6 - e)
                - 0.015 * after
                + rng.uniform(-se, se) * (after > 0),
                "val_dice_sd": 0.15,
            }
        )
    return rows


@pytest.mark.parametrize("seed", range(20))
def test_noise_only_curves_are_not_overfitting(seed):
    rows = _noise_only(seed)
    v = overfitting_verdict(rows, num_val=50)
    assert v.kind == "good fit", v.message
    # without the image count, the curve's own jitter is the noise: still not overfitting
    assert overfitting_verdict(rows).kind != "overfitting"


def test_the_issues_wobble_on_50_images_is_within_the_noise():
    v = overfitting_verdict(_wobble(), num_val=50)
    assert (v.kind, v.best_epoch, v.best_value) == ("good fit", 8, 0.508)
    assert v.gap == pytest.approx(0.0007)
    # SE 0.25 / sqrt(50) at both epochs: a band of 3 * sqrt(2) * 0.0354 = 0.150
    assert "the 0.034 fall of val_dice from its best" in v.message
    assert "within the noise of 50 val images (±0.150)" in v.message
    assert "--augment" not in v.message


def test_the_issues_wobble_without_the_spread_or_the_count():
    # without val_dice_sd, the largest spread scores with means 0.508 and 0.474 can have
    # stands in (sqrt(v * (1 - v) / 50) = 0.071): 3 * sqrt(2) * 0.071 = 0.300, too noisy
    v = overfitting_verdict(_wobble(log_sd=False), num_val=50)
    assert v.kind == "too small to tell"
    assert "up to ±0.300" in v.message and "spread was not logged" in v.message
    # without the image count either, only the curve's jitter: a wobble, not overfitting
    assert overfitting_verdict(_wobble(log_sd=False)).kind == "good fit"


@pytest.mark.parametrize(
    "dice",
    [
        [0.23, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0.00],
        [0.22, 0.05, 0.09, 0.06, 0.08, 0.07, 0.07],
    ],
)
@pytest.mark.parametrize("losses", [True, False])
def test_a_collapse_to_background_is_unstable_not_overfitting(dice, losses):
    rows = _collapse(dice)
    if not losses:
        rows = [{k: v for k, v in r.items() if "loss" not in k} for r in rows]
    v = overfitting_verdict(rows, num_val=6)
    assert (v.kind, v.best_epoch) == ("unstable", 1)
    assert f"collapsed from {dice[0]:.3f} to {dice[-1]:.3f}" in v.message
    assert (
        f"by epoch {len(dice)}" in v.message
        and "only one class" in v.message
        and "lower learning rate" in v.message
    )
    assert "--augment" not in v.message
    assert ("train loss fell only" in v.message) == losses


def test_a_collapse_is_judged_on_val_dice_when_monitoring_val_loss():
    v = overfitting_verdict(_collapse([0.23] + [0.0] * 7), monitor="val_loss", num_val=6)
    assert v.kind == "unstable" and "val_dice collapsed" in v.message


def test_a_real_divergence_with_val_loss_rising_a_lot_is_overfitting():
    v = overfitting_verdict(_diverging(0.40), num_val=50)
    assert (v.kind, v.best_epoch) == ("overfitting", 6)
    assert "val loss rose 40 % from its minimum at epoch 6" in v.message


def test_a_real_divergence_beyond_the_noise_is_overfitting():
    # val loss up only 8 % (under rule 4a's 10 %) but beyond its noise; Dice down ~10 SEs
    v = overfitting_verdict(_diverging(0.08), num_val=50)
    assert (v.kind, v.best_epoch) == ("overfitting", 6)
    assert "beyond the noise of 50 val images (±0.090)" in v.message
    assert "val loss 0.3 → 0.324" in v.message and "since epoch 6" in v.message
    assert "--augment heavy" in v.message


def test_a_drop_with_train_loss_rising_too_is_unstable():
    v = overfitting_verdict(_diverging(0.0, train_after="rises"), num_val=50)
    assert v.kind == "unstable"
    assert "the losses do not show overfitting" in v.message
    assert "--augment" not in v.message


def test_a_moderate_drop_on_6_val_images_is_too_small_to_tell():
    rows = [
        {
            "epoch": e,
            "train_loss": 0.5 * 0.95**e,
            "val_loss": 0.5 * 0.95**e + 0.05,
            "val_dice": 0.70 - 0.05 * max(0, 6 - e) - 0.08 * max(0, e - 6) / 9,
            "val_dice_sd": 0.2,
        }
        for e in range(1, 16)
    ]
    v = overfitting_verdict(rows, num_val=6)
    assert (v.kind, v.best_epoch) == ("too small to tell", 6)
    # SE 0.2 / sqrt(6) = 0.082 at both epochs: a band of 3 * sqrt(2) * 0.082 = 0.346
    assert "the 0.080 fall of val_dice from its best to 0.620 at epoch 15" in v.message
    assert "within the noise of 6 val images (±0.346)" in v.message
    assert "Validate on more images" in v.message


@pytest.mark.parametrize("num_val", [0, -3, 2.5, True, "50"])
def test_bad_num_val_raises(num_val):
    with pytest.raises(ConfigError, match="num_val"):
        overfitting_verdict(_overfitting(), num_val=num_val)


def test_kinds_advice_and_the_kind_type_agree():
    assert set(KINDS) == set(ADVICE) == set(typing.get_args(Kind))


def test_bad_mode_raises():
    with pytest.raises(ConfigError, match="mode"):
        overfitting_verdict(_overfitting(), mode="up")


def test_verdict_is_frozen_and_serialisable():
    v = overfitting_verdict(_overfitting())
    assert isinstance(v, Verdict) and v.kind in KINDS
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.kind = "good fit"  # type: ignore[misc]
    d = v.to_dict()
    assert list(d) == [
        "kind",
        "monitor",
        "best_epoch",
        "best_value",
        "last_epoch",
        "gap",
        "message",
    ]
    assert json.loads(json.dumps(d)) == d
    empty = overfitting_verdict([]).to_dict()
    assert empty["best_value"] is None and empty["gap"] is None
    json.dumps(empty, allow_nan=False)
