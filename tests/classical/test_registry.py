"""Every registered classical method: runs on known images, edge cases, grids, parameters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from seglab.classical import METHODS, get_method
from seglab.classical.fit import as_mask
from seglab.errors import ConfigError
from seglab.evaluation.metrics import dice


def _disc_image(size=48, *, bright=True, seed=0):
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2
    rng = np.random.default_rng(seed)
    lo, hi = (0.3, 0.7) if bright else (0.7, 0.3)
    gray = np.where(disc, hi, lo) + rng.normal(0, 0.03, disc.shape)
    image = (np.clip(np.stack([gray] * 3, -1), 0, 1) * 255).astype(np.uint8)
    return image, disc


# a stated lower bound per method on a clean two-level disc (bright object, polarity given)
# (triangle assumes one dominant histogram peak; here the object is 20 % of the pixels)
BOUNDS = {"snake": 0.6, "slic": 0.8, "felzenszwalb": 0.8, "triangle": 0.5}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_finds_a_bright_disc(name):
    image, disc = _disc_image()
    method = get_method(name)
    params = {"polarity": "bright"} if "polarity" in method.parameters else {}
    if name == "kmeans":
        params = method.fit([image], [disc.astype(np.int64)])
    out = method(image, **params)
    assert out.shape == disc.shape
    assert dice(as_mask(out), disc) >= BOUNDS.get(name, 0.85)


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize(
    "image",
    [
        np.full((16, 16, 3), 77, np.uint8),  # constant: no threshold
        np.zeros((1, 1, 3), np.uint8),
        np.array([[0, 255], [255, 0]], np.uint8),
        np.full((8, 8, 4), 200, np.uint8),  # RGBA
    ],
    ids=["constant", "1x1", "2x2-gray", "rgba"],
)
def test_edge_images_give_a_mask_of_the_same_size(name, image):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = get_method(name)(image)
    assert out.shape == image.shape[:2]
    if image.min() == image.max():
        assert not as_mask(out).any()  # constant image: all background


def test_grids_only_use_real_parameters():
    for method in METHODS.values():
        assert set(method.grid) <= set(method.parameters), method.name
        n = int(np.prod([len(v) for v in method.grid.values()])) if method.grid else 1
        assert n <= 12, f"{method.name}: grid of {n} combinations is too large to tune quickly"


def test_unknown_method_and_parameter_are_named():
    with pytest.raises(ConfigError, match=r"unknown classical method 'otsuu'.*otsu"):
        get_method("otsuu")
    with pytest.raises(ConfigError, match=r"otsu: unknown parameter\(s\) \['bogus'\]"):
        get_method("otsu").check_params({"bogus": 1})


def test_watershed_outputs_labels_per_object():
    yy, xx = np.mgrid[:48, :64]
    discs = ((yy - 24) ** 2 + (xx - 20) ** 2 < 144) | ((yy - 24) ** 2 + (xx - 42) ** 2 < 144)
    image = (discs * 200 + 30).astype(np.uint8)
    labels = get_method("watershed")(image, polarity="bright")
    assert get_method("watershed").output == "labels"
    assert len(np.unique(labels[labels > 0])) == 2
