"""``seglab export``: a run's network as ONNX or TorchScript, verified against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seglab.cli.console import console

Opt = typer.Option


def export_cmd(
    model: Annotated[Path, Opt("--model", help="Run folder (or its model.json).")],
    format: Annotated[str, Opt("--format", help="onnx or torchscript [onnx].")] = "onnx",
    out: Annotated[
        Path | None,
        Opt("--out", help="File to write [RUN/model.onnx or RUN/model.torchscript.pt]."),
    ] = None,
    opset: Annotated[int | None, Opt("--opset", help="ONNX opset [17].")] = None,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace an existing file.")] = False,
) -> None:
    """Export a trained run's network to ONNX (for ONNX Runtime, TensorRT, OpenVINO...) or
    TorchScript, with the run's classes, input multiple and weights hash embedded, after
    checking its probabilities against PyTorch (within 1e-4).

    The file takes a float32 N x C x H x W batch of prepared images ("image") and returns
    N x K x H x W logits ("logits"); H and W must be multiples of the network's stride (the
    "multiple" in the metadata): pad bottom and right, then crop the logits.
    seglab predict --backend onnxruntime uses RUN/model.onnx (and exports it when missing);
    an export already there from the same weights and opset is kept ("up to date"), a stale
    one seglab wrote at RUN/model.onnx is replaced, and any other file needs --overwrite.

    Examples:

      seglab export --model runs/train

      seglab export --model runs/train --format torchscript

      seglab export --model runs/train --out deploy/seg.onnx --opset 18 --overwrite
    """
    from seglab.api import export
    from seglab.cli.render import print_export

    result = export(model, format=format, out=out, opset=opset, overwrite=overwrite)
    if result.replaced:
        console.print(
            f"replaced {result.path}: it {result.replaced}", highlight=False, soft_wrap=True
        )
    if result.written:
        print_export(result.path, console)
        return
    sha = result.info["weights_sha256"][:12]
    first = (
        f"{result.path} is up to date (weights sha256 {sha}...); nothing to do "
        "(--overwrite exports it again)"
    )
    print_export(result.path, console, first=first)
