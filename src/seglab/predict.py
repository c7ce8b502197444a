"""Predicting with a trained run: :func:`load_model` and :func:`predict_images`.

A run folder (or a ``model.json`` + ``model.safetensors`` pair) is all it needs: the network is
rebuilt from ``model.json`` and the weights are read from safetensors (never pickle). Every
image goes through what training did -- channels matched, the run's preprocessing, resized to
the run's ``image_size``, padded to the network's stride -- and the probabilities are resized
back to the image's own size before the threshold, so masks always match their images.

>>> model = load_model("runs/train")  # doctest: +SKIP
>>> mask = model.predict(image)  # H x W class indices  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from seglab.errors import DataError

MODEL_FILES = ("model.json", "model.safetensors")


def _run_files(run: str | Path) -> tuple[Path, Path]:
    path = Path(run)
    if path.is_file() and path.suffix == ".json":
        info, weights = path, path.with_name("model.safetensors")
    elif path.is_file() and path.suffix == ".safetensors":
        info, weights = path.with_name("model.json"), path
    else:
        info, weights = path / "model.json", path / "model.safetensors"
    for file in (info, weights):
        if not file.is_file():
            raise DataError(
                "missing: a run folder holds model.json and model.safetensors once an epoch has "
                "finished (train longer, or point --model at another run)",
                path=file,
            )
    return info, weights


class LoadedModel:
    """A trained network ready to predict: ``predict(image)``, ``predict_proba(image)``."""

    def __init__(self, run: str | Path, *, device: str | None = None):
        import torch
        from safetensors.torch import load_model as load_weights

        from seglab.config import ModelConfig
        from seglab.engine.build import MODEL_FORMAT, build_model
        from seglab.transforms import Pipeline

        info_path, weights = _run_files(run)
        try:
            info = json.loads(info_path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the model description: {exc}", path=info_path) from None
        if info.get("format") != MODEL_FORMAT:
            raise DataError(
                f"format {info.get('format')!r} is not {MODEL_FORMAT!r}: this run was written by "
                "another seglab version; retrain it or use that version",
                path=info_path,
                field="format",
            )
        self.info = info
        self.classes: list[str] = list(info["classes"])
        self.threshold: float = float(info.get("threshold", 0.5))
        self.image_size: int | None = info["input"].get("image_size")
        self.multiple: int = int(info["input"].get("multiple", 1))
        self.channels: int = int(info["in_channels"])
        self.preprocess = Pipeline.from_config(info.get("preprocess") or [])
        model = ModelConfig(name=info["architecture"], options=info.get("options", {}))
        self.net = build_model(model, in_channels=self.channels, num_classes=len(self.classes))
        try:
            missing, unexpected = load_weights(self.net, str(weights), strict=False)
        except Exception as exc:  # safetensors raises several types for a damaged file
            raise DataError(f"cannot load the weights: {exc}", path=weights) from None
        if missing or unexpected:
            raise DataError(
                f"the weights do not fit {info['architecture']} as model.json describes it "
                f"(missing {len(missing)}, unexpected {len(unexpected)} tensors)",
                path=weights,
            )
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net.to(self.device).eval()

    def predict_proba(self, image: np.ndarray) -> np.ndarray:
        """Probabilities at the image's size: ``H x W`` (binary: the foreground) or
        ``C x H x W`` (multiclass, softmax over the classes)."""
        import torch
        import torch.nn.functional as F

        from seglab.data.dataset import image_to_tensor
        from seglab.engine.sizing import match_channels, pad_to_multiple, resize_long_side

        height, width = image.shape[:2]
        image = match_channels(image, self.channels)
        if len(self.preprocess):
            image, _ = self.preprocess(image, None)
            image = match_channels(image, self.channels)
        image, _ = resize_long_side(image, None, self.image_size)
        h, w = image.shape[:2]
        image, _ = pad_to_multiple(image, None, self.multiple)
        with torch.no_grad():
            logits = self.net(image_to_tensor(image)[None].to(self.device))[:, :, :h, :w]
            logits = F.interpolate(logits.float(), size=(height, width), mode="bilinear")
            probs = torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, 1)
        out = probs[0].cpu().numpy()
        return out[0] if out.shape[0] == 1 else out

    def predict(self, image: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
        """``H x W`` int64 class indices (binary: 1 where the probability > threshold)."""
        probs = self.predict_proba(image)
        if probs.ndim == 2:
            return (probs > (self.threshold if threshold is None else threshold)).astype(np.int64)
        return probs.argmax(0).astype(np.int64)


def load_model(run: str | Path, *, device: str | None = None) -> LoadedModel:
    """The trained network of a run folder (or its ``model.json``/``model.safetensors``)."""
    return LoadedModel(run, device=device)


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
