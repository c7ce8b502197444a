"""``seglab predict``: masks, overlays, crops, probabilities, RLE CSV and COCO JSON of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seglab.cli.options import Backend, BatchSize, Device, Overlap, Resize, Threshold, Tile, Tta

Opt = typer.Option


def predict_cmd(
    model: Annotated[Path, Opt("--model", help="Run folder (or its model.json).")],
    input: Annotated[str, Opt("--input", help="Images: folder, file or glob (quoted).")],
    out: Annotated[
        Path, Opt("--out", help="Output folder (masks/, overlays/, crops/, summary.json).")
    ] = Path("predictions"),
    threshold: Threshold = None,
    tta: Tta = False,
    tile: Tile = None,
    overlap: Overlap = 0.25,
    batch_size: BatchSize = 8,
    backend: Backend = "auto",
    resize: Resize = "fit",
    device: Device = None,
    overlays: Annotated[
        bool, Opt("--overlays/--no-overlays", help="Write overlays/ (image + tinted mask).")
    ] = True,
    crops: Annotated[
        bool, Opt("--crops/--no-crops", help="Write crops/ (the image cropped by the mask).")
    ] = True,
    save_probs: Annotated[
        bool, Opt("--save-probs", help="Write probs/NAME.npy (float16 probabilities).")
    ] = False,
    rle_csv: Annotated[
        Path | None, Opt("--rle-csv", help="Also write the seed's run-length CSV here.")
    ] = None,
    coco_json: Annotated[
        Path | None, Opt("--coco-json", help="Also write COCO results (RLE) JSON here.")
    ] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Write into a non-empty folder.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Predict masks with a trained run, with its preprocessing and input size: OUT/masks
    (0/255 for binary models, class indices otherwise), OUT/overlays, OUT/crops and
    OUT/summary.json; optionally probabilities, the seed's RLE CSV and COCO results JSON.

    Examples:

      seglab predict --model runs/train --input sample/test/images --out predictions/

      seglab predict --model runs/train --input "photos/*.jpg" --threshold 0.4 --tta

      seglab predict --model runs/train --input slide.tif --tile 512 --overlap 0.5

      seglab predict --model runs/train --input val/images --rle-csv val.csv --coco-json val.json
    """
    from seglab.api import predict
    from seglab.cli import console

    summary = predict(
        model,
        input=input,
        out=out,
        threshold=threshold,
        tta=tta,
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        backend=backend,
        device=device,
        resize=resize,
        overlays=overlays,
        crops=crops,
        save_probs=save_probs,
        rle_csv=rle_csv,
        coco_json=coco_json,
        overwrite=overwrite,
        progress=not quiet,
    )
    rate = summary["images_per_second"]
    console.print(
        f"{summary['images']} images predicted in {summary['seconds']:.1f} s"
        + (f" ({rate:.1f} images/s, {summary['backend']})" if rate else "")
        + f"; masks in {out / 'masks'}",
        highlight=False,
    )
    for key in ("rle_csv", "coco_json"):
        if summary[key]:
            console.print(f"{key.replace('_', ' ').upper()}: {summary[key]}", highlight=False)
    if summary["skipped"]:
        console.print(
            f"[yellow]{len(summary['skipped'])} unreadable images skipped:[/yellow] "
            + ", ".join(summary["skipped"][:5])
            + (" ..." if len(summary["skipped"]) > 5 else ""),
            highlight=False,
        )
        raise typer.Exit(1)
