"""The seed's ten families of deep segmenters side by side, each trained under the same
wall-clock budget with ``seglab train`` (the recipe fills what a family does not set):

| family (Minaee et al. 2020) | seglab |
|---|---|
| FCN | ``torchvision.fcn_resnet50`` |
| encoder-decoder | ``unet`` (the recipe's U-Net) |
| unpooling encoder-decoder | ``segnet`` (width 16, depth 4) |
| pyramid | ``smp.fpn``, ``smp.pspnet`` (ResNet-18) |
| dilated convolutions | ``smp.deeplabv3plus`` (ResNet-18) |
| R-CNN | ``--task instance --model maskrcnn``, scored by the union of its masks |
| recurrent | ``reseg`` |
| attention to scale | ``unet --multiscale 1,0.75,0.5`` |
| graphical models | ``unet --head crf`` (a trainable ConvCRF) |
| adversarial | ``unet --adversarial 0.1`` |
| active contours | ``unet --loss active_contour``, ``unet --loss mumford_shah`` |

Per family and data set: the val Dice (``seglab evaluate``'s mean per-image Dice at each val
image's own size; Mask R-CNN: the Dice of the union of its objects), the parameters, GFLOPs of
one forward pass of a 256x256 image (``torch.utils.flop_counter``, counting a multiply-add as
two), training images/s (images of the train split per epoch over the epochs' seconds in
``metrics.csv``) and inference images/s (``load_model(run).predict`` over the val images,
after one warm-up).

    .venv/bin/python benchmarks/families.py --budget 10m --data nuclei sample
    .venv/bin/python benchmarks/families.py --budget 2m --data nuclei --families unet,segnet

Writes ``OUT/families.md`` and ``.csv`` (default ``runs/families``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from _common import dataset, seconds, write_table

RESNET18 = {"encoder": "resnet18"}
FAMILIES: dict[str, tuple[str, dict]] = {
    "fcn": ("FCN", {"model": {"name": "torchvision.fcn_resnet50"}}),
    "unet": ("encoder-decoder: U-Net", {}),
    "segnet": (
        "unpooling: SegNet",
        {"model": {"name": "segnet", "options": {"base_width": 16, "depth": 4}}},
    ),
    "fpn": ("pyramid: FPN", {"model": {"name": "smp.fpn", "options": RESNET18}}),
    "pspnet": ("pyramid: PSPNet", {"model": {"name": "smp.pspnet", "options": RESNET18}}),
    "deeplab": (
        "dilated: DeepLabV3+",
        {"model": {"name": "smp.deeplabv3plus", "options": RESNET18}},
    ),
    "maskrcnn": ("R-CNN: Mask R-CNN (mask union)", {"task": "instance", "model": "maskrcnn"}),
    "reseg": ("recurrent: ReSeg", {"model": {"name": "reseg"}}),
    "multiscale": (
        "attention to scale: U-Net x 3 scales",
        {"model": {"name": "unet", "multiscale": [1.0, 0.75, 0.5]}},
    ),
    "crf": ("graphical: U-Net + ConvCRF head", {"model": {"name": "unet", "head": "crf"}}),
    "adversarial": ("adversarial: U-Net + discriminator", {"adversarial": 0.1}),
    "active_contour": ("active contours: U-Net + AC loss", {"loss": "active_contour"}),
    "mumford_shah": ("active contours: U-Net + CE + Mumford-Shah", {"loss": "mumford_shah"}),
}
COLUMNS = [
    "data set",
    "family",
    "model",
    "val Dice",
    "params (M)",
    "GFLOPs (256 px)",
    "train img/s",
    "predict img/s",
    "epochs",
    "status",
]


def _network(run: Path):
    from seglab.models.build import build_network
    from seglab.models.card import read_card

    return build_network(read_card(run / "model.json"))


def _size(run: Path) -> tuple[float, float]:
    """Parameters (millions) and GFLOPs of one forward pass of a 256x256 image."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    net = _network(run).eval()
    channels = json.loads((run / "model.json").read_text()).get("in_channels", 3)
    params = sum(p.numel() for p in net.parameters()) / 1e6
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, channels, 256, 256))
    return params, counter.get_total_flops() / 1e9


def _train_speed(run: Path, images: int) -> tuple[float, int]:
    """Training images per second over the epochs of ``metrics.csv``, and the epochs."""
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    spent = sum(float(r["seconds"]) for r in rows if r.get("seconds"))
    return images * len(rows) / spent if spent else float("nan"), len(rows)


def _val_items(data: Path):
    from seglab.data.dataset import open_dataset

    return open_dataset(data, split="val")


def _predict_speed_and_union_dice(run: Path, data: Path, *, instance: bool) -> tuple[float, float]:
    """Inference images/s over the val images (after one warm-up) and, for an instance run,
    the mean Dice of the union of its objects against the val masks."""
    import numpy as np

    from seglab.api import load_model
    from seglab.evaluation.scoring import score_mask

    model = load_model(run)
    source = _val_items(data)
    pairs = [source.load(i) for i in range(len(source))]
    (model.predict_instances if instance else model.predict)(pairs[0][0])  # warm-up
    start = time.perf_counter()
    dices = []
    for image, mask in pairs:
        if instance:
            objects = model.predict_instances(image)
            union = np.asarray(objects.labels) > 0  # boolean: scored as foreground vs not
            dices.append(score_mask(union, np.asarray(mask))["dice"])
        else:
            model.predict(image)
    speed = len(pairs) / (time.perf_counter() - start)
    return speed, (float(np.mean(dices)) if dices else float("nan"))


def _evaluate(run: Path) -> float:
    from seglab.api import evaluate

    return float(evaluate(run, out=None).summary["metrics"]["dice"]["mean"])


def run_family(key: str, data: Path, budget: float, out: Path) -> dict:
    from seglab.api import train
    from seglab.data.dataset import open_dataset

    label, options = FAMILIES[key]
    row = {"family": label}
    try:
        result = train(
            data=data,
            time_limit=budget,
            out=out,
            name=key,
            overwrite=True,
            print_fn=None,
            **options,
        )
        run = result.run_dir
        instance = options.get("task") == "instance"
        card = json.loads((run / "model.json").read_text())
        row["model"] = card.get("architecture") or card.get("name") or key
        train_speed, epochs = _train_speed(run, len(open_dataset(data, split="train")))
        predict_speed, union = _predict_speed_and_union_dice(run, data, instance=instance)
        params, gflops = _size(run) if not instance else (_size_params(run), float("nan"))
        row.update(
            {
                "val Dice": union if instance else _evaluate(run),
                "params (M)": params,
                "GFLOPs (256 px)": gflops,
                "train img/s": train_speed,
                "predict img/s": predict_speed,
                "epochs": epochs,
                "status": result.status,
            }
        )
    except Exception as exc:  # a benchmark row that fails says why and the table goes on
        row.update({"model": key, "status": f"failed: {type(exc).__name__}: {exc}"[:160]})
    return row


def _size_params(run: Path) -> float:
    """Mask R-CNN's parameters (millions): its forward needs targets or eval-time detection,
    whose FLOPs depend on the detections, so none are counted."""
    return sum(p.numel() for p in _network(run).parameters()) / 1e6


def _cell(value) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return "-" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["nuclei", "sample"])
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--out", type=Path, default=Path("runs/families"))
    args = parser.parse_args()
    budget = seconds(args.budget)
    keys = [k.strip() for k in args.families.split(",") if k.strip()]
    unknown = [k for k in keys if k not in FAMILIES]
    if unknown:
        raise SystemExit(f"unknown families {unknown}: expected some of {', '.join(FAMILIES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.data:
        data = dataset(name, args.out)
        for key in keys:
            row = {"data set": name, **run_family(key, data, budget, args.out / name)}
            print(" | ".join(_cell(row.get(c)) for c in COLUMNS), flush=True)
            rows.append(row)
    write_table(
        args.out / "families", COLUMNS, rows, _cell, title=f"budget {args.budget} per family"
    )


if __name__ == "__main__":
    main()
