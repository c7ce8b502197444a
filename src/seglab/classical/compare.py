"""``seglab compare``: several classical methods through the same fitting and the same scoring.

Each method is fitted on the train split (polarity, k-means colours, or ``tune``), run on every
val image and scored per image with :mod:`seglab.evaluation.scoring` (mean Dice over images, as the
seed).
Writes ``compare.csv``, ``compare.md``, ``examples.png`` (image | truth | each method) and each
method's ``<method>/scores.csv``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seglab.classical.fit import ClassicalMethod, as_mask, fit_method, postprocessed
from seglab.classical.run import dataset_split, fit_images, predict_source, prepare_output
from seglab.config import DataConfig
from seglab.errors import DataError
from seglab.evaluation.scoring import markdown_table, summarize, write_csv
from seglab.transforms import Pipeline

TABLE_COLUMNS = ("method", "dice", "iou", "precision", "recall", "s/image")


def _row(name: str, summary: dict[str, Any], seconds: float, params: dict) -> dict[str, Any]:
    def mean(m: str) -> float:
        return summary[m]["mean"]

    return {
        "method": name,
        "dice": mean("dice"),
        "dice_std": summary["dice"]["std"],
        "iou": mean("iou"),
        "precision": mean("precision"),
        "recall": mean("recall"),
        "seconds_per_image": seconds,
        "images": summary["images"],
        "params": json.dumps(params, default=str, sort_keys=True),
    }


def _display_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "method": r["method"],
            "dice": f"{r['dice']:.3f} ± {r['dice_std']:.3f}",
            "iou": f"{r['iou']:.3f}",
            "precision": f"{r['precision']:.3f}",
            "recall": f"{r['recall']:.3f}",
            "s/image": f"{r['seconds_per_image']:.3f}",
        }
        for r in rows
    ]


def _examples_png(
    val, indices: list[int], methods_masks: dict[str, list[np.ndarray]], path: Path
) -> Path:
    from PIL import Image

    from seglab.data.preview import make_grid, overlay, to_display

    tiles, labels = [], []
    for j, i in enumerate(indices):
        image, truth = val.load(i)
        key = val.items[i].key
        tiles += [to_display(image), overlay(image, truth, num_classes=val.num_classes)]
        labels += [key, "truth"]
        for name, masks in methods_masks.items():
            tiles.append(overlay(image, masks[j].astype(np.int64), num_classes=2))
            labels.append(name)
    grid = make_grid(tiles, ncols=2 + len(methods_masks), tile_size=192, labels=labels)
    Image.fromarray(grid).save(path)
    return path


def compare_methods(
    methods: list[ClassicalMethod],
    data: DataConfig,
    out: str | Path,
    *,
    tune: bool = False,
    tune_images: int = 12,
    examples: int = 4,
    preprocess: Pipeline | None = None,
    postprocess: Pipeline | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Fit, run and score every method on ``data``; return ``{"rows": [...], "files": [...]}``
    with one row per method (mean Dice, its std, IoU, precision, recall, seconds per image)."""
    out = prepare_output(Path(out), overwrite)
    pre, post = preprocess, postprocess
    train = dataset_split(data, "train")
    train_images, train_masks = fit_images(train, tune_images, data.seed, pre=pre)
    val = dataset_split(data, "val")
    if not val.labelled or len(val) == 0:
        raise DataError("compare needs a labelled val split (or train to split)", path=data.path)
    shown = list(range(min(examples, len(val))))
    rows, example_masks = [], {}

    def pre_image(image: np.ndarray) -> np.ndarray:
        return image if pre is None else pre(image, None)[0]

    for method in methods:
        params, _ = fit_method(method, train_images, train_masks, tune=tune, post=post)
        scores, _ = predict_source(method, params, val, score=True, pre=pre, post=post)
        if not scores:
            raise DataError(f"{method.name}: no val image could be scored", path=data.path)
        write_csv(scores, out / method.name / "scores.csv")
        seconds = float(np.mean([r["seconds"] for r in scores]))
        rows.append(_row(method.name, summarize(scores), seconds, params))
        example_masks[method.name] = [
            as_mask(postprocessed(method(pre_image(val.load_image(i)), **params), post))
            for i in shown
        ]
    rows.sort(key=lambda r: -r["dice"])
    files = [write_csv(rows, out / "compare.csv")]
    md = out / "compare.md"
    md.write_text(markdown_table(_display_rows(rows), TABLE_COLUMNS), encoding="utf-8")
    files.append(md)
    if shown:
        files.append(_examples_png(val, shown, example_masks, out / "examples.png"))
    return {"rows": rows, "display": _display_rows(rows), "files": [str(f) for f in files]}
