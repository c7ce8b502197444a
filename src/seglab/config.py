"""Typed configuration (pydantic v2). Configs are frozen: they flow top-down, never mutated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from seglab.errors import ConfigError


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


MASKRCNN_MODELS = ("maskrcnn", "maskrcnn_v2")
"""The models that make an instance run a Mask R-CNN one."""


class DataConfig(_Config):
    """Where a dataset is and how to read it.

    Attributes
    ----------
    path: a dataset folder (COCO or mask folders, with or without train/val/test) or a COCO JSON.
    annotations, images, masks: explicit locations, instead of or beside ``path``.
    val_fraction: share of the train split held out for validation when there is no val split.
    seed: seed of that split (the same seed gives the same split).
    crowd: what COCO ``iscrowd`` regions become: ``ignore`` (255), ``foreground``, ``background``.
    classes / num_classes: declare the classes of mask folders (values outside are errors).
    allow_large_images: lift Pillow's decompression-bomb limit for trusted images.
    strict: make a corrupt image met while training fatal instead of skipped with a warning.
    skip_bad: train even when the data check finds errors, leaving the faulty records out
        (``seglab train`` stops before it starts otherwise).
    labels: what the values of mask files mean: ``classes`` (a class per value), ``instances``
        (an object per value: the 16-bit label images of Cellpose and StarDist) or ``auto``
        (16- and 32-bit integer masks holding more than two values are label images; 8-bit
        ones, and binary 0/1, 0/255, 0/65535 ones, are class masks).
    folds / fold: K-fold cross-validation (``seglab train --folds K``): the whole train split
        on disk (``val_fraction`` is not applied) is cut into ``folds`` seeded parts of
        near-equal size (``seed``); fold ``fold`` (1..folds) validates on part ``fold`` and
        trains on the others. ``folds`` without ``fold`` names a cross-validation (a folds
        run's ``config.yaml``), not a split. A val split on disk is left out of the folds: it
        stays held out, to score their ensemble on.
    """

    path: Path | None = None
    annotations: Path | None = None
    images: Path | None = None
    masks: Path | None = None
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    seed: int = 0
    crowd: Literal["ignore", "foreground", "background"] = "ignore"
    classes: list[str] | None = None
    num_classes: int | None = Field(None, ge=2)
    allow_large_images: bool = False
    strict: bool = False
    skip_bad: bool = False
    labels: Literal["auto", "classes", "instances"] = "auto"
    folds: int | None = Field(None, ge=2)
    fold: int | None = Field(None, ge=1)

    @field_validator("fold")
    @classmethod
    def _fold_of_the_folds(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None or "folds" not in info.data:  # a bad folds has its own error
            return value
        folds = info.data["folds"]
        if folds is None:
            raise ValueError(
                f"fold {value} needs folds (how many parts the train split is cut into): set "
                f"both, e.g. folds: 5, fold: {value}"
            )
        if value > folds:
            raise ValueError(f"fold {value} of {folds} folds: choose a fold from 1 to {folds}")
        return value


def split_top(text: str) -> list[str]:
    """Split ``text`` on commas outside ``[brackets]``, dropping empty parts."""
    return [p for p in re.split(r",(?![^\[]*\])", text) if p.strip()]


def parse_value(text: str) -> Any:
    """``"3"`` -> 3, ``"0.5"`` -> 0.5, ``"true"`` -> True, ``"none"`` -> None, ``"[8,8]"`` ->
    ``[8, 8]``, ``"'a'"`` -> ``"a"``, anything else -> the string."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [parse_value(p) for p in split_top(text[1:-1])]
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip("'\"")


def parse_assignments(items: list[str] | None, *, what: str = "--param") -> dict[str, Any]:
    """Parse ``["k=v", "a=1,b=[2,3]"]`` into ``{"k": "v", "a": 1, "b": [2, 3]}`` (values by
    :func:`parse_value`); a malformed item raises :class:`ConfigError` naming it."""
    out: dict[str, Any] = {}
    for item in items or []:
        for part in split_top(item):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"{what} {part!r}: expected NAME=VALUE, e.g. {what} sigma=2")
            out[key.strip()] = parse_value(value)
    return out


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|min|s|sec)?", re.IGNORECASE)


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds from ``"10m"``, ``"1h30m"``, ``"90s"``, ``"00:10:00"``, ``"600"`` or a number.

    ``None`` and ``""`` give ``None``; anything else raises :class:`ConfigError`.

    >>> parse_duration("1h30m"), parse_duration("90s"), parse_duration("00:10:00")
    (5400.0, 90.0, 600.0)
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(f"time limit {value!r}: expected a duration such as 10m, 1h30m or 90s")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if ":" in text:
            parts = text.split(":")
            try:
                numbers = [float(p) for p in parts]
            except ValueError:
                numbers = []
            if not numbers or len(numbers) > 3:
                raise ConfigError(f"time limit {value!r}: expected HH:MM:SS, MM:SS or e.g. 10m")
            seconds = 0.0
            for n in numbers:
                seconds = seconds * 60 + n
        else:
            pos, seconds = 0, 0.0
            units = {"h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0, "sec": 1.0}
            for match in _DURATION.finditer(text):
                if match.start() != pos or (match.group(2) is None and match.end() != len(text)):
                    break
                seconds += float(match.group(1)) * units[(match.group(2) or "s").lower()]
                pos = match.end()
                while pos < len(text) and text[pos] == " ":
                    pos += 1
            if pos != len(text) or not text:
                raise ConfigError(
                    f"time limit {value!r}: expected a duration such as 10m, 1h30m, 90s or 600"
                )
    if seconds <= 0:
        raise ConfigError(f"time limit {value!r} must be positive")
    return seconds


def parse_scales(text: str) -> list[float] | None:
    """``"1,0.75,0.5"`` -> ``[1.0, 0.75, 0.5]`` (``None`` for an empty text).

    Raises
    ------
    ConfigError
        A part is not a number.
    """
    try:
        return [float(part) for part in text.split(",") if part.strip()] or None
    except ValueError:
        raise ConfigError(f"scales {text!r}: expected numbers like 1,0.75,0.5") from None


class ModelConfig(_Config):
    """Which network to train (see :func:`seglab.models.create_model`).

    Attributes
    ----------
    name: a registered model (``unet``, ``smp.unet``, ``torchvision.lraspp_mobilenet_v3_large``...).
    options: the builder's options (``base_width``, ``depth``, ``activation``, ``norm``,
        ``upsampling``, ``dropout`` for ``unet``; ``encoder``, ``decoder_channels``... for smp).
    init: weight initialisation of the layers seglab creates (``default`` keeps the library's).
    encoder_weights: a weights file for the encoder, or a hub name (``imagenet``) read from
        the library's cache or downloaded (:mod:`seglab.models.hub`).
    multiscale: run the network on these scales of its input and fuse them with learned
        per-pixel weights (Chen et al., CVPR 2016, :mod:`seglab.models.multiscale`; theirs:
        ``[1, 0.75, 0.5]``); ``None``: one scale.
    head: a trainable refinement after the logits, taking the input image: ``crf`` (a ConvCRF,
        :class:`seglab.models.crf.CRFHead`) or ``levelset`` (Chan-Vese steps, binary models,
        :class:`seglab.models.levelset.LevelSetHead`); ``None``: none.
    multiscale_options: the fusion's ``aux_weight`` (the per-scale supervision's weight, 1)
        and ``hidden`` (the attention head's width, 32).
    head_options: the head's settings: ``crf``: ``iterations``, ``filter_size``, ``blur``,
        ``theta_alpha``, ``theta_beta``, ``theta_gamma``, ``appearance_weight``,
        ``smoothness_weight`` (:class:`seglab.models.crf.ConvCRF`); ``levelset``:
        ``iterations``, ``dt``, ``mu``, ``lambda1``, ``lambda2``, ``eps``.
    """

    name: str = "unet"
    options: dict[str, Any] = Field(default_factory=dict)
    init: str = "default"
    encoder_weights: Path | None = None
    multiscale: list[float] | None = Field(None, min_length=1)
    head: Literal["crf", "levelset"] | None = None
    multiscale_options: dict[str, Any] = Field(default_factory=dict)
    head_options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _options_need_their_wrapper(self) -> ModelConfig:
        if self.multiscale_options and self.multiscale is None:
            raise ValueError("multiscale_options are given without multiscale: add --multiscale")
        if self.head_options and self.head is None:
            raise ValueError("head_options are given without a head: add --head crf|levelset")
        return self

    @field_validator("multiscale", mode="before")
    @classmethod
    def _scales_text(cls, value: Any) -> Any:
        # "1,0.75,0.5": how the CLI, a YAML file or a study's choice may write the scales
        return parse_scales(value) if isinstance(value, str) else value

    @field_validator("multiscale")
    @classmethod
    def _scales(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if any(not 0 < s <= 4 for s in value):
                raise ValueError(f"scales {value}: each in (0, 4], e.g. 1,0.75,0.5")
            if len(set(value)) != len(value):
                raise ValueError(f"scales {value}: each scale once")
        return value


class TrainConfig(_Config):
    """Everything a training run needs; ``None`` fields are chosen by the recipe
    (:mod:`seglab.train.recipe`) from the device and the data, and the resolved config is
    written to the run folder as ``config.yaml``.

    Attributes (grouped)
    --------------------
    task: ``semantic`` (a class per pixel) or ``instance`` (each object apart: Mask R-CNN, or a
        semantic model predicting object interiors and borders cut by a seeded watershed).
    data / model: :class:`DataConfig`, :class:`ModelConfig` (``model=None``: the recipe's).
    recipe: ``auto`` (sized for the device, the data and the time limit) or ``seed`` (the
        seed notebook's recipe as written: U-Net width 64 at 512 px, RAdam 0.005,
        ReduceLROnPlateau 0.2/2/2, BCE+Dice, 32 epochs).
    loss / loss_options: a :data:`seglab.losses.LOSSES` name (``bce_dice`` binary, ``ce_dice``
        multiclass by default) and its options (``pos_weight``, ``class_weights``, ``eps``...).
    optimizer / lr / weight_decay / optimizer_options: a :data:`seglab.optim.OPTIMIZERS` name.
    scheduler / scheduler_options: a :data:`seglab.optim.SCHEDULERS` name (``warmup_epochs``...).
    epochs, time_limit (seconds; :func:`parse_duration` reads ``"10m"``), patience (early
        stopping on ``monitor``; ``None`` = off), monitor (``val_dice``, ``val_loss``, or
        ``val_ap``: an instance run's val DSB mean AP, its default).
    batch_size, image_size (images resized so the longer side is this; ``None`` keeps sizes),
        crop_size (square training crops; ``None`` = whole images), object_crop (share of
        crops centred on an object), accumulate (gradient accumulation).
    augment: a preset (``none``, ``light``, ``default``, ``heavy``) or names, see
        :mod:`seglab.transforms.augment`; preprocess: a :mod:`seglab.transforms` pipeline.
    precision (``auto``, ``32``, ``bf16-mixed``, ``16-mixed``), accelerator, devices,
        num_nodes, workers (data loader processes; ``None`` = from the cores).
    seed, deterministic: reproducibility (deterministic algorithms where torch has them).
    out / name: the run folder is ``out/name``; resume: a run folder or ``last.ckpt``.
    lr_find: run the learning-rate finder first, use its suggestion and save its plot.
    threshold: probability threshold of the val Dice and of predictions; ``None``: 0.5 for the
        val Dice, and a binary run with a val split chooses the threshold of its predictions
        on val (stored in ``model.json``).
    val_images: validate on this many val images (a seeded subset; ``None``: all). A run with a
        time limit sets it when one whole validation would take over a quarter of the budget.
    logger: where the epoch metrics also go: ``csv`` (``metrics.csv`` only, always written),
        ``tensorboard`` (``RUN/tensorboard/``) or ``mlflow`` (``MLFLOW_TRACKING_URI``, else
        ``RUN/mlruns/``), see :mod:`seglab.train.loggers`.
    adversarial: the weight (lambda) of the adversarial term (Luc et al. 2016; ``None``: off),
        see :mod:`seglab.train.adversarial`; adversarial_start: the first epoch (from 1) with
        it; adversarial_lr: the discriminator's Adam lr (``None``: the segmenter's).
    """

    task: Literal["semantic", "instance"] = "semantic"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig | None = None
    recipe: Literal["auto", "seed"] = "auto"
    loss: str | None = None
    loss_options: dict[str, Any] = Field(default_factory=dict)
    optimizer: str | None = None
    lr: float | None = Field(None, gt=0)
    weight_decay: float | None = Field(None, ge=0)
    optimizer_options: dict[str, Any] = Field(default_factory=dict)
    scheduler: str | None = None
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    epochs: int | None = Field(None, ge=1)
    time_limit: float | None = Field(None, gt=0)
    patience: int | None = Field(None, ge=1)
    monitor: Literal["val_dice", "val_loss", "val_ap"] = "val_dice"
    batch_size: int | None = Field(None, ge=1)
    image_size: int | None = Field(None, ge=8)
    crop_size: int | None = Field(None, ge=8)
    object_crop: float = Field(0.7, ge=0.0, le=1.0)
    accumulate: int = Field(1, ge=1)
    augment: str | list[str] = "default"
    preprocess: str | list[str] | None = None
    precision: Literal["auto", "32", "bf16-mixed", "16-mixed"] = "auto"
    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = Field(1, ge=1)
    workers: int | None = Field(None, ge=0)
    seed: int = 0
    deterministic: bool = False
    out: Path = Path("runs")
    name: str | None = None
    overwrite: bool = False
    resume: Path | None = None
    lr_find: bool = False
    threshold: float | None = Field(None, gt=0.0, lt=1.0)
    val_images: int | None = Field(None, ge=1)
    logger: Literal["csv", "tensorboard", "mlflow"] = "csv"
    adversarial: float | None = Field(None, gt=0)
    adversarial_start: int = Field(1, ge=1)
    adversarial_lr: float | None = Field(None, gt=0)
    limit_train_batches: int | None = Field(None, ge=1)
    limit_val_batches: int | None = Field(None, ge=1)

    @property
    def instance_method(self) -> str | None:
        """How an instance run finds objects: ``maskrcnn`` (a :data:`MASKRCNN_MODELS` model) or
        ``border`` (any other model: interiors and borders cut by a watershed); ``None`` for a
        semantic run. It is the model card's ``instance.method``."""
        if self.task != "instance":
            return None
        name = self.model.name if self.model is not None else ""
        return "maskrcnn" if name in MASKRCNN_MODELS else "border"

    @field_validator("time_limit", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return parse_duration(value)

    @field_validator("monitor")
    @classmethod
    def _monitor_of_the_task(cls, value: str, info: ValidationInfo) -> str:
        # val_ap scores objects: a semantic run never logs it (and would follow its train loss)
        if value == "val_ap" and info.data.get("task") != "instance":
            raise ValueError("val_ap scores objects: it needs --task instance (else val_dice)")
        return value


# ``seglab train`` flags whose name is not the field's last part with dashes, and fields no flag
# sets; tests/cli/test_train_flags.py checks this against the CLI's table of flags.
_FLAG_NAMES = {
    "data.path": "--data",
    "data.strict": "--strict-data",
    "data.skip_bad": "--skip-bad-data",
    "data.seed": "--seed",
    "model.name": "--model",
    "model.options": "--model-option",
    "model.multiscale_options": "--multiscale-option",
    "model.head_options": "--head-option",
    "loss_options": "--loss-option",
    "optimizer_options": "--optimizer-option",
    "scheduler_options": "--scheduler-option",
}
NO_FLAG_FIELDS = frozenset(
    {
        "limit_train_batches",
        "limit_val_batches",
        "data.annotations",
        "data.images",
        "data.masks",
        "data.crowd",
        "data.allow_large_images",
        "data.fold",  # one fold of a cross-validation: `seglab train --folds K` sets each
    }
)


def flag_of(field: str) -> str | None:
    """The ``seglab train`` flag that sets the TrainConfig ``field`` (dotted: ``data.path``),
    or ``None`` when only a config file sets it.

    >>> flag_of("batch_size"), flag_of("data.path"), flag_of("limit_val_batches")
    ('--batch-size', '--data', None)
    """
    parts = field.split(".")
    known = {"data": DataConfig.model_fields, "model": ModelConfig.model_fields}
    fields = known.get(parts[0]) if len(parts) == 2 else TrainConfig.model_fields
    if field in NO_FLAG_FIELDS or fields is None or parts[-1] not in fields or field in known:
        return None  # a config file's field, or a field TrainConfig does not have
    if field in _FLAG_NAMES:
        return _FLAG_NAMES[field]
    return "--" + field.split(".")[-1].replace("_", "-")


def describe_validation(exc, *, flags: bool = False, flag_for=None) -> str:
    """pydantic's ``ValidationError`` as ``field.sub: message; ...`` for people; with ``flags``
    (a TrainConfig's errors) each field is followed by the ``seglab train`` flag that sets it;
    ``flag_for(field) -> flag or None`` does the same for another command's config."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        flag = flag_of(where) if flags else (flag_for(where) if flag_for else None)
        if flag is not None:
            where = f"{where} ({flag})"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``top``, merging nested mappings key by key."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping of field: value")
    return data


def train_config(
    base: TrainConfig | Mapping[str, Any] | str | Path | None = None, **options: Any
) -> TrainConfig:
    """A :class:`TrainConfig` from a config, a dict or a YAML file, with ``options`` on top.

    Shorthands: ``data="path"`` is ``data={"path": "path"}`` and ``model="smp.unet"`` is
    ``model={"name": "smp.unet"}``; nested dicts merge key by key. Errors name the file (when
    there is one) and the field.

    >>> train_config(data="cig_butts", epochs=5, model={"options": {"base_width": 8}}).epochs
    5
    """
    from pydantic import ValidationError

    source = ""
    if base is None:
        data: dict[str, Any] = {}
    elif isinstance(base, TrainConfig):
        data = base.model_dump(exclude_unset=True)
    elif isinstance(base, Mapping):
        data = dict(base)
    else:
        source = f"{base}: "
        data = _read_yaml(Path(base))
    top = dict(options)
    for key, field in (("data", "path"), ("model", "name")):
        if isinstance(top.get(key), str | Path):
            top[key] = {field: top[key]}
        if isinstance(data.get(key), str | Path):
            data[key] = {field: data[key]}
    for key in ("data", "model"):
        if isinstance(top.get(key), BaseModel):
            top[key] = top[key].model_dump(exclude_unset=True)
        if isinstance(data.get(key), BaseModel):
            data[key] = data[key].model_dump(exclude_unset=True)
    try:
        return TrainConfig.model_validate(deep_merge(data, top))
    except ValidationError as exc:
        raise ConfigError(f"{source}{describe_validation(exc, flags=True)}") from None


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """The :class:`TrainConfig` in a YAML file (such as a run's ``config.yaml``)."""
    return train_config(Path(path), **overrides)
