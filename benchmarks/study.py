"""A study against the default recipe given the same wall-clock budget, in one run:

- ``default``: ``seglab train --time-limit BUDGET`` (the recipe for this machine and data);
- ``tune``: ``seglab tune --time-limit BUDGET --refit SHARE`` (the default space, median
  pruning, TPE): the trials share ``1 - SHARE`` of the budget, then the best trial's settings
  are trained again for what is left (``STUDY/best/``).

The table gives, per arm, the trials run, pruned and failed, the best val Dice of the run as
training saw it (``summary.json`` ``best_score``, the monitor at threshold 0.5 on the val
split), the val Dice of ``seglab evaluate`` (the code behind the command: each val image at its
own size, the threshold the run chose), and the wall time against the budget. For the study it
gives both its best trial (trained for one trial's budget) and its refit.

    .venv/bin/python benchmarks/study.py                          # nuclei, 30m, refit 0.4
    .venv/bin/python benchmarks/study.py --budget 5m --data sample --arms tune

Writes the table to ``OUT/study.md`` and ``.csv`` (default ``runs/study_bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from _common import dataset, seconds, write_table

ARMS = ("default", "tune")
COLUMNS = [
    "data set",
    "budget",
    "arm",
    "trials (done / pruned / failed)",
    "val Dice (training)",
    "val Dice (evaluate)",
    "wall / budget",
]


def _evaluate(run: Path) -> float:
    from seglab.api import evaluate

    result = evaluate(run, out=None, progress=False)
    return float(result.summary["metrics"]["dice"]["mean"])


def _default(data: Path, budget: float, out: Path) -> list[dict]:
    from seglab.api import train

    start = time.perf_counter()
    result = train(
        data=data, time_limit=budget, out=out, name="default", overwrite=True, print_fn=None
    )
    wall = time.perf_counter() - start
    return [
        {
            "arm": "default recipe",
            "trials (done / pruned / failed)": "-",
            "val Dice (training)": result.best_score,
            "val Dice (evaluate)": _evaluate(result.run_dir),
            "wall / budget": wall / budget,
        }
    ]


def _tune(data: Path, budget: float, out: Path, refit: float) -> list[dict]:
    from seglab.api import tune

    start = time.perf_counter()
    result = tune(
        data, time_limit=budget, refit=refit, out=out, study="tune", overwrite=True, print_fn=print
    )
    wall = time.perf_counter() - start
    counts = result.summary["counts"]
    trials = f"{counts['complete']} / {counts['pruned']} / {counts['fail']}"
    rows = []
    best = result.best
    if best is not None:
        rows.append(
            {
                "arm": f"tune: best trial ({best['number']}, {result.summary['trial_time']:.0f} s)",
                "trials (done / pruned / failed)": trials,
                "val Dice (training)": best["score"],
                "val Dice (evaluate)": _evaluate(result.study_dir / best["run"]),
                "wall / budget": wall / budget,
            }
        )
    refit_info = result.summary.get("refit") or {}
    if refit_info.get("run"):
        rows.append(
            {
                "arm": f"tune: refit of the best ({refit_info['seconds']:.0f} s)",
                "trials (done / pruned / failed)": trials,
                "val Dice (training)": refit_info["score"],
                "val Dice (evaluate)": _evaluate(result.study_dir / refit_info["run"]),
                "wall / budget": wall / budget,
            }
        )
    (out / "tune_best.json").write_text(json.dumps(result.summary.get("best"), indent=1))
    return rows


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="nuclei", help="sample or a folder of ../shared/data")
    parser.add_argument("--budget", default="30m")
    parser.add_argument("--refit", type=float, default=0.4)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--out", type=Path, default=Path("runs/study_bench"))
    args = parser.parse_args()
    budget = seconds(args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    data = dataset(args.data, args.out)
    rows: list[dict] = []
    for arm in [a.strip() for a in args.arms.split(",") if a.strip()]:
        if arm == "default":
            found = _default(data, budget, args.out)
        elif arm == "tune":
            found = _tune(data, budget, args.out, args.refit)
        else:
            raise SystemExit(f"unknown arm {arm!r}: expected {', '.join(ARMS)}")
        rows += [{"data set": args.data, "budget": args.budget, **row} for row in found]
    write_table(args.out / "study", COLUMNS, rows, _cell)


if __name__ == "__main__":
    main()
