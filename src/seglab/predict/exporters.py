"""The low-level half of exporting: metadata, the weights digest, the ONNX and TorchScript
writers with their verification, the ONNX Runtime session, and reading an export back.

It imports neither :mod:`seglab.predict.model` nor :mod:`seglab.predict.backends`: both use it
(:func:`seglab.predict.export.export_model` for a run, the ``onnxruntime`` backend to export on
first use), and heavy libraries (torch, onnx, onnxruntime) are imported by the functions that
need them.

Every export describes itself: a JSON string under the key ``seglab`` (ONNX ``metadata_props``;
the TorchScript archive's extra file ``seglab.json``) with the format, architecture, options,
classes, input channels and multiple, the SHA-256 of the ``model.safetensors`` it came from and
the verified difference. :func:`read_export_info` reads it back and :func:`export_problem` says
why a file is stale or foreign, so a model retrained after its export is never run by mistake;
:func:`written_by_seglab` tells seglab's own files (which seglab may replace at ``RUN/model.onnx``)
from a person's (which it never replaces unasked).

Verification: the file's probabilities against PyTorch's on random inputs of two shapes (another
batch size, height and width than the traced one); more than :data:`TOLERANCE` apart is an
:class:`ExportError`.

Exporter: PyTorch's TorchScript-based ONNX exporter (``dynamo=False``) first. Measured here
(2 CPU cores, torch 2.14): 0.5 s for the recipe's U-Net against 7-10 s for the ``torch.export``
(dynamo) exporter, and 2-8 s against 14-50 s for the smp and torchvision models tried (smp
Unet, FPN, DeepLabV3+, Segformer, Unet++, MAnet, Linknet; torchvision FCN, DeepLabV3, LRASPP),
all within 3e-5 of PyTorch. The dynamo exporter is used only when the first one raises. smp's
PSPNet and UPerNet (adaptive pooling) export with a dynamic height and width with neither
(:data:`ONNX_EXPORT_UNSUPPORTED`): use the ``torch`` backend for them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seglab.core.arrays import probabilities, round_up
from seglab.errors import ConfigError, DataError, SeglabError

if TYPE_CHECKING:
    from seglab.models.card import ModelCard

__all__ = [
    "EXPORT_FORMAT",
    "MIN_OPSET",
    "ONNX_EXPORT_UNSUPPORTED",
    "TOLERANCE",
    "ExportError",
    "check_opset",
    "export_metadata",
    "export_problem",
    "max_opset",
    "onnx_session",
    "read_export_info",
    "weights_digest",
    "write_onnx",
    "write_torchscript",
    "written_by_seglab",
]

log = logging.getLogger(__name__)

EXPORT_FORMAT = "seglab.predict.export/1"
"""The ``format`` recorded in every export's metadata."""
TOLERANCE = 1e-4
"""Largest difference of probabilities allowed between an export and PyTorch."""
DEFAULT_OPSET = 17
ONNX_EXPORT_UNSUPPORTED = frozenset({"smp.pspnet", "smp.upernet"})
"""Architectures whose adaptive pooling no ONNX exporter handles with a dynamic size."""
INPUT_NAME, OUTPUT_NAME = "image", "logits"
_META_KEY = "seglab"
_TS_META = "seglab.json"


MIN_OPSET = 11
"""The oldest opset that has what the exported networks need with a dynamic size (``Pad`` and
``Resize`` taking their sizes as inputs); older ones are silently exported as another."""


def max_opset() -> int:
    """The newest opset this PyTorch's ONNX exporter writes."""
    try:
        from torch.onnx._constants import ONNX_MAX_OPSET
    except ImportError:  # a private module: fall back to the default when it moves
        return DEFAULT_OPSET
    return int(ONNX_MAX_OPSET)


def check_opset(opset: object) -> int:
    """``opset`` as an int if this PyTorch exports it as asked, else :class:`ConfigError`
    naming ``--opset`` and the range."""
    newest = max_opset()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ConfigError(
            f"--opset {opset!r}: choose a whole number from {MIN_OPSET} to {newest} (the opsets "
            f"this PyTorch exports; {DEFAULT_OPSET} when left out)"
        )
    return opset


class ExportError(SeglabError, RuntimeError):
    """The network cannot be exported, or the export does not reproduce PyTorch."""


def weights_digest(path: str | Path) -> str:
    """SHA-256 (hex) of a weights file: what ties an export to the weights it came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_metadata(card: ModelCard, digest: str) -> dict[str, Any]:
    """What an export records about itself, from the run's model card and weights digest."""
    return {
        "format": EXPORT_FORMAT,
        "architecture": card.architecture,
        "options": dict(card.options),
        "classes": list(card.classes),
        "in_channels": int(card.in_channels),
        "multiple": int(card.input.multiple),
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "weights_sha256": digest,
    }


def _example_inputs(channels: int, multiple: int) -> tuple[Any, list[Any]]:
    """A traced example and the shapes verified (other batch, height and width), seeded."""
    import torch

    side = round_up(max(64, 4 * multiple), multiple)
    g = torch.Generator().manual_seed(0)
    example = torch.randn(2, channels, side, side, generator=g)
    other = torch.randn(1, channels, side + multiple, side + 2 * multiple, generator=g)
    return example, [example, other]


def _compare(net: Any, run: Any, inputs: list[Any], path: Path) -> float:
    """Largest probability difference of ``run`` (numpy in, numpy out) against ``net``."""
    import torch

    diffs = []
    for x in inputs:
        with torch.inference_mode():
            expected = probabilities(net(x).float().numpy())
        try:
            got = run(x.numpy())
        except Exception as exc:  # runtimes raise their own types
            raise ExportError(
                f"{path}: the export fails on an input of shape {tuple(x.shape)} "
                f"({_first_line(str(exc))}); predict with --backend torch"
            ) from None
        if got.shape != expected.shape:
            raise ExportError(
                f"{path}: the export gives logits of shape {tuple(got.shape)} for an input of "
                f"{tuple(x.shape)}, PyTorch {tuple(expected.shape)}; this architecture does not "
                "export with a dynamic size: predict with --backend torch"
            )
        diffs.append(np.abs(probabilities(got) - expected).max())
    worst = float(np.max(diffs))  # NaN if any is NaN
    if not worst <= TOLERANCE:
        raise ExportError(
            f"{path}: the export's probabilities differ from PyTorch's by {worst:.2g} "
            f"(> {TOLERANCE:g}); try another --opset, or predict with --backend torch"
        )
    return worst


def _temporary(path: Path) -> Path:
    """A fresh file beside ``path`` (same folder, so ``os.replace`` is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


def _onnx_export(net: Any, example: Any, file: Path, *, opset: int, multiple: int) -> str:
    """Export with the TorchScript-based exporter, else ``torch.export``; the one used."""
    import torch

    axes = {0: "batch", 2: "height", 3: "width"}
    errors = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its deprecation notice and tracer warnings
            torch.onnx.export(
                net,
                (example,),
                str(file),
                dynamo=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
                opset_version=opset,
            )
        return "torchscript"
    except Exception as exc:  # any exporter failure: try the other one
        errors.append(_first_line(f"TorchScript-based exporter: {type(exc).__name__}: {exc}"))
    try:
        from torch.export import Dim

        height, width = Dim("height", min=1, max=8192), Dim("width", min=1, max=8192)
        spatial = {2: multiple * height, 3: multiple * width}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                net,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: Dim.DYNAMIC, **spatial},),
                opset_version=opset,
                verbose=False,
            )
        program.save(str(file), external_data=False)
        return "dynamo"
    except Exception as exc:
        errors.append(_first_line(f"torch.export exporter: {type(exc).__name__}: {exc}"))
    raise ExportError(
        f"{file}: PyTorch cannot export this network to ONNX with a dynamic batch, height and "
        f"width ({'; '.join(errors)}); predict with --backend torch"
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300]


def onnx_session(model: str | Path | bytes, *, device: Any = None) -> Any:
    """An ONNX Runtime session: the CUDA provider on a CUDA ``device`` when installed, else the
    CPU one with as many intra-op threads as PyTorch uses (the physical cores by default)."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    providers = ["CPUExecutionProvider"]
    on_gpu = device is not None and getattr(torch.device(device), "type", "cpu") == "cuda"
    if on_gpu and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    elif on_gpu:
        warnings.warn(
            "this onnxruntime has no CUDA provider (install onnxruntime-gpu): ONNX Runtime runs "
            "on the CPU; --backend torch runs on the GPU",
            RuntimeWarning,
            stacklevel=3,
        )
    return ort.InferenceSession(
        model if isinstance(model, bytes) else str(model), options, providers=providers
    )


def write_onnx(
    net: Any, path: str | Path, *, meta: dict[str, Any], opset: int | None = None
) -> float:
    """Export ``net`` (on the CPU, in eval mode) to ONNX at ``path`` with ``meta`` embedded,
    after ``onnx.checker`` and the comparison with PyTorch; returns the largest probability
    difference found. ``path`` appears only once verified (written beside it, then renamed)."""
    import onnx

    path = Path(path)
    if meta["architecture"] in ONNX_EXPORT_UNSUPPORTED:
        raise ExportError(
            f"{path}: {meta['architecture']} cannot be exported to ONNX with a dynamic height and "
            "width (its adaptive pooling is traced with fixed sizes); predict with --backend torch"
        )
    multiple = int(meta["multiple"])
    example, inputs = _example_inputs(int(meta["in_channels"]), multiple)
    opset = DEFAULT_OPSET if opset is None else int(opset)
    start = time.perf_counter()
    tmp = _temporary(path)
    try:
        exporter = _onnx_export(net, example, tmp, opset=opset, multiple=multiple)
        proto = onnx.load(str(tmp))
        try:
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"{path}: the exported model is not valid ONNX: {exc}") from None
        session = onnx_session(proto.SerializeToString())
        name = session.get_inputs()[0].name
        diff = _compare(net, lambda x: session.run(None, {name: x})[0], inputs, path)
        meta = {**meta, "export": "onnx", "opset": opset, "exporter": exporter,
                "max_abs_prob_diff": diff}  # fmt: skip
        del proto.metadata_props[:]
        onnx.helper.set_model_props(proto, {_META_KEY: json.dumps(meta)})
        proto.doc_string = f"seglab {meta['architecture']}: {INPUT_NAME} NCHW -> {OUTPUT_NAME} NKHW"
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log.info("exported %s (%.1f s, max probability difference %.1e)", path,
             time.perf_counter() - start, diff)  # fmt: skip
    return diff


def write_torchscript(net: Any, path: str | Path, *, meta: dict[str, Any]) -> float:
    """Trace ``net`` (on the CPU, in eval mode) to TorchScript at ``path`` with ``meta`` as the
    archive's ``seglab.json``, verified against PyTorch on another shape than the traced one;
    returns the largest probability difference found."""
    import torch

    path = Path(path)
    example, inputs = _example_inputs(int(meta["in_channels"]), int(meta["multiple"]))
    tmp = _temporary(path)
    try:
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(net, (example,), check_trace=False)
        except Exception as exc:
            raise ExportError(
                f"{path}: PyTorch cannot trace this network: {_first_line(str(exc))}"
            ) from None

        def run(x: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return loaded(torch.from_numpy(x)).numpy()

        meta = {**meta, "export": "torchscript", "torch": torch.__version__}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # "torch.jit is deprecated"
            torch.jit.save(traced, str(tmp), _extra_files={_TS_META: json.dumps(meta)})
            loaded = torch.jit.load(str(tmp), map_location="cpu")
            diff = _compare(net, run, inputs, path)
            meta["max_abs_prob_diff"] = diff
            torch.jit.save(traced, str(tmp), _extra_files={_TS_META: json.dumps(meta)})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return diff


def read_export_info(path: str | Path) -> dict[str, Any]:
    """The metadata seglab embedded in an exported file (``{}`` for a file seglab did not
    write). Raises DataError for a file that cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise DataError("missing: export the run first (seglab export --model RUN)", path=path)
    try:
        import zipfile

        if path.suffix == ".onnx" or not zipfile.is_zipfile(path):  # TorchScript is a zip
            import onnx

            proto = onnx.load(str(path), load_external_data=False)
            text = {p.key: p.value for p in proto.metadata_props}.get(_META_KEY)
        else:  # a TorchScript archive is a zip: read the extra file, run nothing
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(f"/extra/{_TS_META}")]
                text = archive.read(names[0]).decode("utf-8") if names else None
        info = json.loads(text) if text else {}
    except Exception as exc:  # onnx and torch raise many types for a bad file
        raise DataError(
            f"cannot read the exported model: {_first_line(str(exc))}", path=path
        ) from None
    return info if isinstance(info, dict) and info.get("format") == EXPORT_FORMAT else {}


def written_by_seglab(path: str | Path) -> bool:
    """Whether ``path`` is a readable export that seglab wrote (whatever run it came from)."""
    try:
        return bool(read_export_info(path))
    except DataError:
        return False


def export_problem(path: str | Path, expected: dict[str, Any]) -> str | None:
    """Why the export at ``path`` cannot stand for the run whose :func:`export_metadata` is
    ``expected``, or ``None`` when it is current. ``expected`` may also hold ``export``
    (``"onnx"``, ``"torchscript"``) and ``opset``: the file must then have those too."""
    try:
        meta = read_export_info(path)
    except DataError as exc:
        return f"is unreadable ({exc.reason})"
    if not meta:
        return "was not written by seglab"
    for key in ("architecture", "options", "classes", "in_channels", "multiple"):
        if meta.get(key) != expected[key]:
            return f"was exported from another model ({key} differs from model.json)"
    if meta.get("weights_sha256") != expected["weights_sha256"]:
        return "was exported from other weights (model.safetensors changed since)"
    if "export" in expected and meta.get("export") != expected["export"]:
        return f"is a {meta.get('export')} export, not {expected['export']}"
    if "opset" in expected and meta.get("opset") != expected["opset"]:
        return f"was exported with opset {meta.get('opset')}, not {expected['opset']}"
    return None
