"""Several trained runs predicting as one: :class:`EnsembleModel` averages their probabilities.

The members are run folders (or their ``model.json``), or a folds run (``seglab train
--folds K``: the folder holding ``folds.json``), which stands for its fold runs. Each member
is a :class:`~seglab.predict.model.LoadedModel` of its own, loaded with the same ``device``,
``backend`` and ``resize`` (so ``backend="onnxruntime"`` runs every member in ONNX Runtime):
each prepares an image as its own run was trained (channels, preprocessing, input size), and
the probabilities are averaged once every member's are back at the image's own size -- members
trained at different sizes or with different preprocessing ensemble too. A binary ensemble's
threshold is the mean of its members' thresholds (each chosen on its own val split); a
multiclass ensemble takes the most probable class, as a single run does.

The members must agree on what a prediction is: semantic runs (an instance run cuts objects
from its own probabilities: predict with one at a time), the same input channels, the same
classes (names and order) and COCO category ids. :func:`load_ensemble` refuses a member that
differs, naming it and the first member.

>>> model = load_ensemble(["runs/folds"])  # doctest: +SKIP
>>> mask = model.predict(image)  # the folds' mean probabilities, thresholded  # doctest: +SKIP
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seglab.core.checks import check_batch_size
from seglab.errors import ConfigError, DataError
from seglab.predict.model import (
    FOLDS_FILE,
    LoadedModel,
    _run_files,
    class_mask,
    load_model,
    refine_with_crf,
)

RunLike = str | Path | LoadedModel
"""A member as given: a run folder, its ``model.json``, a folds run, or a loaded run."""


def is_folds_run(path: Any) -> bool:
    """Whether ``path`` is a folds run folder (``seglab train --folds``): it holds
    ``folds.json``."""
    return isinstance(path, str | Path) and (Path(path) / FOLDS_FILE).is_file()


def fold_runs(path: str | Path) -> list[Path]:
    """The fold run folders a folds run lists in its ``folds.json``, in fold order.

    Raises
    ------
    DataError
        ``folds.json`` cannot be read, or lists no fold run (naming the file and the field).
    """
    file = Path(path) / FOLDS_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        runs = [Path(path) / str(item["run"]) for item in data["runs"]]
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot be read ({exc}); train the folds again", path=file) from None
    except (KeyError, TypeError):
        raise DataError(
            "not a folds summary of seglab (no runs[].run); train the folds again",
            path=file,
            field="runs",
        ) from None
    if not runs:
        raise DataError(
            "no fold finished training, so there is no model to predict with",
            path=file,
            field="runs",
        )
    planned = data.get("folds")
    if isinstance(planned, int) and len(runs) < planned:
        warnings.warn(
            f"{file}: {len(runs)} of {planned} folds were trained; predicting with those",
            RuntimeWarning,
            stacklevel=3,
        )
    return runs


def unwrap(model: Any) -> Any:
    """``model`` itself, or its only item when it is a list or tuple of one (``--model R``
    given once); an empty list is a :class:`ConfigError`."""
    if isinstance(model, list | tuple):
        if not model:
            raise ConfigError("no model given: name a run folder (or several, or a folds run)")
        if len(model) == 1:
            return model[0]
    return model


def is_ensemble(model: Any) -> bool:
    """Whether ``model`` names an ensemble: several runs, a folds run, or an
    :class:`EnsembleModel` (a list holding one plain run is that run)."""
    model = unwrap(model)
    return isinstance(model, EnsembleModel | list | tuple) or is_folds_run(model)


def member_runs(model: Any) -> list[RunLike]:
    """The members ``model`` names, folds runs expanded to their fold runs, in order."""
    items = list(model) if isinstance(model, list | tuple) else [model]
    out: list[RunLike] = []
    for item in items:
        out.extend(fold_runs(item) if is_folds_run(item) else [item])
    return out


def _member_card(member: RunLike) -> tuple[Any, Path]:
    """A member's card and where it is (``model.json``), read before any network is built."""
    from seglab.models.card import read_card

    if isinstance(member, LoadedModel):
        return member.card, member.run_dir / "model.json"
    card_path, _ = _run_files(member)
    return read_card(card_path), card_path


def _check_members(cards: list[tuple[Any, Path]]) -> None:
    """Refuse members that do not predict the same thing as the first, naming the run."""
    first, first_path = cards[0]
    for card, path in cards:
        run = path.parent
        if card.task != "semantic":
            raise ConfigError(
                f"{run} is an instance run (task {card.task}): an ensemble averages the "
                "per-pixel probabilities of semantic runs; predict objects with one instance "
                "run at a time"
            )
        for name, mine, theirs in (
            ("input channels", card.in_channels, first.in_channels),
            ("classes", tuple(card.classes), tuple(first.classes)),
            ("COCO category ids", card.category_ids, first.category_ids),
        ):
            if mine != theirs:
                raise ConfigError(
                    f"{run} has {name} {mine} but {first_path.parent} has {theirs}: the runs "
                    "of an ensemble predict the same classes from the same images; leave it "
                    "out, or train it on the same data"
                )


class EnsembleModel:
    """Trained runs predicting as one: their probabilities averaged at each image's size.

    The same interface as :class:`~seglab.predict.model.LoadedModel` for
    :func:`~seglab.predict.run.predict_images` and evaluation: :meth:`predict_proba`,
    :meth:`predict_proba_batch`, :meth:`predict`, :meth:`predict_batch`, :meth:`to_mask`,
    ``classes``, ``binary``, ``threshold``, ``backend``, ``resize``, ``category_ids``,
    ``info``. ``members`` are the loaded runs, ``runs`` their folders; ``run_dir`` is the folds
    run when the ensemble is one (``None`` for a list of runs), and ``config_dir`` the folder
    whose ``config.yaml`` names the dataset (the folds run, else the first member).
    """

    def __init__(self, members: Sequence[LoadedModel], *, run_dir: Path | None = None):
        if not members:
            raise ConfigError("an ensemble needs at least one run")
        self.members: list[LoadedModel] = list(members)
        _check_members([(m.card, m.run_dir / "model.json") for m in self.members])
        self.run_dir = run_dir
        first = self.members[0]
        self.classes: list[str] = list(first.classes)
        self.channels: int = first.channels
        self.device = first.device
        self.resize: str = first.resize
        self.thresholds: list[float] = [m.threshold for m in self.members]
        # each member's threshold was chosen on its own val split: their mean is the one
        # choice that favours none of them (nnU-Net's folds all keep 0.5, which this equals)
        self.threshold: float = float(np.mean(self.thresholds))

    @property
    def runs(self) -> list[Path]:
        """The members' run folders, in order."""
        return [m.run_dir for m in self.members]

    @property
    def config_dir(self) -> Path:
        """Where the dataset the members were trained on is described (``config.yaml``)."""
        return self.run_dir if self.run_dir is not None else self.members[0].run_dir

    @property
    def name(self) -> str:
        """The folds run, or the member runs joined by ``+`` (``summary.json``'s ``model``)."""
        if self.run_dir is not None:
            return str(self.run_dir)
        return " + ".join(str(run) for run in self.runs)

    @property
    def backend(self) -> str:
        """The members' backend (``onnxruntime``, ``torch``...), or theirs joined by ``+``
        when ``auto`` resolved differently for some (an export that failed)."""
        names = list(dict.fromkeys(m.backend for m in self.members))
        return "+".join(names)

    @property
    def binary(self) -> bool:
        """One foreground class: masks written 0/255, thresholded at :attr:`threshold`."""
        return len(self.classes) <= 2

    @property
    def category_ids(self) -> tuple[Any, ...] | None:
        """The dataset's ids of ``classes[1:]`` (COCO), which every member shares."""
        return self.members[0].category_ids

    @property
    def task(self) -> str:
        """Always ``semantic``: instance runs are not ensembled."""
        return "semantic"

    @property
    def info(self) -> dict[str, Any]:
        """What the ensemble is: its members, classes and how it thresholds."""
        return {
            "ensemble": self.name,
            "members": [str(run) for run in self.runs],
            "classes": list(self.classes),
            "threshold": self.threshold,
            "thresholds": list(self.thresholds),
            "threshold_rule": (
                "the mean of the members' thresholds (binary); multiclass: the most probable "
                "class of the mean probabilities"
            ),
            "backend": self.backend,
        }

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
        """The mean of the members' :meth:`~seglab.predict.model.LoadedModel.
        predict_proba_batch` of each image, in order, at its own size (options as there, for
        every member); ``crf`` refines the mean, once, not each member's probabilities."""
        batch_size = check_batch_size(batch_size)
        sums: list[np.ndarray] | None = None
        for member in self.members:
            probs = member.predict_proba_batch(
                images, tta=tta, tile=tile, overlap=overlap, batch_size=batch_size
            )
            if sums is None:
                sums = [p.astype(np.float32, copy=True) for p in probs]
            else:
                for total, p in zip(sums, probs, strict=True):
                    total += p
        mean = [total / np.float32(len(self.members)) for total in sums or []]
        return refine_with_crf(mean, images, crf, device=self.members[0].device)

    def predict_proba(self, image: np.ndarray, **options: Any) -> np.ndarray:
        """The mean of the members' probabilities at the image's size: ``H x W`` (binary) or
        ``C x H x W`` (options as :meth:`predict_proba_batch`)."""
        return self.predict_proba_batch([image], **options)[0]

    def to_mask(self, probs: np.ndarray, *, threshold: float | None = None) -> np.ndarray:
        """Class indices from :meth:`predict_proba`'s output (binary: above ``threshold``,
        default :attr:`threshold`)."""
        return class_mask(probs, self.threshold if threshold is None else threshold)

    def predict(
        self, image: np.ndarray, *, threshold: float | None = None, **options: Any
    ) -> np.ndarray:
        """``H x W`` int64 class indices of the mean probabilities (options as
        :meth:`predict_proba_batch`)."""
        return self.to_mask(self.predict_proba(image, **options), threshold=threshold)

    def predict_batch(
        self, images: Sequence[np.ndarray], *, threshold: float | None = None, **options: Any
    ) -> list[np.ndarray]:
        """:meth:`predict` of each image, batched as :meth:`predict_proba_batch`."""
        probs = self.predict_proba_batch(images, **options)
        return [self.to_mask(p, threshold=threshold) for p in probs]


def load_ensemble(
    runs: Sequence[RunLike] | str | Path,
    *,
    device: str | None = None,
    backend: str = "auto",
    resize: str = "fit",
) -> EnsembleModel:
    """An :class:`EnsembleModel` of ``runs``: run folders (or their ``model.json``), folds runs
    (their fold runs) or loaded runs; each run folder is loaded with
    :func:`~seglab.predict.model.load_model` (``device``, ``backend``, ``resize``).

    Raises
    ------
    ConfigError
        No run, a run given twice, an instance run, or a run whose input channels, classes or
        category ids differ from the first's (the message names both).
    DataError
        A member's files are missing or damaged (naming the file).
    """
    given = unwrap(runs)
    members = member_runs(given)
    cards = [_member_card(member) for member in members]
    seen: dict[Path, Path] = {}
    for _, path in cards:
        key = path.resolve()
        if key in seen:
            raise ConfigError(
                f"{path.parent} is given twice (each run counts once in the average); leave "
                "out the second"
            )
        seen[key] = path
    _check_members(cards)  # before any network is built: the cards say it all
    loaded = [
        member
        if isinstance(member, LoadedModel)
        else load_model(member, device=device, backend=backend, resize=resize)
        for member in members
    ]
    run_dir = Path(given) if is_folds_run(given) else None
    return EnsembleModel(loaded, run_dir=run_dir)


def load_model_or_ensemble(
    model: RunLike | Sequence[RunLike],
    *,
    device: str | None = None,
    backend: str = "auto",
    resize: str = "fit",
) -> LoadedModel | EnsembleModel:
    """A run folder (or its ``model.json``) as :func:`~seglab.predict.model.load_model` loads
    it; a folds run or several runs as :func:`load_ensemble`; a loaded model as it is."""
    model = unwrap(model)
    if isinstance(model, LoadedModel | EnsembleModel):
        return model
    if is_ensemble(model):
        return load_ensemble(model, device=device, backend=backend, resize=resize)
    return load_model(model, device=device, backend=backend, resize=resize)
