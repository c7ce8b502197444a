"""``seglab data preview``: overlay PNGs (image | coloured mask with contours) of a few
items of a dataset and a contact sheet of them (drawing: :mod:`seglab.core.overlay`).

numpy + OpenCV + Pillow only (no matplotlib, no torch), so it works on any machine.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from seglab.core.files import prepare_out, safe_name, unique_name
from seglab.core.overlay import BACKDROP, make_grid, overlay, to_display
from seglab.data.base import SegmentationSource, logger
from seglab.errors import ConfigError, DataError

MAX_PREVIEW_SIDE = 1024  # panels of larger images are downscaled to this side


def _shrink(image: np.ndarray, mask: np.ndarray | None, side: int):
    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image, mask
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(to_display(image), size, interpolation=cv2.INTER_AREA)
    if mask is not None:
        mask = cv2.resize(mask.astype(np.int32), size, interpolation=cv2.INTER_NEAREST)
    return small, mask


def _side_by_side(left: np.ndarray, right: np.ndarray, pad: int = 4) -> np.ndarray:
    h, w = left.shape[:2]
    panel = np.full((h, 2 * w + pad, 3), BACKDROP, np.uint8)
    panel[:, :w] = left
    panel[:, w + pad :] = right
    return panel


def pick_indices(n: int, num: int, seed: int) -> list[int]:
    """``num`` sorted indices of ``range(n)`` drawn with ``seed`` (all of them if ``n <= num``)."""
    if num >= n:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=num, replace=False).tolist())


def write_previews(
    source: SegmentationSource,
    out: str | Path,
    *,
    num: int = 16,
    seed: int = 0,
    overwrite: bool = False,
) -> list[Path]:
    """Write preview PNGs of ``num`` items of ``source`` and a grid of them; return the paths.

    For each picked item ``out/<safe key>.png`` shows the image beside its overlay
    (:func:`overlay`; unlabelled sources: the image alone); ``out/grid.png`` shows all overlays
    labelled with their keys and comes last in the returned list. Items are drawn with ``seed``
    and kept in dataset order. Images larger than ``MAX_PREVIEW_SIDE`` are shown downscaled.
    An item that cannot be read is skipped with a warning naming the file.

    Raises
    ------
    SeglabError
        ``out`` is a non-empty folder and ``overwrite`` is false, or ``out`` is a file.
    ConfigError
        ``num`` is not an integer >= 1.
    DataError
        The source is empty, or none of the picked items could be read.

    Examples
    --------
    >>> paths = write_previews(source, "preview", num=8)  # doctest: +SKIP
    >>> paths[-1].name  # doctest: +SKIP
    'grid.png'
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ConfigError(f"num must be an integer >= 1, got {num!r}")
    if len(source) == 0:
        raise DataError("the dataset has no usable images to preview", path=source.root)
    out = prepare_out(out, overwrite, what="previews")
    used, paths, tiles, labels, skipped = {"grid"}, [], [], [], []
    for index in pick_indices(len(source), int(num), seed):
        item = source.items[index]
        try:
            if source.labelled:
                image, mask = source.load(index)
            else:
                image, mask = source.load_image(index), None
        except DataError as exc:
            warnings.warn(
                f"preview: skipping unreadable item {item.key!r}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            skipped.append(str(exc))
            continue
        image, mask = _shrink(image, mask, MAX_PREVIEW_SIDE)
        shown = to_display(image)
        if mask is not None:
            tile = overlay(shown, mask, num_classes=source.num_classes)
            panel = _side_by_side(shown, tile)
        else:
            tile = panel = shown
        path = out / f"{unique_name(safe_name(item.key), used)}.png"
        Image.fromarray(panel).save(path, format="PNG")
        paths.append(path)
        tiles.append(tile)
        labels.append(item.key)
    if skipped:
        logger.warning("preview: %d unreadable item(s) skipped", len(skipped))
    if not tiles:
        raise DataError(
            f"none of the {len(skipped)} picked images could be read (first: {skipped[0]})",
            path=source.root,
        )
    grid = out / "grid.png"
    Image.fromarray(make_grid(tiles, labels=labels)).save(grid, format="PNG")
    paths.append(grid)
    return paths


__all__ = ["MAX_PREVIEW_SIDE", "pick_indices", "write_previews"]
