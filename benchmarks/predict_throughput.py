"""Prediction throughput: PyTorch eager, PyTorch channels_last and ONNX Runtime, same networks.

Each backend runs through the runner seglab predicts with (:mod:`seglab.predict.backends`):
float32 numpy ``N x 3 x S x S`` in, logits out, so the numbers include the host copies a
prediction pays. Networks have random weights (speed does not depend on them): the default CPU
recipe's U-Net (base width 16, depth 4) and the seed notebook's U-Net (width 64, transposed
convolutions). Backends alternate within each repeat and the best of ``--repeats`` counts; each
measurement runs calls for at least ``--min-time`` seconds after ``--warmup`` calls.

With a GPU it also measures bf16 autocast (``channels_last`` runner) and the network alone on
device tensors, and gives the TFLOP/s reached (FLOPs counted by
``torch.utils.flop_counter.FlopCounterMode``) against the card's bf16 dense peak (a table of
known cards, or ``--peak-tflops``). The last line says what ``--backend auto`` picks here.

    .venv/bin/python benchmarks/predict_throughput.py                  # 256 px, batch 1 and 8
    .venv/bin/python benchmarks/predict_throughput.py --size 512 --batch 4 --models seed
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

MODELS = {
    "recipe": ("recipe U-Net (width 16, depth 4)", {"base_width": 16, "depth": 4}),
    "seed": ("seed U-Net (width 64, depth 4)", {}),
}
# bf16 dense tensor-core peak, TFLOP/s, by a substring of torch.cuda.get_device_name().
PEAK_BF16 = {
    "H200": 989.0,
    "GH200": 989.0,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "L40S": 362.0,
    "L4": 121.0,
    "A10": 125.0,
}


def build(options: dict):
    """A U-Net with random weights, in eval mode (3 input channels, 2 classes: one logit)."""
    from seglab.config import ModelConfig
    from seglab.models.build import build_model

    net = build_model(ModelConfig(name="unet", options=options), in_channels=3, num_classes=2)
    return net.eval()


def flops_per_image(net, size: int) -> float:
    """Forward FLOPs of one ``3 x size x size`` image (a multiply-add counts 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    return float(counter.get_total_flops())


def runners(net, *, device, tmp: Path) -> dict:
    """``{backend: runner}`` for one network: eager, channels_last and ONNX Runtime."""
    import torch

    from seglab.models.card import InputSpec, ModelCard
    from seglab.predict.backends import channels_last_runner, torch_runner
    from seglab.predict.exporters import export_metadata, onnx_session, write_onnx

    eager = net.to(device)
    found = {"torch": torch_runner(eager, device)}
    bf16 = " + bf16" if device.type == "cuda" else ""
    found[f"channels_last{bf16}"] = channels_last_runner(copy.deepcopy(eager), device)
    card = ModelCard(architecture="unet", in_channels=3, classes=("bg", "fg"),
                     input=InputSpec(multiple=16))  # fmt: skip
    path = tmp / f"{id(net)}.onnx"
    write_onnx(copy.deepcopy(net).cpu(), path, meta=export_metadata(card, "random weights"))
    session = onnx_session(path, device=device)
    name = session.get_inputs()[0].name
    provider = session.get_providers()[0].replace("ExecutionProvider", "")
    found[f"onnxruntime ({provider})"] = lambda batch: session.run(None, {name: batch})[0]
    if device.type == "cuda":  # the network alone on device tensors, bf16 autocast

        def on_device(batch, cached={}):  # noqa: B006  (one device copy per shape)
            x = cached.setdefault(batch.shape, torch.from_numpy(batch).to(device))
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16):
                return found_net(x)

        found_net = copy.deepcopy(eager).to(memory_format=torch.channels_last)
        found["bf16 on device"] = on_device
    return found


def measure(run, batch, *, warmup: int, min_time: float, sync) -> float:
    """Images/s of ``run(batch)`` over at least ``min_time`` seconds after ``warmup`` calls."""
    for _ in range(warmup):
        run(batch)
    sync()
    calls, start = 0, time.perf_counter()
    while True:
        run(batch)
        calls += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return calls * len(batch) / elapsed


def peak_tflops(name: str, given: float | None) -> float | None:
    if given is not None:
        return given
    for key, value in PEAK_BF16.items():
        if key in name:
            return value
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side, px (multiple of 16)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--models", default="recipe,seed", help="comma-separated: recipe, seed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--cpu", action="store_true", help="stay on the CPU with a GPU present")
    parser.add_argument("--peak-tflops", type=float, help="the card's bf16 dense peak")
    args = parser.parse_args()

    import numpy as np
    import torch

    from seglab.models.card import ModelCard
    from seglab.predict.backends import auto_backend

    warnings.filterwarnings("ignore")
    gpu = torch.cuda.is_available() and not args.cpu
    device = torch.device("cuda" if gpu else "cpu")
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    where = torch.cuda.get_device_name(0) if gpu else f"CPU, {torch.get_num_threads()} threads"
    peak = peak_tflops(where, args.peak_tflops) if gpu else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.models.split(","):
            label, options = MODELS[key]
            net = build(options)
            flops = flops_per_image(net, args.size)
            found = runners(net, device=device, tmp=Path(tmp))
            for batch_size in args.batch:
                rng = np.random.default_rng(0)
                batch = rng.standard_normal((batch_size, 3, args.size, args.size), np.float32)
                best = dict.fromkeys(found, 0.0)
                for _ in range(args.repeats):
                    for backend, run in found.items():
                        rate = measure(
                            run, batch, warmup=args.warmup, min_time=args.min_time, sync=sync
                        )
                        best[backend] = max(best[backend], rate)
                for backend, rate in best.items():
                    rows.append((label, flops, backend, batch_size, rate, rate / best["torch"]))
    print(f"\n{args.size} px, best of {args.repeats}; {where}; torch {torch.__version__}\n")
    head = "| model | GFLOP/image | backend | batch | images/s | vs eager |"
    if gpu:
        head += " TFLOP/s | of bf16 peak |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for label, flops, backend, batch_size, rate, ratio in rows:
        line = (
            f"| {label} | {flops / 1e9:.1f} | {backend} | {batch_size} | {rate:.2f} | "
            f"{ratio:.2f}x |"
        )
        if gpu:
            tflops = flops * rate / 1e12
            share = f"{tflops / peak:.1%}" if peak and "bf16" in backend else "-"
            line += f" {tflops:.1f} | {share} |"
        print(line)
    if gpu and peak is None:
        print("\n(unknown card: give --peak-tflops for the fraction of its peak)")
    choice = auto_backend(
        ModelCard(architecture="unet", in_channels=3, classes=("bg", "fg")), device
    )
    fastest = {}
    for label, _, backend, batch_size, rate, _ in rows:
        if backend.startswith(("torch", "channels_last", "onnxruntime")):
            key = (label, batch_size)
            fastest[key] = max(fastest.get(key, (0.0, "")), (rate, backend.split()[0]))
    wins = sum(backend == choice for _, backend in fastest.values())
    print(
        f"\n--backend auto picks {choice} here (seglab.predict.backends); it was the fastest "
        f"prediction backend in {wins} of {len(fastest)} model/batch cases."
    )


if __name__ == "__main__":
    main()
