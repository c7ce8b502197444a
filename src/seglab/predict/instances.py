"""Instance models ready to predict: each image's objects as
:class:`~seglab.core.labels.InstanceLabels`.

Two families stand behind one interface (``predict_instances`` / ``predict_instances_batch``,
``classes``, ``category_ids``, ``card``, ``run_dir``, ``backend``, ``resize``):

* :class:`BorderModel`: a semantic network predicting background, interiors and borders
  (:mod:`seglab.transforms.instances`); its probabilities come from
  :class:`~seglab.predict.model.LoadedModel` (so TTA, tiling, ONNX and the resize modes work as
  for semantic runs) and are cut into objects once, on the whole image: tiling blends
  probabilities, so no object is split or duplicated at a tile border.
* :class:`~seglab.predict.maskrcnn.MaskRCNNModel`: torchvision's Mask R-CNN.

:func:`load_instance_model` reads the card and gives the right one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.labels import InstanceLabels
from seglab.errors import DataError
from seglab.predict.model import LoadedModel, _run_files


class BorderModel:
    """An instance run of method ``border``: a :class:`LoadedModel` and the card's cut."""

    def __init__(self, loaded: LoadedModel, settings: Any = None):
        from seglab.transforms.instances import CutSettings

        self.loaded = loaded
        spec = loaded.card.instance
        self.settings = settings or CutSettings(
            foreground=spec.foreground, seed=spec.seed, min_area=spec.min_area
        )

    card = property(lambda self: self.loaded.card)
    classes = property(lambda self: self.loaded.classes)
    run_dir = property(lambda self: self.loaded.run_dir)
    backend = property(lambda self: self.loaded.backend)
    resize = property(lambda self: self.loaded.resize)
    category_ids = property(lambda self: self.loaded.card.category_ids)

    def cut(self, probs: np.ndarray) -> InstanceLabels:
        """The objects of one image's probabilities (``K + 2`` x H x W)."""
        from seglab.transforms.instances import cut_instances

        return cut_instances(probs, self.settings)

    def predict_instances_batch(
        self,
        images: Sequence[np.ndarray],
        *,
        tta: bool = False,
        tile: int | None = None,
        overlap: float = 0.25,
        batch_size: int = 8,
    ) -> list[InstanceLabels]:
        """The objects of each image, at its own size (options as
        :meth:`LoadedModel.predict_proba_batch`)."""
        probs = self.loaded.predict_proba_batch(
            images, tta=tta, tile=tile, overlap=overlap, batch_size=batch_size
        )
        return [self.cut(p) for p in probs]

    def predict_instances(self, image: np.ndarray, **options: Any) -> InstanceLabels:
        """The objects of one image (options as :meth:`predict_instances_batch`)."""
        return self.predict_instances_batch([image], **options)[0]


def load_instance_model(
    run: str | Path | LoadedModel,
    *,
    device: str | None = None,
    backend: str = "auto",
    resize: str = "fit",
):
    """The instance model of a run folder (or its ``model.json``): a :class:`BorderModel` or a
    :class:`~seglab.predict.maskrcnn.MaskRCNNModel`, as its card's ``instance.method`` says.

    Raises
    ------
    DataError
        The run is a semantic one (its card's ``task``).
    """
    from seglab.models.card import read_card

    if isinstance(run, LoadedModel):
        _check_instance(run.card, run.run_dir / "model.json")
        return BorderModel(run)
    card_path, _ = _run_files(run)
    card = read_card(card_path)
    _check_instance(card, card_path)
    if card.instance.method == "maskrcnn":  # type: ignore[union-attr]
        from seglab.predict.maskrcnn import MaskRCNNModel

        return MaskRCNNModel(run, device=device, resize=resize)
    return BorderModel(LoadedModel(run, device=device, backend=backend, resize=resize))


def _check_instance(card: Any, path: Path) -> None:
    if card.task != "instance":
        raise DataError(
            "this run predicts a class per pixel (task semantic), not objects; train one with "
            "`seglab train --task instance`",
            path=path,
            field="task",
        )


def is_instance_run(run: Any) -> bool:
    """Whether ``run`` predicts objects: a run folder or its ``model.json`` whose card's
    ``task`` is ``instance`` (only the card is read), or a loaded instance model."""
    from seglab.models.card import read_card

    if hasattr(run, "predict_instances_batch"):
        return True
    card = getattr(run, "card", None)  # a loaded model (LoadedModel: a border run's network)
    if card is not None:
        return card.task == "instance"
    card_path, _ = _run_files(run)
    return read_card(card_path).task == "instance"
