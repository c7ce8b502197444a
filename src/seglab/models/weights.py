"""Pretrained weights files: reading a state dict and loading it into an encoder.

A weights option is ``None`` (random initialisation), the path of a state dict (``.safetensors``
read with :func:`safetensors.torch.load_file`; ``.pt``/``.pth``/``.bin``/``.ckpt`` with
``torch.load(weights_only=True)``, so no pickled code runs), or a hub name such as
``"imagenet"``, which :func:`seglab.models.hub.resolve_weights` turns into a cached file.

To make a weights file on a machine with internet access, for example::

    import segmentation_models_pytorch as smp
    from safetensors.torch import save_file
    save_file(smp.encoders.get_encoder("resnet18", weights="imagenet").state_dict(),
              "resnet18.safetensors")

Cached and user files go through one loader, :func:`load_weights_file`: prefixes such as
``encoder.``/``backbone.`` are matched, keys the encoder does not have (classifier heads:
``fc.*``, timm's ``conv_head``/``bn2``/``classifier``; stages past the encoder depth) are dropped,
an RGB first convolution is adapted to other channel counts, and only missing encoder keys or
shape mismatches are errors.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from seglab.errors import ConfigError

__all__ = [
    "WEIGHT_SUFFIXES",
    "load_state_file",
    "load_weights_file",
    "load_weights_into",
]

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")

_SHOWN = 8


def load_weights_file(module: nn.Module, path: str | Path, *, what: str) -> None:
    """Load a weights file (a user's or a cached one) into ``module``: the one loader.

    Reads it with :func:`load_state_file` and fits it with :func:`load_weights_into`.

    Raises
    ------
    ConfigError
        Naming ``path`` if it cannot be read or does not fit ``module``.
    """
    load_weights_into(module, load_state_file(path), path=path, what=what)


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict (name -> tensor) from ``.safetensors`` or a ``torch.save`` file.

    A Lightning-style checkpoint's ``"state_dict"`` (or ``"model"``) entry is unwrapped.

    Raises
    ------
    ConfigError
        If the file cannot be read or holds something other than tensors.
    """
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # many formats, many failure types: report them all one way
        raise ConfigError(
            f"{path}: cannot read weights ({type(error).__name__}: {error}); expected a state "
            "dict saved with safetensors.torch.save_file or torch.save"
        ) from error
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ConfigError(f"{path}: not a state dict (a mapping of names to tensors)")
    return state


def load_weights_into(
    module: nn.Module,
    state: dict[str, torch.Tensor],
    *,
    path: str | Path,
    what: str,
) -> None:
    """Load ``state`` into ``module`` strictly for the module's keys, after matching prefixes.

    The key prefix (``encoder.``, ``backbone.``, ``features.``, ``model.``) that best matches
    ``module`` is stripped or added; keys the module does not have (classification heads such
    as ``fc.*``, timm's ``conv_head``/``bn2``/``classifier``, stages past the encoder depth) are
    dropped; a 3-channel first convolution is adapted to the module's input channels as timm
    does.

    Raises
    ------
    ConfigError
        Naming ``path`` and ``what``, with the module's keys missing from the file and the
        shape mismatches, if the file does not fit.
    """
    from timm.models import adapt_input_conv

    target = module.state_dict()
    state = _match_prefix(state, target.keys())
    missing = [k for k in target if k not in state and not k.endswith("num_batches_tracked")]
    mismatched = []
    fitted = {}
    for key, value in state.items():
        if key not in target:
            continue
        want = target[key].shape
        if value.shape != want and _is_rgb_conv(value, want):
            value = adapt_input_conv(want[1], value)
        if value.shape != want:
            mismatched.append(f"{key}: file {tuple(value.shape)} vs model {tuple(want)}")
        fitted[key] = value
    if missing or mismatched:
        dropped = [k for k in state if k not in target]
        raise ConfigError(
            f"{path}: the weights do not fit {what}: "
            + "; ".join(
                f"{len(keys)} {label} ({_sample(keys)})"
                for label, keys in (
                    ("missing keys", missing),
                    ("shape mismatches", mismatched),
                    ("keys of the file not in the model, ignored", dropped),
                )
                if keys
            )
            + ". Save the state dict of the same architecture and pass that file."
        )
    # Bypass encoder-specific load_state_dict overrides: the keys are already checked.
    nn.Module.load_state_dict(module, fitted, strict=False)


def _match_prefix(state: dict[str, torch.Tensor], keys: Iterable[str]) -> dict[str, torch.Tensor]:
    wanted = set(keys)
    best, best_hits = state, -1
    for strip in ("", "encoder.", "backbone.", "features.", "model.", "model.encoder."):
        for add in ("", "model."):
            candidate = {add + k[len(strip) :]: v for k, v in state.items() if k.startswith(strip)}
            hits = len(wanted.intersection(candidate))
            if hits > best_hits:
                best, best_hits = candidate, hits
    return best


def _is_rgb_conv(value: torch.Tensor, want: torch.Size) -> bool:
    return (
        value.ndim == 4
        and len(want) == 4
        and value.shape[1] == 3
        and value.shape[0] == want[0]
        and value.shape[2:] == want[2:]
    )


def _sample(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return shown + (f", ... {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else "")
