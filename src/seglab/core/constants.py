"""Constants every layer agrees on."""

from __future__ import annotations

IGNORE_INDEX = 255
"""Mask value of pixels that count for nothing: no loss, no metric (unlabelled, crowd regions,
padding). Class indices are ``0`` (background) to ``254``."""
