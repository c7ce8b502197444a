"""An untrained instance run that finds several objects in a few small images, for tests of what
is written from an instance run's predictions (not of their quality)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZES = ((32, 32), (40, 28), (24, 36))
"""Three sizes, so each image is a batch of its own and every output's size is checked."""


def write_blob_images(folder: Path) -> Path:
    """Three images of bright discs on a dark ground (``img0.png``..``img2.png``): structure a
    random network's output follows, so its objects differ from image to image."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, (height, width) in enumerate(SIZES):
        rng = np.random.default_rng(index)
        image = np.full((height, width, 3), 20, np.uint8)
        yy, xx = np.indices((height, width))
        for _ in range(6):
            cy, cx, r = rng.integers(3, height - 3), rng.integers(3, width - 3), rng.integers(2, 6)
            image[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = rng.integers(150, 255, 3)
        Image.fromarray(image).save(folder / f"img{index}.png")
    return folder


def busy_instance_run(run_dir: Path, images: Path, *, category_ids=None) -> Path:
    """:func:`tests.builders.tiny_instance_run` with its card's cut thresholds set from the
    network's own probabilities on ``images``, so the random weights cut each image into
    several objects of many sizes (the default thresholds make one object of a whole image)."""
    from seglab.io import read_image
    from seglab.models.card import InstanceSpec
    from seglab.predict.model import LoadedModel
    from tests.builders import tiny_instance_run

    tiny_instance_run(run_dir, seed=1, category_ids=category_ids)
    loaded = LoadedModel(run_dir, device="cpu", backend="torch")
    arrays = [read_image(path)[0] for path in sorted(images.glob("*.png"))]
    probs = loaded.predict_proba_batch(arrays)
    foreground = np.concatenate([(1 - p[0]).ravel() for p in probs])
    interior = np.concatenate([p[1:-1].sum(0).ravel() for p in probs])
    spec = InstanceSpec(
        foreground=float(np.quantile(foreground, 0.35)), seed=float(np.quantile(interior, 0.8))
    )
    return tiny_instance_run(run_dir, seed=1, category_ids=category_ids, instance=spec)
