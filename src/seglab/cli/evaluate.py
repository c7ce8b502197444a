"""``seglab evaluate``: per-image Dice, IoU, precision, recall of a run or of predictions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from seglab.cli.options import Backend, BatchSize, Device, Overlap, Resize, Threshold, Tile, Tta

Opt = typer.Option


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return "-" if value is None else str(value)


def print_evaluation(result, console) -> None:
    """Print mean/median/std of each metric (per class when there are several), the worst
    images and the files written."""
    from rich.table import Table

    summary = result.summary
    what = summary.get("model") or summary.get("pred")
    table = Table(
        title=f"{what} on {summary['data']} ({summary['split']}, {summary['images']} images)",
        title_justify="left",
    )
    for column in ("class", "metric", "mean", "median", "std", "min", "max"):
        table.add_column(column, justify="left" if column in ("class", "metric") else "right")
    groups = [("all", summary["metrics"])]
    if len(summary["per_class"]) > 1:
        groups += list(summary["per_class"].items())
    for name, metrics in groups:
        for metric, stats in metrics.items():
            table.add_row(
                name if metric == "dice" else "",
                metric,
                *(_cell(stats.get(k)) for k in ("mean", "median", "std", "min", "max")),
            )
    console.print(table)
    if summary["worst"]:
        low = Table(title=f"worst {len(summary['worst'])} images by Dice", title_justify="left")
        for column in ("image", "dice", "iou", "mask"):
            low.add_column(column, justify="right" if column in ("dice", "iou") else "left")
        for row in summary["worst"]:
            low.add_row(row["image"], _cell(row["dice"]), _cell(row["iou"]), row.get("pred", ""))
        console.print(low)
    if summary["missing"]:
        console.print(
            f"[yellow]{len(summary['missing'])} images had no prediction and were scored as "
            "empty predictions[/yellow]"
        )
    if result.out is not None:
        files = ["scores.csv", "summary.json"] + (["masks/"] if "model" in summary else [])
        console.print(f"wrote {', '.join(files)} in {result.out}", highlight=False)


def evaluate_cmd(
    model: Annotated[
        Path | None, Opt("--model", help="Run folder to predict with (or its model.json).")
    ] = None,
    pred: Annotated[
        Path | None,
        Opt(
            "--pred",
            help="Predictions to score instead: a folder of masks (0/255 or class indices), "
            "a run-length CSV or a COCO results JSON.",
        ),
    ] = None,
    data: Annotated[
        Path | None,
        Opt("--data", help="Labelled dataset [with --model: the run's, read as in training]."),
    ] = None,
    split: Annotated[str, Opt("--split", help="val | train | test | all [val].")] = "val",
    out: Annotated[
        Path | None,
        Opt("--out", help="Output folder [RUN/evaluation with --model, else evaluation]."),
    ] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Write into a non-empty folder.")] = False,
    empty_score: Annotated[
        str,
        Opt(
            "--empty-score",
            help="Score of an image with no object in the truth and none predicted (0/0): "
            "1 (right), 0 (a failure) or nan (left out of the means) [1].",
        ),
    ] = "1",
    worst: Annotated[int, Opt("--worst", help="Number of worst images to list [10].")] = 10,
    threshold: Threshold = None,
    tta: Tta = False,
    tile: Tile = None,
    overlap: Overlap = 0.25,
    batch_size: BatchSize = 8,
    backend: Backend = "auto",
    resize: Resize = "fit",
    device: Device = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Score a trained run (--model) or predictions (--pred) against a labelled dataset:
    per-image Dice, IoU, precision and recall (scores.csv), their mean, median and std per
    metric and class with the worst images (summary.json), and the run's masks (masks/).

    Dice is the seed's: 2|A∩B| / (|A|+|B|) per image, averaged over images.

    Empty vs empty: an image with no object in the truth and none predicted scores --empty-score.

    A missing prediction counts as an empty prediction (0 where there is an object), listed.

    Predictions match images by name, by name without extension, or by file stem.

    Exits 1 when unreadable images were skipped.

    Examples:

      seglab evaluate --model runs/train

      seglab evaluate --model runs/train --data other_data/ --split all --tta

      seglab evaluate --pred classical/masks --data sample/ --out eval_otsu

      seglab evaluate --pred predictions/masks.csv --data sample/ --empty-score nan
    """
    from seglab.api import evaluate
    from seglab.cli import console, err_console

    if out is None:
        in_run = model is not None and model.is_dir()
        out = model / "evaluation" if in_run else Path("evaluation")
        overwrite = overwrite or in_run  # the run's own evaluation folder, seglab's to replace
    result = evaluate(
        model,
        data,
        pred=pred,
        split=split,
        out=out,
        empty_score=empty_score,
        worst=worst,
        threshold=threshold,
        tta=tta,
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        backend=backend,
        device=device,
        resize=resize,
        overwrite=overwrite,
        progress=not quiet,
    )
    print_evaluation(result, console)
    skipped = result.summary["skipped"]
    if skipped:
        err_console.print(f"[yellow]{len(skipped)} unreadable images skipped[/yellow]")
        raise typer.Exit(1)
