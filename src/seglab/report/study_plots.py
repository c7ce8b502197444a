"""The study report's curves: for one parameter, the validation curves of its trials, one panel
and one colour per value, side by side on shared axes (PNG, matplotlib's Agg canvas).

matplotlib is imported inside the function and only through :class:`matplotlib.figure.Figure`
with its own canvas, as :mod:`seglab.train.plots` does, so the global pyplot backend is never
touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from seglab.core.files import atomic_write

PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
"""A colour per value (matplotlib's ``tab10``), the same in the plot and in the table."""
COLUMNS = 4  # panels per row; more values wrap onto further rows
PANEL = (3.3, 2.6)  # inches per panel
DPI = 100


@dataclass(frozen=True)
class Curve:
    """One trial's validation curve: ``seconds`` of training (summed) and ``values``; a
    ``pruned`` trial is drawn dashed, the ``best`` one thicker, in black outline."""

    number: int
    seconds: list[float]
    values: list[float]
    pruned: bool = False
    best: bool = False


@dataclass(frozen=True)
class Panel:
    """One value (or bin) of the parameter: its label, colour and its trials' curves."""

    label: str
    colour: str
    curves: list[Curve]


def colour(index: int) -> str:
    """The colour of the ``index``-th value (cycling through :data:`PALETTE`)."""
    return PALETTE[index % len(PALETTE)]


def plot_hypothesis(
    panels: list[Panel], out: Path, *, title: str, monitor: str, trial_time: float | None = None
) -> Path | None:
    """Draw ``panels`` side by side (shared axes) into ``out``; ``None`` (nothing written)
    when no panel has a point. ``trial_time``: each trial's budget, marked on the x axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not any(c.values for p in panels for c in p.curves):
        return None
    columns = min(len(panels), COLUMNS)
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(PANEL[0] * columns, PANEL[1] * rows + 0.4), dpi=DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        for curve in panel.curves:
            _draw(ax, curve, panel.colour)
        if trial_time:
            ax.axvline(trial_time, color="#999999", linestyle=":", linewidth=1)
        finished = sum(1 for c in panel.curves if c.values)
        ax.set_title(f"{panel.label} ({finished} trial{'s' * (finished != 1)})", fontsize=10)
        ax.grid(True, alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[::columns]:
        ax.set_ylabel(monitor)
    for ax in axes[(rows - 1) * columns :]:
        ax.set_xlabel("seconds of training")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))


def _draw(ax, curve: Curve, colour: str) -> None:
    if not curve.values:
        return
    style = {
        "color": colour,
        "linestyle": "--" if curve.pruned else "-",
        "linewidth": 2.6 if curve.best else 1.3,
        # markers while the curve is short, so a single validation still shows
        **({"marker": "o", "markersize": 3} if len(curve.values) <= 30 else {}),
    }
    if curve.best:  # a dark outline under the line: the best trial stands out in its colour
        ax.plot(curve.seconds, curve.values, color="black", linewidth=4.2, zorder=2)
    ax.plot(curve.seconds, curve.values, zorder=3, **style)
    ax.annotate(
        f"#{curve.number}" + (" best" if curve.best else ""),
        (curve.seconds[-1], curve.values[-1]),
        xytext=(3, 0),
        textcoords="offset points",
        fontsize=8,
        color=colour,
    )
