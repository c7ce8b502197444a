"""Predicting a folder of images with a trained run: :func:`predict_images`.

What lands in ``out`` (names made from each image's key with :func:`~seglab.data.preview.
safe_name`, made unique):

* ``masks/NAME.png``: 0/255 for a binary model, class indices otherwise, at the image's size.
* ``overlays/NAME.png``: the image with the predicted classes tinted and outlined.
* ``crops/NAME.png``: the image cropped by the mask, as on the seed's page: the image where the
  mask is set, black elsewhere.
* ``probs/NAME.npy`` (``save_probs``): float16 probabilities, ``H x W`` (binary: the
  foreground) or ``K x H x W``.
* ``summary.json``: the settings, counts, timings and one item per image with its files.
* ``rle_csv`` / ``coco_json`` (files anywhere): the seed's run-length CSV and COCO results with
  RLE (:mod:`seglab.predict.formats`).

Unreadable images are skipped with a warning naming them and listed in the summary; the rest
are predicted. Outputs never overwrite inputs, and a non-empty ``out`` needs ``overwrite``.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from seglab.errors import DataError
from seglab.predict.model import LoadedModel, load_model

OUTPUT_FOLDERS = ("masks", "overlays", "crops", "probs")


def crop_by_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image where ``mask != 0`` and black elsewhere (``H x W x 3`` uint8), as the seed's
    page shows "the image cropped by the mask"."""
    from seglab.data.preview import to_display

    rgb = to_display(image)
    return np.where((mask != 0)[..., None], rgb, 0).astype(np.uint8)


def _check_outputs(out: Path, files: list[Path | None], inputs: set[Path], overwrite: bool):
    """Refuse outputs that are input folders, or existing files without ``overwrite``."""
    for folder in (out, *(out / name for name in OUTPUT_FOLDERS)):
        if folder.resolve() in inputs:
            raise DataError(
                "the output folder holds the input images: choose another --out", path=out
            )
    for file in files:
        if file is None:
            continue
        if file.exists() and not overwrite:
            raise DataError(
                "exists: pass --overwrite to replace it, or choose another file", path=file
            )


@contextmanager
def progress_bar(total: int, enabled: bool, description: str = "predicting") -> Iterator[Any]:
    """A transient rich progress bar over ``total`` images; yields ``advance(n)`` (a no-op when
    not ``enabled``)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _chunks(source, size: int) -> Iterator[list[tuple[int, np.ndarray]]]:
    """``(index, image)`` pairs of readable images, ``size`` at a time; unreadable ones are
    warned about and yielded as ``(index, None)``."""
    chunk: list[tuple[int, np.ndarray]] = []
    for i in range(len(source.items)):
        try:
            chunk.append((i, source.load_image(i)))
        except DataError as exc:
            warnings.warn(f"skipped: {exc}", RuntimeWarning, stacklevel=3)
            chunk.append((i, None))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Writers:
    """Writes one image's outputs and collects the RLE rows and COCO entries."""

    def __init__(self, model: LoadedModel, out: Path, options: dict[str, Any]):
        self.model, self.out, self.options = model, out, options
        self.used: set[str] = set()
        self.count = 0
        self.rle_rows: list[list[str]] = []
        self.coco: list[dict[str, Any]] = []
        for name in OUTPUT_FOLDERS:
            if name == "masks" or options[name]:
                (out / name).mkdir(exist_ok=True)

    def write(self, key: str, image_path: str, image: np.ndarray, probs: np.ndarray) -> dict:
        from seglab.data.preview import overlay, safe_name, unique_name
        from seglab.io import write_mask
        from seglab.predict import formats

        model, out, options = self.model, self.out, self.options
        mask = model.to_mask(probs, threshold=options["threshold"])
        name = unique_name(safe_name(key), self.used)
        self.count += 1
        item: dict[str, Any] = {"key": key, "image": image_path, "mask": f"masks/{name}.png"}
        write_mask(out / item["mask"], mask * 255 if model.binary else mask)
        if options["overlays"]:
            item["overlay"] = f"overlays/{name}.png"
            tinted = overlay(image, mask, num_classes=max(2, len(model.classes)))
            write_mask(out / item["overlay"], tinted)
        if options["crops"]:
            item["crop"] = f"crops/{name}.png"
            write_mask(out / item["crop"], crop_by_mask(image, mask))
        if options["probs"]:
            item["probs"] = f"probs/{name}.npy"
            np.save(out / item["probs"], probs.astype(np.float16))
        if options["rle_csv"] is not None:
            self.rle_rows.extend(formats.rle_rows(key, mask, model.classes))
        if options["coco_json"] is not None:
            self.coco.extend(
                formats.coco_entries(key, mask, model.classes, self.count, probs=probs)
            )
        item["foreground"] = round(float(np.count_nonzero(mask)) / mask.size, 6)
        return item

    def finish(self) -> None:
        from seglab.predict import formats

        if self.options["rle_csv"] is not None:
            formats.write_rle_predictions(
                self.options["rle_csv"], self.rle_rows, self.model.classes
            )
        if self.options["coco_json"] is not None:
            formats.write_coco_results(self.options["coco_json"], self.coco)


def predict_images(
    run: str | Path | LoadedModel,
    input: str | Path,
    out: str | Path,
    *,
    threshold: float | None = None,
    tta: bool = False,
    tile: int | None = None,
    overlap: float = 0.25,
    batch_size: int = 8,
    backend: str = "auto",
    device: str | None = None,
    resize: str = "fit",
    overlays: bool = True,
    crops: bool = True,
    save_probs: bool = False,
    rle_csv: str | Path | None = None,
    coco_json: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Predict every image of ``input`` (folder, file or glob) with the run ``run`` and write
    the outputs listed in the module docstring to ``out``; return the summary.

    ``tta`` averages the four flips; ``tile`` (network-space pixels) predicts large images by
    a sliding window with ``overlap`` and Gaussian blending; ``batch_size`` images (or tiles)
    go through the network together; ``backend`` is ``auto``, ``torch``, ``channels_last`` or
    ``onnxruntime`` (:mod:`seglab.predict.backends`); ``resize`` is ``fit``, ``scale`` or ``none``
    (:class:`~seglab.predict.LoadedModel`).
    """
    from seglab.data.inputs import image_source
    from seglab.data.preview import prepare_out

    if batch_size < 1:
        raise DataError(f"batch size must be >= 1, got {batch_size}", field="batch_size")
    source = image_source(input)
    inputs = {Path(item.image_path).resolve().parent for item in source.items}
    out = Path(out)
    files = [Path(f) if f is not None else None for f in (rle_csv, coco_json)]
    _check_outputs(out, files, inputs, overwrite)
    if isinstance(run, LoadedModel):
        model = run
    else:
        model = load_model(run, device=device, backend=backend, resize=resize)
    out = prepare_out(out, overwrite, what="predictions")
    options = {
        "threshold": threshold,
        "overlays": overlays,
        "crops": crops,
        "probs": save_probs,
        "rle_csv": files[0],
        "coco_json": files[1],
    }
    writers = _Writers(model, out, options)
    items, skipped = [], []
    start = time.perf_counter()
    with progress_bar(len(source.items), progress) as advance:
        for chunk in _chunks(source, batch_size):
            readable = [(i, image) for i, image in chunk if image is not None]
            skipped += [str(source.items[i].image_path) for i, image in chunk if image is None]
            probs = model.predict_proba_batch(
                [image for _, image in readable],
                tta=tta,
                tile=tile,
                overlap=overlap,
                batch_size=batch_size,
            )
            for (i, image), p in zip(readable, probs, strict=True):
                item = source.items[i]
                items.append(writers.write(item.key, str(item.image_path), image, p))
            advance(len(chunk))
    writers.finish()
    seconds = time.perf_counter() - start
    summary = {
        "model": str(model.run_dir),
        "backend": model.backend,
        "input": str(input),
        "images": len(items),
        "skipped": skipped,
        "seconds": round(seconds, 3),
        "images_per_second": round(len(items) / seconds, 3) if seconds > 0 else None,
        "classes": model.classes,
        "threshold": model.threshold if threshold is None else threshold,
        "tta": tta,
        "tile": tile,
        "overlap": overlap if tile else None,
        "resize": model.resize,
        "rle_csv": str(files[0]) if files[0] else None,
        "coco_json": str(files[1]) if files[1] else None,
        "items": items,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
