"""Command-line options that several commands share (``seglab predict`` and ``seglab evaluate``;
the data, classical and compare commands): declared once, so their names, defaults and help
stay the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

Opt = typer.Option

Threshold = Annotated[float | None, Opt("--threshold", help="Probability threshold [the run's].")]
Tta = Annotated[bool, Opt("--tta", help="Test-time augmentation: average the 4 flips (4x slower).")]
Tile = Annotated[
    int | None,
    Opt("--tile", help="Sliding window of SIZE px (at the network's scale) for large images."),
]
Overlap = Annotated[float, Opt("--overlap", help="Overlap of --tile windows, a fraction [0.25].")]
BatchSize = Annotated[int, Opt("--batch-size", help="Images (or tiles) per forward pass [8].")]
Backend = Annotated[
    str, Opt("--backend", help="auto | torch | channels_last | onnxruntime [auto].")
]
Resize = Annotated[
    str,
    Opt(
        "--resize",
        help="fit: longer side to the run's image size, as in training; scale: the "
        "training images' scale factor (big images stay big: add --tile); none [fit].",
    ),
]
Device = Annotated[
    str | None, Opt("--device", help="cpu, cuda, cuda:1 ... [cuda if there is one].")
]
Overwrite = Annotated[bool, Opt("--overwrite", help="Write into a non-empty folder.")]
OverwriteOut = Annotated[bool, Opt("--overwrite", help="Write into a non-empty output folder.")]
Quiet = Annotated[bool, Opt("--quiet", "-q", help="No progress bar.")]


def split_names(text: str | None) -> list[str] | None:
    """``"bg, a,b"`` -> ``["bg", "a", "b"]``: the ``--classes`` value; ``None`` when not given."""
    return [name.strip() for name in text.split(",")] if text else None
