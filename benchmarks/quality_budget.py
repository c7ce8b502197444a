"""Quality for a fixed wall-clock budget, side by side in one run: per data set and budget, the
val Dice at native size of seglab's default recipe, a plain PyTorch loop, the seed's recipe and
the best classical method, with the fraction of the budget used and the epochs.

- ``auto`` / ``seed``: ``seglab.api.train(recipe=..., time_limit=budget)``; the kept model
  predicts each val image at its own size (``load_model(run).predict``).
- ``plain``: :func:`plain_loop` below, the ~40-line baseline of issue 11: U-Net width 16, RAdam
  1e-3, BCE + Dice, batch 8, random flips and 90-degree rotations, whole images at 256x256,
  until the budget is spent (it stops early enough to validate, as seglab's time limit does);
  the epoch with the best val Dice at 256 px is kept: its 256 px val probabilities are
  upsampled to each val image's size.
- ``classical``: the best of ``seglab compare`` (untimed; run once per data set).

Every native figure is the mean per-image Dice at threshold 0.5 from
:func:`seglab.evaluation.scoring.score_mask`, the code that scores ``seglab compare``.
"budget used" is the wall time of the whole call (reading the data included) / budget;
"epochs" is the number of validated epochs (a last partial epoch counts).

    .venv/bin/python benchmarks/quality_budget.py    # 3m and 10m; sample, nuclei, nuclei_mixed
    .venv/bin/python benchmarks/quality_budget.py --budget 3m 10m --out runs/qb
    .venv/bin/python benchmarks/quality_budget.py --budget 20s --data sample --methods plain

Writes the table to ``OUT/quality_budget.md`` and ``.csv`` (without ``--out``: the runs go to a
temp folder and the table to ``runs/quality_budget/``).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from _common import SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
CLASSICAL = "otsu,li,histogram,sauvola,kmeans,watershed,watershed_gradient"
LABELS = {
    "auto": "default recipe",
    "plain": "plain loop",
    "seed": "seed recipe",
    "classical": "best classical",
}
COLUMNS = ["data set", "budget", "method", "val Dice (native)", "budget used", "epochs", "status"]


def plain_loop(data: Path, budget: float, *, size: int = 256, batch: int = 8, seed: int = 0):
    """Train the plain baseline for ``budget`` seconds; ``(native Dice, epochs, wall s)``."""
    import torch

    from seglab.data.dataset import open_dataset
    from seglab.models import create_model

    start, deadline = time.perf_counter(), time.perf_counter() + budget
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train, val = open_dataset(data, split="train"), open_dataset(data, split="val")
    val_native = [val.load(i) for i in range(len(val))]
    x, y = _stack([train.load(i) for i in range(len(train))], size)
    val_x, _ = _stack(val_native, size, channels=x.shape[1])
    val_small = [(None, _resize(m, size, nearest=True)) for _, m in val_native]
    model = create_model("unet", in_channels=x.shape[1], num_classes=1, base_width=16).to(device)
    optimizer = torch.optim.RAdam(model.parameters(), lr=1e-3)
    best, best_probs, epochs, step_s, val_s = -1.0, None, 0, 0.0, 0.0
    while time.perf_counter() + step_s + val_s < deadline:  # leave time to validate
        model.train()
        for idx in torch.randperm(len(x)).split(batch):
            val_s = val_s or step_s * len(val_x) / (3 * batch)  # before the first: forward only
            if time.perf_counter() + step_s + val_s >= deadline:
                break
            tic = time.perf_counter()
            xb, yb = _flip_rotate(x[idx], y[idx], rng)
            loss = _bce_dice(model(xb.to(device)), yb.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step_s = time.perf_counter() - tic
        epochs, tic = epochs + 1, time.perf_counter()
        probs = _predict(model, val_x, device)
        dice, val_s = _mean_dice(probs, val_small, val.num_classes), time.perf_counter() - tic
        if dice > best:  # the best weights' 256 px probabilities are all the native score needs
            best, best_probs = dice, probs
    native = _mean_dice(best_probs, val_native, val.num_classes)
    return native, epochs, time.perf_counter() - start


def _resize(array, size: int, *, nearest: bool = False):
    import cv2

    if nearest:
        return cv2.resize(array.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST)
    shrink = max(array.shape[:2]) > size
    out = cv2.resize(
        array, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    )
    return out[..., None] if out.ndim == 2 else out


def _stack(pairs, size: int, *, channels: int | None = None):
    """Images as float ``N x C x size x size`` in [0, 1]; masks as uint8 0/1/255 ``N x 1 x ..``."""
    import torch

    from seglab.core.arrays import image_to_chw, match_channels

    channels = channels or (1 if pairs[0][0].ndim == 2 else pairs[0][0].shape[2])
    images = [image_to_chw(_resize(match_channels(im, channels), size)) for im, _ in pairs]
    masks = [_resize(np.where(m == 255, 255, m != 0), size, nearest=True) for _, m in pairs]
    return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(masks)[:, None])


def _flip_rotate(x, y, rng):
    """A random one of the 8 flips/90-degree rotations of each image (and its mask)."""
    import torch

    pairs = []
    for xi, yi in zip(x, y, strict=True):
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        xi, yi = xi.rot90(k, (1, 2)), yi.rot90(k, (1, 2))
        pairs.append((xi.flip(2), yi.flip(2)) if flip else (xi, yi))
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def _bce_dice(logits, mask):
    import torch
    import torch.nn.functional as F

    valid, target = (mask != 255).float(), (mask == 1).float()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    bce = (bce * valid).sum() / valid.sum().clamp(min=1)
    prob = torch.sigmoid(logits) * valid
    return bce + 1 - (2 * (prob * target).sum() + 1) / (prob.sum() + target.sum() + 1)


def _predict(model, images, device, batch: int = 8):
    """Foreground probabilities ``N x H x W`` (numpy) of the float image batch."""
    import torch

    model.eval()
    with torch.no_grad():
        chunks = [torch.sigmoid(model(b.to(device)))[:, 0].cpu() for b in images.split(batch)]
    return torch.cat(chunks).numpy()


def _mean_dice(probs, pairs, num_classes: int) -> float:
    """Mean per-image Dice of ``probs`` upsampled to each target's size, threshold 0.5."""
    import cv2

    from seglab.evaluation.scoring import score_mask

    scores = []
    for prob, (_, target) in zip(probs, pairs, strict=True):
        prob = cv2.resize(prob, target.shape[::-1], interpolation=cv2.INTER_LINEAR)
        scores.append(score_mask(prob > 0.5, target, num_classes=num_classes)["dice"])
    return float(np.mean(scores))


def seglab_run(data: Path, recipe: str, budget: float, out: Path):
    """``api.train`` with ``time_limit=budget``; ``(native Dice, epochs, wall s, status)``."""
    from seglab.api import train

    start = time.perf_counter()
    result = train(data=data, recipe=recipe, time_limit=budget, out=out, name=recipe, print_fn=None)
    seconds = time.perf_counter() - start
    with open(result.run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    summary_path = result.run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    status = str(summary.get("status", result.status))
    if not rows or not (result.run_dir / "model.safetensors").exists():
        return math.nan, len(rows), seconds, f"{status}, no epoch validated"
    run_dice = max(float(r.get("val_dice") or "nan") for r in rows)
    note = f"{status}; run's val Dice {run_dice:.3f}"
    if summary.get("budget_used") is not None:  # the run's own figure (newer summaries)
        note += f", run's budget used {float(summary['budget_used']):.2f}"
    elif summary.get("seconds") is not None:
        note += f", run's {float(summary['seconds']):.0f} s"
    own, fixed = native_dice(result.run_dir, data)
    if own != fixed:  # the run chose its threshold on val: say what 0.5 gives too
        note += f"; threshold {load_threshold(result.run_dir):g} (at 0.5: {fixed:.3f})"
    return own, len(rows), seconds, note


def load_threshold(run_dir: Path) -> float:
    """The threshold in the run's ``model.json``."""
    return float(json.loads((run_dir / "model.json").read_text())["threshold"])


def native_dice(run_dir: Path, data: Path) -> tuple[float, float]:
    """Mean per-image val Dice of the run's kept model, each image predicted at its own size:
    ``(at the model's own threshold, at 0.5)``."""
    from seglab.api import load_model
    from seglab.data.dataset import open_dataset
    from seglab.evaluation.scoring import score_mask

    model = load_model(run_dir)
    val = open_dataset(data, split="val")
    own, fixed = [], []
    for i in range(len(val)):
        image, target = val.load(i)
        probs = model.predict_proba(image)
        for scores, threshold in ((own, None), (fixed, 0.5)):
            mask = model.to_mask(probs, threshold=threshold)
            scores.append(score_mask(mask, target, num_classes=val.num_classes)["dice"])
    return float(np.mean(own)), float(np.mean(fixed))


def best_classical(data: Path, methods: str, out: Path) -> tuple[float, str]:
    """Best val Dice of ``seglab compare`` and a status naming the method."""
    from seglab.api import compare

    start = time.perf_counter()
    table = compare(data, methods=methods, out=out, overwrite=True)
    best = max(table.rows, key=lambda r: r.dice)
    took = time.perf_counter() - start
    return best.dice, f"best of {len(table.rows)}: {best.method} (untimed, {took:.0f} s)"


def resolve_data(names: list[str], out: Path) -> list[Path]:
    """``sample`` (written to ``out/sample``), a name under shared/data, or a path."""
    paths = []
    for name in names:
        if name == "sample":
            from seglab.api import write_sample

            path = out / "sample"
            if not (path / "train").exists():
                write_sample(path, overwrite=True)
        else:
            path = SHARED_DATA / name if (SHARED_DATA / name).is_dir() else Path(name)
        if not path.is_dir():
            raise SystemExit(f"data set {name!r}: no folder {path}; give a path or 'sample'")
        paths.append(path)
    return paths


def benchmark(args, out: Path) -> list[dict]:
    from seglab.config import parse_duration

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    rows = []
    for data in resolve_data(args.data, out):
        classical = None
        for budget_text in args.budget:
            budget = parse_duration(budget_text)
            for method in methods:
                row = {"data set": data.name, "budget": budget_text, "method": LABELS.get(method)}
                try:
                    if method == "classical":
                        if classical is None:
                            classical = best_classical(data, args.classical, out / data.name / "c")
                        dice, epochs, used, status = classical[0], "", "", classical[1]
                    elif method == "plain":
                        dice, epochs, seconds = plain_loop(data, budget)
                        used, status = f"{seconds / budget:.2f}", "time limit"
                    else:
                        work = out / data.name / budget_text
                        dice, epochs, seconds, status = seglab_run(data, method, budget, work)
                        used = f"{seconds / budget:.2f}"
                except Exception as exc:  # one failed row must not lose a long benchmark
                    dice, epochs, used = math.nan, "", ""
                    status = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                row.update(zip(COLUMNS[3:], [f"{dice:.3f}", used, epochs, status], strict=True))
                rows.append(row)
                print(" | ".join(str(row[c]) for c in COLUMNS), flush=True)
    return rows


def write_table(rows: list[dict], folder: Path) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quality_budget.md").write_text("\n".join(lines) + "\n")
    with open(folder / "quality_budget.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", nargs="+", default=["3m", "10m"], help="e.g. 3m 10m")
    parser.add_argument("--data", nargs="+", default=["sample", "nuclei", "nuclei_mixed"])
    parser.add_argument("--methods", default="auto,plain,seed,classical", help="rows to run")
    parser.add_argument("--classical", default=CLASSICAL, help="methods seglab compare tries")
    parser.add_argument("--out", type=Path, help="keep the runs and the table here")
    args = parser.parse_args()
    unknown = set(args.methods.split(",")) - {"auto", "plain", "seed", "classical"}
    if unknown:
        parser.error(f"--methods: unknown {sorted(unknown)}; choose from auto,plain,seed,classical")

    import logging
    import warnings

    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        rows = benchmark(args, args.out or Path(tmp))
    folder = args.out or ROOT / "runs" / "quality_budget"
    table = write_table(rows, folder)
    print(f"\nval Dice at native size per training budget ({folder / 'quality_budget.csv'})\n")
    print(table)


if __name__ == "__main__":
    main()
