"""Predicting a folder of images with a trained run: :func:`predict_images`."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

from seglab.errors import DataError
from seglab.predict.model import load_model


def predict_images(
    run: str | Path,
    input: str | Path,
    out: str | Path,
    *,
    threshold: float | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write one PNG mask per image of ``input`` (folder, file or glob) to ``out/masks``:
    0/255 for binary models, class indices otherwise. Unreadable images are skipped with a
    warning naming them and counted in the summary (``summary.json``)."""
    from seglab.data.images import image_source
    from seglab.data.preview import prepare_out, safe_name, unique_name
    from seglab.io import write_mask

    model = load_model(run)
    source = image_source(input)
    out = prepare_out(Path(out), overwrite, what="predictions")
    inputs = {Path(item.image_path).resolve().parent for item in source.items}
    if (out / "masks").resolve() in inputs or out.resolve() in inputs:
        raise DataError("the output folder holds the input images: choose another --out", path=out)
    (out / "masks").mkdir(exist_ok=True)
    binary = len(model.classes) <= 2
    written, skipped, used = [], [], set()
    start = time.perf_counter()
    for i, item in enumerate(source.items):
        try:
            image = source.load_image(i)
        except DataError as exc:
            warnings.warn(f"skipped: {exc}", RuntimeWarning, stacklevel=2)
            skipped.append(str(item.image_path))
            continue
        mask = model.predict(image, threshold=threshold)
        name = unique_name(safe_name(item.key), used)
        write_mask(out / "masks" / f"{name}.png", mask * 255 if binary else mask)
        written.append(name)
    summary = {
        "model": str(run),
        "input": str(input),
        "images": len(written),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - start, 2),
        "classes": model.classes,
        "threshold": model.threshold if threshold is None else threshold,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
