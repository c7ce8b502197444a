"""What runs the network at prediction time.

A *runner* maps a float32 ``N x C x H x W`` numpy batch (``H`` and ``W`` multiples of the
network's stride, ``model.json``'s ``input.multiple``) to float32 ``N x K x H x W`` logits.
:class:`seglab.predict.LoadedModel` only ever calls a runner, so every backend gives the same
tiling, test-time augmentation and writers.

Backends (:data:`BACKENDS`):

``torch``
    PyTorch eager, the network as trained.
``channels_last``
    PyTorch with the network and inputs in ``torch.channels_last`` memory format; on a CUDA
    device also bf16 autocast (so probabilities differ slightly from fp32's there).
``onnxruntime``
    ONNX Runtime on ``RUN/model.onnx`` (:mod:`seglab.predict.exporters`; the file
    ``seglab export`` writes, and finds up to date afterwards). A file exported from the
    current weights is reused; a missing or stale one (weights changed since) is exported first
    -- into the run folder, or into ``~/.cache/seglab/onnx/`` when the run folder is read-only
    or holds a ``model.onnx`` seglab did not write (left as it is) -- and the log says so. CPU
    provider with as many threads as PyTorch uses (the physical cores); the CUDA provider too
    on a CUDA device when onnxruntime-gpu is installed.
``auto``
    ``torch`` on a GPU; ``onnxruntime`` on the CPU, falling back to ``torch`` with a warning
    when the export fails (never an error), and ``torch`` for the architectures no exporter
    handles (:data:`seglab.predict.exporters.ONNX_EXPORT_UNSUPPORTED`).

Why ``auto`` picks ONNX Runtime on the CPU: ``benchmarks/predict_throughput.py`` (256 px, random
weights, best of 3, images/s; 2-core x86 CPU, torch 2.14.1, onnxruntime 1.32; two runs, the
second in brackets):

================================  =====  ===========  =============  ===========
model                             batch  eager        channels_last  onnxruntime
================================  =====  ===========  =============  ===========
recipe U-Net (width 16, depth 4)  1      11.8 (11.4)  18.2 (14.7)    23.7 (24.1)
recipe U-Net (width 16, depth 4)  8      7.2 (7.0)    10.7 (11.4)    26.3 (23.7)
seed U-Net (width 64, depth 4)    1      1.42 (1.30)  1.55 (1.60)    2.14 (2.35)
seed U-Net (width 64, depth 4)    8      1.02 (1.03)  1.34 (1.41)    2.06 (2.41)
================================  =====  ===========  =============  ===========

ONNX Runtime is 1.5-3.6x eager PyTorch in every case, ``channels_last`` 1.1-1.6x (two earlier
runs, on the machine shared with other jobs, also put ONNX Runtime first everywhere). The cost
is one export per run when it is first loaded: 0.6 s for the recipe's U-Net, 2.8 s for the
seed's (writing ``RUN/model.onnx``, reused by later loads in 0.1-0.4 s, the time to hash the
weights); that is paid back after a few images, so ``auto`` does not wait to be asked. On a GPU
eager PyTorch is kept: it is what training ran, and ``channels_last`` (bf16) is the faster choice
there when bf16 probabilities are close enough.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seglab.errors import ConfigError
from seglab.predict import exporters  # looked up at call time, so tests can replace writers

if TYPE_CHECKING:
    from seglab.models.card import ModelCard

__all__ = [
    "BACKENDS",
    "Runner",
    "auto_backend",
    "channels_last_runner",
    "make_runner",
    "onnx_file",
    "onnx_runner",
    "torch_runner",
]

log = logging.getLogger(__name__)

Runner = Callable[[np.ndarray], np.ndarray]
BACKENDS = ("auto", "torch", "channels_last", "onnxruntime")


def torch_runner(net: Any, device: Any) -> Runner:
    """PyTorch eager: the network as trained, on ``device``, without gradients."""
    import torch

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
            return net(x).float().cpu().numpy()

    return run


def channels_last_runner(net: Any, device: Any) -> Runner:
    """PyTorch with ``net`` (converted in place) and inputs in ``channels_last`` memory format;
    on a CUDA device under bf16 autocast as well (where the GPU supports bf16)."""
    import torch

    device = torch.device(device)
    net.to(memory_format=torch.channels_last)
    bf16 = device.type == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported()

    def run(batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            return net(x).float().cpu().numpy()

    return run


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seglab" / "onnx"


def _cpu_net(net: Any) -> Any:
    """``net`` itself when it is on the CPU, else a CPU copy (exports run on the CPU)."""
    if all(p.device.type == "cpu" for p in net.parameters()):
        return net
    return copy.deepcopy(net).cpu()


def onnx_file(net: Any, *, run_dir: Path, card: ModelCard) -> Path:
    """A current ONNX export of the run: ``RUN/model.onnx`` (or its copy in the cache) when it
    was exported from these weights, else a new export of ``net`` there.

    ``RUN/model.onnx`` is also ``seglab export``'s file: a stale one seglab wrote is replaced
    (with a warning); one seglab did not write is left as it is and the export goes into the
    cache folder instead.

    Raises
    ------
    ExportError
        When the network cannot be exported or the export does not match PyTorch.
    OSError
        When neither the run folder nor the cache folder can be written.
    """
    run_dir = Path(run_dir)
    digest = exporters.weights_digest(run_dir / "model.safetensors")
    meta = exporters.export_metadata(card, digest)
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:24]
    expected = {**meta, "export": "onnx"}  # not a TorchScript file under that name
    run_file, cached = run_dir / "model.onnx", _cache_root() / key / "model.onnx"
    problems = {}
    for path in (run_file, cached):
        if path.is_file():
            problems[path] = exporters.export_problem(path, expected)
            if problems[path] is None:
                return path
    targets = [run_file, cached]
    if run_file in problems:
        if exporters.written_by_seglab(run_file):
            message = f"{run_file} {problems[run_file]}: exporting it again"
        else:  # a person's file: never replaced unasked
            targets = [cached]
            message = f"{run_file} {problems[run_file]}: left as it is; exporting into {cached}"
        warnings.warn(message, RuntimeWarning, stacklevel=3)
    error: OSError | None = None
    for path in targets:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            log.info("exporting the network to %s for ONNX Runtime (once: later loads reuse it)",
                     path)  # fmt: skip
            exporters.write_onnx(_cpu_net(net), path, meta=expected)
            return path
        except OSError as exc:  # a read-only run folder: try the cache
            error = exc
    assert error is not None
    raise error


def onnx_runner(net: Any, *, run_dir: Path, card: ModelCard, device: Any) -> Runner:
    """ONNX Runtime on the run's current ONNX export (:func:`onnx_file`)."""
    session = exporters.onnx_session(onnx_file(net, run_dir=run_dir, card=card), device=device)
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {name: np.ascontiguousarray(batch, dtype=np.float32)})[0]

    return run


def auto_backend(card: ModelCard, device: Any) -> str:
    """What ``auto`` tries for a run (its model card) on ``device``."""
    if getattr(device, "type", str(device)) != "cpu":
        return "torch"
    if card.architecture in exporters.ONNX_EXPORT_UNSUPPORTED:
        return "torch"
    return "onnxruntime"


def make_runner(
    kind: str, net: Any, *, run_dir: Path, card: ModelCard, device: Any
) -> tuple[str, Runner]:
    """The runner for backend ``kind`` (one of :data:`BACKENDS`) and the backend it resolved
    to (``auto`` picks one, see the module's notes).

    Raises
    ------
    ConfigError
        For an unknown backend.
    ExportError, OSError
        For ``onnxruntime`` when the ONNX export fails (``auto`` falls back to ``torch``).
    """
    if kind not in BACKENDS:
        raise ConfigError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
    if kind == "torch":
        return "torch", torch_runner(net, device)
    if kind == "channels_last":
        return "channels_last", channels_last_runner(net, device)
    if kind == "onnxruntime":
        return "onnxruntime", onnx_runner(net, run_dir=run_dir, card=card, device=device)
    choice = auto_backend(card, device)
    if choice == "onnxruntime":
        try:
            return "onnxruntime", onnx_runner(net, run_dir=run_dir, card=card, device=device)
        except Exception as exc:  # auto never fails: eager PyTorch always works
            warnings.warn(
                f"ONNX Runtime is not available for {run_dir} ({exc}); predicting with PyTorch "
                "(pass --backend torch to skip the attempt)",
                RuntimeWarning,
                stacklevel=2,
            )
    return "torch", torch_runner(net, device)
