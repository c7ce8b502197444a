"""Instance segmentation for a fixed wall-clock budget, side by side in one run: per data set,
the DSB-2018 mean AP, AP@0.5, COCO mask AP and AJI on the val split of

- ``border``: ``seglab train --task instance`` with the default recipe (a U-Net predicting
  interiors and borders, cut by a seeded watershed whose thresholds are chosen on training
  images), ``--time-limit`` the budget;
- ``maskrcnn``: the same with ``--model maskrcnn`` (the recipe's Mask R-CNN for this machine);
- ``classical``: ``seglab classical watershed`` (Otsu threshold + distance-transform watershed,
  its polarity and peak distance tuned on the train split; untimed).

Every figure comes from ``seglab.api.evaluate`` (the code behind ``seglab evaluate``), which
scores each val image at its own size: DSB mean AP and AP@0.5 are per-image TP/(TP+FP+FN) means,
AJI the per-image mean, COCO mask AP pycocotools' over the split with up to 1000 detections per
image. "budget used" is the run's ``summary.json`` ``budget_used`` (setup and the cut's choice
included).

    .venv/bin/python benchmarks/instance_budget.py                      # 10m, both sets, all
    .venv/bin/python benchmarks/instance_budget.py --budget 3m --data nuclei --methods border

Writes the table to ``OUT/instance_budget.md`` and ``.csv`` (default ``runs/instance_budget``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from _common import dataset, seconds

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("border", "maskrcnn", "classical")
LABELS = {
    "border": "U-Net instances",
    "maskrcnn": "Mask R-CNN",
    "classical": "Otsu + distance watershed",
}
COLUMNS = [
    "data set",
    "budget",
    "method",
    "DSB mean AP",
    "AP@0.5",
    "COCO mask AP",
    "AJI",
    "found / missed / false",
    "budget used",
    "epochs",
]


def _scores(summary: dict) -> dict:
    """The table's figures from an instance evaluation's summary."""
    metrics, counts = summary["metrics"], summary["counts"]
    return {
        "DSB mean AP": metrics["dsb_map"]["mean"],
        "AP@0.5": metrics["ap50"]["mean"],
        "COCO mask AP": summary["coco"]["mask"]["ap"],
        "AJI": metrics["aji"]["mean"],
        "found / missed / false": f"{counts['found']} / {counts['missed']} / {counts['false']}",
    }


def run_network(method: str, data: Path, budget: float, out: Path, name: str) -> dict:
    """Train ``method`` for ``budget`` seconds and evaluate the kept model on val."""
    from seglab import api

    model = {"model": "maskrcnn"} if method == "maskrcnn" else {}
    result = api.train(
        data=data,
        task="instance",
        time_limit=budget,
        out=out / "runs",
        name=name,
        overwrite=True,
        print_fn=print,
        **model,
    )
    summary = json.loads((result.run_dir / "summary.json").read_text())
    evaluation = api.evaluate(
        result.run_dir, data, split="val", out=out / "eval" / name, overwrite=True
    )
    return {
        **_scores(evaluation.summary),
        "budget used": summary.get("budget_used"),
        "epochs": summary.get("epochs"),
    }


def run_classical(data: Path, out: Path, name: str) -> dict:
    """The classical baseline, fitted on train, its val labels scored."""
    from seglab import api

    folder = out / "classical" / name
    api.classical(
        "watershed",
        data=data,
        params={"markers": "distance"},
        tune=True,
        out=folder,
        overwrite=True,
    )
    evaluation = api.evaluate(
        data=data, pred=folder / "labels", split="val", out=out / "eval" / name, overwrite=True
    )
    return {**_scores(evaluation.summary), "budget used": None, "epochs": None}


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_table(rows: list[dict], out: Path) -> str:
    """The Markdown table (also written with the CSV to ``out``)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in COLUMNS) + " |" for row in rows]
    table = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "instance_budget.md").write_text(table + "\n")
    with open(out / "instance_budget.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({c: row.get(c) for c in COLUMNS} for row in rows)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="10m")
    parser.add_argument("--data", nargs="+", default=["nuclei", "nuclei_mixed"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "instance_budget")
    args = parser.parse_args()
    budget = seconds(args.budget)
    rows = []
    for name in args.data:
        data = dataset(name, args.out)
        for method in args.methods:
            label = f"{Path(name).name}-{method}-{args.budget}"
            start = time.perf_counter()
            if method == "classical":
                figures = run_classical(data, args.out, label)
            else:
                figures = run_network(method, data, budget, args.out, label)
            print(f"{label}: {figures} ({time.perf_counter() - start:.0f} s)", flush=True)
            rows.append(
                {
                    "data set": Path(name).name,
                    "budget": args.budget if method != "classical" else "untimed",
                    "method": LABELS[method],
                    **figures,
                }
            )
            write_table(rows, args.out)  # after each row: a long run keeps what it measured
    print(write_table(rows, args.out))


if __name__ == "__main__":
    main()
