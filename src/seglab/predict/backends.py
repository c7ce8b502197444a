"""What runs the network at prediction time.

A *runner* maps a float32 ``N x C x H x W`` numpy batch (``H`` and ``W`` multiples of the
network's stride, ``model.json``'s ``input.multiple``) to float32 ``N x K x H x W`` logits.
:class:`seglab.predict.LoadedModel` only ever calls a runner, so every backend gives the same
tiling, test-time augmentation and writers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from seglab.errors import ConfigError

Runner = Callable[[np.ndarray], np.ndarray]
BACKENDS = ("auto", "torch")


def torch_runner(net: Any, device: Any) -> Runner:
    """PyTorch eager: the network as trained, on ``device``, without gradients."""
    import torch

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
            return net(x).float().cpu().numpy()

    return run


def make_runner(
    kind: str, net: Any, *, run_dir: Path, info: dict[str, Any], device: Any
) -> tuple[str, Runner]:
    """The runner for backend ``kind`` (one of :data:`BACKENDS`) and the backend it resolved
    to (``auto`` picks one)."""
    if kind not in BACKENDS:
        raise ConfigError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
    return "torch", torch_runner(net, device)
