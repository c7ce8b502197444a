"""``seglab classical`` and ``seglab compare``: classical segmentation methods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seglab.cli.console import console
from seglab.cli.options import OverwriteOut

# Written out rather than read from seglab.classical.METHODS so ``--help`` imports nothing
# heavy; a test checks that the two lists agree.
CLASSICAL_METHODS = (
    "otsu, multi_otsu, li, yen, triangle, sauvola, niblack, histogram, kmeans, watershed, "
    "watershed_gradient, compact_watershed, snake, chan_vese, morph_chan_vese, morph_geodesic, "
    "slic, felzenszwalb"
)
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Method parameter NAME=VALUE (repeatable, or a,b=...)."),
]
TuneOpt = Annotated[
    bool, typer.Option("--tune", help="Grid-search the parameters on the train split by Dice.")
]
TuneImagesOpt = Annotated[int, typer.Option(help="Train images used to fit/tune.")]
PreOpt = Annotated[
    str | None,
    typer.Option(help='Preprocessing steps, e.g. "clahe;gaussian:sigma=1" (seglab.transforms).'),
]
PostOpt = Annotated[
    str | None,
    typer.Option(help='Mask clean-up, e.g. "remove_small_objects:min_size=30;closing".'),
]


def classical_cmd(
    method: Annotated[str, typer.Argument(help=f"One of: {CLASSICAL_METHODS}.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("classical"),
    input: Annotated[
        str | None,
        typer.Option("--input", help="Images to segment: folder, file or glob (quoted)."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Labelled dataset: fit on train; without --input, score on val."
        ),
    ] = None,
    param: ParamOpt = None,
    tune: TuneOpt = False,
    tune_images: TuneImagesOpt = 12,
    preprocess: PreOpt = None,
    postprocess: PostOpt = None,
    overwrite: OverwriteOut = False,
) -> None:
    """Segment images with a classical method: masks (PNG 0/255), and with a labelled dataset
    per-image Dice/IoU (scores.csv) and a summary (summary.json).

    Polarity left at auto is chosen on the training labels when there are any (otherwise the
    smaller side of the threshold is the object). Unreadable images are skipped with a warning
    that names them, and the command exits 1. --tune grid-searches the method's parameters on
    the train split, then scores the val split: val is never used to choose.

    Examples:

      seglab classical otsu --input photos/ --out otsu_masks/

      seglab classical kmeans --data sample/ --out runs/kmeans --tune

      seglab classical watershed --data nuclei/ --input "new/*.png" --out ws/ -p min_distance=7

      seglab classical otsu --data nuclei/ --preprocess clahe --postprocess remove_small_objects
    """
    from seglab.api import classical
    from seglab.cli.render import print_classical_summary
    from seglab.config import parse_assignments

    summary = classical(
        method,
        out=out,
        input=input,
        data=data,
        params=parse_assignments(param),
        tune=tune,
        tune_images=tune_images,
        preprocess=preprocess,
        postprocess=postprocess,
        overwrite=overwrite,
    )
    print_classical_summary(summary, out, console)
    if summary.get("skipped"):  # as seglab predict: the warnings named them
        raise typer.Exit(1)


def compare_cmd(
    data: Annotated[Path, typer.Option("--data", help="Labelled dataset (train + val).")],
    methods: Annotated[
        str, typer.Option("--methods", "-m", help=f"Comma-separated, from: {CLASSICAL_METHODS}.")
    ] = "otsu,histogram,kmeans,watershed,chan_vese,slic",
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("compare"),
    tune: TuneOpt = False,
    tune_images: TuneImagesOpt = 12,
    examples: Annotated[int, typer.Option(help="Val images in examples.png.")] = 4,
    preprocess: PreOpt = None,
    postprocess: PostOpt = None,
    overwrite: OverwriteOut = False,
) -> None:
    """Compare classical methods on one dataset: a table (Dice mean ± std, IoU, precision,
    recall, seconds per image) printed and written as compare.csv and compare.md, plus
    examples.png (image | truth | each method). The scoring is the code that scores networks.

    Examples:

      seglab compare --data sample/ --methods otsu,kmeans,watershed,chan_vese

      seglab compare --data nuclei/ --tune --out runs/compare_nuclei
    """
    from seglab.api import compare
    from seglab.cli.render import print_compare

    result = compare(
        data,
        methods=methods,
        out=out,
        tune=tune,
        tune_images=tune_images,
        examples=examples,
        preprocess=preprocess,
        postprocess=postprocess,
        overwrite=overwrite,
    )
    print_compare(result, console)
