"""``seglab compare``: several classical methods through the same fitting and the same scoring.

Each method is fitted on the train split (polarity, k-means colours, or ``tune``), run on every
val image and scored per image with :mod:`seglab.evaluation.scoring` (mean Dice over images, as the
seed).
Writes ``compare.csv``, ``compare.md``, ``examples.png`` (image | truth | each method) and each
method's ``<method>/scores.csv``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True)
class MethodScore:
    """One method's scores on the val split: means over images (``dice_std``: the spread of
    the per-image Dice), seconds per image, the number of images scored and the parameters
    used (fitted or tuned on train). The fields, in order, are the columns of ``compare.csv``.
    """

    method: str
    dice: float
    dice_std: float
    iou: float
    precision: float
    recall: float
    seconds_per_image: float
    images: int
    params: dict[str, Any]


@dataclass(frozen=True)
class CompareResult:
    """What :func:`compare_methods` found: one :class:`MethodScore` per method, best mean Dice
    first, and the files written (``compare.csv``, ``compare.md``, ``examples.png``)."""

    rows: tuple[MethodScore, ...]
    files: tuple[Path, ...]


def _score(name: str, summary: dict[str, Any], seconds: float, params: dict) -> MethodScore:
    return MethodScore(
        method=name,
        dice=summary["dice"]["mean"],
        dice_std=summary["dice"]["std"],
        iou=summary["iou"]["mean"],
        precision=summary["precision"]["mean"],
        recall=summary["recall"]["mean"],
        seconds_per_image=seconds,
        images=summary["images"],
        params=params,
    )


def _csv_row(score: MethodScore) -> dict[str, Any]:
    return {**asdict(score), "params": json.dumps(score.params, default=str, sort_keys=True)}


def _display_row(score: MethodScore) -> dict[str, str]:
    """The row of ``compare.md``: three decimals, Dice with its spread."""
    return {
        "method": score.method,
        "dice": f"{score.dice:.3f} ± {score.dice_std:.3f}",
        "iou": f"{score.iou:.3f}",
        "precision": f"{score.precision:.3f}",
        "recall": f"{score.recall:.3f}",
        "s/image": f"{score.seconds_per_image:.3f}",
    }


def _examples_png(
    val, indices: list[int], methods_masks: dict[str, list[np.ndarray]], path: Path
) -> Path:
    from PIL import Image

    from seglab.core.overlay import make_grid, overlay, to_display

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
) -> CompareResult:
    """Fit, run and score every method on ``data``; return a :class:`CompareResult` with one
    :class:`MethodScore` per method (mean Dice, its std, IoU, precision, recall, seconds per
    image), best first, and the files written."""
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
        rows.append(_score(method.name, summarize(scores), seconds, params))
        example_masks[method.name] = [
            as_mask(postprocessed(method(pre_image(val.load_image(i)), **params), post))
            for i in shown
        ]
    rows.sort(key=lambda r: -r.dice)
    files = [write_csv([_csv_row(r) for r in rows], out / "compare.csv")]
    md = out / "compare.md"
    md.write_text(markdown_table([_display_row(r) for r in rows], TABLE_COLUMNS), encoding="utf-8")
    files.append(md)
    if shown:
        files.append(_examples_png(val, shown, example_masks, out / "examples.png"))
    return CompareResult(rows=tuple(rows), files=tuple(files))
