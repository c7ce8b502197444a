"""``seglab predict``: masks (objects, for an instance run), overlays, crops, probabilities,
RLE CSV and COCO JSON of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seglab.cli.console import console
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

Opt = typer.Option

ModelOpt = Annotated[
    list[Path],
    Opt(
        "--model",
        help="Run folder (or its model.json), or a folds run; repeat it (--model A --model B) "
        "to average several runs.",
    ),
]
InputOpt = Annotated[str, Opt("--input", help="Images: folder, file or glob (quoted).")]
OutOpt = Annotated[
    Path,
    Opt(
        "--out",
        help="Output folder (masks/ or, for an instance run, labels/; overlays/, crops/, "
        "summary.json).",
    ),
]
OverlaysOpt = Annotated[
    bool, Opt("--overlays/--no-overlays", help="Write overlays/ (image + tinted mask).")
]
CropsOpt = Annotated[
    bool,
    Opt(
        "--crops/--no-crops",
        help="Write crops/ (the image cropped by the mask; per object for an instance run).",
    ),
]
SaveProbsOpt = Annotated[
    bool,
    Opt(
        "--save-probs",
        help="Write probs/NAME.npy (float16 probabilities; not for Mask R-CNN runs).",
    ),
]
CrfOpt = Annotated[
    bool,
    Opt(
        "--crf",
        help="Refine each image's probabilities with a dense CRF over the image (ConvCRF; "
        "labels snap to image edges; semantic runs only).",
    ),
]
CrfIterationsOpt = Annotated[
    int, Opt("--crf-iterations", help="Mean-field iterations of --crf [5].", min=1)
]
RleCsvOpt = Annotated[
    Path | None,
    Opt(
        "--rle-csv",
        help="Also write the seed's run-length CSV here (instance runs: DSB-2018's, a row per "
        "object).",
    ),
]
CocoJsonOpt = Annotated[
    Path | None,
    Opt(
        "--coco-json",
        help="Also write COCO results (RLE) JSON here (instance runs: an entry per object).",
    ),
]


def predict_cmd(
    model: ModelOpt,
    input: InputOpt,
    out: OutOpt = Path("predictions"),
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
    overlays: OverlaysOpt = True,
    crops: CropsOpt = True,
    save_probs: SaveProbsOpt = False,
    rle_csv: RleCsvOpt = None,
    coco_json: CocoJsonOpt = None,
    overwrite: Overwrite = False,
    quiet: Quiet = False,
) -> None:
    """Predict masks with a trained run, with its preprocessing and input size: OUT/masks
    (0/255 for binary models, class indices otherwise), OUT/overlays, OUT/crops and
    OUT/summary.json; optionally probabilities, the seed's RLE CSV and COCO results JSON.

    An instance run (trained with --task instance) writes its objects: OUT/labels (16-bit
    label images, ids 1..N), OUT/overlays (a colour per object), OUT/crops/NAME/ID.png (an
    object's box, objects under 4 px skipped), a CSV row and a COCO entry per object.
    --threshold and --crf do not apply to it (the card's instance thresholds cut the objects).

    Examples:

      seglab predict --model runs/train --input sample/test/images --out predictions/

      seglab predict --model runs/train --input "photos/*.jpg" --threshold 0.4 --tta

      seglab predict --model runs/train --input slide.tif --tile 512 --overlap 0.5

      seglab predict --model runs/train --input photos/ --crf   # edges snapped by a dense CRF

      seglab predict --model runs/train --input val/images --rle-csv val.csv --coco-json val.json

      seglab predict --model runs/folds --input photos/   # the ensemble of a --folds run

      seglab predict --model runs/train --model runs/train-2 --input photos/ --backend onnxruntime

    Ensembles: --model given several times, or a folds run (seglab train --folds), predicts
    with the mean of the runs' probabilities (each run prepares the image as it was trained;
    --backend applies to each); a binary ensemble's threshold is the mean of the runs'.
    OUT/summary.json lists the members. Instance runs predict one at a time.
    """
    from seglab.api import predict
    from seglab.cli.render import print_predictions

    result = predict(
        list(model),
        input=input,
        out=out,
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
        overlays=overlays,
        crops=crops,
        save_probs=save_probs,
        rle_csv=rle_csv,
        coco_json=coco_json,
        overwrite=overwrite,
        progress=not quiet,
    )
    print_predictions(result, console)
    if result.skipped:
        raise typer.Exit(1)
