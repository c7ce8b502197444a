"""Embedded sample dataset: synthetic photos of cigarette butts lying on the ground.

Nothing is downloaded and no image is stored in seglab: every picture is drawn from a seed, so
``seglab data sample --out DIR`` always writes the same bytes. The layout is the seed notebook's
``cig_butts`` COCO layout::

    DIR/train/images/00000000.jpg ...   DIR/train/coco_annotations.json
    DIR/val/images/00000000.jpg ...     DIR/val/coco_annotations.json
    DIR/test/images/00000000.jpg ...    (no labels)

The scene model is described in :func:`generate_scene`; ``docs/sample.md`` gives the figures.
"""

from __future__ import annotations

import colorsys
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

from seglab import __version__
from seglab.errors import ConfigError, SeglabError

CATEGORY = {"id": 1, "name": "cig_butt", "supercategory": "litter"}
SPLITS = ("train", "val", "test")
JPEG_QUALITY = 90
MIN_SIZE = 64

_SPLIT_KEYS = {"train": 0, "val": 1, "test": 2}
_NUM_OBJECTS_P = (0.05, 0.40, 0.25, 0.18, 0.12)  # P(0, 1, 2, 3, 4 butts in an image)
_GROUNDS = ("asphalt", "grass", "sand", "paving", "soil")
# (hue, saturation, value) ranges of the two colours a ground mixes.
_PALETTES = {
    "asphalt": (((0, 1), (0, 0.12), (0.2, 0.5)), ((0, 1), (0, 0.15), (0.3, 0.65))),
    "grass": (((0.17, 0.32), (0.35, 0.75), (0.22, 0.55)), ((0.08, 0.16), (0.3, 0.6), (0.4, 0.75))),
    "sand": (((0.07, 0.13), (0.15, 0.45), (0.55, 0.88)), ((0.05, 0.12), (0.2, 0.5), (0.4, 0.75))),
    "paving": (((0, 1), (0, 0.35), (0.35, 0.85)), ((0, 1), (0, 0.2), (0.3, 0.8))),
    "soil": (((0.04, 0.1), (0.25, 0.6), (0.2, 0.45)), ((0.05, 0.12), (0.2, 0.5), (0.35, 0.65))),
}
# Mean counts at 512 px: pebbles, gum spots, leaves, twigs, paper scraps; P(road marking).
_CLUTTER = {
    "asphalt": (25, 10, 4, 3, 3.0, 0.4),
    "grass": (5, 0, 12, 7, 2.0, 0.0),
    "sand": (40, 0, 4, 5, 2.0, 0.0),
    "paving": (15, 12, 7, 3, 3.0, 0.25),
    "soil": (40, 0, 8, 8, 2.0, 0.0),
}


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Return the random generator of image ``index`` of ``split`` in the sample of ``seed``.

    Each image has its own stream, so ``generate_scene(scene_rng(0, "val", 7))`` regenerates
    ``val/images/00000007.jpg`` of ``write_sample(out, seed=0)`` (before JPEG), whatever the
    split sizes.
    """
    if split not in _SPLIT_KEYS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_KEYS[split], index]))


def generate_scene(
    rng: np.random.Generator, *, size: int = 512
) -> tuple[np.ndarray, list[list[float]]]:
    """Draw one photo-like scene of cigarette butts on the ground.

    The scene model, in painting order:

    1. ground: asphalt, grass, sand, paving or soil; two random colours mixed by low-frequency
       value noise, multi-scale noise texture and grain, plus the ground's own structure
       (aggregate specks, grass blades, sand ripples, tiles with grout);
    2. clutter sharing the butts' brightness and colours: pebbles (white to dark), chewing-gum
       spots, leaves (green to orange-brown), twigs, paper scraps, worn road markings, each with
       a soft drop shadow;
    3. 0-4 butts (none in about 5 % of the images), never touching each other: a capsule
       (length 30-110 px, width 8-25 px at 512 px, rotated at random, sometimes bent or tapered,
       a boxy filter end and a torn paper end), coloured as a filter part (cork, white or brown)
       and a paper part (white, brown or black, sometimes a gold band or a burnt tip), shaded
       as a lit cylinder, with a drop shadow;
    4. camera: lighting gradient, cast shadows, vignetting, white balance and exposure, some
       blur, sensor noise.

    Every object is painted through exactly the mask that pycocotools rasterises from its
    polygon, so labels are pixel-exact (up to the camera blur and JPEG).

    Parameters
    ----------
    rng:
        The random generator; the scene is a pure function of its state.
    size:
        Side of the square image in pixels (at least 64); sizes scale with ``size / 512``.

    Returns
    -------
    image, polygons:
        The ``size x size x 3`` uint8 RGB image and one flat COCO polygon
        ``[x1, y1, x2, y2, ...]`` (pixel coordinates, inside the image) per butt.

    Examples
    --------
    >>> image, polygons = generate_scene(np.random.default_rng(0), size=128)
    >>> image.shape, image.dtype
    ((128, 128, 3), dtype('uint8'))
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ConfigError(f"size must be an integer >= {MIN_SIZE}, got {size!r}")
    size = int(size)
    sc = size / 512
    sun = rng.uniform(0, 2 * np.pi)
    light = np.array([np.cos(sun), np.sin(sun)])  # towards the light, in the image plane
    shadow_offset = -light * rng.uniform(1.5, 5) * sc

    kind = _GROUNDS[rng.integers(len(_GROUNDS))]
    image = _ground(rng, kind, size, sc)
    _clutter(rng, image, kind, sc, shadow_offset, light)
    image = cv2.GaussianBlur(image, (0, 0), 0.6 * max(sc, 0.5))

    geometries, masks = _place_butts(rng, size, sc)
    ground_colour = image.reshape(-1, 3).mean(0)
    if masks:
        _drop_shadow(image, np.logical_or.reduce(masks), shadow_offset, sc)
    for geometry, mask in zip(geometries, masks, strict=True):
        _paint_butt(rng, image, mask, geometry, light, ground_colour)
    image = _camera(rng, image, sc)
    return image, [g["polygon"] for g in geometries]


def write_sample(
    out: str | Path,
    *,
    n_train: int = 200,
    n_val: int = 50,
    n_test: int = 20,
    size: int = 512,
    seed: int = 0,
    overwrite: bool = False,
) -> dict:
    """Write the sample dataset to ``out`` in the seed's COCO layout and return a summary.

    ``train/`` and ``val/`` hold ``images/NNNNNNNN.jpg`` and ``coco_annotations.json`` (image ids
    from 1, one polygon per butt, ``area`` and ``bbox`` from the rasterised mask, category
    ``cig_butt`` id 1); ``test/images/`` has no labels. Image ``i`` of a split is drawn from
    ``scene_rng(seed, split, i)``, so the same arguments give byte-identical files and changing
    one split's size leaves the other images unchanged.

    Parameters
    ----------
    out:
        Folder to write; created if missing.
    n_train, n_val, n_test:
        Number of images per split.
    size:
        Side of the square images in pixels (at least 64).
    seed:
        Non-negative integer seed of the whole sample.
    overwrite:
        Allow writing into a non-empty ``out``; its ``train/``, ``val/`` and ``test/`` folders
        are deleted first, other files are left alone.

    Returns
    -------
    dict
        ``{"path", "seed", "size", "splits": {split: {"images", "objects", "empty_images"}}}``.

    Raises
    ------
    SeglabError
        If ``out`` is not empty and ``overwrite`` is false, or ``out`` is a file.
    ConfigError
        If a count, ``size`` or ``seed`` is not a valid integer.

    Examples
    --------
    >>> summary = write_sample(tmp_path / "sample", n_train=2, n_val=1, n_test=1)  # doctest: +SKIP
    """
    counts = {"train": n_train, "val": n_val, "test": n_test}
    for name, value in [*((f"n_{k}", v) for k, v in counts.items()), ("seed", seed)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ConfigError(f"size must be an integer >= {MIN_SIZE}, got {size!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SeglabError(f"{out}: exists and is not a folder; choose another output folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise SeglabError(
                f"{out}: folder is not empty; pass overwrite=True (--overwrite) to replace "
                "the sample in it, or choose another output folder"
            )
        for split in SPLITS:
            if (out / split).is_dir():
                shutil.rmtree(out / split)
            elif (out / split).exists():
                (out / split).unlink()

    summary = {"path": str(out), "seed": int(seed), "size": int(size), "splits": {}}
    for split, n in counts.items():
        images_dir = out / split / "images"
        images_dir.mkdir(parents=True, exist_ok=True)
        images, annotations, empty = [], [], 0
        for index in range(n):
            image, polygons = generate_scene(scene_rng(seed, split, index), size=size)
            file_name = f"{index:08d}.jpg"
            Image.fromarray(image).save(
                images_dir / file_name, format="JPEG", quality=JPEG_QUALITY, subsampling=0
            )
            images.append({"id": index + 1, "file_name": file_name, "width": size, "height": size})
            empty += not polygons
            for polygon in polygons:
                rle = mask_utils.merge(mask_utils.frPyObjects([polygon], size, size))
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": index + 1,
                        "category_id": CATEGORY["id"],
                        "segmentation": [polygon],
                        "area": float(mask_utils.area(rle)),
                        "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                        "iscrowd": 0,
                    }
                )
        if split != "test":
            coco = {
                "info": {
                    "description": "seglab sample: synthetic cigarette butts on the ground",
                    "version": __version__,
                    "seed": int(seed),
                    "split": split,
                },
                "licenses": [],
                "images": images,
                "annotations": annotations,
                "categories": [dict(CATEGORY)],
            }
            text = json.dumps(coco, separators=(",", ":"))
            (out / split / "coco_annotations.json").write_text(text + "\n", encoding="utf-8")
        summary["splits"][split] = {"images": n, "objects": len(annotations), "empty_images": empty}
    return summary


# --- ground -------------------------------------------------------------------------------------


def _rgb(rng: np.random.Generator, hsv_ranges) -> np.ndarray:
    h, s, v = (rng.uniform(lo, hi) for lo, hi in hsv_ranges)
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def _noise(rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Value noise in [0, 1]: a random grid of ``cells`` upsampled (bicubic) to ``shape``."""
    grid = rng.random((cells[0] + 1, cells[1] + 1), dtype=np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _fbm(rng: np.random.Generator, size: int, cells: int, octaves: int = 4) -> np.ndarray:
    """Multi-scale value noise, zero mean and unit standard deviation.

    Built at four pixels per cell of the finest octave, then upsampled: far cheaper than at
    full resolution and indistinguishable.
    """
    res = min(size, 4 * (cells << (octaves - 1)))
    out = np.zeros((res, res), np.float32)
    for i in range(octaves):
        c = min(cells << i, res // 2)
        out += np.float32(0.6**i) * _noise(rng, (res, res), (c, c))
    out = (out - out.mean()) / (out.std() + 1e-6)
    return out if res == size else cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)


def _ground(rng: np.random.Generator, kind: str, size: int, sc: float) -> np.ndarray:
    first, second = (_rgb(rng, r) for r in _PALETTES[kind])
    low = min(size, 64)  # the colour mix is low-frequency: draw it small, upsample once
    mix = 1 / (1 + np.exp(-rng.uniform(1, 4) * _fbm(rng, low, 2, 3)))
    image = cv2.resize(first + (second - first) * mix[..., None], (size, size))
    texture = np.float32(rng.uniform(0.05, 0.18)) * _fbm(rng, size, max(2, int(12 * sc)), 4)
    grain = rng.random((size, size), dtype=np.float32) - np.float32(0.5)
    texture += np.float32(rng.uniform(0.07, 0.28)) * grain + np.float32(1)
    image *= texture[..., None]
    if kind in ("asphalt", "soil"):  # aggregate specks, 1-3 px
        half = max(size // 2, 1)
        specks = cv2.resize(rng.random((half, half), dtype=np.float32), (size, size))
        image += (0.3 * (specks > 0.93) - 0.2 * (specks < 0.06))[..., None].astype(np.float32)
    elif kind == "grass":
        _grass_blades(rng, image, first, second, sc)
    elif kind == "sand":
        yy, xx = np.ogrid[:size, :size]
        a, wave = rng.uniform(0, np.pi), rng.uniform(10, 30) * sc
        phase = (xx * np.cos(a) + yy * np.sin(a)) / wave + 0.4 * _fbm(rng, size, 3, 2)
        image *= (1 + rng.uniform(0.03, 0.08) * np.sin(2 * np.pi * phase))[..., None]
    else:
        image *= _tiles(rng, size, sc)
    return image.astype(np.float32, copy=False)


def _grass_blades(rng, image, first, second, sc) -> None:
    size = image.shape[0]
    n = int(2500 * sc * sc)
    start = rng.uniform(0, size, (n, 2))
    angle = rng.normal(rng.uniform(0, np.pi), 0.6, n)
    length = rng.uniform(5, 18, n) * sc
    end = start + length[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    lines = np.round(np.stack([start, end], 1) * 16).astype(np.int32)
    shade = rng.integers(0, 6, n)
    for k in range(6):
        colour = (first if k % 2 else second) * (0.6 + 0.15 * k)
        cv2.polylines(image, list(lines[shade == k]), False, _col(colour), 1, cv2.LINE_8, 4)


def _tiles(rng: np.random.Generator, size: int, sc: float) -> np.ndarray:
    """Paving: a (brick) grid of tiles of jittered colour, grout and darker edges, rotated."""
    w, h = rng.uniform(50, 160, 2) * sc
    brick = rng.random() < 0.5
    big = int(np.ceil(size * 1.42))  # covers the image at any rotation
    rows, cols = int(big / h) + 1, int(big / w) + 2
    # Tile colours on a grid of half-tiles, so that brick rows can shift by half a tile.
    jitter = rng.uniform(0.75, 1.2, (rows, cols, 1)) * rng.uniform(0.92, 1.08, (rows, cols, 3))
    half = np.repeat(jitter.astype(np.float32), 2, axis=1)
    if brick:
        half[1::2] = np.roll(half[1::2], 1, axis=1)
    colour = cv2.resize(half, (round(cols * w), round(rows * h)), interpolation=cv2.INTER_NEAREST)
    colour = colour[:big, :big]
    r, c = np.mgrid[: rows + 1, : cols + 1].astype(np.float32)
    x0 = c * w - (w / 2) * (brick & (r % 2 == 1))
    vertical = np.stack([np.stack([x0, r * h], -1), np.stack([x0, (r + 1) * h], -1)], 2)
    horizontal = np.stack([[[0, y], [big, y]] for y in np.arange(rows + 1) * h])
    grout = np.zeros((big, big), np.float32)
    segments = [*_pts(vertical.reshape(-1, 2, 2)), *_pts(horizontal)]
    thick = max(1, round(rng.uniform(1.5, 4) * sc))
    cv2.polylines(grout, segments, False, 1.0, thick, cv2.LINE_8, 4)
    line = cv2.GaussianBlur(grout, (0, 0), 0.6)
    shade = (1 - 0.6 * cv2.GaussianBlur(grout, (0, 0), 3 * sc)) * (1 - line)
    factor = colour * cv2.merge([shade] * 3) + cv2.merge([rng.uniform(0.45, 0.8) * line] * 3)
    rotation = cv2.getRotationMatrix2D((big / 2, big / 2), rng.uniform(0, 90), 1.0)
    rotation[:, 2] -= (big - size) / 2
    return cv2.warpAffine(factor, rotation, (size, size), flags=cv2.INTER_LINEAR)


# --- clutter ------------------------------------------------------------------------------------


def _col(colour) -> tuple[float, ...]:
    return tuple(float(c) for c in np.atleast_1d(colour))


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * 16).astype(np.int32)


def _ellipse(img, centre, axes, angle, colour) -> None:
    cv2.ellipse(
        img,
        (round(float(centre[0]) * 16), round(float(centre[1]) * 16)),
        (max(1, int(axes[0] * 16)), max(1, int(axes[1] * 16))),
        float(angle), 0, 360, _col(colour), -1, cv2.LINE_8, 4,
    )  # fmt: skip


def _clutter(rng, image, kind, sc, shadow_offset, light) -> None:
    """Paint distractors into ``image`` (in place), each over a soft shadow."""
    size = image.shape[0]
    layer = np.zeros_like(image)
    alpha = np.zeros(image.shape[:2], np.float32)
    shade = np.zeros(image.shape[:2], np.float32)
    pebbles, gum, leaves, twigs, papers, p_marking = _CLUTTER[kind]
    if rng.random() < p_marking:  # worn road marking across the image
        colour = _rgb(rng, ((0.1, 0.16), (0.5, 0.8), (0.7, 0.9)) if rng.random() < 0.4 else
                      ((0, 1), (0, 0.06), (0.75, 0.95)))  # fmt: skip
        c, a = rng.uniform(0, size, 2), rng.uniform(0, np.pi)
        d, n = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
        half = rng.uniform(8, 25) * sc
        quad = [c + 2 * size * d + half * n, c - 2 * size * d + half * n,
                c - 2 * size * d - half * n, c + 2 * size * d - half * n]  # fmt: skip
        band = np.zeros_like(alpha)
        cv2.fillPoly(band, [_pts(quad)], 1.0, cv2.LINE_8, 4)
        band *= _fbm(rng, size, 8, 3) > rng.uniform(-1.2, 0)
        layer[band > 0], alpha[band > 0] = colour, 1
    for _ in range(rng.poisson(pebbles * sc * sc)):
        c, r = rng.uniform(0, size, 2), rng.uniform(2, 11) * sc
        axes, angle = np.array([r, r * rng.uniform(0.5, 1)]), rng.uniform(0, 180)
        colour = _rgb(rng, ((0.04, 0.15), (0, 0.3), (0.3, 0.95)))
        _ellipse(shade, c + shadow_offset, axes, angle, 1.0)
        _ellipse(alpha, c, axes, angle, 1.0)
        _ellipse(layer, c, axes, angle, colour * 0.7)
        _ellipse(layer, c + light * r * 0.2, axes * 0.7, angle, colour)
        _ellipse(layer, c + light * r * 0.4, axes * 0.25, angle, np.minimum(colour * 1.2, 1))
    for _ in range(rng.poisson(gum * sc * sc)):  # flattened chewing gum: flat pale or dark discs
        c, r = rng.uniform(0, size, 2), rng.uniform(3, 10) * sc
        colour = _rgb(rng, ((0, 1), (0, 0.1), (0.25, 0.85)))
        _ellipse(alpha, c, (r, r * 0.9), 0, 1.0)
        _ellipse(layer, c, (r, r * 0.9), 0, colour * 0.85)
        _ellipse(layer, c, (r * 0.75, r * 0.7), 0, colour)
    t = np.linspace(0, np.pi, 9)
    for _ in range(rng.poisson(leaves * sc * sc)):
        length = rng.uniform(12, 45) * sc
        width = length * rng.uniform(0.3, 0.6)
        half = np.stack([length / 2 * np.cos(t), width / 2 * np.sin(t) ** 0.8], 1)
        shape = np.concatenate([half, half[-2:0:-1] * [1, -1]])
        a = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        pts = shape @ rot + rng.uniform(0, size, 2)
        colour = _rgb(rng, ((0.02, 0.3), (0.4, 0.85), (0.25, 0.8)))
        cv2.fillPoly(shade, [_pts(pts + shadow_offset)], 1.0, cv2.LINE_8, 4)
        cv2.fillPoly(alpha, [_pts(pts)], 1.0, cv2.LINE_8, 4)
        cv2.fillPoly(layer, [_pts(pts)], _col(colour), cv2.LINE_8, 4)
        rib = _pts([pts[0], pts[8]])
        cv2.line(layer, rib[0], rib[1], _col(colour * 0.75), 1, cv2.LINE_8, 4)
    for _ in range(rng.poisson(twigs * sc * sc)):
        steps = rng.integers(3, 7)
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.35, steps))
        seg = rng.uniform(8, 30, (steps, 1)) * sc * np.stack([np.cos(heading), np.sin(heading)], 1)
        pts = rng.uniform(0, size, 2) + np.concatenate([[[0, 0]], np.cumsum(seg, 0)])
        colour = _rgb(rng, ((0.04, 0.1), (0.15, 0.5), (0.2, 0.6)))
        thick = max(1, int(rng.uniform(1, 3.5) * sc))
        cv2.polylines(shade, [_pts(pts + shadow_offset)], False, 1.0, thick, cv2.LINE_8, 4)
        cv2.polylines(alpha, [_pts(pts)], False, 1.0, thick, cv2.LINE_8, 4)
        cv2.polylines(layer, [_pts(pts)], False, _col(colour), thick, cv2.LINE_8, 4)
        cv2.polylines(layer, [_pts(pts + light * 0.5)], False, _col(colour * 1.3), 1, 8, 4)
    for _ in range(rng.poisson(papers * sc * sc)):  # paper scraps and wrappers, folded once
        r = rng.uniform(8, 30) * sc
        angles = np.sort(rng.uniform(0, 2 * np.pi, 4))
        radii = r * rng.uniform(0.6, 1.0, (4, 1))
        pts = rng.uniform(0, size, 2) + radii * np.stack([np.cos(angles), np.sin(angles)], 1)
        white = rng.random() < 0.7
        colour = _rgb(
            rng, ((0, 1), (0, 0.1), (0.75, 1)) if white else ((0, 1), (0.4, 0.9), (0.3, 0.9))
        )
        cv2.fillPoly(shade, [_pts(pts + shadow_offset)], 1.0, cv2.LINE_8, 4)
        cv2.fillPoly(alpha, [_pts(pts)], 1.0, cv2.LINE_8, 4)
        cv2.fillPoly(layer, [_pts(pts)], _col(colour), cv2.LINE_8, 4)
        cv2.fillPoly(layer, [_pts(pts[:3])], _col(colour * 0.85), cv2.LINE_8, 4)
    shade = cv2.GaussianBlur(shade, (0, 0), 1.5 * max(sc, 0.5))
    image *= (1 - rng.uniform(0.25, 0.45) * shade)[..., None]
    image[alpha > 0] = layer[alpha > 0]


# --- butts --------------------------------------------------------------------------------------


def _butt_geometry(rng: np.random.Generator, size: int, sc: float) -> dict:
    """A capsule along a (slightly bent) centre line, with its outline as a COCO polygon."""
    width = rng.uniform(8, 25) * sc
    length = float(np.clip(width * rng.uniform(2.2, 5.0), 30 * sc, 110 * sc))
    a = rng.uniform(0, 2 * np.pi)
    d, n = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    bend = rng.uniform(-0.15, 0.15) if rng.random() < 0.5 else 0.0
    taper = rng.uniform(0, 0.2) if rng.random() < 0.5 else 0.0
    margin = min(length / 2 + width + 2, size / 2 - 1)
    centre = rng.uniform(margin, size - margin, 2)

    t = np.linspace(0, 1, 16)
    offset = bend * length * (0.25 - (t - 0.5) ** 2)
    line = centre + ((t - 0.5) * length)[:, None] * d + offset[:, None] * n
    tangent = length * d + (-2 * bend * length * (t - 0.5))[:, None] * n
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], 1)
    hw = width / 2 * (1 - taper * t)[:, None]
    phi = np.linspace(-np.pi / 2, np.pi / 2, 9)[1:-1]
    box = rng.uniform(0.25, 0.8)  # the filter end is cut square, with rounded corners
    along = np.sign(np.cos(phi)) * np.abs(np.cos(phi)) ** box * rng.uniform(0.5, 0.9)
    cap0 = line[0] + hw[0] * (-along[:, None] * tangent[0] + np.sin(phi)[:, None] * normal[0])
    torn = rng.uniform(0.6, 1.0) * (1 + rng.uniform(-0.2, 0.2, len(phi)))  # the paper end
    cap1 = line[-1] + hw[-1] * (
        (torn * np.cos(phi))[:, None] * tangent[-1] - np.sin(phi)[:, None] * normal[-1]
    )
    outline = np.concatenate([line + hw * normal, cap1, (line - hw * normal)[::-1], cap0])
    outline = np.clip(outline, 0.5, size - 0.5)
    polygon = [round(float(v), 2) for v in outline.ravel()]
    return {"polygon": polygon, "centre": centre, "d": d, "n": n, "length": length,
            "width": width, "bend": bend, "taper": taper}  # fmt: skip


def _rasterise(polygon: list[float], size: int) -> np.ndarray:
    rle = mask_utils.merge(mask_utils.frPyObjects([polygon], size, size))
    return mask_utils.decode(rle).astype(bool)


def _place_butts(rng, size, sc) -> tuple[list[dict], list[np.ndarray]]:
    """Rejection-sample up to 4 non-touching butts; return their geometries and masks."""
    count = rng.choice(len(_NUM_OBJECTS_P), p=_NUM_OBJECTS_P)
    taken = np.zeros((size, size), np.uint8)
    gap = np.ones((2 * max(2, int(6 * sc)) + 1,) * 2, np.uint8)
    geometries, masks = [], []
    for _ in range(count):
        for _attempt in range(20):
            geometry = _butt_geometry(rng, size, sc)
            mask = _rasterise(geometry["polygon"], size)
            if mask.any() and not taken[mask].any():
                geometries.append(geometry)
                masks.append(mask)
                taken |= cv2.dilate(mask.astype(np.uint8), gap)
                break
    return geometries, masks


def _drop_shadow(image, mask, shadow_offset, sc) -> None:
    shift = np.float32([[1, 0, shadow_offset[0]], [0, 1, shadow_offset[1]]])
    size = image.shape[0]
    shadow = cv2.warpAffine(mask.astype(np.float32), shift, (size, size))
    shadow = cv2.GaussianBlur(shadow, (0, 0), 2 * max(sc, 0.5))
    image *= (1 - 0.5 * shadow)[..., None]


def _butt_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    u = rng.random()
    if u < 0.55:  # cork tipping paper
        filter_ = _rgb(rng, ((0.06, 0.1), (0.45, 0.8), (0.6, 0.9)))
    elif u < 0.9:
        filter_ = _rgb(rng, ((0.08, 0.15), (0, 0.15), (0.78, 0.95)))
    else:
        filter_ = _rgb(rng, ((0.05, 0.1), (0.3, 0.6), (0.25, 0.5)))
    u = rng.random()
    if u < 0.8:
        paper = _rgb(rng, ((0, 1), (0, 0.08), (0.82, 0.97)))
    elif u < 0.95:
        paper = _rgb(rng, ((0.07, 0.1), (0.25, 0.45), (0.55, 0.8)))
    else:
        paper = _rgb(rng, ((0, 1), (0, 0.2), (0.12, 0.25)))
    return filter_, paper


def _paint_butt(rng, image, mask, g, light, ground_colour) -> None:
    """Paint one butt on exactly the pixels of ``mask``."""
    ys, xs = np.nonzero(mask)
    y0, x0 = ys.min(), xs.min()
    h, w = ys.max() - y0 + 1, xs.max() - x0 + 1
    rel = np.stack([xs + 0.5, ys + 0.5], 1) - g["centre"]
    along, across = rel @ g["d"], rel @ g["n"]
    length, hw0 = g["length"], g["width"] / 2
    t = np.clip(along / length + 0.5, 0, 1)
    hw = hw0 * (1 - g["taper"] * t)
    s = np.clip((across - g["bend"] * length * (0.25 - (t - 0.5) ** 2)) / hw, -1, 1)
    beyond = np.maximum(np.abs(along) - length / 2, 0) / hw
    z = np.sqrt(np.clip(1 - s**2 - beyond**2, 0, 1))

    filter_, paper = _butt_colours(rng)
    f = rng.uniform(0.25, 0.45)
    cells = (max(1, h // 3), max(1, w // 3))
    blotch = _noise(rng, (h, w), cells)[ys - y0, xs - x0]
    colour = np.where((t < f)[:, None], filter_ * (1 + 0.3 * (blotch - 0.5))[:, None], paper)
    if rng.random() < 0.3:  # gold or silver band at the filter's edge
        band = _rgb(rng, ((0.1, 0.14), (0, 0.6), (0.6, 0.85)))
        colour[(t >= f) & (t < f + rng.uniform(0.02, 0.05))] = band
    if rng.random() < 0.45:  # burnt tip
        ash = 1 - rng.uniform(0.03, 0.12)
        colour[t > ash - 0.04] = colour[t > ash - 0.04] * 0.6 + np.float32([0.2, 0.13, 0.07])
        colour[t > ash] = rng.uniform(0.12, 0.35) * (0.7 + 0.6 * blotch[t > ash, None])
    crumple = rng.uniform(0, 0.12)
    colour *= (1 + crumple * np.sin(rng.uniform(3, 9) * s + 6 * blotch))[:, None]
    dirt = rng.uniform(0, 0.35)
    colour = colour * (1 - dirt * blotch[:, None]) + ground_colour * dirt * blotch[:, None]

    elevation = rng.uniform(0.3, 1.2)
    side = np.cos(elevation) * float(light @ g["n"])
    lambert = np.clip(side * s + np.sin(elevation) * z, 0, 1)
    gloss = rng.uniform(0, 0.2) * lambert**12
    shading = rng.uniform(0.75, 1.05) * (0.3 + 0.75 * lambert)
    image[ys, xs] = colour * shading[:, None] + gloss[:, None]


# --- camera -------------------------------------------------------------------------------------


def _camera(rng: np.random.Generator, image: np.ndarray, sc: float) -> np.ndarray:
    """Lighting gradient, cast shadows, vignetting, white balance, blur, noise; to uint8."""
    size = image.shape[0]
    low = min(size, 128)  # illumination is smooth: compute the gain small, upsample once
    yy, xx = (v.astype(np.float32) / low - 0.5 for v in np.ogrid[:low, :low])
    a = rng.uniform(0, 2 * np.pi)
    gain = 1 + rng.uniform(0.1, 0.6) * (xx * np.cos(a) + yy * np.sin(a))
    gain = gain + rng.uniform(0.03, 0.1) * _fbm(rng, low, 2, 2)
    gain = (gain * (1 - rng.uniform(0, 0.6) * (xx**2 + yy**2)))[..., None]
    if rng.random() < 0.45:  # shadows of trees, poles, people
        shadow = (_fbm(rng, low, 2, 3) > rng.uniform(0.2, 1.0)).astype(np.float32)
        shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(2, 10) * sc * low / size)
        tint = np.float32([0.92, 0.96, 1.05])
        gain = gain * (1 - rng.uniform(0.35, 0.6) * shadow[..., None] * tint)
    gain = gain * (rng.uniform(0.9, 1.1, 3) * rng.uniform(0.8, 1.2))
    image *= cv2.resize(gain.astype(np.float32), (size, size))
    if rng.random() < 0.6:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0) * max(sc, 0.5))
    sigma = np.float32(rng.uniform(0.005, 0.025) * np.sqrt(12))  # uniform noise of that std
    noise = rng.random((size, size, 4), dtype=np.float32) - np.float32(0.5)
    image += sigma * (noise[..., :1] + np.float32(0.5) * noise[..., 1:])
    np.maximum(image, 0, out=image)
    return cv2.convertScaleAbs(image, alpha=255)
