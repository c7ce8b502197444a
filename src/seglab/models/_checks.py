"""Shared option checks for the model builders: one wording for every "unknown name" error."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping

from seglab.errors import ConfigError


def unknown_name_error(kind: str, name: object, valid: Iterable[str]) -> ConfigError:
    """The ConfigError for a ``name`` not in ``valid``; the message lists ``valid``."""
    return ConfigError(f"unknown {kind} {name!r}; valid names: {', '.join(valid)}")


def lookup(kind: str, name: str, registry: Mapping[str, object]) -> object:
    """``registry[name]``, or a ConfigError listing the registry's names."""
    if not isinstance(name, str) or name not in registry:
        raise unknown_name_error(kind, name, registry)
    return registry[name]


def keyword_names(func: Callable, *, skip: Iterable[str] = ()) -> list[str]:
    """The names ``func`` accepts as keywords (not ``*args``/``**kwargs``), minus ``skip``."""
    skipped = set(skip)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [
        p.name
        for p in inspect.signature(func).parameters.values()
        if p.kind in kinds and p.name not in skipped
    ]


def accepts_var_keywords(func: Callable) -> bool:
    """Whether ``func`` has a ``**kwargs`` parameter."""
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(func).parameters.values()
    )


def check_options(owner: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Raise a ConfigError naming the options in ``given`` that ``owner`` does not take."""
    valid = list(valid)
    unknown = [name for name in given if name not in valid]
    if unknown:
        raise ConfigError(
            f"{owner} does not take the option(s) {', '.join(map(repr, unknown))}; "
            f"valid options: {', '.join(valid)}"
        )
