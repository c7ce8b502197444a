"""``seglab report``: one HTML page of a training run (:mod:`seglab.report.html`) or of a
study (:mod:`seglab.report.study`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seglab.cli.predict import CrfIterationsOpt, CrfOpt

Opt = typer.Option


def report_cmd(
    run: Annotated[
        Path,
        typer.Argument(help="Run folder (seglab train) or study folder (seglab tune)."),
    ],
    data: Annotated[
        Path | None,
        Opt(
            "--data",
            help="Labelled dataset to evaluate on (default: the run's, split as in training; "
            "for a study, its best trial's).",
        ),
    ] = None,
    test: Annotated[
        str | None,
        Opt(
            "--test",
            help="Unlabelled images for the test gallery: folder, file or glob (runs only).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        Opt("--out", help="The HTML file to write [RUN/report.html, STUDY/report.html]."),
    ] = None,
    single_file: Annotated[
        bool, Opt("--single-file", help="Embed the images: one self-contained HTML file.")
    ] = False,
    split: Annotated[
        str, Opt("--split", help="Split of the metrics and the gallery (a study's error analysis).")
    ] = "val",
    thumb: Annotated[int, Opt("--thumb", help="Longest side of gallery images, px.")] = 256,
    refresh: Annotated[
        bool,
        Opt("--refresh", help="Evaluate again even if the evaluation under report/ is current."),
    ] = False,
    crf: CrfOpt = False,
    crf_iterations: CrfIterationsOpt = 5,
) -> None:
    """Write one HTML page of a training run: config, data summary, training curves,
    overfitting verdict, metrics, a val gallery (image | truth | prediction | crop, worst Dice
    first) and with --test a test gallery (image | predicted mask | crop). Prints the page's path.

    For an instance run: DSB mean AP, AJI, COCO mask and box AP and the objects found, missed,
    false, split and merged, and a gallery of true and predicted objects, worst first.

    The page is built from files on disk: RUN/report/ keeps the evaluation (reused while it is
    newer than the weights), the test predictions and the thumbnails, linked from the page;
    --single-file embeds them instead. Run it again at any time to regenerate the page.

    For a study folder (seglab tune: it holds study.json), the research report: the data and
    preprocessing, each hypothesis tried (its values side by side, with their trials' scores
    and curves), the best approach and why (importances), every trial, the overfitting verdicts
    and the error analysis of the best model (worst images, false alarms, misses) on the val
    split, or on --data/--split. --test is refused there.

    Examples:

      seglab report runs/train

      seglab report runs/train --test sample/test/images --single-file

      seglab report runs/train --data moved/dataset/ --out pages/train.html

      seglab report runs/train --crf   # metrics and galleries of CRF-refined masks

      seglab report studies/cig
    """
    from seglab.api import report

    page = report(
        run,
        data=data,
        test=test,
        out=out,
        split=split,
        single_file=single_file,
        thumb=thumb,
        refresh=refresh,
        crf=crf,
        crf_iterations=crf_iterations,
    )
    typer.echo(str(page))
