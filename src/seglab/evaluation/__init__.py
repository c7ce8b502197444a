"""Scoring: metrics, per-image rows and summaries, and evaluating a run or prediction files."""
