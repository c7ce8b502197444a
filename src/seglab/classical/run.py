"""Running classical methods over folders and datasets, and comparing them.

``run_classical`` writes masks for a folder of images or a dataset's val split, fitting the
method on the train split first (polarity, k-means colours, ``tune``); ``compare_methods`` does
that for several methods and writes one table. Scores come from :mod:`seglab.evaluation.scoring`,
the code
that scores networks too.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from seglab.classical.fit import ClassicalMethod, as_mask, fit_method, postprocessed
from seglab.config import DataConfig
from seglab.data.base import SegmentationSource
from seglab.errors import DataError
from seglab.evaluation.scoring import score_mask, summarize, write_csv
from seglab.transforms import Pipeline


def fit_images(
    source: SegmentationSource, max_images: int, seed: int = 0, *, pre: Pipeline | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Up to ``max_images`` readable (image, mask) pairs of ``source``, chosen with ``seed``,
    preprocessed by ``pre``."""
    order = np.random.default_rng(seed).permutation(len(source)).tolist()
    images, masks = [], []
    for i in order:
        if len(images) >= max_images:
            break
        try:
            image, mask = source.load(i)
        except DataError as exc:
            warnings.warn(f"skipped for fitting: {exc}", RuntimeWarning, stacklevel=2)
            continue
        if pre is not None:
            image, mask = pre(image, mask)
        images.append(image)
        masks.append(mask)
    return images, masks


def predict_source(
    method: ClassicalMethod,
    params: dict[str, Any],
    source: SegmentationSource,
    *,
    out: Path | None = None,
    score: bool = False,
    pre: Pipeline | None = None,
    post: Pipeline | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Run ``pre``, ``method`` and ``post`` on every image; write ``out/masks/*.png`` (0/255)
    and, for label outputs, ``out/labels/*.png``; score against the labels when ``score``.

    Returns one row per image (``image``, ``seconds`` and the scores) and the files skipped.
    """
    from seglab.core.files import safe_name
    from seglab.io import write_class_mask, write_label_image

    rows, skipped, used = [], [], set()
    for i, item in enumerate(source.items):
        try:
            image = source.load_image(i)
            target = source.load_mask(i) if score else None
        except DataError as exc:
            warnings.warn(f"skipped: {exc}", RuntimeWarning, stacklevel=2)
            skipped.append(str(item.image_path))
            continue
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if pre is not None:
                image, _ = pre(image, None)
            output = postprocessed(method(image, **params), post)
        seconds = time.perf_counter() - t0
        for w in caught:  # name the image in every warning (NaN replaced, ...)
            warnings.warn(f"{item.image_path}: {w.message}", w.category, stacklevel=2)
        mask = as_mask(output)
        row: dict[str, Any] = {"image": item.key, "seconds": seconds}
        if target is not None:
            if target.shape != mask.shape:
                warnings.warn(f"skipped: {item.key}: mask size differs", RuntimeWarning, 2)
                skipped.append(str(item.image_path))
                continue
            row.update(score_mask(mask, target, num_classes=2))
        rows.append(row)
        if out is not None:
            name = safe_name(item.key)
            while name in used:
                name += "_"
            used.add(name)
            write_class_mask(out / "masks" / f"{name}.png", mask, binary=True)
            if method.output == "labels":
                # 16-bit always: seglab evaluate reads a folder of them as objects
                write_label_image(out / "labels" / f"{name}.png", output)
    return rows, skipped


def prepare_output(out: Path, overwrite: bool) -> Path:
    """Create ``out``; a non-empty folder needs ``overwrite``."""
    from seglab.core.files import prepare_out

    return prepare_out(out, overwrite, what="classical results")


def dataset_split(config: DataConfig, split: str) -> SegmentationSource:
    """Open ``split`` of the dataset described by ``config``."""
    from seglab.data import open_dataset

    return open_dataset(config, split=split)


def run_classical(
    method: ClassicalMethod,
    out: str | Path,
    *,
    data: DataConfig | None = None,
    images: SegmentationSource | None = None,
    params: dict[str, Any] | None = None,
    tune: bool = False,
    tune_images: int = 12,
    preprocess: Pipeline | None = None,
    postprocess: Pipeline | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Fit ``method`` on ``data``'s train split (when given), then segment ``images`` (default:
    ``data``'s val split, scored). ``preprocess`` runs on every image first, ``postprocess``
    cleans every mask (both in fitting too). Writes masks, ``scores.csv`` and ``summary.json``.
    """
    out = prepare_output(Path(out), overwrite)
    pre, post = preprocess, postprocess
    train_images, train_masks = [], []
    if data is not None:
        train = dataset_split(data, "train")
        train_images, train_masks = fit_images(train, tune_images, data.seed, pre=pre)
    chosen, trials = fit_method(
        method, train_images, train_masks, params=params, tune=tune, post=post
    )
    score = images is None
    target = dataset_split(data, "val") if images is None and data is not None else images
    if target is None:
        raise DataError("give images to segment (--input) or a labelled dataset (--data)")
    score = score and target.labelled
    rows, skipped = predict_source(method, chosen, target, out=out, score=score, pre=pre, post=post)
    summary = {
        "method": method.name,
        "params": chosen,
        "preprocess": pre.to_config() if pre is not None else [],
        "postprocess": post.to_config() if post is not None else [],
        "tuned": tune,
        "fitted_on": len(train_images),
        "trials": trials,
        "images": len(rows),
        "skipped": skipped,
        "seconds_per_image": float(np.mean([r["seconds"] for r in rows])) if rows else None,
    }
    if score and rows:
        summary["scores"] = summarize(rows)
        write_csv(rows, out / "scores.csv")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary
