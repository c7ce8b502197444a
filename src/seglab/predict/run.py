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

An instance run (its card's ``task`` is ``instance``) writes its objects instead, with the same
call: ``labels/NAME.png`` (16-bit label images), ``overlays/`` (a colour per object),
``crops/NAME/ID.png`` (one per object), ``probs/`` (border runs), a CSV row and a COCO entry
per object; ``--threshold`` is refused (:mod:`seglab.predict.instance_outputs`).

An ensemble (several runs, or a folds run of ``seglab train --folds``: an
:class:`~seglab.predict.ensemble.EnsembleModel`) writes the same files from the mean of its
members' probabilities; ``summary.json`` lists the ``members``.

Unreadable images are skipped with a warning naming them and listed in the summary; the rest
are predicted. Outputs never overwrite inputs, and a non-empty ``out`` needs ``overwrite``.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.progress import progress_bar
from seglab.errors import DataError
from seglab.predict.ensemble import EnsembleModel, is_ensemble, load_model_or_ensemble, unwrap
from seglab.predict.instance_outputs import (
    INSTANCE_FOLDERS,
    InstanceModel,
    InstanceWriters,
    PredictedObjects,
    check_instance_options,
    instance_predictor,
    instance_settings,
)
from seglab.predict.instances import is_instance_run
from seglab.predict.model import LoadedModel
from seglab.predict.options import PredictOptions

OUTPUT_FOLDERS = ("masks", "overlays", "crops", "probs")


def crop_by_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image where ``mask != 0`` and black elsewhere (``H x W x 3`` uint8), as the seed's
    page shows "the image cropped by the mask"."""
    from seglab.core.overlay import to_display

    rgb = to_display(image)
    return np.where((mask != 0)[..., None], rgb, 0).astype(np.uint8)


def _check_outputs(out: Path, files: list[Path | None], inputs: set[Path], overwrite: bool):
    """Refuse outputs that are input folders, existing files without ``overwrite``, or paths
    where nothing can be written (:func:`~seglab.core.files.check_output_path`)."""
    from seglab.core.files import check_output_path

    check_output_path(out, option="--out")
    for file, option in zip(files, ("--rle-csv", "--coco-json"), strict=False):
        if file is not None:
            check_output_path(file, option=option)
    for folder in (out, *(out / name for name in {*OUTPUT_FOLDERS, *INSTANCE_FOLDERS})):
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


@dataclass(frozen=True)
class PredictedImage:
    """One predicted image: its key and source, the files written for it (relative to the
    output folder; ``None`` when not asked for) and the foreground share of its mask."""

    key: str
    image: str
    mask: str
    foreground: float
    overlay: str | None = None
    crop: str | None = None
    probs: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` item: the files that exist, in the order they are written."""
        out: dict[str, Any] = {"key": self.key, "image": self.image, "mask": self.mask}
        for name in ("overlay", "crop", "probs"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out["foreground"] = self.foreground
        return out


@dataclass(frozen=True)
class PredictResult:
    """What :func:`predict_images` did: the settings it ran with, the counts and timings, one
    :class:`PredictedImage` per image (:class:`~seglab.predict.instance_outputs.
    PredictedObjects` for an instance run: ``task`` ``"instance"``, ``threshold`` ``None``,
    ``instance`` the card's cut settings); ``members``: an ensemble's run folders (``None``
    for one run); ``crf``: the dense CRF's options (``None``: no CRF); :meth:`to_dict` is
    ``summary.json``."""

    out: Path
    model: str
    backend: str
    input: str
    images: int
    skipped: tuple[str, ...]
    seconds: float
    images_per_second: float | None
    classes: tuple[str, ...]
    threshold: float | None
    tta: bool
    tile: int | None
    overlap: float | None
    resize: str
    rle_csv: str | None
    coco_json: str | None
    items: tuple[PredictedImage | PredictedObjects, ...]
    task: str = "semantic"
    instance: dict[str, Any] | None = None
    members: tuple[str, ...] | None = None
    crf: dict[str, Any] | None = None

    @property
    def objects_per_image(self) -> list[int]:
        """The number of objects of each image (an instance run; empty otherwise)."""
        return [item.objects for item in self.items if isinstance(item, PredictedObjects)]

    def to_dict(self) -> dict[str, Any]:
        """The content of ``summary.json`` (``out`` is where it is, so it is left out); an
        instance run adds ``objects``, the total."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "out"}
        data["skipped"] = list(self.skipped)
        data["classes"] = list(self.classes)
        data["items"] = [item.to_dict() for item in self.items]
        if self.task == "instance":
            data["objects"] = sum(self.objects_per_image)
        else:
            del data["instance"]
        if self.members is None:
            del data["members"]
        else:
            data["members"] = list(self.members)
        if self.crf is None:
            del data["crf"]  # a run without --crf writes the summary it always wrote
        return data


@dataclass(frozen=True)
class _Outputs:
    """What to write for each image besides its mask (the names of ``OUTPUT_FOLDERS``), and
    the files that gather every image."""

    threshold: float | None
    overlays: bool
    crops: bool
    probs: bool
    rle_csv: Path | None
    coco_json: Path | None


class _Writers:
    """Writes one image's outputs and collects the RLE rows and COCO entries."""

    def __init__(self, model: LoadedModel | EnsembleModel, out: Path, options: _Outputs):
        self.model, self.out, self.options = model, out, options
        self.used: set[str] = set()
        self.count = 0
        self.rle_rows: list[list[str]] = []
        self.coco: list[dict[str, Any]] = []
        for name in OUTPUT_FOLDERS:
            if name == "masks" or getattr(options, name):
                (out / name).mkdir(exist_ok=True)

    def write(
        self, key: str, image_path: str, image: np.ndarray, probs: np.ndarray
    ) -> PredictedImage:
        from seglab.core.files import safe_name, unique_name
        from seglab.core.overlay import overlay
        from seglab.io import write_class_mask, write_mask
        from seglab.predict import formats

        model, out, options = self.model, self.out, self.options
        mask = model.to_mask(probs, threshold=options.threshold)
        name = unique_name(safe_name(key), self.used)
        self.count += 1
        files: dict[str, str] = {"mask": f"masks/{name}.png"}
        write_class_mask(out / files["mask"], mask, binary=model.binary)
        if options.overlays:
            files["overlay"] = f"overlays/{name}.png"
            tinted = overlay(image, mask, num_classes=max(2, len(model.classes)))
            write_mask(out / files["overlay"], tinted)
        if options.crops:
            files["crop"] = f"crops/{name}.png"
            write_mask(out / files["crop"], crop_by_mask(image, mask))
        if options.probs:
            files["probs"] = f"probs/{name}.npy"
            np.save(out / files["probs"], probs.astype(np.float16))
        if options.rle_csv is not None:
            self.rle_rows.extend(formats.rle_rows(key, mask, model.classes))
        if options.coco_json is not None:
            self.coco.extend(
                formats.coco_entries(key, mask, model.classes, self.count, probs=probs)
            )
        share = round(float(np.count_nonzero(mask)) / mask.size, 6)
        return PredictedImage(key=key, image=image_path, foreground=share, **files)

    def finish(self) -> None:
        from seglab.predict import formats

        if self.options.rle_csv is not None:
            formats.write_rle_predictions(self.options.rle_csv, self.rle_rows, self.model.classes)
        if self.options.coco_json is not None:
            formats.write_coco_results(self.options.coco_json, self.coco)


def _open_inputs(
    input: str | Path, out: Path, files: tuple[str | Path | None, ...], overwrite: bool
) -> tuple[Any, list[Path | None]]:
    """The images of ``input`` and the CSV/JSON paths, once the outputs are known not to
    overwrite an input or an existing file without ``overwrite``."""
    from seglab.data.inputs import image_source

    source = image_source(input)
    inputs = {Path(item.image_path).resolve().parent for item in source.items}
    paths = [Path(f) if f is not None else None for f in files]
    _check_outputs(out, paths, inputs, overwrite)
    return source, paths


def _predict_source(
    predict: Callable[[Sequence[np.ndarray]], Sequence[Any]],
    source: Any,
    batch_size: int,
    writers: _Writers | InstanceWriters,
    progress: bool,
) -> tuple[list[Any], list[str]]:
    """Predict the readable images of ``source`` ``batch_size`` at a time (``predict``: images
    to one prediction each, probabilities or objects) and write each one's files with
    ``writers``; ``(items written, paths of unreadable images)``."""
    items: list[Any] = []
    skipped: list[str] = []
    with progress_bar(len(source.items), progress) as advance:
        for chunk in _chunks(source, batch_size):
            readable = [(i, image) for i, image in chunk if image is not None]
            skipped += [str(source.items[i].image_path) for i, image in chunk if image is None]
            predictions = predict([image for _, image in readable]) if readable else []
            for (i, image), p in zip(readable, predictions, strict=True):
                item = source.items[i]
                items.append(writers.write(item.key, str(item.image_path), image, p))
            advance(len(chunk))
    return items, skipped


def predict_images(
    run: str | Path | LoadedModel | InstanceModel | EnsembleModel | Sequence[str | Path],
    input: str | Path,
    out: str | Path,
    *,
    threshold: float | None = None,
    tta: bool = False,
    tile: int | None = None,
    overlap: float = 0.25,
    batch_size: int = 8,
    crf: bool = False,
    crf_iterations: int = 5,
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
) -> PredictResult:
    """Predict every image of ``input`` (folder, file or glob) with the run ``run`` and write
    the outputs listed in the module docstring to ``out``; return a :class:`PredictResult`
    (``.to_dict()`` is ``summary.json``).

    ``tta`` averages the four flips; ``tile`` (network-space pixels) predicts large images by
    a sliding window with ``overlap`` and Gaussian blending; ``batch_size`` images (or tiles)
    go through the network together; ``crf`` refines each image's probabilities (at its own
    size, after TTA and tiling, before the threshold) with a dense CRF over the image,
    ``crf_iterations`` mean-field steps (:mod:`seglab.models.crf`); ``backend`` is ``auto``,
    ``torch``, ``channels_last`` or ``onnxruntime`` (:mod:`seglab.predict.backends`);
    ``resize`` is ``fit``, ``scale`` or ``none`` (:class:`~seglab.predict.LoadedModel`).

    An instance run (``run`` a run folder whose card says ``task: instance``, or an instance
    model of :func:`~seglab.predict.instances.load_instance_model`) writes its objects (see
    the module docstring); ``tile`` windows are blended before the objects are cut, so none is
    split. Raises :class:`~seglab.errors.ConfigError` for an option it cannot honour
    (``threshold``, ``crf``; ``tta`` or ``save_probs`` for Mask R-CNN), before anything is written.

    Several runs (a list), a folds run or an :class:`~seglab.predict.ensemble.EnsembleModel`
    predict as one: the mean of the members' probabilities, each member prepared and run as
    its own run says with ``backend`` (:mod:`seglab.predict.ensemble`); instance runs are
    refused there.
    """
    from seglab.core.files import prepare_out

    options = PredictOptions(  # checks them
        threshold, tta, tile, overlap, batch_size, crf=crf, crf_iterations=crf_iterations
    )
    run = unwrap(run)
    source, files = _open_inputs(input, Path(out), (rle_csv, coco_json), overwrite)
    writers: _Writers | InstanceWriters
    ensemble = is_ensemble(run)
    instance = not ensemble and is_instance_run(run)
    if instance:
        check_instance_options(threshold=threshold, crf=crf)  # before the model loads
        model = _instance_model(run, device=device, backend=backend, resize=resize)
        predict = instance_predictor(model, options, save_probs=save_probs)
        out = prepare_out(out, overwrite, what="predictions")
        writers = InstanceWriters(
            model,
            out,
            overlays=overlays,
            crops=crops,
            probs=save_probs,
            rle_csv=files[0],
            coco_json=files[1],
        )
    else:
        model = load_model_or_ensemble(run, device=device, backend=backend, resize=resize)
        predict = partial(model.predict_proba_batch, **options.batch_options())
        out = prepare_out(out, overwrite, what="predictions")
        outputs = _Outputs(threshold, overlays, crops, save_probs, files[0], files[1])
        writers = _Writers(model, out, outputs)
    start = time.perf_counter()
    items, skipped = _predict_source(predict, source, options.batch_size, writers, progress)
    writers.finish()
    seconds = time.perf_counter() - start
    result = PredictResult(
        out=out,
        model=model.name if ensemble else str(model.run_dir),
        backend=model.backend,
        input=str(input),
        images=len(items),
        skipped=tuple(skipped),
        seconds=round(seconds, 3),
        images_per_second=round(len(items) / seconds, 3) if seconds > 0 else None,
        classes=tuple(model.classes),
        threshold=None if instance else (model.threshold if threshold is None else threshold),
        tta=tta,
        tile=tile,
        overlap=overlap if tile else None,
        resize=model.resize,
        rle_csv=str(files[0]) if files[0] else None,
        coco_json=str(files[1]) if files[1] else None,
        items=tuple(items),
        task="instance" if instance else "semantic",
        instance=instance_settings(model) if instance else None,
        members=tuple(str(r) for r in model.runs) if ensemble else None,
        crf=options.crf_options,
    )
    (out / "summary.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    return result


def _instance_model(
    run: str | Path | LoadedModel | InstanceModel, *, device: str | None, backend: str, resize: str
) -> InstanceModel:
    """``run`` when it is an instance model already, else its
    :func:`~seglab.predict.instances.load_instance_model`."""
    from seglab.predict.instances import load_instance_model

    if hasattr(run, "predict_instances_batch"):
        return run
    return load_instance_model(run, device=device, backend=backend, resize=resize)
