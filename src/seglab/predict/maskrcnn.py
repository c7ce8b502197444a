"""A trained Mask R-CNN run ready to predict: :class:`MaskRCNNModel`.

The run folder is read as for semantic runs (:mod:`seglab.predict.model`: ``model.json``
checked field by field, the network rebuilt from it, safetensors weights), and every image goes
through what training did: :func:`~seglab.transforms.prepare.prepare_image` (channels, the
run's preprocessing, resized to the run's ``image_size``). The network runs on the whole
prepared image or on overlapping tiles that neither split nor duplicate objects
(:mod:`seglab.predict.instance_tiling`); detections scoring at least the card's
``instance.score`` are kept, their masks resampled to the image's own size, cut at
``instance.mask_threshold`` and painted into one label image, objects under
``instance.min_area`` pixels dropped.

>>> model = MaskRCNNModel("runs/nuclei")  # doctest: +SKIP
>>> objects = model.predict_instances(image)  # InstanceLabels at the image's size  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seglab.core.checks import check_batch_size
from seglab.core.labels import InstanceLabels
from seglab.errors import ConfigError, DataError
from seglab.predict.instance_tiling import RawDetections, detect_images, paint_detections
from seglab.predict.model import RunNetwork
from seglab.predict.tiling import check_tiling

if TYPE_CHECKING:
    from seglab.models.card import ModelCard


class MaskRCNNModel(RunNetwork):
    """The Mask R-CNN of a run folder (or its ``model.json`` / ``model.safetensors``).

    ``device``: as ``--device`` (``None``: the GPU when there is one). ``resize``: ``fit``,
    ``scale`` or ``none``, as :class:`~seglab.predict.model.LoadedModel`. The network runs in
    PyTorch (``backend`` is ``"torch"``: torchvision's detection models do not export to the
    other backends here).

    Raises
    ------
    DataError
        A file of the run is missing or damaged, or the run is not a Mask R-CNN one (its card's
        ``task`` / ``instance.method``).
    """

    backend = "torch"

    def __init__(self, run: str | Path, *, device: str | None = None, resize: str = "fit"):
        from seglab.models.build import size_multiple

        self._open(run, device=device, resize=resize, check=_check_maskrcnn)
        self.multiple = size_multiple(self.net)

    def detect(self, windows: list[np.ndarray]) -> list[RawDetections]:
        """The network's detections of float32 ``C x h x w`` windows (any sizes), those
        scoring under the card's ``instance.score`` left out (the :data:`~seglab.predict.
        instance_tiling.Detect` contract)."""
        import torch

        score = self.card.instance.score  # type: ignore[union-attr]
        tensors = [torch.from_numpy(w).to(self.device) for w in windows]
        with torch.inference_mode():
            outputs = self.net(tensors)
        found = []
        for out in outputs:
            keep = out["scores"] >= score  # on the device: only kept masks come back
            found.append(
                (
                    out["boxes"][keep].float().cpu().numpy(),
                    out["scores"][keep].float().cpu().numpy(),
                    out["labels"][keep].cpu().numpy(),
                    out["masks"][keep, 0].float().cpu().numpy(),
                )
            )
        return found

    def predict_instances_batch(
        self,
        images: Sequence[np.ndarray],
        *,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 4,
    ) -> list[InstanceLabels]:
        """The objects of each image, at its own size.

        ``tta`` is refused (:class:`ConfigError` naming ``--tta``): flipped detections would
        need matching across the flips, which Mask R-CNN runs do not do.

        ``tile``: run ``tile x tile`` windows (network pixels, rounded up to the stride) that
        share ``overlap`` of their side, each keeping the objects centred in its own part
        (:mod:`seglab.predict.instance_tiling`: choose ``overlap * tile`` above the largest
        objects' side); ``batch_size`` windows (or whole images) of one shape at a time.
        """
        if tta:
            raise ConfigError(
                f"--tta: not available for Mask R-CNN runs ({self.run_dir}); leave --tta out"
            )
        tile = check_tiling(tile, overlap, self.multiple)
        batch_size = check_batch_size(batch_size)
        spec = self.card.instance
        prepared = [self.prepare(image) for image in images]
        found = detect_images(
            self.detect,
            prepared,
            tile=tile,
            overlap=overlap,
            batch_size=batch_size,
            min_score=spec.score,  # type: ignore[union-attr]
        )
        return [
            paint_detections(
                dets,
                (array.shape[1], array.shape[2]),
                (image.shape[0], image.shape[1]),
                mask_threshold=spec.mask_threshold,  # type: ignore[union-attr]
                min_area=spec.min_area,  # type: ignore[union-attr]
            )
            for dets, array, image in zip(found, prepared, images, strict=True)
        ]

    def predict_instances(
        self,
        image: np.ndarray,
        *,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 4,
    ) -> InstanceLabels:
        """The objects of one image (options as :meth:`predict_instances_batch`)."""
        return self.predict_instances_batch(
            [image], tta=tta, tile=tile, overlap=overlap, batch_size=batch_size
        )[0]


def _check_maskrcnn(card: ModelCard, path: Path) -> None:
    """The card must describe a Mask R-CNN instance run."""
    if card.task != "instance":
        raise DataError(
            "this run predicts a class per pixel (task semantic), not objects; load it with "
            "seglab.load_model, or train one with `seglab train --task instance`",
            path=path,
            field="task",
        )
    if card.instance is None or card.instance.method != "maskrcnn":
        method = card.instance.method if card.instance else None
        raise DataError(
            f"this instance run's method is {method!r}, not 'maskrcnn': load it with "
            "seglab.predict.instances.load_instance_model",
            path=path,
            field="instance.method",
        )
