"""Scoring rows, summaries and table writers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seglab.evaluation.scoring import markdown_table, score_mask, summarize, worst, write_csv


def test_score_mask_binary_uses_any_foreground_class():
    target = np.array([[0, 1, 2, 255]])
    pred = np.array([[False, True, True, True]])
    assert score_mask(pred, target, num_classes=3)["dice"] == 1.0


def test_score_mask_multiclass():
    target = np.array([[1, 2]])
    pred = np.array([[1, 1]])
    assert score_mask(pred, target, num_classes=3)["dice"] == (2 / 3 + 0.0) / 2


def test_summary_worst_and_writers(tmp_path):
    rows = [{"key": "a", "dice": 0.2}, {"key": "b", "dice": 0.8}, {"key": "c", "dice": math.nan}]
    s = summarize(rows, ["dice"])
    assert s["images"] == 3 and s["dice"]["mean"] == 0.5
    assert s["dice"]["std"] == pytest.approx(0.3)
    assert [r["key"] for r in worst(rows, 2)] == ["a", "b"]
    text = write_csv(rows, tmp_path / "s.csv").read_text()
    assert text.splitlines() == ["key,dice", "a,0.2", "b,0.8", "c,nan"]
    md = markdown_table(rows[:1], ["key", "dice"])
    assert md.splitlines() == ["| key | dice |", "|---|---|", "| a | 0.2 |"]
