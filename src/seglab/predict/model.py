"""A trained run ready to predict: :func:`load_model` and :class:`LoadedModel`.

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
from pathlib import Path

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
    """A trained network ready to predict: ``predict(image)``, ``predict_proba(image)``.

    ``backend`` chooses what runs the network (:mod:`seglab.predict.backends`).
    """

    def __init__(self, run: str | Path, *, device: str | None = None, backend: str = "auto"):
        import torch
        from safetensors.torch import load_model as load_weights

        from seglab.config import ModelConfig
        from seglab.engine.build import MODEL_FORMAT, build_model
        from seglab.predict.backends import make_runner
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
        self.run_dir = info_path.parent
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
        self.backend, self.runner = make_runner(
            backend, self.net, run_dir=self.run_dir, info=info, device=self.device
        )

    @property
    def binary(self) -> bool:
        """One foreground class (a single output channel, masks written 0/255)."""
        return len(self.classes) <= 2

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """``image`` as the network saw images in training: channels matched, the run's
        preprocessing, resized to the run's ``image_size``; float32 ``C x H x W`` (not padded)."""
        from seglab.data.dataset import image_to_tensor
        from seglab.engine.sizing import match_channels, resize_long_side

        image = match_channels(image, self.channels)
        if len(self.preprocess):
            image, _ = self.preprocess(image, None)
            image = match_channels(image, self.channels)
        image, _ = resize_long_side(image, None, self.image_size)
        return image_to_tensor(image).numpy()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits of a float32 ``N x C x H x W`` batch of prepared images of any size: padded
        (bottom, right) to the network's stride, run, and cropped back to ``H x W``."""
        height, width = batch.shape[2:]
        ph = -(-height // self.multiple) * self.multiple - height
        pw = -(-width // self.multiple) * self.multiple - width
        if ph or pw:
            batch = np.pad(batch, ((0, 0), (0, 0), (0, ph), (0, pw)))
        return self.runner(batch)[:, :, :height, :width]

    def to_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Sigmoid (one output channel) or softmax over channels (axis 1 of ``N x K x H x W``)."""
        if logits.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-logits))
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict_proba(self, image: np.ndarray) -> np.ndarray:
        """Probabilities at the image's size: ``H x W`` (binary: the foreground) or
        ``C x H x W`` (multiclass, softmax over the classes)."""
        import cv2

        height, width = image.shape[:2]
        probs = self.to_probabilities(self.logits(self.prepare(image)[None]))[0]
        if probs.shape[1:] != (height, width):
            probs = np.stack(
                [cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR) for p in probs]
            )
        return probs[0] if probs.shape[0] == 1 else probs

    def predict(self, image: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
        """``H x W`` int64 class indices (binary: 1 where the probability > threshold)."""
        return self.to_mask(self.predict_proba(image), threshold=threshold)

    def to_mask(self, probs: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
        """Class indices from :meth:`predict_proba`'s output."""
        if probs.ndim == 2:
            return (probs > (self.threshold if threshold is None else threshold)).astype(np.int64)
        return probs.argmax(0).astype(np.int64)


def load_model(run: str | Path, *, device: str | None = None, backend: str = "auto") -> LoadedModel:
    """The trained network of a run folder (or its ``model.json``/``model.safetensors``)."""
    return LoadedModel(run, device=device, backend=backend)
