"""Typed configuration (pydantic v2). Configs are frozen: they flow top-down, never mutated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from seglab.errors import ConfigError


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Config):
    """Where a dataset is and how to read it.

    Attributes
    ----------
    path: a dataset folder (COCO or mask folders, with or without train/val/test) or a COCO JSON.
    annotations, images, masks: explicit locations, instead of or beside ``path``.
    val_fraction: share of the train split held out for validation when there is no val split.
    seed: seed of that split (the same seed gives the same split).
    crowd: what COCO ``iscrowd`` regions become: ``ignore`` (255), ``foreground``, ``background``.
    classes / num_classes: declare the classes of mask folders (values outside are errors).
    allow_large_images: lift Pillow's decompression-bomb limit for trusted images.
    strict: make a corrupt image met while training fatal instead of skipped with a warning.
    """

    path: Path | None = None
    annotations: Path | None = None
    images: Path | None = None
    masks: Path | None = None
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    seed: int = 0
    crowd: Literal["ignore", "foreground", "background"] = "ignore"
    classes: list[str] | None = None
    num_classes: int | None = Field(None, ge=2)
    allow_large_images: bool = False
    strict: bool = False


def split_top(text: str) -> list[str]:
    """Split ``text`` on commas outside ``[brackets]``, dropping empty parts."""
    return [p for p in re.split(r",(?![^\[]*\])", text) if p.strip()]


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"none"`` -> None, ``"[8,8]"`` ->
    ``[8, 8]``, ``"'a'"`` -> ``"a"``, anything else -> the string."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [parse_value(p) for p in split_top(text[1:-1])]
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip("'\"")


def parse_assignments(items: list[str] | None, *, what: str = "--param") -> dict[str, Any]:
    """Parse ``["k=v", "a=1,b=[2,3]"]`` into ``{"k": "v", "a": 1, "b": [2, 3]}`` (values by
    :func:`parse_value`); a malformed item raises :class:`ConfigError` naming it."""
    out: dict[str, Any] = {}
    for item in items or []:
        for part in split_top(item):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{what} {part!r}: expected NAME=VALUE, e.g. {what} sigma=2")
            out[key.strip()] = parse_value(value)
    return out
