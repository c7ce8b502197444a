"""The ``seglab`` command: parse flags, call one :mod:`seglab.api` function, print, exit.

Heavy libraries are imported inside the commands so ``seglab --help`` answers at once.
Errors seglab raises on purpose (:class:`~seglab.errors.SeglabError`) are printed without a
traceback and exit with status 2; ``data check`` exits 1 when the dataset has errors.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from seglab import __version__
from seglab.errors import SeglabError

app = typer.Typer(
    help="seglab: image segmentation from labelled images to the best model and its predictions.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Read, check, preview, convert datasets; write the sample dataset.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

console = Console()
err_console = Console(stderr=True)

PathArg = Annotated[
    Path | None,
    typer.Argument(
        help="Dataset folder (COCO or image/mask folders, optionally with train/ val/ test/) "
        "or a COCO JSON file."
    ),
]
AnnotationsOpt = Annotated[
    Path | None, typer.Option("--annotations", help="COCO annotation JSON (any name).")
]
ImagesOpt = Annotated[Path | None, typer.Option("--images", help="Folder of images.")]
MasksOpt = Annotated[
    Path | None, typer.Option("--masks", help="Folder of masks matched to images by file stem.")
]
NumClassesOpt = Annotated[
    int | None,
    typer.Option(
        "--num-classes", help="Declare the classes of mask folders (values 0..K-1, 255 = ignore)."
    ),
]
ClassesOpt = Annotated[
    str | None, typer.Option("--classes", help="Comma-separated class names, background first.")
]
CrowdOpt = Annotated[
    str, typer.Option("--crowd", help="COCO iscrowd regions: ignore (255), foreground, background.")
]
LargeOpt = Annotated[
    bool,
    typer.Option("--allow-large-images", help="Read images above Pillow's decompression limit."),
]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Write into a non-empty output folder.")
]


def _data_options(path, annotations, images, masks, num_classes, classes, crowd, large) -> dict:
    return {
        "path": path,
        "annotations": annotations,
        "images": images,
        "masks": masks,
        "num_classes": num_classes,
        "classes": [c.strip() for c in classes.split(",")] if classes else None,
        "crowd": crowd,
        "allow_large_images": large,
    }


def _setup_logging(verbose: bool) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_time=False, show_path=False)],
        force=True,
    )
    logging.captureWarnings(True)


def _version(value: bool) -> None:
    if value:
        console.print(f"seglab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More logging.")] = False,
) -> None:
    """seglab: image segmentation from labelled images to the best model and its predictions."""
    _setup_logging(verbose)


@data_app.command("check")
def data_check(
    path: PathArg = None,
    annotations: AnnotationsOpt = None,
    images: ImagesOpt = None,
    masks: MasksOpt = None,
    num_classes: NumClassesOpt = None,
    classes: ClassesOpt = None,
    crowd: CrowdOpt = "ignore",
    allow_large_images: LargeOpt = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report as JSON here.")
    ] = None,
    max_problems: Annotated[int, typer.Option(help="Problems to print (all go to --json).")] = 50,
) -> None:
    """Validate a dataset, print a summary and every problem (file, JSON key, annotation id).

    Exits 1 when errors are found (warnings alone exit 0).

    Examples:

      seglab data check cig_butts/

      seglab data check --annotations export/_annotations.coco.json --images export/

      seglab data check data/ --images data/img --masks data/gt --num-classes 3
    """
    from seglab.api import check_dataset
    from seglab.cli.render import print_check_report

    report = check_dataset(
        **_data_options(
            path, annotations, images, masks, num_classes, classes, crowd, allow_large_images
        )
    )
    print_check_report(report, console, max_problems=max_problems)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report.to_dict(), indent=1, default=str))
    raise typer.Exit(0 if report.ok else 1)


@data_app.command("preview")
def data_preview(
    path: PathArg = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the PNGs.")] = Path("preview"),
    split: Annotated[
        str | None, typer.Option(help="Split to preview (default: the first found).")
    ] = None,
    num: Annotated[int, typer.Option("--num", "-n", help="Number of images.")] = 16,
    seed: Annotated[int, typer.Option(help="Seed of the choice of images.")] = 0,
    overwrite: OverwriteOpt = False,
    annotations: AnnotationsOpt = None,
    images: ImagesOpt = None,
    masks: MasksOpt = None,
    num_classes: NumClassesOpt = None,
    classes: ClassesOpt = None,
    crowd: CrowdOpt = "ignore",
    allow_large_images: LargeOpt = False,
) -> None:
    """Write overlay PNGs (image | coloured mask with contours) for N images and a grid.png.

    Examples:

      seglab data preview cig_butts/ --out preview/ -n 12

      seglab data preview nuclei/ --split val --out preview/
    """
    from seglab.api import preview_dataset

    paths = preview_dataset(
        out=out,
        split=split,
        num=num,
        seed=seed,
        overwrite=overwrite,
        **_data_options(
            path, annotations, images, masks, num_classes, classes, crowd, allow_large_images
        ),
    )
    console.print(f"wrote {len(paths) - 1} previews and {paths[-1]}")


@data_app.command("sample")
def data_sample(
    out: Annotated[Path, typer.Option("--out", help="Folder to write.")] = Path("sample"),
    train: Annotated[int, typer.Option(help="Number of training images.")] = 200,
    val: Annotated[int, typer.Option(help="Number of validation images.")] = 50,
    test: Annotated[int, typer.Option(help="Number of unlabelled test images.")] = 20,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 512,
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same files.")] = 0,
    overwrite: OverwriteOpt = False,
) -> None:
    """Write the embedded sample dataset (generated here, nothing downloaded) in the seed's
    COCO layout: train/images/*.jpg + train/coco_annotations.json, val/ alike, test/images/.

    Examples:

      seglab data sample --out sample/

      seglab data sample --out tiny/ --train 20 --val 5 --test 5 --size 256
    """
    from seglab.api import write_sample

    summary = write_sample(
        out, n_train=train, n_val=val, n_test=test, size=size, seed=seed, overwrite=overwrite
    )
    console.print(f"wrote the sample dataset to {out}")
    console.print(summary, highlight=False)


@data_app.command("convert")
def data_convert(
    path: PathArg = None,
    to: Annotated[str, typer.Option("--to", help="masks, coco or rle-csv.")] = "masks",
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("converted"),
    segmentation: Annotated[
        str,
        typer.Option(help="For --to coco: polygon (holes kept as RLE) or rle."),
    ] = "polygon",
    overwrite: OverwriteOpt = False,
    annotations: AnnotationsOpt = None,
    images: ImagesOpt = None,
    masks: MasksOpt = None,
    num_classes: NumClassesOpt = None,
    classes: ClassesOpt = None,
    crowd: CrowdOpt = "ignore",
    allow_large_images: LargeOpt = False,
) -> None:
    """Convert COCO -> mask folders, mask folders -> COCO, or either -> the seed's RLE CSV.

    Examples:

      seglab data convert cig_butts/ --to masks --out cig_masks/

      seglab data convert cig_masks/ --to coco --out cig_coco/

      seglab data convert cig_butts/ --to rle-csv --out csv/
    """
    from seglab.api import convert_dataset

    summary = convert_dataset(
        out=out,
        to=to,
        segmentation=segmentation,
        overwrite=overwrite,
        **_data_options(
            path, annotations, images, masks, num_classes, classes, crowd, allow_large_images
        ),
    )
    console.print(f"converted to {to} in {out}")
    console.print(summary, highlight=False)


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


@app.command("classical")
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
    overwrite: OverwriteOpt = False,
) -> None:
    """Segment images with a classical method: masks (PNG 0/255), and with a labelled dataset
    per-image Dice/IoU (scores.csv) and a summary (summary.json).

    Polarity left at auto is chosen on the training labels when there are any (otherwise the
    smaller side of the threshold is the object). --tune grid-searches the method's parameters on
    the train split, then scores the val split: val is never used to choose.

    Examples:

      seglab classical otsu --input photos/ --out otsu_masks/

      seglab classical kmeans --data sample/ --out runs/kmeans --tune

      seglab classical watershed --data nuclei/ --input "new/*.png" --out ws/ -p min_distance=7

      seglab classical otsu --data nuclei/ --preprocess clahe --postprocess remove_small_objects
    """
    from seglab.api import classical
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
    from seglab.cli.render import print_classical_summary

    print_classical_summary(summary, out, console)


@app.command("compare")
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
    overwrite: OverwriteOpt = False,
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


from seglab.cli.evaluate import evaluate_cmd  # noqa: E402
from seglab.cli.export import export_cmd  # noqa: E402
from seglab.cli.predict import predict_cmd  # noqa: E402  (long commands live apart)
from seglab.cli.report import report_cmd  # noqa: E402
from seglab.cli.train import train_cmd  # noqa: E402

app.command("train")(train_cmd)
app.command("predict")(predict_cmd)
app.command("export")(export_cmd)
app.command("report")(report_cmd)
app.command("evaluate")(evaluate_cmd)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status; seglab's own errors print without a traceback."""
    try:
        app(args=argv, standalone_mode=True)
    except SeglabError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
