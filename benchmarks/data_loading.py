"""Data loading throughput: seglab's readers against the seed's loop, measured in one run.

The seed builds a mask per image with ``PIL.Image.open`` + ``pycocotools.COCO.annToMask`` for every
annotation (its ``get_masks``). seglab validates the JSON once, then per image reads with
``seglab.io.read_image`` (EXIF, dtype and channel rules) and composes the class-index mask
(overlaps, crowds). This script prints images/s for each and the ratio to the seed's loop.

    .venv/bin/python benchmarks/data_loading.py            # 60 sample images, 512x512
    .venv/bin/python benchmarks/data_loading.py --data /path/to/coco_dataset --split val
"""

from __future__ import annotations

import argparse
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np


def _seed_loop(json_path: Path, images_dir: Path) -> tuple[float, int]:
    """The seed's way: COCO index, PIL image, annToMask per annotation, union."""
    import contextlib
    import io
    import warnings

    from PIL import Image
    from pycocotools.coco import COCO

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(json_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ids = coco.getImgIds()
        for img_id in ids:
            info = coco.loadImgs(img_id)[0]
            img = np.array(Image.open(images_dir / info["file_name"]))
            mask = np.zeros(img.shape[:2], np.uint8)
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
                mask = np.bitwise_or(mask, coco.annToMask(ann))
    return time.perf_counter() - t0, len(ids)


def _seglab(json_path: Path, images_dir: Path, *, second_pass: bool, torch: bool):
    """seglab: open the COCO source (validating the JSON) and read every item.

    ``second_pass`` times only a second pass over the same source, when the validated RLE
    objects are cached (as from the second epoch of training on); ``torch`` reads through the
    torch ``SegmentationDataset`` (tensor conversion included).
    """
    from seglab.data import SegmentationDataset
    from seglab.data.coco import CocoSource

    t0 = time.perf_counter()
    source = CocoSource(json_path, images_dir)
    read = SegmentationDataset(source).__getitem__ if torch else source.load
    for _ in range(2 if second_pass else 1):
        if second_pass:
            t0 = time.perf_counter()
        for i in range(len(source)):
            read(i)
    return time.perf_counter() - t0, len(source)


def _best_of(fn, *args, repeats: int) -> tuple[float, int]:
    """Best time of ``repeats`` runs, and the number of images read per run."""
    runs = [fn(*args) for _ in range(repeats)]
    return min(t for t, _ in runs), runs[0][1]


def main() -> None:
    """Parse arguments, run every reader ``--repeats`` times, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a COCO dataset (default: the sample set)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--images", type=int, default=60, help="sample images to generate")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from seglab.data.layout import discover

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from seglab.data.sample import write_sample

            data = Path(tmp) / "sample"
            write_sample(data, n_train=args.images, n_val=1, n_test=0)
        spec = discover(data)[args.split]
        if spec.kind != "coco":
            raise SystemExit(f"{data}: the {args.split} split is not COCO")
        rows = [
            ("seed loop (PIL + annToMask)", _seed_loop),
            ("seglab CocoSource, 1st pass", partial(_seglab, second_pass=False, torch=False)),
            ("seglab CocoSource, 2nd pass", partial(_seglab, second_pass=True, torch=False)),
            ("seglab torch Dataset, 2nd pass", partial(_seglab, second_pass=True, torch=True)),
        ]
        results = [
            (name, *_best_of(fn, spec.annotations, spec.images, repeats=args.repeats))
            for name, fn in rows
        ]
    base = results[0][2] / results[0][1]
    print(f"{'reader':32} {'images':>7} {'seconds':>8} {'images/s':>9} {'vs seed':>8}")
    for name, seconds, n in results:
        rate = n / seconds
        print(f"{name:32} {n:7d} {seconds:8.2f} {rate:9.1f} {rate / base:7.2f}x")


if __name__ == "__main__":
    main()
