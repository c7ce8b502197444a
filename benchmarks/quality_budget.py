"""Quality for a fixed wall-clock budget: val Dice of the default recipe, the seed's recipe as
written, and the best classical method (``seglab compare``), per dataset, in one run.

Each network trains with ``--time-limit BUDGET`` (a run stops at the first step past the limit
or before an epoch that would not fit, then keeps its best epoch); the val Dice reported is the
mean per-image Dice at threshold 0.5 of the model the run kept (for the seed's recipe, chosen by
val loss as the seed does), predicted at each val image's own size and scored by the code that
scores the classical methods (``train val Dice`` is the run's own figure, at its training
resolution). The seed's recipe (U-Net width 64 at 512 px, batch 4) may not finish
one epoch in a short budget on a CPU: the partial epoch is then validated and reported.

    .venv/bin/python benchmarks/quality_budget.py                       # sample set + nuclei
    .venv/bin/python benchmarks/quality_budget.py --budget 10m --data my_coco/ other/
    .venv/bin/python benchmarks/quality_budget.py --budget 2m --recipes auto
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

NUCLEI = Path(__file__).resolve().parents[2] / "shared" / "data" / "nuclei"
CLASSICAL = "otsu,li,histogram,sauvola,kmeans,watershed,watershed_gradient"


def _network(data: Path, recipe: str, budget: str, out: Path) -> dict:
    from seglab.api import train

    result = train(data=data, recipe=recipe, time_limit=budget, out=out, name=recipe, print_fn=None)
    with open(result.run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    dice = float(rows[result.best_epoch]["val_dice"]) if result.best_epoch is not None else 0.0
    native = _native_dice(result.run_dir, data) if result.best_epoch is not None else 0.0
    return {
        "approach": f"network, recipe {recipe}",
        "dice": native,
        "train_dice": dice,
        "detail": f"{result.epochs} epochs, {result.status}, best epoch {result.best_epoch + 1}"
        if result.best_epoch is not None
        else f"{result.status}, no epoch finished",
        "seconds": result.seconds,
    }


def _native_dice(run_dir: Path, data: Path) -> float:
    """Mean per-image val Dice of the run's best model at the images' own size, scored by
    :mod:`seglab.evaluation.scoring` exactly as ``seglab compare`` scores classical masks."""
    import numpy as np

    from seglab.api import load_model
    from seglab.data.dataset import open_dataset
    from seglab.evaluation.scoring import score_mask

    model = load_model(run_dir)
    val = open_dataset(data, split="val")
    scores = []
    for i in range(len(val)):
        image, target = val.load(i)
        pred = model.predict(image)
        scores.append(score_mask(pred, target, num_classes=val.num_classes)["dice"])
    return float(np.mean(scores))


def _classical(data: Path, methods: str, out: Path) -> dict:
    from seglab.api import compare

    start = time.perf_counter()
    table = compare(data, methods=methods, out=out, overwrite=True)
    best = max(table.rows, key=lambda r: r.dice)
    return {
        "approach": f"classical, best of {len(table.rows)}",
        "dice": best.dice,
        "detail": best.method,
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="10m", help="training time per network (10m)")
    parser.add_argument("--data", nargs="*", type=Path, help="datasets (default: sample, nuclei)")
    parser.add_argument("--recipes", default="auto,seed")
    parser.add_argument("--methods", default=CLASSICAL, help="classical methods to compare")
    parser.add_argument("--out", type=Path, help="keep the runs here (default: a temp folder)")
    args = parser.parse_args()

    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        datasets = args.data
        if not datasets:
            from seglab.api import write_sample

            sample = out / "sample"
            if not (sample / "train").exists():
                write_sample(sample, overwrite=True)
            datasets = [sample] + ([NUCLEI] if NUCLEI.exists() else [])
        results = []
        for data in datasets:
            work = out / data.name
            results.append((data, _classical(data, args.methods, work / "classical")))
            for recipe in args.recipes.split(","):
                results.append((data, _network(data, recipe, args.budget, work)))
                print(f"{data.name}: {results[-1][1]}", flush=True)
        print(f"\nval Dice after a {args.budget} training budget (classical: no budget)\n")
        print("| dataset | approach | val Dice | train val Dice | detail | seconds |")
        print("|---|---|---|---|---|---|")
        for data, r in results:
            run_dice = f"{r['train_dice']:.3f}" if "train_dice" in r else ""
            print(
                f"| {data.name} | {r['approach']} | {r['dice']:.3f} | {run_dice} | "
                f"{r['detail']} | {r['seconds']:.0f} |"
            )


if __name__ == "__main__":
    main()
