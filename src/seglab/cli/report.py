"""``seglab report``: one HTML page of a training run (:mod:`seglab.report.html`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Opt = typer.Option


def report_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder (written by seglab train).")],
    data: Annotated[
        Path | None,
        Opt(
            "--data",
            help="Labelled dataset to evaluate on (default: the run's, split as in training).",
        ),
    ] = None,
    test: Annotated[
        str | None,
        Opt("--test", help="Unlabelled images for the test gallery: folder, file or glob."),
    ] = None,
    out: Annotated[
        Path | None, Opt("--out", help="The HTML file to write [RUN/report.html].")
    ] = None,
    single_file: Annotated[
        bool, Opt("--single-file", help="Embed the images: one self-contained HTML file.")
    ] = False,
    split: Annotated[str, Opt("--split", help="Split of the metrics and the gallery.")] = "val",
    thumb: Annotated[int, Opt("--thumb", help="Longest side of gallery images, px.")] = 256,
    refresh: Annotated[
        bool, Opt("--refresh", help="Evaluate again even if RUN/report/evaluation is current.")
    ] = False,
) -> None:
    """Write one HTML page of a training run: config, data summary, training curves,
    overfitting verdict, metrics, a val gallery (image | truth | prediction | crop, worst Dice
    first) and with --test a test gallery (image | predicted mask | crop). Prints the page's path.

    For an instance run: DSB mean AP, AJI, COCO mask and box AP and the objects found, missed,
    false, split and merged, and a gallery of true and predicted objects, worst first.

    The page is built from files on disk: RUN/report/ keeps the evaluation (reused while it is
    newer than the weights), the test predictions and the thumbnails, linked from the page;
    --single-file embeds them instead. Run it again at any time to regenerate the page.

    Examples:

      seglab report runs/train

      seglab report runs/train --test sample/test/images --single-file

      seglab report runs/train --data moved/dataset/ --out pages/train.html
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
    )
    typer.echo(str(page))
