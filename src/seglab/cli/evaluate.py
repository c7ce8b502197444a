"""``seglab evaluate``: per-image Dice, IoU, precision, recall of a run or of predictions; for
objects (an instance run, label images, per-object COCO results) DSB mean AP, AJI, the object
counts and COCO AP."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seglab.cli.console import console, err_console
from seglab.cli.options import (
    Backend,
    BatchSize,
    Device,
    Overlap,
    Overwrite,
    Quiet,
    Resize,
    Threshold,
    Tile,
    Tta,
)
from seglab.cli.predict import CrfIterationsOpt, CrfOpt

Opt = typer.Option

ModelOpt = Annotated[
    list[Path] | None,
    Opt(
        "--model",
        help="Run folder to predict with (or its model.json), or a folds run; repeat it "
        "(--model A --model B) to score the ensemble of several runs.",
    ),
]
PredOpt = Annotated[
    Path | None,
    Opt(
        "--pred",
        help="Predictions to score instead: a folder of masks (0/255 or class indices) or of "
        "16-bit label images (one id per object), a run-length CSV or a COCO results JSON.",
    ),
]
DataOpt = Annotated[
    Path | None,
    Opt("--data", help="Labelled dataset [with --model: the run's, read as in training]."),
]
SplitOpt = Annotated[str, Opt("--split", help="val | train | test | all [val].")]
OutOpt = Annotated[
    Path | None,
    Opt("--out", help="Output folder [RUN/evaluation with --model, else evaluation]."),
]
EmptyScoreOpt = Annotated[
    str,
    Opt(
        "--empty-score",
        help="Score of an image with no object in the truth and none predicted (0/0): "
        "1 (right), 0 (a failure) or nan (left out of the means) [1].",
    ),
]
WorstOpt = Annotated[int, Opt("--worst", help="Number of worst images to list [10].")]


def evaluate_cmd(
    model: ModelOpt = None,
    pred: PredOpt = None,
    data: DataOpt = None,
    split: SplitOpt = "val",
    out: OutOpt = None,
    overwrite: Overwrite = False,
    empty_score: EmptyScoreOpt = "1",
    worst: WorstOpt = 10,
    threshold: Threshold = None,
    tta: Tta = False,
    tile: Tile = None,
    overlap: Overlap = 0.25,
    batch_size: BatchSize = 8,
    crf: CrfOpt = False,
    crf_iterations: CrfIterationsOpt = 5,
    backend: Backend = "auto",
    resize: Resize = "fit",
    device: Device = None,
    quiet: Quiet = False,
) -> None:
    """Score a trained run (--model) or predictions (--pred) against a labelled dataset:
    per-image Dice, IoU, precision and recall (scores.csv), their mean, median and std per
    metric and class with the worst images (summary.json), and the run's masks (masks/).

    Dice is the seed's: 2|A∩B| / (|A|+|B|) per image, averaged over images.

    Empty vs empty: an image with no object in the truth and none predicted scores --empty-score.

    A missing prediction counts as an empty prediction (0 where there is an object), listed.

    Predictions match images by name, by name without extension, or by file stem.

    Objects: an instance run (seglab train --task instance), a folder of 16-bit label images
    or a COCO results JSON with one entry per object is scored object by object: DSB-2018 mean
    AP (IoU 0.5:0.95), AP@0.5, AP@0.75, AJI, found/missed/false/split/merged per image, COCO
    mask and box AP over the split, and the run's label images (labels/).

    Exits 1 when unreadable images were skipped.

    Examples:

      seglab evaluate --model runs/train

      seglab evaluate --model runs/train --data other_data/ --split all --tta

      seglab evaluate --model runs/train --crf   # masks refined by a dense CRF

      seglab evaluate --pred classical/masks --data sample/ --out eval_otsu

      seglab evaluate --pred predictions/masks.csv --data sample/ --empty-score nan

      seglab evaluate --pred predictions/labels --data nuclei/ --split val

      seglab evaluate --model runs/folds   # the ensemble of the folds, on the val split on disk

    Ensembles (--model given several times, or a folds run) are scored on the mean of the
    runs' probabilities, on their dataset without the folds: --split val is the val split on
    disk (none: give --split test or --data another set; each fold's own val score is in
    FOLDS_RUN/folds.json).
    """
    from seglab.api import AUTO, evaluate
    from seglab.cli.render import print_evaluation

    result = evaluate(
        list(model) if model else None,
        data,
        pred=pred,
        split=split,
        out=AUTO if out is None else out,
        empty_score=empty_score,
        worst=worst,
        threshold=threshold,
        tta=tta,
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        crf=crf,
        crf_iterations=crf_iterations,
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
