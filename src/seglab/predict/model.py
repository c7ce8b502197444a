"""A trained run ready to predict: :func:`load_model` and :class:`LoadedModel`.

A run folder (or a ``model.json`` + ``model.safetensors`` pair) is all it needs: the network is
rebuilt from the model card in ``model.json`` (:mod:`seglab.models.card`) and the weights are
read from safetensors (never pickle). Every image goes through what training did -- the same
:func:`seglab.transforms.prepare.prepare_image` (channels matched, the run's preprocessing,
resized to the run's ``image_size``), then padded to the network's stride -- and the
probabilities are resized
back to the image's own size before the threshold, so masks always match their images.
Test-time augmentation (``tta=True``, :mod:`seglab.predict.tta`) and sliding-window tiling
(``tile=...``, :mod:`seglab.predict.tiling`) work in network space, before that resize;
:meth:`LoadedModel.predict_proba_batch` runs images of the same prepared shape together.

>>> model = load_model("runs/train")  # doctest: +SKIP
>>> mask = model.predict(image)  # H x W class indices  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seglab.core.arrays import image_to_chw, probabilities, round_up
from seglab.core.checks import check_batch_size, check_threshold
from seglab.core.devices import check_device
from seglab.errors import ConfigError, DataError
from seglab.predict.tiling import check_tiling, sliding_window
from seglab.predict.tta import tta_probabilities

if TYPE_CHECKING:
    from seglab.models.card import ModelCard

MODEL_FILES = ("model.json", "model.safetensors")
FOLDS_FILE = "folds.json"
"""What makes a folder a folds run (``seglab train --folds``): its fold runs are the models."""


def _run_files(run: str | Path) -> tuple[Path, Path]:
    if isinstance(run, list | tuple):  # an ensemble reached a one-run path (export...)
        raise ConfigError(
            f"{len(run)} runs given where one is needed: give one run folder (export each "
            "run of an ensemble on its own; seglab predict and evaluate average several)"
        )
    path = Path(run)
    if path.is_dir() and (path / FOLDS_FILE).is_file() and not (path / "model.json").exists():
        raise DataError(
            "a folds run (seglab train --folds): its fold runs are the models. seglab predict "
            "and evaluate take the folds run and average its folds (seglab.api.load_model "
            "too); for one model, or to export, give a fold run: "
            f"{path / 'fold-1'}, {path / 'fold-2'}...",
            path=path,
        )
    if path.is_file() and path.suffix == ".json":
        card, weights = path, path.with_name("model.safetensors")
    elif path.is_file() and path.suffix == ".safetensors":
        card, weights = path.with_name("model.json"), path
    else:
        card, weights = path / "model.json", path / "model.safetensors"
    for file in (card, weights):
        if not file.is_file():
            raise DataError(
                "missing: a run folder holds model.json and model.safetensors once an epoch has "
                "finished (train longer, or point --model at another run)",
                path=file,
            )
    return card, weights


def _to_size(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``K x h x w`` probabilities resized (bilinear) to ``size = (H, W)``; one channel comes
    back as ``H x W``."""
    import cv2

    height, width = size
    if probs.shape[1:] != (height, width):
        probs = np.stack(
            [cv2.resize(p, (width, height), interpolation=cv2.INTER_LINEAR) for p in probs]
        )
    return probs[0] if probs.shape[0] == 1 else probs


RESIZE_MODES = ("fit", "scale", "none")


class RunNetwork:
    """What every loaded run shares (:class:`LoadedModel`, and Mask R-CNN's
    :class:`~seglab.predict.maskrcnn.MaskRCNNModel`): the card and the network with its
    weights, on ``device``, and the image preparation training did."""

    def _open(self, run: str | Path, *, device: str | None, resize: str, check=None) -> None:
        """Read the run: ``--device`` first, then each file, each error naming the file and
        the field; ``check(card, path)`` may refuse the card before the network is built."""
        import torch

        from seglab.models.build import build_network, load_network_weights
        from seglab.models.card import read_card

        self.device = torch.device(check_device(device))
        card_path, weights = _run_files(run)
        card = read_card(card_path)
        if check is not None:
            check(card, card_path)
        self.run_dir = card_path.parent
        self.card: ModelCard = card
        self.classes: list[str] = list(card.classes)
        self.image_size: int | None = card.input.image_size
        self.channels: int = card.in_channels
        self.resize = _resize_mode(resize, card, card_path)
        self.preprocess = _preprocessing(card, card_path)
        self.net = build_network(card, source=card_path)
        load_network_weights(self.net, weights, card=card_path)
        self.net.to(self.device).eval()

    @property
    def category_ids(self) -> tuple[Any, ...] | None:
        """The dataset's ids of ``classes[1:]`` (COCO), when the run recorded them."""
        return self.card.category_ids

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """``image`` as the network saw images in training: channels matched, the run's
        preprocessing, resized as ``resize`` says; float32 ``C x H x W`` (not padded)."""
        from seglab.transforms.prepare import prepare_image

        # the same function prepares training and validation samples (SegmentationSamples)
        image, _ = prepare_image(
            image,
            channels=self.channels,
            preprocess=self.preprocess if len(self.preprocess) else None,
            long_side=self.target_side,
        )
        return image_to_chw(image)

    def target_side(self, size: tuple[int, int]) -> int | None:
        """The longer side, px, that an image of ``size`` (H, W) is resized to (``None``: kept)."""
        if self.image_size is None or self.resize == "none":
            return None
        if self.resize == "fit":
            return int(self.image_size)
        long_side = self.card.input.train_long_side  # there for "scale": see _resize_mode
        factor = self.image_size / float(long_side)  # type: ignore[arg-type]
        return max(1, round(max(size) * factor))


def _refuse_detector(card: ModelCard, path: Path) -> None:
    """Per-pixel prediction (and so ONNX / TorchScript) is not for Mask R-CNN runs."""
    if card.instance is not None and card.instance.method == "maskrcnn":
        raise DataError(
            "a Mask R-CNN run detects objects and runs in PyTorch only: predict with "
            "`seglab predict` or seglab.load_model (which give its objects); ONNX and "
            "TorchScript export and the onnxruntime backend are not available for it",
            path=path,
            field="instance.method",
        )


class LoadedModel(RunNetwork):
    """A trained network ready to predict: ``predict(image)``, ``predict_proba(image)``.

    ``backend`` chooses what runs the network (:mod:`seglab.predict.backends`). ``resize``
    says how an image is brought to the network when the run resized its training images
    (``image_size``): ``fit`` (default, as in training: the longer side becomes
    ``image_size``), ``scale`` (the training images' scale factor, ``image_size`` over their
    median longer side: an image larger than those at the same pixel size -- a whole slide, a
    mosaic -- stays larger, and ``tile`` keeps memory bounded) or ``none`` (as read).
    """

    def __init__(
        self,
        run: str | Path,
        *,
        device: str | None = None,
        backend: str = "auto",
        resize: str = "fit",
    ):
        from seglab.predict.backends import make_runner

        self._open(run, device=device, resize=resize, check=_refuse_detector)
        self.threshold: float = float(self.card.threshold)
        self.multiple: int = self.card.input.multiple
        self.backend, self.runner = make_runner(
            backend, self.net, run_dir=self.run_dir, card=self.card, device=self.device
        )

    @property
    def info(self) -> dict:
        """``model.json`` as a dict (what ``.info`` was before the typed :attr:`card`)."""
        return self.card.to_dict()

    @property
    def binary(self) -> bool:
        """One foreground class (a single output channel, masks written 0/255)."""
        return len(self.classes) <= 2

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Logits of a float32 ``N x C x H x W`` batch of prepared images of any size: padded
        (bottom, right) to the network's stride, run, and cropped back to ``H x W``."""
        height, width = batch.shape[2:]
        ph = round_up(height, self.multiple) - height
        pw = round_up(width, self.multiple) - width
        if ph or pw:
            batch = np.pad(batch, ((0, 0), (0, 0), (0, ph), (0, pw)))
        return self.runner(batch)[:, :, :height, :width]

    def to_probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Sigmoid (one output channel) or softmax over channels (axis 1 of ``N x K x H x W``):
        :func:`seglab.core.arrays.probabilities`."""
        return probabilities(logits)

    def network_probabilities(
        self,
        batch: np.ndarray,
        *,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 8,
    ) -> np.ndarray:
        """Probabilities ``N x K x H x W`` of a float32 ``N x C x H x W`` batch of prepared
        (network-space) images, before any resize: flip-averaged with ``tta``, blended from
        ``tile x tile`` windows with ``tile`` (:mod:`seglab.predict.tiling`). At most
        ``batch_size`` images or windows (times 4 with ``tta``) go through the network at once.
        """
        tile = check_tiling(tile, overlap, self.multiple)
        batch_size = check_batch_size(batch_size)

        def part_probabilities(part: np.ndarray) -> np.ndarray:
            return self.to_probabilities(self.logits(part))

        prob_fn = partial(tta_probabilities, part_probabilities) if tta else part_probabilities
        if tile is not None:
            return sliding_window(prob_fn, batch, tile, overlap=overlap, batch_size=batch_size)
        return np.concatenate(
            [prob_fn(batch[i : i + batch_size]) for i in range(0, len(batch), batch_size)]
        )

    def predict_proba_batch(
        self,
        images: Sequence[np.ndarray],
        *,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 8,
        crf: dict[str, Any] | bool | None = None,
    ) -> list[np.ndarray]:
        """:meth:`predict_proba` of each image, in order, each at its own size; images whose
        prepared shapes are equal go through the network together, ``batch_size`` at a time.
        ``crf`` (``True`` or :func:`~seglab.models.crf.crf_refine`'s options): each image's
        probabilities refined by a dense CRF over the image (:func:`refine_with_crf`)."""
        tile = check_tiling(tile, overlap, self.multiple)
        batch_size = check_batch_size(batch_size)
        prepared = [self.prepare(image) for image in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, array in enumerate(prepared):
            groups.setdefault(array.shape, []).append(index)
        results: list[np.ndarray | None] = [None] * len(prepared)
        for indices in groups.values():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                probs = self.network_probabilities(
                    np.stack([prepared[i] for i in chunk]),
                    tta=tta,
                    tile=tile,
                    overlap=overlap,
                    batch_size=batch_size,
                )
                for i, p in zip(chunk, probs, strict=True):
                    results[i] = _to_size(p, images[i].shape[:2])
        done = [r for r in results if r is not None]
        return refine_with_crf(done, images, crf, device=self.device)

    def predict_proba(
        self,
        image: np.ndarray,
        *,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 8,
        crf: dict[str, Any] | bool | None = None,
    ) -> np.ndarray:
        """Probabilities at the image's size: ``H x W`` (binary: the foreground) or
        ``C x H x W`` (multiclass, softmax over the classes).

        ``tta``: average over the four flips (:mod:`seglab.predict.tta`). ``tile``: predict
        ``tile x tile`` windows (network-space pixels, rounded up to the stride) that share
        ``overlap`` of their side and blend them with Gaussian weights
        (:mod:`seglab.predict.tiling`); ``batch_size`` windows at a time. ``crf``: refined
        by a dense CRF over the image (:mod:`seglab.models.crf`).
        """
        return self.predict_proba_batch(
            [image], tta=tta, tile=tile, overlap=overlap, batch_size=batch_size, crf=crf
        )[0]

    def predict(
        self,
        image: np.ndarray,
        *,
        threshold: float | None = None,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 8,
    ) -> np.ndarray:
        """``H x W`` int64 class indices (binary: 1 where the probability > threshold); the
        other options as :meth:`predict_proba`."""
        probs = self.predict_proba(
            image, tta=tta, tile=tile, overlap=overlap, batch_size=batch_size
        )
        return self.to_mask(probs, threshold=threshold)

    def predict_batch(
        self,
        images: Sequence[np.ndarray],
        *,
        threshold: float | None = None,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 8,
    ) -> list[np.ndarray]:
        """:meth:`predict` of each image, batched as :meth:`predict_proba_batch`."""
        probs = self.predict_proba_batch(
            images, tta=tta, tile=tile, overlap=overlap, batch_size=batch_size
        )
        return [self.to_mask(p, threshold=threshold) for p in probs]

    def to_mask(self, probs: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
        """Class indices from :meth:`predict_proba`'s output."""
        return class_mask(probs, self.threshold if threshold is None else threshold)


def refine_with_crf(
    probs: list[np.ndarray],
    images: Sequence[np.ndarray],
    crf: dict[str, Any] | bool | None,
    *,
    device: Any = None,
) -> list[np.ndarray]:
    """Each image's probabilities (at the image's size, after TTA and tiling, before the
    threshold) refined by :func:`seglab.models.crf.crf_refine` over the image as read, with
    ``crf``'s options (``True``: the defaults); ``probs`` as they are when ``crf`` is falsy."""
    if not crf:
        return probs
    from seglab.models.crf import crf_refine

    options = crf if isinstance(crf, dict) else {}
    return [
        crf_refine(p, image, device=device, **options)
        for p, image in zip(probs, images, strict=True)
    ]


def class_mask(probs: np.ndarray, threshold: float) -> np.ndarray:
    """``H x W`` int64 class indices of probabilities: ``H x W`` (binary) are 1 where above
    ``threshold``, ``K x H x W`` (multiclass) the most probable class."""
    threshold = check_threshold(threshold, option="threshold")
    if probs.ndim == 2:
        return (probs > threshold).astype(np.int64)
    return probs.argmax(0).astype(np.int64)


def _preprocessing(card: ModelCard, path: Path) -> Any:
    """The card's preprocessing pipeline; a step seglab cannot rebuild is the card's error."""
    from seglab.transforms import Pipeline

    try:
        return Pipeline.from_config(list(card.preprocess))
    except ConfigError as exc:
        raise DataError(
            f"{exc} (model.json is written by `seglab train`; if it was edited, put back the "
            "original or retrain the run)",
            path=path,
            field="preprocess",
        ) from None


def _resize_mode(resize: str, card: ModelCard, path: Path) -> str:
    if resize not in RESIZE_MODES:
        raise ConfigError(f"unknown resize {resize!r}; choose one of {', '.join(RESIZE_MODES)}")
    if resize == "scale" and card.input.image_size and not card.input.train_long_side:
        raise DataError(
            "no input.train_long_side (the training images' median size; written by newer "
            "seglab versions): use --resize fit or none, or retrain",
            path=path,
            field="input.train_long_side",
        )
    return resize


def load_model(
    run: str | Path, *, device: str | None = None, backend: str = "auto", resize: str = "fit"
) -> LoadedModel:
    """The trained network of a run folder (or its ``model.json``/``model.safetensors``);
    ``backend`` and ``resize`` as :class:`LoadedModel` describes."""
    return LoadedModel(run, device=device, backend=backend, resize=resize)
