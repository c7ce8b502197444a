"""Training-history plots from a run's ``metrics.csv`` (PNG files, matplotlib's Agg canvas).

A training run writes ``metrics.csv``, one row per epoch, with the columns ``epoch`` (0-based),
``lr``, ``train_loss``, ``val_loss``, ``val_dice``, ``val_soft_dice``, ``val_iou`` and
``seconds``. Older or partial runs may lack columns or leave cells empty (``""`` or ``nan``, e.g.
epochs without validation); every function here copes with that.

matplotlib is imported inside the functions and only through :class:`matplotlib.figure.Figure`
with a :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`, so importing this module is
cheap and the global pyplot backend is never touched (safe on headless machines and in threads).

>>> from seglab.train.plots import plot_history, read_metrics
>>> rows = read_metrics("runs/unet/metrics.csv")  # doctest: +SKIP
>>> [p.name for p in plot_history(rows, "runs/unet/plots")]  # doctest: +SKIP
['lr.png', 'loss.png', 'dice.png']
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from seglab.core.files import atomic_write
from seglab.errors import DataError, SeglabError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METRICS_FILE = "metrics.csv"
DPI = 100
FIGSIZE = (6.4, 4.0)  # inches: 640 x 400 pixels at DPI
MAX_MARKED_POINTS = 60  # above this many points a series is drawn as a line without markers


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    """Read a run's ``metrics.csv`` into one dict per epoch.

    Parameters
    ----------
    path:
        The CSV file, or a run folder holding ``metrics.csv``.

    Returns
    -------
    list of dict
        One dict per row, keyed by the CSV header. ``epoch`` is an ``int`` (the row's index when
        the cell is empty); every other cell is a ``float``, ``nan`` where it is empty.

    Raises
    ------
    SeglabError
        The file does not exist (the run has not finished an epoch yet).
    DataError
        A cell is not a number (the message names the file, line and column).
    """
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise SeglabError(
            f"{path}: no such file; the run has no metrics yet "
            "(metrics.csv is written at the end of each training epoch)"
        )
    rows: list[dict[str, float]] = []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        for index, raw in enumerate(reader):
            row: dict[str, float] = {}
            for key, cell in raw.items():
                if key is None:  # more cells than header names
                    continue
                key = key.strip()
                text = (cell or "").strip()
                try:
                    if key == "epoch":
                        row[key] = int(float(text)) if text else index
                    else:
                        row[key] = float(text) if text else math.nan
                except ValueError:
                    raise DataError(
                        f"{text!r} is not a number",
                        path=path,
                        field=f"line {reader.line_num}, {key}",
                    ) from None
            rows.append(row)
    return rows


def plot_history(metrics: str | Path | Sequence[dict], out_dir: str | Path) -> list[Path]:
    """Plot a run's learning rate, losses and validation scores per epoch.

    Writes into ``out_dir`` (created when missing):

    * ``lr.png``: learning rate vs epoch, log y axis when every learning rate is positive;
    * ``loss.png``: train and validation loss vs epoch;
    * ``dice.png``: validation Dice, soft Dice and IoU vs epoch on ``[0, 1]``, the best epoch by
      ``val_dice`` marked with a dot and annotated with its value.

    A plot whose columns are all missing or NaN is skipped. Epochs without a value (NaN cells,
    e.g. no validation that epoch) are left out of that series; the points that remain are joined.

    Parameters
    ----------
    metrics:
        Path of a ``metrics.csv`` (or of the run folder holding it), or rows as returned by
        :func:`read_metrics`.
    out_dir:
        Folder for the PNG files.

    Returns
    -------
    list of Path
        The files written, in the order above.
    """
    rows = read_metrics(metrics) if isinstance(metrics, (str, Path)) else list(metrics)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in (
        ("lr.png", _lr_figure),
        ("loss.png", _loss_figure),
        ("dice.png", _dice_figure),
    ):
        fig = make(rows)
        if fig is not None:
            written.append(_save(fig, out_dir / name))
    return written


def plot_lr_find(
    lrs: Sequence[float], losses: Sequence[float], suggestion: float | None, out: str | Path
) -> Path:
    """Plot a learning-rate range test: loss vs learning rate on a log x axis.

    Parameters
    ----------
    lrs, losses:
        The learning rates tried and the (smoothed) loss at each; same length. Non-finite pairs
        are left out. When the loss explodes at the end, the y axis stops a little above the
        highest loss reached before the minimum so the useful part stays readable.
    suggestion:
        The suggested learning rate, drawn as a vertical line with its value in the legend;
        ``None`` draws no line.
    out:
        The PNG file to write (its folder is created).

    Returns
    -------
    Path
        ``out``.
    """
    if len(lrs) != len(losses):
        raise ValueError(f"{len(lrs)} learning rates but {len(losses)} losses")
    pairs = [
        (float(lr), float(loss))
        for lr, loss in zip(lrs, losses, strict=True)
        if math.isfinite(float(lr)) and math.isfinite(float(loss))
    ]
    fig = _new_figure()
    ax = fig.add_subplot()
    if pairs:
        xs, ys = zip(*pairs, strict=True)
        ax.plot(xs, ys, **_line_style(len(xs)), label="loss")
        if all(x > 0 for x in xs):
            ax.set_xscale("log")
        low = ys.index(min(ys))
        top, bottom = max(ys[: low + 1]), min(ys)
        if max(ys) > top:  # the loss blew up after its minimum: keep the descent readable
            ax.set_ylim(bottom - 0.05 * (top - bottom), top + 0.1 * (top - bottom or abs(top) or 1))
    else:
        ax.text(0.5, 0.5, "no finite points", ha="center", va="center", transform=ax.transAxes)
    if suggestion is not None and math.isfinite(suggestion):
        ax.axvline(
            suggestion, color="tab:red", linestyle="--", label=f"suggested lr {suggestion:.2e}"
        )
    ax.set_title("Learning-rate range test")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return _save(fig, Path(out))


# -- figures -------------------------------------------------------------------------------------


def _lr_figure(rows: Sequence[dict]) -> Figure | None:
    series = _series(rows, "lr")
    if series is None:
        return None
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot(*series, **_line_style(len(series[0])), label="lr")
    if all(v > 0 for v in series[1]):
        ax.set_yscale("log")
    _finish(ax, "Learning rate", "learning rate")
    return fig


def _loss_figure(rows: Sequence[dict]) -> Figure | None:
    curves = {
        label: _series(rows, key) for key, label in (("train_loss", "train"), ("val_loss", "val"))
    }
    if all(s is None for s in curves.values()):
        return None
    fig = _new_figure()
    ax = fig.add_subplot()
    for label, series in curves.items():
        if series is not None:
            ax.plot(*series, **_line_style(len(series[0])), label=f"{label} loss")
    _finish(ax, "Loss", "loss")
    return fig


def _dice_figure(rows: Sequence[dict]) -> Figure | None:
    keys = (("val_dice", "val Dice"), ("val_soft_dice", "val soft Dice"), ("val_iou", "val IoU"))
    curves = {label: _series(rows, key) for key, label in keys}
    if all(s is None for s in curves.values()):
        return None
    fig = _new_figure()
    ax = fig.add_subplot()
    for label, series in curves.items():
        if series is not None:
            ax.plot(*series, **_line_style(len(series[0])), label=label)
    dice = curves["val Dice"]
    if dice is not None:
        xs, ys = dice
        best = max(range(len(ys)), key=ys.__getitem__)  # first epoch reaching the maximum
        x, y = xs[best], ys[best]
        ax.plot(
            [x], [y], "o", color="black", markersize=7, zorder=5, label=f"best val Dice {y:.3f}"
        )
        # Dice >= IoU, so above the dot is usually free; below it when the dot is near the top
        right_half = len(xs) > 1 and x > (xs[0] + xs[-1]) / 2
        high = y > 0.88
        ax.annotate(
            f"best {y:.3f} (epoch {x:g})",
            (x, y),
            xytext=(-6 if right_half else 6, -12 if high else 7),
            textcoords="offset points",
            ha="right" if right_half else "left",
            va="top" if high else "bottom",
            fontsize=9,
            bbox={
                "boxstyle": "round,pad=0.2",
                "facecolor": "white",
                "edgecolor": "none",
                "alpha": 0.8,
            },
        )
    ax.set_ylim(0, 1)
    _finish(ax, "Validation scores", "score")
    return fig


# -- helpers -------------------------------------------------------------------------------------


def cell_float(value: object) -> float:
    """A metrics cell as a float; ``nan`` for missing, empty or unparsable cells."""
    if value is None or value == "":
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _series(rows: Sequence[dict], key: str) -> tuple[list[float], list[float]] | None:
    """``(epochs, values)`` of the rows where ``key`` is finite; ``None`` when there are none."""
    xs, ys = [], []
    for index, row in enumerate(rows):
        y = cell_float(row.get(key))
        if math.isfinite(y):
            epoch = cell_float(row.get("epoch", index))
            # plotted from 1, as the CLI counts epochs
            xs.append((epoch if math.isfinite(epoch) else float(index)) + 1)
            ys.append(y)
    return (xs, ys) if ys else None


def _line_style(n: int) -> dict:
    """Markers as well as lines for short series, so a single epoch still shows."""
    return {"marker": "o", "markersize": 3.5} if n <= MAX_MARKED_POINTS else {"linewidth": 1.2}


def _new_figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _finish(ax, title: str, ylabel: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    low, high = ax.get_xlim()
    if high - low < 2:  # one epoch: a unit-wide axis, not ticks at +-0.045
        middle = (low + high) / 2
        ax.set_xlim(middle - 1, middle + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend()


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))
