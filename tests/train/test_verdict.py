"""Known verdicts on hand-made curves: overfitting, still improving, underfitting, good fit..."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from seglab.errors import ConfigError
from seglab.train.verdict import KINDS, Verdict, overfitting_verdict


def _overfitting(n: int = 20) -> list[dict]:
    """Train loss falls steadily, val loss is U-shaped (minimum at 5), val Dice peaks at 5."""
    return [
        {
            "epoch": e,
            "lr": 1e-3,
            "train_loss": 0.85**e,
            "val_loss": 0.5 + 0.01 * (e - 5) ** 2,
            "val_dice": 0.82 - 0.01 * abs(e - 5),
        }
        for e in range(n)
    ]


def _improving(n: int = 20) -> list[dict]:
    """Everything still getting better at the last epoch."""
    return [
        {
            "epoch": e,
            "train_loss": 0.1 + math.exp(-e / 6),
            "val_loss": 0.15 + math.exp(-e / 6),
            "val_dice": 0.9 * (1 - math.exp(-(e + 1) / 6)),
        }
        for e in range(n)
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
        for e in range(n)
    ]


def _plateau(n: int = 20) -> list[dict]:
    """Quick rise to Dice 0.9 by epoch 5, then a flat plateau with tiny noise."""
    return [
        {
            "epoch": e,
            "train_loss": 0.1 + 0.5 * math.exp(-e / 2),
            "val_loss": 0.15 + 0.5 * math.exp(-e / 2) + 0.001 * (-1) ** e,
            "val_dice": 0.9 * (1 - math.exp(-e)) + 0.001 * (-1) ** e
            if e < 5
            else 0.9 + 0.001 * (-1) ** e,
        }
        for e in range(n)
    ]


def test_classic_overfitting_curve():
    v = overfitting_verdict(_overfitting())
    assert v.kind == "overfitting"
    assert (v.monitor, v.best_epoch, v.last_epoch) == ("val_dice", 5, 19)
    assert v.best_value == pytest.approx(0.82)
    assert v.gap == pytest.approx(0.5 - 0.85**5)  # val_loss - train_loss at the best epoch
    assert "0.820" in v.message and "epoch 6 of 20" in v.message  # messages count epochs from 1
    assert "--augment heavy" in v.message


def test_overfitting_from_the_score_alone_without_losses():
    rows = [{"epoch": r["epoch"], "val_dice": r["val_dice"]} for r in _overfitting()]
    v = overfitting_verdict(rows)
    assert (v.kind, v.best_epoch) == ("overfitting", 5)
    assert "0.680" in v.message  # the value it fell back to by the last epoch
    assert math.isnan(v.gap)


def test_overfitting_from_val_loss_rising_while_dice_plateaus():
    rows = _plateau()
    for r in rows:  # val loss creeps up 2 % an epoch after epoch 8, train loss keeps falling
        r["val_loss"] = 0.2 * (1 + 0.02 * max(0, r["epoch"] - 8))
    v = overfitting_verdict(rows)
    assert v.kind == "overfitting"
    assert "val loss rose 22 %" in v.message


def test_monotonically_improving_curve_is_still_improving():
    v = overfitting_verdict(_improving())
    assert v.kind == "still improving"
    assert v.best_epoch == 19 == v.last_epoch
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
    assert "bigger model" in v.message and "fell only 3 %" in v.message


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
    assert (v.best_epoch, v.last_epoch) == (1, 1)
    assert "only 2 validated epochs" in v.message


@pytest.mark.parametrize("rows", [[], [{"epoch": 0, "train_loss": 0.5, "val_dice": math.nan}]])
def test_no_validation_is_too_short(rows):
    v = overfitting_verdict(rows)
    assert v.kind == "too short"
    assert v.best_epoch is None and math.isnan(v.best_value)
    assert "No validation epochs" in v.message


def test_monitor_val_loss_picks_the_minimum():
    v = overfitting_verdict(_overfitting(), monitor="val_loss")
    assert (v.kind, v.monitor, v.best_epoch) == ("overfitting", "val_loss", 5)
    assert v.best_value == pytest.approx(0.5)
    # mode="max" on a loss picks the worst epoch instead: the mode is honoured
    assert overfitting_verdict(_overfitting(), monitor="val_loss", mode="max").best_epoch == 19


def test_monitor_val_loss_on_an_improving_run():
    v = overfitting_verdict(_improving(), monitor="val_loss")
    assert (v.kind, v.best_epoch) == ("still improving", 19)


def test_nan_rows_are_skipped():
    rows = _overfitting()
    for r in rows:
        if r["epoch"] % 2:  # validation every other epoch; the others logged as NaN or ""
            r["val_dice"] = math.nan if r["epoch"] % 4 == 1 else ""
            r["val_loss"] = math.nan
    rows[5]["val_dice"] = 0.82  # keep the peak on a validated epoch... then move it to 6
    rows[6]["val_dice"] = 0.83
    rows[5]["val_dice"] = math.nan
    v = overfitting_verdict(rows)
    assert (v.kind, v.best_epoch) == ("overfitting", 6)
    assert v.best_value == pytest.approx(0.83)


def test_nan_rows_do_not_count_towards_the_minimum_epochs():
    rows = _improving(5)
    for r in rows[1:4]:
        r["val_dice"] = math.nan
    assert overfitting_verdict(rows).kind == "too short"


def test_rows_from_csv_strings_and_missing_epoch():
    rows = [{k: str(v) for k, v in r.items() if k != "epoch"} for r in _overfitting()]
    v = overfitting_verdict(rows)
    assert (v.kind, v.best_epoch, v.last_epoch) == ("overfitting", 5, 19)


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
