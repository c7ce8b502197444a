"""Pretrained weights from local files only: nothing here (or in the zoo) ever downloads.

A weights option is ``None`` (random initialisation) or the path of a state dict saved as
``.safetensors`` (read with :func:`safetensors.torch.load_file`) or ``.pt``/``.pth``/``.bin``/
``.ckpt`` (read with ``torch.load(weights_only=True)``, so no pickled code runs). A hub name such
as ``"imagenet"`` fails at once with a :class:`~seglab.errors.ConfigError` saying how to pass a
file instead; libraries are never asked to fetch it (smp alone retries for ~25 s before failing).

To make such a file on a machine with internet access, for example::

    import segmentation_models_pytorch as smp
    from safetensors.torch import save_file
    save_file(smp.encoders.get_encoder("resnet18", weights="imagenet").state_dict(),
              "resnet18.safetensors")

Classification checkpoints (torchvision's ``resnet50-*.pth``, timm's ``model.safetensors``) and
whole-model state dicts with ``encoder.``/``backbone.`` prefixes load as well: prefixes are
matched, classifier heads dropped, and an RGB first convolution is adapted to other channel counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from seglab.errors import ConfigError

__all__ = ["WEIGHT_SUFFIXES", "load_state_file", "load_weights_into", "local_weights_file"]

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")

# Classification heads that segmentation encoders drop.
_HEAD_PREFIXES = ("fc.", "classifier.", "head.", "last_linear.", "_fc.")
_SHOWN = 8


def local_weights_file(value: object, *, option: str) -> Path | None:
    """Check a weights option: ``None`` -> ``None``; an existing file -> its ``Path``.

    Raises
    ------
    ConfigError
        At once for anything else: a missing file is named; a hub name (``"imagenet"``,
        ``"DEFAULT"``, ``True``...) is refused because downloads are impossible here, and the
        message says how to pass a local file instead.
    """
    if value is None:
        return None
    flag = "--" + option.replace("_", "-")
    if isinstance(value, (str, Path)):
        path = Path(value).expanduser()
        if path.is_file():
            return path
        text = str(value)
        if isinstance(value, Path) or path.suffix in WEIGHT_SUFFIXES or "/" in text or "\\" in text:
            raise ConfigError(f"{option}: weights file not found: {path}")
    raise ConfigError(
        f"{option}={value!r} asks for a download of pretrained weights, which is impossible here "
        "(no internet access). Download the weights on a connected machine, save the state dict "
        f"as .safetensors or .pth, and pass the file: {flag} PATH "
        f"(Python: {option}='path/to/weights.safetensors'); or pass none for random "
        "initialisation."
    )


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
    drop_prefixes: Iterable[str] = _HEAD_PREFIXES,
) -> None:
    """Load ``state`` into ``module`` strictly, after matching key prefixes.

    The key prefix (``encoder.``, ``backbone.``, ``features.``, ``model.``) that best matches
    ``module`` is stripped or added; keys under ``drop_prefixes`` (classifier heads) are ignored;
    a 3-channel first convolution is adapted to the module's input channels as timm does.

    Raises
    ------
    ConfigError
        Naming ``path`` and ``what``, with the missing, unexpected and mismatched keys, if the
        file does not fit.
    """
    from timm.models import adapt_input_conv

    target = module.state_dict()
    state = _match_prefix(state, target.keys())
    drops = tuple(drop_prefixes)
    unexpected = [
        k for k in state if k not in target and not k.removeprefix("model.").startswith(drops)
    ]
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
    if missing or unexpected or mismatched:
        raise ConfigError(
            f"{path}: the weights do not fit {what}: "
            + "; ".join(
                f"{len(keys)} {label} ({_sample(keys)})"
                for label, keys in (
                    ("missing keys", missing),
                    ("unexpected keys", unexpected),
                    ("shape mismatches", mismatched),
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
