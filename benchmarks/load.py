"""Load: ``seglab data check`` on a generated 10,000-image COCO export, and ``seglab predict`` on
1,000 images with its memory sampled as it goes (flat memory = streaming).

Both run as a person runs them, as ``seglab`` subprocesses (start-up included). The data set is
generated: ``--size`` px grey images with three polygon objects each, one category. The model
for predict is a U-Net of width 8 trained for one epoch on 64 of the images (quality is not the
point here). Prints a table: seconds and images/s of the check (the target is under 30 s on
2 cores for 10,000 images); images/s of predict and its resident memory after 10 %, 50 % and
100 % of the images, with the growth from 10 % to 100 % (the baseline measured in the same run).

    .venv/bin/python benchmarks/load.py
    .venv/bin/python benchmarks/load.py --images 2000 --predict 300 --out runs/load
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
SEGLAB = [str(Path(sys.executable).parent / "seglab")]


def write_coco(root: Path, count: int, size: int, *, seed: int = 0) -> Path:
    """``root/images/*.png`` and ``root/annotations.json``: ``count`` images, 3 objects each."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(count):
        image = rng.integers(20, 60, (size, size), dtype=np.uint8)
        for k in range(3):
            x, y = rng.uniform(2, size - 14, 2)
            s = rng.uniform(4, 12)
            poly = [x, y, x + s, y, x + s, y + s, x, y + s]
            pts = np.round(np.array(poly).reshape(-1, 2)).astype(np.int32)
            cv2.fillPoly(image, [pts], 200)
            anns.append({"id": 3 * i + k + 1, "image_id": i + 1, "category_id": 1,
                         "segmentation": [[round(v, 2) for v in poly]], "iscrowd": 0,
                         "bbox": [x, y, s, s], "area": s * s})  # fmt: skip
        name = f"{i:05d}.png"
        cv2.imwrite(str(root / "images" / name), image)
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "blob"}]}
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def timed_check(root: Path) -> tuple[float, int]:
    """Seconds of ``seglab data check root`` and its exit status."""
    start = time.perf_counter()
    done = subprocess.run([*SEGLAB, "data", "check", str(root)], capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode


def tiny_model(root: Path, out: Path) -> Path:
    """A U-Net of width 8 trained one epoch on the first 64 images of ``root``."""
    import shutil

    small = out / "small"
    (small / "images").mkdir(parents=True, exist_ok=True)
    data = json.loads((root / "annotations.json").read_text())
    keep = data["images"][:64]
    ids = {rec["id"] for rec in keep}
    for rec in keep:
        shutil.copy(root / "images" / rec["file_name"], small / "images" / rec["file_name"])
    data["images"] = keep
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in ids]
    (small / "annotations.json").write_text(json.dumps(data))
    args = ["train", "--data", str(small), "--out", str(out), "--name", "tiny", "--epochs", "1",
            "--model", "unet", "-m", "base_width=8", "-m", "depth=2", "--augment", "none",
            "--batch-size", "8", "--quiet", "--overwrite"]  # fmt: skip
    subprocess.run([*SEGLAB, *args], check=True, capture_output=True)
    return out / "tiny"


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` and its children (MiB), from /proc."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids]


def sampled_predict(model: Path, images: Path, out: Path, count: int) -> dict[str, float]:
    """Run ``seglab predict`` on ``images``, sampling memory against the masks written."""
    args = [*SEGLAB, "predict", "--model", str(model), "--input", str(images), "--out", str(out),
            "--overwrite", "--quiet"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    marks = {0.1: None, 0.5: None, 1.0: None}
    peak = 0.0
    masks = out / "masks"
    while proc.poll() is None:
        rss = rss_mib(proc.pid)
        peak = max(peak, rss)
        done = len(os.listdir(masks)) if masks.is_dir() else 0
        for share in marks:
            if marks[share] is None and done >= share * count:
                marks[share] = rss
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"predict failed: {proc.stderr.read().decode()[-2000:]}")
    return {"seconds": seconds, "peak": peak, **{f"rss_{k}": v or peak for k, v in marks.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000, help="images in the COCO export")
    parser.add_argument("--predict", type=int, default=1_000, help="images predicted")
    parser.add_argument("--size", type=int, default=64, help="image side (px)")
    parser.add_argument("--out", type=Path, help="keep the data and outputs here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        start = time.perf_counter()
        root = write_coco(out / "coco", args.images, args.size)
        print(f"generated {args.images} images in {time.perf_counter() - start:.0f} s", flush=True)
        check_s, status = timed_check(root)
        model = tiny_model(root, out / "runs")
        subset = out / "predict_in"
        subset.mkdir(exist_ok=True)
        for name in sorted(os.listdir(root / "images"))[: args.predict]:
            target = subset / name
            if not target.exists():
                target.symlink_to(root / "images" / name)
        pred = sampled_predict(model, subset, out / "predictions", args.predict)
    growth = pred["rss_1.0"] / pred["rss_0.1"] if pred["rss_0.1"] else float("nan")
    rows = [
        ("data check", f"{args.images} images, {args.size} px, 3 objects each",
         f"{check_s:.1f} s (exit {status})", f"{args.images / check_s:.0f} images/s"),
        ("predict", f"{args.predict} images (masks, overlays, crops)",
         f"{pred['seconds']:.1f} s", f"{args.predict / pred['seconds']:.1f} images/s"),
        ("predict memory", "RSS after 10 % / 50 % / 100 % of the images",
         f"{pred['rss_0.1']:.0f} / {pred['rss_0.5']:.0f} / {pred['rss_1.0']:.0f} MiB",
         f"x{growth:.2f} from 10 % to 100 % (peak {pred['peak']:.0f} MiB)"),
    ]  # fmt: skip
    print("\n| what | input | time / memory | rate |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
