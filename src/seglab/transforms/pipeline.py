"""Transforms chosen by name, so training and prediction apply the same steps.

A step is written three ways, all equivalent:

* a string: ``"clahe"`` or ``"clahe:clip_limit=2.0,tile_grid=8"`` (numbers, ``true``/``false``,
  ``none`` and ``[a,b]`` lists are parsed; anything else is a string); a whole pipeline may be
  one string with steps joined by ``;``;
* a dict: ``{"name": "clahe", "clip_limit": 2}`` or ``{"name": "clahe", "params": {...}}``;
* a :class:`TransformSpec`.

:func:`build_pipeline` checks every step at once, before any image is read: an unknown name or
parameter, or a bad value (each step is tried on a tiny image), is a
:class:`~seglab.errors.ConfigError` naming the step and listing what is valid. A
:class:`Pipeline` records every parameter, defaults included, so ``to_config()`` (JSON-able, for
``model.json``) rebuilds the same steps even if a default changes in a later version.

>>> pipe = build_pipeline(["median:size=3", {"name": "normalize", "mode": "zscore"}])
>>> image, mask = pipe(np.zeros((4, 4, 3), np.uint8))
>>> Pipeline.from_config(pipe.to_config()) == pipe
True
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from seglab.config import parse_value, split_top
from seglab.errors import ConfigError, DataError
from seglab.transforms.centring import centre
from seglab.transforms.postprocess import closing, opening, remove_small_holes, remove_small_objects
from seglab.transforms.preprocess import (
    bilateral,
    clahe,
    equalize,
    gamma,
    gaussian,
    median,
    nl_means,
    normalize,
    stretch,
)

Transform = Callable[..., tuple[np.ndarray, np.ndarray | None]]

TRANSFORMS: dict[str, Transform] = {
    "gaussian": gaussian,
    "median": median,
    "bilateral": bilateral,
    "nl_means": nl_means,
    "stretch": stretch,
    "equalize": equalize,
    "clahe": clahe,
    "gamma": gamma,
    "normalize": normalize,
    "centre": centre,
    "remove_small_objects": remove_small_objects,
    "remove_small_holes": remove_small_holes,
    "opening": opening,
    "closing": closing,
}


class TransformSpec(BaseModel):
    """One step: a name from :data:`TRANSFORMS` and its keyword parameters (JSON values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _jsonable(cls, params: dict[str, Any]) -> dict[str, Any]:
        return {str(k): _to_json(v) for k, v in params.items()}

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}:" + ",".join(f"{k}={_format(v)}" for k, v in self.params.items())


StepLike = TransformSpec | str | Mapping[str, Any]


class Pipeline:
    """Steps applied in order, ``(image, mask=None) -> (image, mask)``; build with
    :func:`build_pipeline`, store with :meth:`to_config`."""

    def __init__(self, steps: Iterable[StepLike] | str = ()):
        if isinstance(steps, str):
            steps = [s for s in steps.split(";") if s.strip()]
        self.specs: tuple[TransformSpec, ...] = tuple(
            _resolve(i, step) for i, step in enumerate(steps, start=1)
        )

    def __call__(
        self, image: np.ndarray, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        for spec in self.specs:
            image, mask = TRANSFORMS[spec.name](image, mask, **spec.params)
        return image, mask

    def __len__(self) -> int:
        return len(self.specs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pipeline) and self.specs == other.specs

    __hash__ = None  # type: ignore[assignment]  # equal by value, and specs hold dicts

    def __repr__(self) -> str:
        return f"Pipeline({str(self)!r})"

    def __str__(self) -> str:
        """The steps as one string that :func:`build_pipeline` reads back."""
        return ";".join(str(s) for s in self.specs)

    def to_config(self) -> list[dict[str, Any]]:
        """``[{"name": ..., "params": {...}}, ...]``, every parameter included; JSON-able."""
        return [spec.model_dump(mode="json") for spec in self.specs]

    @classmethod
    def from_config(cls, config: Iterable[StepLike] | str) -> Pipeline:
        """The pipeline that :meth:`to_config` described (any form :func:`build_pipeline` takes)."""
        return cls(config)


def build_pipeline(specs: Iterable[StepLike] | str) -> Pipeline:
    """A :class:`Pipeline` from step strings, dicts or :class:`TransformSpec` (module doc).

    Raises
    ------
    ConfigError
        An unknown transform or parameter, or a bad parameter value; the message names the step
        and lists the valid names or parameters.
    """
    if not isinstance(specs, (str, Iterable)) or isinstance(specs, Mapping):
        raise ConfigError(
            f"a pipeline is a list of steps (strings, dicts or TransformSpec), got {specs!r}"
        )
    return Pipeline(specs)


def parse_step(text: str) -> TransformSpec:
    """``"name:key=value,key=value"`` as a :class:`TransformSpec` (values parsed, not checked)."""
    name, _, rest = text.strip().partition(":")
    params: dict[str, Any] = {}
    for item in split_top(rest):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ConfigError(
                f"step {text!r}: {item!r} is not key=value; write e.g. 'clahe:clip_limit=2.0'"
            )
        params[key.strip()] = parse_value(value.strip())
    return TransformSpec(name=name.strip(), params=params)


# --- checking a step ------------------------------------------------------------------------

_PROBE_IMAGE = np.linspace(0, 255, 8 * 8 * 3).reshape(8, 8, 3).astype(np.uint8)
_PROBE_MASK = np.zeros((8, 8), np.int64)


def _resolve(index: int, step: StepLike) -> TransformSpec:
    """Check one step; return it with every keyword parameter filled in."""
    spec = _as_spec(index, step)
    where = f"step {index} {spec.name!r}"
    fn = TRANSFORMS.get(spec.name)
    if fn is None:
        close = difflib.get_close_matches(spec.name, TRANSFORMS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}: unknown transform{hint}; valid names: {', '.join(TRANSFORMS)}")
    defaults = {
        p.name: p.default
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = [k for k in spec.params if k not in defaults]
    if unknown:
        raise ConfigError(
            f"{where}: unknown parameter {unknown[0]!r}; valid parameters: "
            f"{', '.join(defaults) or '(none)'}"
        )
    spec = TransformSpec(name=spec.name, params={**defaults, **spec.params})
    try:  # values are checked by the transform itself, before it looks at the image
        fn(_PROBE_IMAGE, _PROBE_MASK, **spec.params)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    except DataError:
        pass  # the probe image is not the user's data (e.g. a per-channel mean for 5 channels)
    return spec


def _as_spec(index: int, step: StepLike) -> TransformSpec:
    try:
        if isinstance(step, TransformSpec):
            return step
        if isinstance(step, str):
            return parse_step(step)
        if isinstance(step, Mapping):
            data = dict(step)
            if "name" not in data:
                raise ConfigError(f"step {index} {data!r}: a dict step needs a 'name' key")
            name = data.pop("name")
            if set(data) == {"params"} and isinstance(data["params"], Mapping):
                data = dict(data["params"])
            return TransformSpec(name=name, params=data)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"step {index} {step!r}: {detail}") from exc
    raise ConfigError(
        f"step {index}: expected a string, a dict or a TransformSpec, got {type(step).__name__}"
    )


# --- values ---------------------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    """Parameters as JSON values (tuples -> lists, numpy scalars -> Python), or ValueError."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    raise ValueError(
        f"parameter values must be numbers, strings, bools, None or lists, got {value!r}"
    )


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    if isinstance(value, list):
        return "[" + ",".join(_format(v) for v in value) + "]"
    return str(value)
