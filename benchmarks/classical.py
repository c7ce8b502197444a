"""Classical methods on the sample set (or any dataset): Dice and time per 512x512 image.

Every registered method goes through ``seglab compare``'s code (fitted on train: polarity,
k-means colours, or the grid with ``--tune``; scored on val, mean Dice over images). Times are
per image, for the method alone (no I/O), with the ratio to Otsu measured in the same run.

    .venv/bin/python benchmarks/classical.py                    # sample set, 12 train / 20 val
    .venv/bin/python benchmarks/classical.py --data /path/to/dataset --tune
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    """Parse arguments, run every method, print the table (best Dice first)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a labelled dataset (default: the sample set)")
    parser.add_argument("--train", type=int, default=12, help="sample train images to write")
    parser.add_argument("--val", type=int, default=20, help="sample val images to write")
    parser.add_argument("--methods", default="", help="comma-separated (default: all)")
    parser.add_argument("--tune", action="store_true", help="grid-search on train first")
    args = parser.parse_args()

    from seglab.classical import METHODS
    from seglab.classical.compare import compare_methods
    from seglab.config import DataConfig

    names = [m for m in args.methods.split(",") if m] or list(METHODS)
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from seglab.data.sample import write_sample

            data = Path(tmp) / "sample"
            write_sample(data, n_train=args.train, n_val=args.val, n_test=0)
        result = compare_methods(
            [METHODS[n] for n in names],
            DataConfig(path=data),
            Path(tmp) / "out",
            tune=args.tune,
            examples=0,
        )
    rows = result.rows
    otsu = next((r.seconds_per_image for r in rows if r.method == "otsu"), None)
    print(f"{'method':20} {'dice':>14} {'iou':>6} {'s/image':>8} {'vs otsu':>8}  params")
    for r in rows:
        ratio = f"{r.seconds_per_image / otsu:7.1f}x" if otsu else "       -"
        print(
            f"{r.method:20} {r.dice:6.3f} ± {r.dice_std:5.3f} {r.iou:6.3f} "
            f"{r.seconds_per_image:8.3f} {ratio}  {r.params}"
        )


if __name__ == "__main__":
    main()
