"""Exporting a trained run's network: ONNX (ONNX Runtime, TensorRT, OpenVINO...) and TorchScript.

:func:`export_model` writes ``RUN/model.onnx`` or ``RUN/model.torchscript.pt`` (or ``out``) and
checks it: ``onnx.checker`` for ONNX, then the file's probabilities against PyTorch's on random
inputs of two shapes (another batch size, height and width than the traced one); more than
:data:`TOLERANCE` apart is an :class:`ExportError`.

The exported network maps a float32 ``N x C x H x W`` batch named ``image`` -- the run's
*prepared* images (channels matched, preprocessed, resized, normalised: what
:meth:`seglab.predict.LoadedModel.prepare` returns) -- to float32 ``N x K x H x W`` ``logits``.
Batch, height and width are dynamic, but ``H`` and ``W`` must be multiples of the network's
stride (``multiple`` in the metadata, ``model.json``'s ``input.multiple``): pad bottom and right
and crop the logits back, as :meth:`~seglab.predict.LoadedModel.logits` does. Probabilities are
``sigmoid`` of one channel (binary) or ``softmax`` over channels.

Writing, verifying and reading exports back is :mod:`seglab.predict.exporters` (re-exported
here: ``ExportError``, ``read_export_info``, ...).

An up-to-date file is kept (``seglab predict`` on ONNX Runtime exports ``RUN/model.onnx`` too);
see :func:`export_model` for what is replaced and what needs ``overwrite``.

>>> export_model("runs/train").path  # doctest: +SKIP
PosixPath('runs/train/model.onnx')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seglab.core.files import check_output_path, prepare_file
from seglab.errors import ConfigError, DataError
from seglab.predict.exporters import (
    DEFAULT_OPSET,
    EXPORT_FORMAT,
    ONNX_EXPORT_UNSUPPORTED,
    TOLERANCE,
    ExportError,
    check_opset,
    export_metadata,
    export_problem,
    onnx_session,
    read_export_info,
    weights_digest,
    write_onnx,
    write_torchscript,
    written_by_seglab,
)
from seglab.predict.model import load_model

__all__ = [
    "DEFAULT_FILES",
    "EXPORT_FORMAT",
    "EXPORT_FORMATS",
    "ONNX_EXPORT_UNSUPPORTED",
    "TOLERANCE",
    "ExportError",
    "ExportResult",
    "export_metadata",
    "export_model",
    "export_problem",
    "onnx_session",
    "read_export_info",
    "weights_digest",
    "write_onnx",
    "write_torchscript",
    "written_by_seglab",
]

EXPORT_FORMATS = ("onnx", "torchscript")
DEFAULT_FILES = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt"}


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` did: the file, the metadata it holds (:func:`read_export_info`),
    whether it was written now (``False``: an up-to-date export was there already) and, when
    it replaced a stale export of seglab's at ``RUN/model.onnx``, why that one was stale."""

    path: Path
    info: dict[str, Any]
    written: bool
    replaced: str | None = None


def export_model(
    run: str | Path,
    *,
    format: str = "onnx",
    out: str | Path | None = None,
    opset: int | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export the network of ``run`` (a run folder or its ``model.json``/``model.safetensors``)
    to ``format`` (``"onnx"`` or ``"torchscript"``); see :class:`ExportResult`.

    ``out`` defaults to ``RUN/model.onnx`` / ``RUN/model.torchscript.pt``; ``opset`` is the ONNX
    opset (default 17). The file is verified against PyTorch before it is moved into place.

    An existing ``out`` exported by seglab from these weights with these options (format,
    opset) is kept: nothing to do. ``RUN/model.onnx`` is also the file the ``onnxruntime``
    backend exports on first use (``seglab predict``, ``seglab report``), so a stale one that
    seglab wrote there (other weights, another opset) is replaced. Any other existing file --
    one seglab did not write, or a stale export elsewhere -- needs ``overwrite``.

    Raises
    ------
    ConfigError
        For an unknown format, or an opset with TorchScript.
    DataError
        When the run's files are missing or damaged, or ``out`` exists, is not replaceable (see
        above) and not ``overwrite``.
    ExportError
        When the network cannot be exported or the file's probabilities differ from PyTorch's
        by more than :data:`TOLERANCE`.
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(
            f"unknown export format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    if opset is not None and format != "onnx":
        raise ConfigError("--opset is an ONNX option; leave it out with --format torchscript")
    if opset is not None:
        check_opset(opset)
    if out is not None:
        check_output_path(out, option="--out")
    model = load_model(run, device="cpu", backend="torch")
    path = Path(out) if out is not None else model.run_dir / DEFAULT_FILES[format]
    if path.is_dir():
        raise DataError(f"is a folder; give the {format} file's name", path=path)
    meta = export_metadata(model.card, weights_digest(model.run_dir / "model.safetensors"))
    replaced = None
    if path.exists() and not overwrite:
        options = {"export": format}
        if format == "onnx":
            options["opset"] = DEFAULT_OPSET if opset is None else int(opset)
        replaced = export_problem(path, {**meta, **options})
        if replaced is None:
            return ExportResult(path, read_export_info(path), written=False)
        _check_replaceable(path, replaced, cache=model.run_dir / DEFAULT_FILES["onnx"])
    prepare_file(path, option="--out")
    if format == "onnx":
        write_onnx(model.net, path, meta=meta, opset=opset)
    else:
        write_torchscript(model.net, path, meta=meta)
    return ExportResult(path, read_export_info(path), written=True, replaced=replaced)


def _check_replaceable(path: Path, problem: str, *, cache: Path) -> None:
    """Refuse to replace ``path`` (whose :func:`export_problem` is ``problem``) unless it is a
    stale export seglab wrote at ``cache``, the run's ``model.onnx``: the ``onnxruntime``
    backend would replace that one anyway."""
    if path.resolve() == cache.resolve() and written_by_seglab(path):
        return
    raise DataError(
        f"exists already and {problem}; pass overwrite=True (--overwrite) to replace it, or "
        "another --out",
        path=path,
    )
