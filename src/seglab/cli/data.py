"""``seglab data``: check, preview, sample and convert datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seglab.cli.console import console
from seglab.cli.options import OverwriteOut, split_names

data_app = typer.Typer(
    help="Read, check, preview, convert datasets; write the sample dataset.",
    no_args_is_help=True,
)

PathArg = Annotated[
    Path | None,
    typer.Argument(
        help="Dataset folder (COCO, image/mask folders or DSB-2018 ID/images + ID/masks "
        "folders, optionally with train/ val/ test/) or a COCO JSON file."
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
LabelsOpt = Annotated[
    str,
    typer.Option(
        "--labels",
        help="What mask values mean: auto (16/32-bit masks are label images, 8-bit ones class "
        "masks), classes (a class per value) or instances (an object per value).",
    ),
]


def _data_options(
    path, annotations, images, masks, num_classes, classes, crowd, large, labels="auto"
) -> dict[str, Any]:
    """The dataset flags every data command shares, as :class:`~seglab.config.DataConfig`
    fields."""
    return {
        "path": path,
        "annotations": annotations,
        "images": images,
        "masks": masks,
        "num_classes": num_classes,
        "classes": split_names(classes),
        "crowd": crowd,
        "allow_large_images": large,
        "labels": labels,
    }


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
    labels: LabelsOpt = "auto",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report as JSON here.")
    ] = None,
    max_problems: Annotated[int, typer.Option(help="Problems to print (all go to --json).")] = 50,
    crop_size: Annotated[
        int | None,
        typer.Option(
            "--crop-size",
            min=1,
            help="Training crop side (px): count the objects larger than it, which every crop "
            "must cut.",
        ),
    ] = None,
    objects: Annotated[
        bool,
        typer.Option(
            "--objects/--no-objects",
            help="Count touching objects (and those cut by --crop-size) in labelled splits.",
        ),
    ] = True,
) -> None:
    """Validate a dataset, print a summary and every problem (file, JSON key, annotation id).

    Exits 1 when errors are found (warnings alone exit 0).

    Examples:

      seglab data check cig_butts/

      seglab data check --annotations export/_annotations.coco.json --images export/

      seglab data check data/ --images data/img --masks data/gt --num-classes 3

      seglab data check stage1_train/ --crop-size 256
    """
    from seglab.api import check_dataset
    from seglab.cli.render import print_check_report

    report = check_dataset(
        json_out=json_out,
        objects=objects,
        crop_size=crop_size,
        **_data_options(
            path,
            annotations,
            images,
            masks,
            num_classes,
            classes,
            crowd,
            allow_large_images,
            labels,
        ),
    )
    print_check_report(report, console, max_problems=max_problems)
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
    overwrite: OverwriteOut = False,
    annotations: AnnotationsOpt = None,
    images: ImagesOpt = None,
    masks: MasksOpt = None,
    num_classes: NumClassesOpt = None,
    classes: ClassesOpt = None,
    crowd: CrowdOpt = "ignore",
    allow_large_images: LargeOpt = False,
    labels: LabelsOpt = "auto",
) -> None:
    """Write overlay PNGs (image | coloured mask with contours) for N images and a grid.png.

    Examples:

      seglab data preview cig_butts/ --out preview/ -n 12

      seglab data preview nuclei/ --split val --out preview/
    """
    from seglab.api import preview_dataset
    from seglab.cli.render import print_preview

    paths = preview_dataset(
        out=out,
        split=split,
        num=num,
        seed=seed,
        overwrite=overwrite,
        **_data_options(
            path,
            annotations,
            images,
            masks,
            num_classes,
            classes,
            crowd,
            allow_large_images,
            labels,
        ),
    )
    print_preview(paths, console)


@data_app.command("sample")
def data_sample(
    out: Annotated[Path, typer.Option("--out", help="Folder to write.")] = Path("sample"),
    train: Annotated[int, typer.Option(help="Number of training images.")] = 200,
    val: Annotated[int, typer.Option(help="Number of validation images.")] = 50,
    test: Annotated[int, typer.Option(help="Number of unlabelled test images.")] = 20,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 512,
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same files.")] = 0,
    overwrite: OverwriteOut = False,
) -> None:
    """Write the embedded sample dataset (generated here, nothing downloaded) in the seed's
    COCO layout: train/images/*.jpg + train/coco_annotations.json, val/ alike, test/images/.

    Examples:

      seglab data sample --out sample/

      seglab data sample --out tiny/ --train 20 --val 5 --test 5 --size 256
    """
    from seglab.api import write_sample
    from seglab.cli.render import print_sample

    summary = write_sample(
        out, n_train=train, n_val=val, n_test=test, size=size, seed=seed, overwrite=overwrite
    )
    print_sample(summary, out, console)


@data_app.command("convert")
def data_convert(
    path: PathArg = None,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="masks (class masks), coco, labels (16-bit label images, one id per object), "
            "dsb (DSB-2018 folders, one mask per object) or rle-csv.",
        ),
    ] = "masks",
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder (--to rle-csv: SPLIT.csv for each labelled split), or, for "
            "--to rle-csv on a dataset with one labelled split, the .csv file to write.",
        ),
    ] = Path("converted"),
    segmentation: Annotated[
        str,
        typer.Option(help="For --to coco: polygon (holes kept as RLE) or rle."),
    ] = "polygon",
    overwrite: OverwriteOut = False,
    annotations: AnnotationsOpt = None,
    images: ImagesOpt = None,
    masks: MasksOpt = None,
    num_classes: NumClassesOpt = None,
    classes: ClassesOpt = None,
    crowd: CrowdOpt = "ignore",
    allow_large_images: LargeOpt = False,
    labels: LabelsOpt = "auto",
) -> None:
    """Convert between COCO, mask folders, label-image folders and DSB-2018 folders, or any of
    them -> the seed's RLE CSV.

    Examples:

      seglab data convert cig_butts/ --to masks --out cig_masks/

      seglab data convert cig_masks/ --to coco --out cig_coco/

      seglab data convert cig_butts/ --to rle-csv --out csv/

      seglab data convert stage1_train/ --to labels --out nuclei_labels/

      seglab data convert nuclei_labels/ --to dsb --out nuclei_dsb/

      seglab data convert --images imgs/ --masks masks/ --to rle-csv --out train.csv
    """
    from seglab.api import convert_dataset
    from seglab.cli.render import print_conversion

    summary = convert_dataset(
        out=out,
        to=to,
        segmentation=segmentation,
        overwrite=overwrite,
        **_data_options(
            path,
            annotations,
            images,
            masks,
            num_classes,
            classes,
            crowd,
            allow_large_images,
            labels,
        ),
    )
    print_conversion(summary, to, out, console)
