"""What :func:`~seglab.predict.run.predict_images` writes for an instance run (a card of task
``instance``): each image's objects, one file or row per object.

* ``labels/NAME.png``: the 16-bit label image (0 background, object ids 1..N, consecutive), at
  the image's size (:func:`~seglab.io.write_label_image`; :func:`~seglab.io.read_mask` reads
  it back as ``uint16``).
* ``overlays/NAME.png``: the image with one colour per object and each object's outline
  (:func:`~seglab.core.overlay.instance_overlay`).
* ``crops/NAME/ID.png``: per object of at least :data:`MIN_CROP_AREA` pixels, its bounding box
  of the image, pixels outside the object black (the seed's "image cropped by the mask", per
  object). Smaller objects -- specks a crop would show nothing of -- get no crop; they are in
  the label image, the CSV and the JSON all the same.
* ``probs/NAME.npy`` (``save_probs``, ``border`` runs only): the network's float16
  probabilities, ``K + 2`` x H x W: background, the K classes' interiors, the border. A Mask
  R-CNN run has no such map, and refuses the option.
* RLE CSV rows and COCO results, one per object (:func:`~seglab.predict.formats.
  instance_rle_rows`, :func:`~seglab.predict.formats.instance_coco_entries`).

Options with no meaning for objects are refused with a :class:`~seglab.errors.ConfigError`
naming the flag, before anything is written: ``--threshold`` (objects are cut by the card's
``instance`` thresholds, chosen on the training images), and any prediction option the model
does not take (``--tta`` for Mask R-CNN).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from seglab.core.labels import InstanceLabels
from seglab.errors import ConfigError
from seglab.predict.options import PredictOptions

INSTANCE_FOLDERS = ("labels", "overlays", "crops", "probs")
MIN_CROP_AREA = 4
"""Objects under this many pixels get no crop file."""
_METHOD_NAMES = {"border": "border", "maskrcnn": "Mask R-CNN"}

Prediction = tuple[InstanceLabels, np.ndarray | None]
"""One image's objects and, when asked for, its probabilities."""


class InstanceModel(Protocol):
    """What an instance model gives the writers (:func:`~seglab.predict.instances.
    load_instance_model`'s border and Mask R-CNN models both do)."""

    classes: list[str]
    category_ids: tuple[Any, ...] | None
    card: Any
    run_dir: Path
    backend: str
    resize: str

    def predict_instances_batch(
        self, images: Sequence[np.ndarray], **options: Any
    ) -> list[InstanceLabels]: ...


def check_instance_options(*, threshold: float | None, crf: bool = False) -> None:
    """Refuse the options that mean nothing to an instance run, before its model loads.

    Raises
    ------
    ConfigError
        ``threshold`` is set, or ``crf`` is asked for.
    """
    if crf:
        raise ConfigError(
            "--crf: the dense CRF refines per-pixel class probabilities of a semantic run; an "
            "instance run cuts objects (and Mask R-CNN has no per-pixel probabilities), so it "
            "is not available for it; leave --crf out"
        )
    if threshold is not None:
        raise ConfigError(
            f"--threshold {threshold}: an instance run cuts its objects with the thresholds of "
            "its card (model.json 'instance', chosen on the training images), not one "
            "probability threshold; leave --threshold out"
        )


def instance_predictor(
    model: InstanceModel, options: PredictOptions, *, save_probs: bool
) -> Callable[[Sequence[np.ndarray]], list[Prediction]]:
    """``images -> [(objects, probabilities or None)]`` for an instance model, passing it the
    prediction options it takes.

    Both families take the same options (Mask R-CNN refuses ``tta``, naming the flag). A
    ``border`` model (:class:`~seglab.predict.instances.BorderModel`) with ``save_probs`` gives
    its probabilities too (cut as it cuts them itself).

    Raises
    ------
    ConfigError
        ``save_probs`` or an option asked for that the model cannot honour, naming the flag.
    """
    from seglab.predict.instances import BorderModel

    batch = options.batch_options()
    if isinstance(model, BorderModel):
        if save_probs:

            def with_probs(images: Sequence[np.ndarray]) -> list[Prediction]:
                probs = model.loaded.predict_proba_batch(list(images), **batch)
                return [(model.cut(p), p) for p in probs]

            return with_probs
    else:
        if save_probs:
            raise ConfigError(
                f"--save-probs: a {_method_name(model)} run has no per-pixel probabilities to "
                f"save ({model.run_dir}); leave --save-probs out"
            )

    def objects_only(images: Sequence[np.ndarray]) -> list[Prediction]:
        return [(labels, None) for labels in model.predict_instances_batch(list(images), **batch)]

    return objects_only


def _method_name(model: InstanceModel) -> str:
    spec = getattr(model.card, "instance", None)
    method = getattr(spec, "method", None) or "instance"
    return _METHOD_NAMES.get(method, method)


def object_crops(
    image: np.ndarray, labels: InstanceLabels, *, min_area: int = MIN_CROP_AREA
) -> Iterator[tuple[int, np.ndarray]]:
    """``(id, crop)`` of each object of at least ``min_area`` pixels, in id order: the image
    (as :func:`~seglab.core.overlay.to_display` shows it) inside the object's bounding box,
    pixels outside the object black; ``h x w x 3`` uint8.

    >>> from seglab.core.labels import from_label_image
    >>> ids = np.zeros((4, 5), np.int32); ids[1:3, 1:4] = 1; ids[0, 0] = 2
    >>> [(i, c.shape) for i, c in object_crops(np.full((4, 5), 200, np.uint8),
    ...                                         from_label_image(ids))]
    [(1, (2, 3, 3))]
    """
    from scipy import ndimage

    from seglab.core.overlay import to_display

    rgb = to_display(image)
    ids = labels.labels
    for index, found in enumerate(ndimage.find_objects(ids, max_label=labels.count)):
        if found is None:
            continue
        inside = ids[found] == index + 1
        if np.count_nonzero(inside) >= min_area:
            yield index + 1, np.where(inside[..., None], rgb[found], 0).astype(np.uint8)


@dataclass(frozen=True)
class PredictedObjects:
    """One image of an instance run: its key and source, the files written for it (relative to
    the output folder; ``None`` when not asked for), its number of objects, the number of crops
    written (objects under :data:`MIN_CROP_AREA` pixels get none) and the share of its pixels
    in an object."""

    key: str
    image: str
    labels: str
    objects: int
    foreground: float
    overlay: str | None = None
    crops: str | None = None
    crop_count: int | None = None
    probs: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` item: the files that exist, in the order they are written."""
        out: dict[str, Any] = {"key": self.key, "image": self.image, "labels": self.labels}
        for name in ("overlay", "crops", "crop_count", "probs"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out["objects"] = self.objects
        out["foreground"] = self.foreground
        return out


class InstanceWriters:
    """Writes one image's files (the module docstring) and gathers the RLE rows and COCO
    entries of every image; :meth:`finish` writes those two files."""

    def __init__(
        self,
        model: InstanceModel,
        out: Path,
        *,
        overlays: bool,
        crops: bool,
        probs: bool,
        rle_csv: Path | None,
        coco_json: Path | None,
    ):
        self.model, self.out = model, out
        self.wanted = {"labels": True, "overlays": overlays, "crops": crops, "probs": probs}
        self.rle_csv, self.coco_json = rle_csv, coco_json
        self.used: set[str] = set()
        self.count = 0
        self.rle_rows: list[list[str]] = []
        self.coco: list[dict[str, Any]] = []
        for name in INSTANCE_FOLDERS:
            if self.wanted[name]:
                (out / name).mkdir(exist_ok=True)

    def write(
        self, key: str, image_path: str, image: np.ndarray, prediction: Prediction
    ) -> PredictedObjects:
        """Write the files of one image and keep its rows and entries; return its item."""
        from seglab.core.files import safe_name, unique_name
        from seglab.core.overlay import instance_overlay
        from seglab.io import write_label_image, write_mask
        from seglab.predict import formats

        labels, probs = prediction
        out, wanted = self.out, self.wanted
        name = unique_name(safe_name(key), self.used)
        self.count += 1  # the COCO image_id, as the semantic writer numbers images
        files: dict[str, Any] = {"labels": f"labels/{name}.png"}
        write_label_image(out / files["labels"], labels.labels)
        if wanted["overlays"]:
            files["overlay"] = f"overlays/{name}.png"
            write_mask(out / files["overlay"], instance_overlay(image, labels))
        if wanted["crops"]:
            files["crops"] = f"crops/{name}"
            folder = out / files["crops"]
            folder.mkdir(exist_ok=True)
            written = 0
            for object_id, crop in object_crops(image, labels):
                write_mask(folder / f"{object_id}.png", crop)
                written += 1
            files["crop_count"] = written
        if wanted["probs"] and probs is not None:
            files["probs"] = f"probs/{name}.npy"
            np.save(out / files["probs"], probs.astype(np.float16))
        if self.rle_csv is not None:
            self.rle_rows.extend(formats.instance_rle_rows(key, labels, self.model.classes))
        if self.coco_json is not None:
            self.coco.extend(
                formats.instance_coco_entries(
                    key, labels, self.count, category_ids=self.model.category_ids
                )
            )
        share = round(float(np.count_nonzero(labels.labels)) / max(1, labels.labels.size), 6)
        return PredictedObjects(
            key=key, image=image_path, objects=labels.count, foreground=share, **files
        )

    def finish(self) -> None:
        """Write the RLE CSV and the COCO results asked for."""
        from seglab.predict import formats

        if self.rle_csv is not None:
            header = formats.instance_rle_header(self.model.classes)
            formats.write_rle_predictions(
                self.rle_csv, self.rle_rows, self.model.classes, header=header
            )
        if self.coco_json is not None:
            formats.write_coco_results(self.coco_json, self.coco)


def instance_settings(model: InstanceModel) -> dict[str, Any]:
    """What ``summary.json`` records of how the objects were cut: the card's ``instance``
    section and the dataset's category ids."""
    spec = getattr(model.card, "instance", None)
    settings = dict(spec.to_dict()) if spec is not None else {}
    ids = model.category_ids
    settings["category_ids"] = list(ids) if ids else None
    return settings
