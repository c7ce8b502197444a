"""The model card: what ``RUN/model.json`` holds, as one typed, frozen value.

Training writes it once (:func:`seglab.models.build.model_card`, stamped with the best epoch by
:class:`seglab.train.callbacks.RunWriter`); prediction, export, evaluation and the report read it
with :func:`read_card`, and :func:`seglab.models.build.build_network` rebuilds the network from
it alone. The JSON keeps the layout of every run folder written before the card existed
(``format`` ``seglab.model/1``), so old runs load as they did; a file without ``task`` is a
semantic segmentation run.

torch-free: reading a card needs only the standard library.

>>> card = ModelCard(architecture="unet", in_channels=3, classes=("background", "disc"))
>>> card.num_classes, card.out_channels, card.task
(2, 1, 'semantic')
>>> read_card("runs/train/model.json").architecture  # doctest: +SKIP
'unet'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from seglab.core.files import atomic_write
from seglab.errors import DataError

__all__ = [
    "MODEL_FORMAT",
    "SCALE_NOTE",
    "TASKS",
    "InputSpec",
    "ModelCard",
    "output_channels",
    "read_card",
]

MODEL_FORMAT = "seglab.model/1"
"""The ``format`` of ``model.json``; readers refuse other values with a clear message."""
SCALE_NOTE = "uint8 / 255; 16-bit / 65535; float as read"
"""How image values reach the network (``input.scale``): what
:func:`seglab.core.arrays.image_to_float` does."""
MIN_SIDE = 8
"""The smallest ``input.image_size`` / ``crop_size``, px (TrainConfig's minimum)."""
TASKS = ("semantic", "instance")
"""What a card's network predicts: one class per pixel, or separate objects."""
HEADS = ("crf", "levelset")
"""The refinements a card's network may have after its logits (``head``)."""
INSTANCE_METHODS = ("border", "maskrcnn")
"""How an instance card's network finds objects: ``border`` (a semantic network predicting
background, each class's object interiors and the objects' borders, cut by a watershed seeded
from the interiors) or ``maskrcnn`` (torchvision's Mask R-CNN)."""


def output_channels(num_classes: int, task: str = "semantic", method: str = "border") -> int:
    """Logit channels for a dataset with ``num_classes`` classes (background included).

    Semantic: one sigmoid channel for binary data, one softmax channel per class otherwise.
    Instance ``border``: softmax over background, one interior per class and the border
    (``num_classes + 1``); ``maskrcnn``: torchvision's class count (background included).
    """
    if task == "instance":
        return num_classes + 1 if method == "border" else num_classes
    return 1 if num_classes <= 2 else num_classes


@dataclass(frozen=True)
class InstanceSpec:
    """How an instance card's outputs become objects (``model.json``'s ``instance``).

    ``border``: a pixel is foreground where background's probability is below
    ``1 - foreground``; seeds are the connected regions where an interior's probability is above
    ``seed``; a watershed from the seeds over the foreground cuts the objects. ``maskrcnn``:
    detections scoring ``score`` or more are kept, their mask probabilities cut at
    ``mask_threshold``. Objects under ``min_area`` pixels (at the image's size) are dropped.
    The thresholds are chosen on training images when the run ends.
    """

    method: str = "border"
    foreground: float = 0.5
    seed: float = 0.5
    score: float = 0.5
    mask_threshold: float = 0.5
    min_area: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The ``instance`` object of ``model.json``."""
        return {
            "method": self.method,
            "foreground": self.foreground,
            "seed": self.seed,
            "score": self.score,
            "mask_threshold": self.mask_threshold,
            "min_area": self.min_area,
        }


@dataclass(frozen=True)
class InputSpec:
    """How images are brought to the network (``model.json``'s ``input``).

    ``image_size``: the longer side images were resized to (``None``: kept); ``crop_size``: the
    training crops; ``multiple``: the network's stride (inputs are padded to multiples of it);
    ``train_long_side``: the training images' median longer side (for ``resize="scale"``;
    ``None`` in runs written before it was recorded).
    """

    image_size: int | None = None
    crop_size: int | None = None
    multiple: int = 1
    scale: str = SCALE_NOTE
    train_long_side: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``input`` object of ``model.json``, keys in the order seglab writes them."""
        return {
            "image_size": self.image_size,
            "crop_size": self.crop_size,
            "multiple": self.multiple,
            "scale": self.scale,
            "train_long_side": self.train_long_side,
        }


@dataclass(frozen=True)
class ModelCard:
    """Everything besides the weights that rebuilds and runs a trained network.

    ``num_classes`` and ``out_channels`` follow from ``classes`` when left ``None``.
    ``preprocess`` and ``augment`` are the pipelines' configs (``Pipeline.to_config()``: steps
    as ``{"name", "params"}``; ``Augmentation.to_config()``: names as ``"flip:p=0.2"``).
    ``best_epoch``, ``best_score`` and ``monitor`` summarise training (``None`` until the
    first best epoch is stamped, :meth:`with_best`). ``multiscale`` and ``head``: the wrappers
    around the architecture (:func:`seglab.models.build.wrap`; ``None``: none, and
    ``model.json`` leaves the keys out, as before they existed), ``multiscale_options`` and
    ``head_options`` their settings (left out when empty).
    """

    architecture: str
    in_channels: int
    classes: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    num_classes: int | None = None
    out_channels: int | None = None
    input: InputSpec = field(default_factory=InputSpec)
    preprocess: tuple[Mapping[str, Any] | str, ...] = ()
    augment: tuple[str, ...] = ()
    threshold: float = 0.5
    task: str = "semantic"
    instance: InstanceSpec | None = None  # task "instance" only
    category_ids: tuple[Any, ...] | None = None  # the dataset's ids of classes[1:] (COCO)
    seglab_version: str = "unknown"
    format: str = MODEL_FORMAT
    best_epoch: int | None = None
    best_score: float | None = None
    monitor: str | None = None
    multiscale: tuple[float, ...] | None = None
    head: str | None = None
    multiscale_options: Mapping[str, Any] = field(default_factory=dict)
    head_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # frozen: derived fields are filled through object.__setattr__, once
        set_ = object.__setattr__
        if self.multiscale is not None:
            set_(self, "multiscale", tuple(float(s) for s in self.multiscale))
        set_(self, "classes", tuple(self.classes))
        set_(self, "preprocess", tuple(self.preprocess))
        set_(self, "augment", tuple(self.augment))
        if self.category_ids is not None:
            set_(self, "category_ids", tuple(self.category_ids))
        if self.num_classes is None:
            set_(self, "num_classes", len(self.classes))
        if self.task == "instance" and self.instance is None:
            set_(self, "instance", InstanceSpec())
        if self.out_channels is None:
            set_(self, "out_channels", output_channels(len(self.classes), *self._head()))

    def _head(self) -> tuple[str, str]:
        return self.task, self.instance.method if self.instance else "border"

    @property
    def binary(self) -> bool:
        """One foreground class (semantic: a single sigmoid output channel)."""
        return len(self.classes) <= 2

    def with_best(self, epoch: int | None, score: float | None, monitor: str) -> ModelCard:
        """This card stamped with training's best epoch so far and its ``monitor`` score."""
        return replace(self, best_epoch=epoch, best_score=score, monitor=monitor)

    def to_dict(self) -> dict[str, Any]:
        """The ``model.json`` object: the keys and order of every seglab version since
        ``seglab.model/1``, plus ``task``."""
        return {
            "format": self.format,
            "seglab_version": self.seglab_version,
            "task": self.task,
            "architecture": self.architecture,
            "options": dict(self.options),
            # only when set: a plain network's model.json is what it always was
            **({"multiscale": list(self.multiscale)} if self.multiscale is not None else {}),
            **({"head": self.head} if self.head is not None else {}),
            **_unless_empty("multiscale_options", self.multiscale_options),
            **_unless_empty("head_options", self.head_options),
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "out_channels": self.out_channels,
            "classes": list(self.classes),
            "input": self.input.to_dict(),
            "preprocess": list(self.preprocess),
            "threshold": self.threshold,
            "augment": list(self.augment),
            "best_epoch": self.best_epoch,
            "best_score": self.best_score,
            "monitor": self.monitor,
            **({"instance": self.instance.to_dict()} if self.instance else {}),
            **({"category_ids": list(self.category_ids)} if self.category_ids else {}),
        }

    def to_json(self) -> str:
        """``model.json``'s text (indented; values JSON cannot hold are written as strings)."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` atomically (a reader never sees half a file)."""
        text = self.to_json()
        return atomic_write(path, lambda tmp: tmp.write_text(text))


def _unless_empty(key: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``{key: options}``, or nothing for empty options (``model.json`` as it always was)."""
    return {key: dict(options)} if options else {}


def read_card(path: str | Path) -> ModelCard:
    """The :class:`ModelCard` in ``path`` (a ``model.json``).

    Fields missing from runs of older versions get their defaults (``task`` semantic,
    ``input.multiple`` 1, ``threshold`` 0.5, no preprocessing).

    Raises
    ------
    DataError
        The file cannot be read, is not JSON, has another ``format`` than
        :data:`MODEL_FORMAT`, or a field is missing or of the wrong type; the message names the
        file and the field.
    """
    path = Path(path)
    redo = (
        "model.json is written by `seglab train`: copy the run folder again from where it was "
        "trained, or retrain"
    )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8
        raise DataError(f"cannot read the model description ({exc}); {redo}", path=path) from None
    if not text.strip():
        raise DataError(f"cannot read the model description: the file is empty; {redo}", path=path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(
            f"cannot read the model description: it is not JSON ({exc}); {redo}", path=path
        ) from None
    if not isinstance(data, dict):
        raise DataError(
            f"the model description: expected a JSON object, got {_json_type(data)}; {redo}",
            path=path,
        )
    if "format" not in data:
        raise DataError(
            f"missing: every model.json seglab writes has format {MODEL_FORMAT!r}; {redo}",
            path=path,
            field="format",
        )
    if data.get("format") != MODEL_FORMAT:
        raise DataError(
            f"format {data.get('format')!r} is not {MODEL_FORMAT!r}: this run was written by "
            "another seglab version; retrain it or use that version",
            path=path,
            field="format",
        )
    return _card(_Fields(data, path))


def _json_type(value: Any) -> str:
    """The JSON name of ``value``'s type: null, true/false, a number, a string, a list."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "a list"


def _shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a hand-edited value can be long)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Fields:
    """Typed access to the JSON object of one file, with errors naming the file and field."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str = ""):
        self.data, self.path, self.prefix = data, path, prefix

    def get(self, key: str, kind: str, check: Callable[[Any], bool], default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                self.fail(key, f"missing: expected {kind}")
            return default
        value = self.data[key]
        if not check(value):
            self.fail(key, f"expected {kind}, got {_shown(value)}")
        return value

    def section(self, key: str) -> _Fields:
        value = self.get(key, "a JSON object", lambda v: isinstance(v, dict), {})
        return _Fields(value, self.path, f"{self.prefix}{key}.")

    def fail(self, key: str, message: str) -> NoReturn:
        raise DataError(
            f"{message} (model.json is written by `seglab train`; retrain the run if it was "
            "edited by hand)",
            path=self.path,
            field=self.prefix + key,
        )


def _is_int(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_size(value: Any) -> bool:
    return value is None or _is_int(value, 1)


def _is_side(value: Any) -> bool:
    return value is None or _is_int(value, MIN_SIDE)


def _is_probability(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


def _is_steps(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(step, dict | str) for step in value)


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


def _card(fields: _Fields) -> ModelCard:
    """The card of a checked ``format``: each field read with its type checked."""
    classes = fields.get(
        "classes",
        "a list of class names",
        lambda v: isinstance(v, list) and len(v) >= 1 and all(isinstance(c, str) for c in v),
    )
    num_classes = fields.get("num_classes", "a whole number", _is_int, len(classes))
    if num_classes != len(classes):
        fields.fail("num_classes", f"{num_classes} differs from the {len(classes)} classes")
    task = fields.get("task", f"one of {', '.join(TASKS)}", lambda v: v in TASKS, "semantic")
    instance = _instance(fields.section("instance")) if task == "instance" else None
    channels = output_channels(len(classes), task, instance.method if instance else "border")
    out_channels = fields.get("out_channels", "a whole number", _is_int, channels)
    if out_channels != channels:
        rule = (
            "a network has one output channel for two classes and one per class for more"
            if task == "semantic"
            else f"an instance network of method {instance.method!r} has {channels}"  # type: ignore[union-attr]
        )
        fields.fail(
            "out_channels",
            f"{out_channels} does not fit the {len(classes)} classes: {rule}, so {channels}",
        )
    given = fields.section("input")
    size = "a whole number of pixels >= 1, or null"
    # what TrainConfig accepts for image_size and crop_size: smaller ones were never trained
    side = f"a whole number of pixels >= {MIN_SIDE}, or null"
    return ModelCard(
        format=MODEL_FORMAT,
        seglab_version=str(fields.get("seglab_version", "a string", lambda v: True, "unknown")),
        task=task,
        instance=instance,
        architecture=fields.get("architecture", "a model name", lambda v: isinstance(v, str)),
        options=fields.get("options", "a JSON object", lambda v: isinstance(v, dict), {}),
        multiscale=fields.get(
            "multiscale", "a list of scales in (0, 4], or null", _is_scales, None
        ),
        head=fields.get("head", f"one of {', '.join(HEADS)}, or null", _is_head, None),
        multiscale_options=fields.get(
            "multiscale_options", "a JSON object", lambda v: isinstance(v, dict), {}
        ),
        head_options=fields.get("head_options", "a JSON object", lambda v: isinstance(v, dict), {}),
        in_channels=fields.get("in_channels", "a whole number >= 1", lambda v: _is_int(v, 1)),
        num_classes=num_classes,
        out_channels=out_channels,
        classes=tuple(classes),
        input=InputSpec(
            image_size=given.get("image_size", side, _is_side, None),
            crop_size=given.get("crop_size", side, _is_side, None),
            multiple=given.get("multiple", "a whole number >= 1", lambda v: _is_int(v, 1), 1),
            scale=given.get("scale", "a string", lambda v: isinstance(v, str), SCALE_NOTE),
            train_long_side=given.get("train_long_side", size, _is_size, None),
        ),
        preprocess=tuple(fields.get("preprocess", "a list of steps", _is_steps, [])),
        augment=tuple(fields.get("augment", "a list of augmentation names", _is_names, [])),
        threshold=fields.get("threshold", "a number from 0 to 1", _is_probability, 0.5),
        category_ids=_category_ids(fields, len(classes)),
        best_epoch=fields.get("best_epoch", "a whole number or null", _is_optional_int, None),
        best_score=fields.get("best_score", "a number or null", _is_optional_number, None),
        monitor=fields.get("monitor", "a metric name", _is_optional_str, None),
    )


def _category_ids(fields: _Fields, num_classes: int) -> tuple[Any, ...] | None:
    """``category_ids``: one id (a number or a string) per class after the background."""
    ids = fields.get(
        "category_ids",
        "a list of ids (numbers or strings), one per class after the background",
        lambda v: v is None or (isinstance(v, list) and all(isinstance(i, int | str) for i in v)),
        None,
    )
    if ids is not None and len(ids) != num_classes - 1:
        fields.fail("category_ids", f"{len(ids)} ids for {num_classes - 1} classes")
    return tuple(ids) if ids is not None else None


def _instance(fields: _Fields) -> InstanceSpec:
    """The ``instance`` section of an instance card (every field has a default)."""
    default = InstanceSpec()
    prob = "a number from 0 to 1"
    return InstanceSpec(
        method=fields.get(
            "method",
            f"one of {', '.join(INSTANCE_METHODS)}",
            lambda v: v in INSTANCE_METHODS,
            default.method,
        ),
        foreground=fields.get("foreground", prob, _is_probability, default.foreground),
        seed=fields.get("seed", prob, _is_probability, default.seed),
        score=fields.get("score", prob, _is_probability, default.score),
        mask_threshold=fields.get("mask_threshold", prob, _is_probability, default.mask_threshold),
        min_area=fields.get("min_area", "a whole number >= 0", _is_int, default.min_area),
    )


def _is_scales(value: Any) -> bool:
    return value is None or (
        isinstance(value, list)
        and len(value) >= 1
        and all(
            isinstance(s, int | float) and not isinstance(s, bool) and 0 < s <= 4 for s in value
        )
    )


def _is_head(value: Any) -> bool:
    return value is None or value in HEADS


def _is_optional_int(value: Any) -> bool:
    return value is None or _is_int(value)


def _is_optional_number(value: Any) -> bool:
    # NaN is written as NaN by json.dumps; a run whose score was never finite keeps it
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _is_optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)
