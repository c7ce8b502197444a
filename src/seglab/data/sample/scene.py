"""Synthetic photos of cigarette butts lying on the ground, each drawn from a random generator.

:func:`generate_scene` composes one picture: a ground (:mod:`seglab.data.sample.textures`), clutter,
up to four butts and the camera. :mod:`seglab.data.sample` writes scenes as a COCO dataset;
``docs/sample.md`` gives the figures.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from seglab.data.rle import polygons_to_mask
from seglab.data.sample.textures import (
    GROUNDS,
    cv_colour,
    cv_points,
    draw_ground,
    fbm,
    random_colour,
    value_noise,
)
from seglab.errors import ConfigError

MIN_SIZE = 64

_NUM_OBJECTS_P = (0.05, 0.40, 0.25, 0.18, 0.12)  # P(0, 1, 2, 3, 4 butts in an image)
# Mean counts at 512 px: pebbles, gum spots, leaves, twigs, paper scraps; P(road marking).
_CLUTTER = {
    "asphalt": (25, 10, 4, 3, 3.0, 0.4),
    "grass": (5, 0, 12, 7, 2.0, 0.0),
    "sand": (40, 0, 4, 5, 2.0, 0.0),
    "paving": (15, 12, 7, 3, 3.0, 0.25),
    "soil": (40, 0, 8, 8, 2.0, 0.0),
}


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

    kind = GROUNDS[rng.integers(len(GROUNDS))]
    image = draw_ground(rng, kind, size, sc)
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


# --- clutter ------------------------------------------------------------------------------------


def _ellipse(img, centre, axes, angle, colour) -> None:
    cv2.ellipse(
        img,
        (round(float(centre[0]) * 16), round(float(centre[1]) * 16)),
        (max(1, int(axes[0] * 16)), max(1, int(axes[1] * 16))),
        float(angle), 0, 360, cv_colour(colour), -1, cv2.LINE_8, 4,
    )  # fmt: skip


class _Canvas(NamedTuple):
    """What the clutter painters draw into, and the scene's scale and light."""

    layer: np.ndarray  # colours of the distractors
    alpha: np.ndarray  # 1 where a distractor covers the ground
    shade: np.ndarray  # 1 where a distractor casts its shadow (blurred later)
    sc: float
    shadow_offset: np.ndarray
    light: np.ndarray


def _clutter(rng, image, kind, sc, shadow_offset, light) -> None:
    """Paint distractors into ``image`` (in place), each over a soft shadow.

    The painters run in a fixed order, each drawing its count first: the random stream, and so
    the sample, depends on that order.
    """
    alpha = np.zeros(image.shape[:2], np.float32)
    canvas = _Canvas(np.zeros_like(image), alpha, np.zeros_like(alpha), sc, shadow_offset, light)
    pebbles, gum, leaves, twigs, papers, p_marking = _CLUTTER[kind]
    if rng.random() < p_marking:  # worn road marking across the image
        _road_marking(rng, canvas)
    for _ in range(rng.poisson(pebbles * sc * sc)):
        _pebble(rng, canvas)
    for _ in range(rng.poisson(gum * sc * sc)):
        _gum(rng, canvas)
    for _ in range(rng.poisson(leaves * sc * sc)):
        _leaf(rng, canvas)
    for _ in range(rng.poisson(twigs * sc * sc)):
        _twig(rng, canvas)
    for _ in range(rng.poisson(papers * sc * sc)):
        _paper(rng, canvas)
    shade = cv2.GaussianBlur(canvas.shade, (0, 0), 1.5 * max(sc, 0.5))
    image *= (1 - rng.uniform(0.25, 0.45) * shade)[..., None]
    image[canvas.alpha > 0] = canvas.layer[canvas.alpha > 0]


def _road_marking(rng: np.random.Generator, canvas: _Canvas) -> None:
    """A worn painted band across the whole image, yellow or white."""
    size = canvas.layer.shape[0]
    colour = random_colour(rng, ((0.1, 0.16), (0.5, 0.8), (0.7, 0.9)) if rng.random() < 0.4
                           else ((0, 1), (0, 0.06), (0.75, 0.95)))  # fmt: skip
    c, a = rng.uniform(0, size, 2), rng.uniform(0, np.pi)
    d, n = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    half = rng.uniform(8, 25) * canvas.sc
    quad = [c + 2 * size * d + half * n, c - 2 * size * d + half * n,
            c - 2 * size * d - half * n, c + 2 * size * d - half * n]  # fmt: skip
    band = np.zeros_like(canvas.alpha)
    cv2.fillPoly(band, [cv_points(quad)], 1.0, cv2.LINE_8, 4)
    band *= fbm(rng, size, 8, 3) > rng.uniform(-1.2, 0)
    canvas.layer[band > 0], canvas.alpha[band > 0] = colour, 1


def _pebble(rng: np.random.Generator, canvas: _Canvas) -> None:
    """A pebble, white to dark: an ellipse lit from ``light``."""
    layer, sc, light = canvas.layer, canvas.sc, canvas.light
    c, r = rng.uniform(0, layer.shape[0], 2), rng.uniform(2, 11) * sc
    axes, angle = np.array([r, r * rng.uniform(0.5, 1)]), rng.uniform(0, 180)
    colour = random_colour(rng, ((0.04, 0.15), (0, 0.3), (0.3, 0.95)))
    _ellipse(canvas.shade, c + canvas.shadow_offset, axes, angle, 1.0)
    _ellipse(canvas.alpha, c, axes, angle, 1.0)
    _ellipse(layer, c, axes, angle, colour * 0.7)
    _ellipse(layer, c + light * r * 0.2, axes * 0.7, angle, colour)
    _ellipse(layer, c + light * r * 0.4, axes * 0.25, angle, np.minimum(colour * 1.2, 1))


def _gum(rng: np.random.Generator, canvas: _Canvas) -> None:
    """Flattened chewing gum: a flat pale or dark disc, without a shadow."""
    layer = canvas.layer
    c, r = rng.uniform(0, layer.shape[0], 2), rng.uniform(3, 10) * canvas.sc
    colour = random_colour(rng, ((0, 1), (0, 0.1), (0.25, 0.85)))
    _ellipse(canvas.alpha, c, (r, r * 0.9), 0, 1.0)
    _ellipse(layer, c, (r, r * 0.9), 0, colour * 0.85)
    _ellipse(layer, c, (r * 0.75, r * 0.7), 0, colour)


def _leaf(rng: np.random.Generator, canvas: _Canvas) -> None:
    """A leaf, green to orange-brown, with its midrib."""
    layer = canvas.layer
    t = np.linspace(0, np.pi, 9)
    length = rng.uniform(12, 45) * canvas.sc
    width = length * rng.uniform(0.3, 0.6)
    half = np.stack([length / 2 * np.cos(t), width / 2 * np.sin(t) ** 0.8], 1)
    shape = np.concatenate([half, half[-2:0:-1] * [1, -1]])
    a = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    pts = shape @ rot + rng.uniform(0, layer.shape[0], 2)
    colour = random_colour(rng, ((0.02, 0.3), (0.4, 0.85), (0.25, 0.8)))
    cv2.fillPoly(canvas.shade, [cv_points(pts + canvas.shadow_offset)], 1.0, cv2.LINE_8, 4)
    cv2.fillPoly(canvas.alpha, [cv_points(pts)], 1.0, cv2.LINE_8, 4)
    cv2.fillPoly(layer, [cv_points(pts)], cv_colour(colour), cv2.LINE_8, 4)
    rib = cv_points([pts[0], pts[8]])
    cv2.line(layer, rib[0], rib[1], cv_colour(colour * 0.75), 1, cv2.LINE_8, 4)


def _twig(rng: np.random.Generator, canvas: _Canvas) -> None:
    """A twig: a random walk of 3-6 segments, with a lit edge."""
    layer, sc = canvas.layer, canvas.sc
    steps = rng.integers(3, 7)
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.35, steps))
    seg = rng.uniform(8, 30, (steps, 1)) * sc * np.stack([np.cos(heading), np.sin(heading)], 1)
    pts = rng.uniform(0, layer.shape[0], 2) + np.concatenate([[[0, 0]], np.cumsum(seg, 0)])
    colour = random_colour(rng, ((0.04, 0.1), (0.15, 0.5), (0.2, 0.6)))
    thick = max(1, int(rng.uniform(1, 3.5) * sc))
    shadow = [cv_points(pts + canvas.shadow_offset)]
    cv2.polylines(canvas.shade, shadow, False, 1.0, thick, cv2.LINE_8, 4)
    cv2.polylines(canvas.alpha, [cv_points(pts)], False, 1.0, thick, cv2.LINE_8, 4)
    cv2.polylines(layer, [cv_points(pts)], False, cv_colour(colour), thick, cv2.LINE_8, 4)
    cv2.polylines(
        layer, [cv_points(pts + canvas.light * 0.5)], False, cv_colour(colour * 1.3), 1, 8, 4
    )


def _paper(rng: np.random.Generator, canvas: _Canvas) -> None:
    """A paper scrap or wrapper, folded once."""
    layer = canvas.layer
    r = rng.uniform(8, 30) * canvas.sc
    angles = np.sort(rng.uniform(0, 2 * np.pi, 4))
    radii = r * rng.uniform(0.6, 1.0, (4, 1))
    pts = rng.uniform(0, layer.shape[0], 2) + radii * np.stack([np.cos(angles), np.sin(angles)], 1)
    white = rng.random() < 0.7
    colour = random_colour(
        rng, ((0, 1), (0, 0.1), (0.75, 1)) if white else ((0, 1), (0.4, 0.9), (0.3, 0.9))
    )
    cv2.fillPoly(canvas.shade, [cv_points(pts + canvas.shadow_offset)], 1.0, cv2.LINE_8, 4)
    cv2.fillPoly(canvas.alpha, [cv_points(pts)], 1.0, cv2.LINE_8, 4)
    cv2.fillPoly(layer, [cv_points(pts)], cv_colour(colour), cv2.LINE_8, 4)
    cv2.fillPoly(layer, [cv_points(pts[:3])], cv_colour(colour * 0.85), cv2.LINE_8, 4)


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
    return polygons_to_mask([polygon], size, size).astype(bool)


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
        filter_ = random_colour(rng, ((0.06, 0.1), (0.45, 0.8), (0.6, 0.9)))
    elif u < 0.9:
        filter_ = random_colour(rng, ((0.08, 0.15), (0, 0.15), (0.78, 0.95)))
    else:
        filter_ = random_colour(rng, ((0.05, 0.1), (0.3, 0.6), (0.25, 0.5)))
    u = rng.random()
    if u < 0.8:
        paper = random_colour(rng, ((0, 1), (0, 0.08), (0.82, 0.97)))
    elif u < 0.95:
        paper = random_colour(rng, ((0.07, 0.1), (0.25, 0.45), (0.55, 0.8)))
    else:
        paper = random_colour(rng, ((0, 1), (0, 0.2), (0.12, 0.25)))
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
    blotch = value_noise(rng, (h, w), cells)[ys - y0, xs - x0]
    colour = np.where((t < f)[:, None], filter_ * (1 + 0.3 * (blotch - 0.5))[:, None], paper)
    if rng.random() < 0.3:  # gold or silver band at the filter's edge
        band = random_colour(rng, ((0.1, 0.14), (0, 0.6), (0.6, 0.85)))
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
    gain = gain + rng.uniform(0.03, 0.1) * fbm(rng, low, 2, 2)
    gain = (gain * (1 - rng.uniform(0, 0.6) * (xx**2 + yy**2)))[..., None]
    if rng.random() < 0.45:  # shadows of trees, poles, people
        shadow = (fbm(rng, low, 2, 3) > rng.uniform(0.2, 1.0)).astype(np.float32)
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


__all__ = ["MIN_SIZE", "generate_scene"]
