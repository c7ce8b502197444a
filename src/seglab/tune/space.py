"""The search space of ``seglab tune``: which TrainConfig fields a study varies, and over what.

A space is a mapping of parameter names to what each may take, read from YAML:

.. code-block:: yaml

    lr: {low: 3.0e-4, high: 1.0e-2, log: true}   # a float (log scale)
    optimizer: [adamw, adam, radam, sgd]          # a list: the choices
    width: {choices: [8, 16, 32], when: {model: unet}}
    augment: heavy                                # a single value: every trial uses it
    threshold: null                               # off: the recipe (or --config) decides
    loss_options.pos_weight: {low: 1, high: 5}    # any TrainConfig field, dotted

The short names (:data:`PARAMS`) stand for TrainConfig fields (``width`` is
``model.options.base_width``); any other name is a dotted TrainConfig field. ``auto`` among
choices leaves the field to the recipe. ``when`` makes a parameter apply only to trials whose
other parameters (or fixed settings) have the given values. A file narrows or widens the default
space (:data:`DEFAULT_SPACE`): its entries replace the defaults of the same name, ``null``
turns one off; ``replace: true`` at the top starts from an empty space instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seglab.errors import ConfigError

AUTO = "auto"
"""A choice that leaves the field to the recipe (``crop_size: [auto, 128, 192]``)."""

PARAMS: dict[str, str] = {
    "optimizer": "optimizer",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "activation": "model.options.activation",
    "init": "model.init",
    "loss": "loss",
    "augment": "augment",
    "model": "model.name",
    "width": "model.options.base_width",
    "encoder": "model.options.encoder",
    "image_size": "image_size",
    "crop_size": "crop_size",
    "batch_size": "batch_size",
    "threshold": "threshold",
    "preprocess": "preprocess",
    "scheduler": "scheduler",
    "epochs": "epochs",
    "head": "model.head",
    "multiscale": "model.multiscale",
    "adversarial": "adversarial",
}
"""Short parameter names and the TrainConfig field each sets."""

LABELS: dict[str, str] = {
    "optimizer": "Optimizers",
    "lr": "Learning rate",
    "weight_decay": "Weight decay",
    "activation": "Activations",
    "init": "Initialisations",
    "loss": "Losses",
    "augment": "Augmentation",
    "model": "Models",
    "width": "Widths",
    "encoder": "Encoders",
    "image_size": "Image sizes",
    "crop_size": "Crop sizes",
    "batch_size": "Batch sizes",
    "threshold": "Thresholds",
    "preprocess": "Preprocessing",
    "scheduler": "Schedules",
    "epochs": "Epochs",
    "head": "Heads",
    "multiscale": "Scales",
    "adversarial": "Adversarial weight",
}
"""How the study report and the printed tables title each parameter."""


@dataclass(frozen=True)
class Param:
    """One dimension of the space.

    ``kind``: ``float``, ``int`` or ``categorical``; ``low``/``high``/``log``/``step`` for
    numbers, ``choices`` for categories; ``path``: the dotted TrainConfig field it sets;
    ``when``: the values other parameters (or fixed fields, by path) must have for it to apply.
    """

    name: str
    path: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    when: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The parameter as ``study.json`` and ``space.yaml`` hold it."""
        out: dict[str, Any] = {"type": self.kind, "path": self.path}
        if self.kind == "categorical":
            out["choices"] = list(self.choices)
        else:
            out.update(low=self.low, high=self.high, log=self.log)
            if self.step is not None:
                out["step"] = self.step
        if self.when:
            out["when"] = dict(self.when)
        return out


@dataclass(frozen=True)
class Space:
    """The parameters a study varies, in order, and the fields every trial shares (``fixed``:
    the single values of a space file, by TrainConfig path)."""

    params: tuple[Param, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        return {p.name: p.to_dict() for p in self.params}


_BINARY_LOSSES = ["bce_dice", "dice", "focal", "lovasz"]
_MULTICLASS_LOSSES = ["ce_dice", "cross_entropy", "dice", "focal", "lovasz"]

_WIDTH_MODELS = ["unet", "segnet", "deconvnet", "reseg"]
"""seglab's own models, whose width (``base_width``) and activation a study may vary."""

DEFAULT_SPACE: dict[str, Any] = {
    "optimizer": ["adamw", "adam", "radam", "sgd", "rmsprop"],
    "lr": {"low": 3e-4, "high": 1e-2, "log": True},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "activation": {
        "choices": ["relu", "leaky_relu", "elu", "gelu", "silu"],
        "when": {"model": _WIDTH_MODELS},
    },
    "init": ["default", "kaiming_normal", "xavier_uniform"],
    "loss": _BINARY_LOSSES,
    "augment": ["light", "default", "heavy"],
    "width": {"choices": [8, 16, 32], "when": {"model": _WIDTH_MODELS}},
}
"""The space ``seglab tune`` searches without ``--space``: the seed's choices that cost no more
time per step than the recipe's (the model, its depth and the image sizes stay the recipe's, so
every trial trains as many images in its budget). A multiclass or instance study tries the
multiclass losses instead of :data:`_BINARY_LOSSES`."""

OPTIONAL_SPACE: dict[str, Any] = {
    "model": ["unet", "smp.unet", "smp.fpn", "segnet", "reseg"],
    "encoder": {"choices": ["resnet18", "resnet34"], "when": {"model": ["smp.unet", "smp.fpn"]}},
    "crop_size": [AUTO, 128, 192, 256],
    "image_size": [AUTO, 256, 384, 512],
    "batch_size": [AUTO, 4, 8, 16],
    "threshold": {"low": 0.3, "high": 0.7},
    "preprocess": ["none", "clahe", "normalize"],
    "scheduler": ["cosine", "onecycle", "reduce_on_plateau"],
    "epochs": [AUTO, 10, 20, 40],
    "head": ["none", "crf"],
    "multiscale": ["none", "1,0.75,0.5"],
    "adversarial": ["none", 0.01, 0.1],
}
"""Parameters a space file can turn on (``space.yaml`` lists them, off); the families of
docs/models.md are among them (``model: [unet, segnet, reseg]``, ``head``, ``multiscale``,
``adversarial``; ``loss: [bce_dice, active_contour, mumford_shah]``)."""

_NONE_UNSETS = {"preprocess", "model.head", "model.multiscale", "adversarial"}
"""Fields whose ``none`` choice sets nothing (the field stays off)."""


def default_space(*, multiclass: bool = False) -> dict[str, Any]:
    """:data:`DEFAULT_SPACE` for a binary (or a multiclass / instance) study."""
    space = dict(DEFAULT_SPACE)
    if multiclass:
        space["loss"] = list(_MULTICLASS_LOSSES)
    return space


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{where}: expected a number, got {value!r}") from None


def parse_param(name: str, spec: Any, *, source: str = "space") -> Param | Any:
    """The :class:`Param` of one space entry, or the entry's single value when it fixes the
    field. Raises :class:`ConfigError` naming ``source`` and the entry."""
    where = f"{source}: {name}"
    path = PARAMS.get(name, name)
    _check_path(path, where)
    if isinstance(spec, list | tuple):
        spec = {"choices": list(spec)}
    if not isinstance(spec, Mapping):
        return spec
    unknown = set(spec) - {"choices", "low", "high", "log", "step", "when", "type"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (a parameter has choices, or low, "
            "high, log and step, and may have when)"
        )
    when = spec.get("when") or {}
    if not isinstance(when, Mapping):
        raise ConfigError(f"{where}: when: expected a mapping such as {{model: unet}}")
    if "choices" in spec:
        choices = spec["choices"]
        if not isinstance(choices, list | tuple) or not choices:
            raise ConfigError(f"{where}: choices: expected a non-empty list")
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{where}: choices: a value is listed twice")
        return Param(name, path, "categorical", choices=tuple(choices), when=dict(when))
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: expected choices: [...] or low and high")
    low, high = _number(spec["low"], f"{where}.low"), _number(spec["high"], f"{where}.high")
    log = bool(spec.get("log", False))
    if not low < high:
        raise ConfigError(f"{where}: low ({low:g}) must be below high ({high:g})")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low > 0 (got {low:g})")
    whole = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("low", "high"))
    kind = spec.get("type") or ("int" if whole else "float")
    if kind not in ("int", "float"):
        raise ConfigError(f"{where}: type {kind!r}: expected int or float")
    step = spec.get("step")
    step = None if step is None else _number(step, f"{where}.step")
    return Param(name, path, kind, low=low, high=high, log=log, step=step, when=dict(when))


def _check_path(path: str, where: str) -> None:
    """A dotted TrainConfig field (``model.options.*`` and ``*_options.*`` are free-form)."""
    from seglab.config import DataConfig, ModelConfig, TrainConfig

    parts = path.split(".")
    free = {"model.options", "loss_options", "optimizer_options", "scheduler_options"}
    if len(parts) >= 2 and (".".join(parts[:2]) in free or parts[0] in free):
        return
    nested = {"data": DataConfig.model_fields, "model": ModelConfig.model_fields}
    fields = nested.get(parts[0]) if len(parts) == 2 else TrainConfig.model_fields
    if len(parts) > 2 or fields is None or parts[-1] not in fields or path in nested:
        known = ", ".join(PARAMS)
        raise ConfigError(
            f"{where}: not a parameter seglab tune knows ({known}) nor a TrainConfig field"
        )
    # (epochs may be searched: the seed's study chooses them; a trial's budget still caps it)
    if path in ("data.path", "out", "name", "time_limit", "resume", "overwrite"):
        raise ConfigError(f"{where}: set by seglab tune itself, not a parameter to search")


def build_space(entries: Mapping[str, Any], *, source: str = "space") -> Space:
    """The :class:`Space` of ``entries`` (name -> spec), checked: ``when`` names parameters or
    fixed fields of the space."""
    params: list[Param] = []
    fixed: dict[str, Any] = {}
    for name, spec in entries.items():
        if spec is None:
            continue
        parsed = parse_param(str(name), spec, source=source)
        if isinstance(parsed, Param):
            params.append(parsed)
        else:
            fixed[PARAMS.get(str(name), str(name))] = parsed
    known = {p.name for p in params} | set(fixed) | set(PARAMS)
    for param in params:
        for other in param.when:
            if other not in known:
                raise ConfigError(f"{source}: {param.name}: when names {other!r}, not a parameter")
    return Space(tuple(params), fixed)


def load_space(path: str | Path | None = None, *, multiclass: bool = False) -> Space:
    """The default space with ``path``'s entries on top (see the module docstring)."""
    entries = default_space(multiclass=multiclass)
    if path is None:
        return build_space(entries, source="default space")
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the space: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a space is a mapping of parameter: values")
    data = dict(data)
    if data.pop("replace", False):
        entries = {}
    entries.update(data)
    return build_space(entries, source=str(path))


def space_yaml(space: Space) -> str:
    """``space.yaml``: the space a study searched, then the optional parameters it did not (as
    comments), for a person to copy and edit into ``--space``."""
    import yaml

    lines = [
        "# seglab tune --space FILE: entries replace the defaults of the same name;",
        "# null turns one off; a single value fixes it; `replace: true` starts from",
        "# an empty space.",
    ]
    for param in space.params:
        spec = param.to_dict()
        spec.pop("path")
        kind = spec.pop("type")
        if kind == "categorical" and not param.when:
            spec = spec["choices"]
        elif kind != "categorical" and not spec.get("log"):
            spec.pop("log")
        lines.append(yaml.safe_dump({param.name: spec}, default_flow_style=None).strip())
    for path, value in space.fixed.items():
        name = next((k for k, v in PARAMS.items() if v == path), path)
        lines.append(yaml.safe_dump({name: value}, default_flow_style=None).strip())
    searched = {p.name for p in space.params} | set(space.fixed)
    rest = {k: v for k, v in {**DEFAULT_SPACE, **OPTIONAL_SPACE}.items() if k not in searched}
    if rest:
        lines.append("# not searched (uncomment to add):")
        for name, spec in rest.items():
            text = yaml.safe_dump({name: spec}, default_flow_style=None).strip()
            lines.extend(f"# {line}" for line in text.splitlines())
    return "\n".join(lines) + "\n"


# -- sampling ------------------------------------------------------------------------------------


def applies(param: Param, chosen: Mapping[str, Any], fixed: Mapping[str, Any]) -> bool:
    """Whether ``param`` applies given the values ``chosen`` so far (by name) and the ``fixed``
    fields (by path); an unset field is ``auto`` (``model`` unset is the recipe's ``unet``)."""
    for name, wanted in param.when.items():
        path = PARAMS.get(name, name)
        value = chosen.get(name, fixed.get(path, _RECIPE_DEFAULTS.get(path, AUTO)))
        allowed = wanted if isinstance(wanted, list | tuple) else [wanted]
        if value not in allowed:
            return False
    return True


_RECIPE_DEFAULTS = {"model.name": "unet"}
"""What the recipe picks for a field a study leaves unset, where a ``when`` may ask."""


def suggest(trial, space: Space, fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values an Optuna ``trial`` takes for ``space`` (by name), skipping the parameters
    whose ``when`` does not hold."""
    fixed = {**space.fixed, **(fixed or {})}
    chosen: dict[str, Any] = {}
    for param in space.params:
        if not applies(param, chosen, fixed):
            continue
        if param.kind == "categorical":
            chosen[param.name] = trial.suggest_categorical(param.name, list(param.choices))
        elif param.kind == "int":
            step = int(param.step or 1)
            chosen[param.name] = trial.suggest_int(
                param.name, int(param.low), int(param.high), step=step, log=param.log
            )
        else:
            chosen[param.name] = trial.suggest_float(
                param.name, param.low, param.high, log=param.log, step=param.step
            )
    return chosen


def overrides(params: Mapping[str, Any], space: Space) -> dict[str, Any]:
    """The nested TrainConfig options that ``params`` (by name) and the space's fixed fields
    set; ``auto`` and ``none`` choices of optional fields set nothing."""
    paths = {p.name: p.path for p in space.params}
    out: dict[str, Any] = {}
    values = {**space.fixed, **{paths.get(k, PARAMS.get(k, k)): v for k, v in params.items()}}
    for path, value in values.items():
        if value == AUTO or (path in _NONE_UNSETS and value == "none"):
            continue
        node = out
        *parents, key = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = value
    return out


def describe(params: Mapping[str, Any]) -> str:
    """``optimizer adamw, lr 0.0012, width 16``: a trial's values for people."""
    parts = []
    for name, value in params.items():
        if isinstance(value, float):
            text = f"{value:.3g}" if math.isfinite(value) else str(value)
        else:
            text = str(value)
        parts.append(f"{name} {text}")
    return ", ".join(parts)
