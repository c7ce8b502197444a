"""Tests of seglab.transforms.augment: albumentations by name, presets, mosaic and copy-paste."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage

from seglab.errors import ConfigError
from seglab.transforms.augment import (
    AUGMENTATIONS,
    PRESETS,
    Augmentation,
    build_augment,
    copy_paste,
    mosaic,
)

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

ALBUMENTATIONS_NAMES = [name for name, spec in AUGMENTATIONS.items() if spec.kind != "mix"]
PIXEL_NAMES = [name for name, spec in AUGMENTATIONS.items() if spec.kind == "pixel"]


def make_image(kind: str, h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "float":  # normalised: negative values, beyond [0, 1]
        return rng.normal(0.0, 1.5, (h, w, 3)).astype(np.float32)
    channels = {"gray": 1, "rgb": 3, "rgba": 4}[kind]
    return rng.integers(0, 256, (h, w, channels)).astype(np.uint8)


def make_mask(h: int = 32, w: int = 32) -> np.ndarray:
    mask = np.zeros((h, w), np.int64)
    mask[4:20, 6:18] = 1
    mask[20:28, 16:30] = 3
    mask[0:3, 0:3] = 255
    return mask


def disc(h: int = 64, w: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """A bright (200) disc of class 1 on a dark (30) background, RGB."""
    yy, xx = np.mgrid[:h, :w]
    mask = (((yy - h / 2) ** 2 + (xx - w / 2.3) ** 2) < 15**2).astype(np.int64)
    image = np.where(mask == 1, 200, 30).astype(np.uint8)[..., None].repeat(3, axis=2)
    return image, mask


# --- registry, presets, specs ---------------------------------------------------------------


def test_registry_and_presets():
    assert list(AUGMENTATIONS) == [
        *["flip", "rotate90", "rotate", "shift_scale", "brightness_contrast", "gamma"],
        *["elastic", "noise", "blur", "mosaic", "copy_paste"],
    ]
    assert PRESETS["none"] == []
    assert PRESETS["light"] == ["flip", "shift_scale"]
    assert PRESETS["default"] == ["flip", "rotate", "shift_scale", "brightness_contrast"]
    heavy_extra = {"elastic", "noise", "blur", "gamma", "mosaic", "copy_paste"}
    assert set(PRESETS["heavy"]) == set(PRESETS["default"]) | heavy_extra
    assert PRESETS["heavy"][:4] == PRESETS["default"]
    for spec in AUGMENTATIONS.values():
        assert 0 < spec.p <= 1
        assert (spec.factory is None) == (spec.kind == "mix")


@pytest.mark.parametrize("spec", [None, "none", "", [], ["none"]])
def test_none_does_nothing(spec):
    aug = build_augment(spec)
    assert not aug
    assert aug.names == () and aug.to_config() == []
    assert aug.mosaic_p == aug.copy_paste_p == 0.0
    image, mask = make_image("rgb"), make_mask()
    out_image, out_mask = aug.apply(image, mask, seed=3)
    assert out_image.dtype == np.uint8 and out_mask.dtype == np.int64
    assert np.array_equal(out_image, image) and np.array_equal(out_mask, mask)


def test_presets_and_names_mix_in_order_without_repeats():
    aug = build_augment("default,elastic,flip,mosaic")
    assert aug.names == (
        "flip",
        "rotate",
        "shift_scale",
        "brightness_contrast",
        "elastic",
        "mosaic",
    )
    assert aug.mosaic_p == AUGMENTATIONS["mosaic"].p and aug.copy_paste_p == 0.0
    aug = build_augment(["light", " Default ", "copy-paste"])
    assert aug.names == ("flip", "shift_scale", "rotate", "brightness_contrast", "copy_paste")
    heavy = build_augment("heavy")
    assert heavy.names == tuple(PRESETS["heavy"]) and heavy
    assert heavy.mosaic_p == 0.3 and heavy.copy_paste_p == 0.3


def test_probability_override_and_config_round_trip():
    aug = build_augment("default,rotate:p=0.2,mosaic:p=1")
    assert aug.names == ("flip", "rotate", "shift_scale", "brightness_contrast", "mosaic")
    assert aug.probability("rotate") == 0.2 and aug.mosaic_p == 1.0
    config = aug.to_config()
    assert config == ["flip", "rotate:p=0.2", "shift_scale", "brightness_contrast", "mosaic:p=1.0"]
    assert build_augment(json.loads(json.dumps(config))) == aug
    assert build_augment(build_augment("heavy").to_config()) == build_augment("heavy")
    assert not build_augment("rotate:p=0,flip:p=0")
    assert Augmentation(("flip",)) == build_augment("flip")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("rotat", ["unknown augmentation 'rotat'", "did you mean 'rotate'", "copy_paste"]),
        (["default", "sharpen"], ["'sharpen'", "valid names: flip, rotate90", "presets: none"]),
        ("heavy:p=0.5", ["preset 'heavy'"]),
        ("rotate:p=1.5", ["[0, 1]"]),
        ("rotate:p=x", ["not a number"]),
        ("rotate:limit=3", ["only option is the probability"]),
    ],
)
def test_bad_specs_are_config_errors(spec, expected):
    with pytest.raises(ConfigError) as info:
        build_augment(spec)
    for text in expected:
        assert text in str(info.value)


def test_import_does_not_load_albumentations():
    code = "import sys, seglab.transforms.augment; print('albumentations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- apply ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gray", "rgb", "rgba", "float"])
@pytest.mark.parametrize("name", ALBUMENTATIONS_NAMES)
def test_each_augmentation_keeps_dtype_shape_and_mask_values(name, kind):
    image, mask = make_image(kind), make_mask()
    aug = build_augment(f"{name}:p=1")
    changed = False
    for seed in range(3):
        out_image, out_mask = aug.apply(image, mask, seed=seed)
        assert out_image.shape == image.shape and out_image.dtype == image.dtype
        assert out_mask.shape == mask.shape and out_mask.dtype == np.int64
        assert out_image.flags.c_contiguous and out_mask.flags.c_contiguous
        assert set(np.unique(out_mask)) <= {0, 1, 3, 255}
        if kind == "float":
            assert np.isfinite(out_image).all()
            # pixel transforms work on the image scaled to [0, 1] and back: they stay in its
            # range; interpolation stays between values, and borders are 0
            low, high = float(image.min()), float(image.max())
            if name not in PIXEL_NAMES:
                low, high = min(low, 0.0), max(high, 0.0)
            assert low - 1e-4 <= out_image.min() and out_image.max() <= high + 1e-4
        changed |= not np.array_equal(out_image, image)
    assert changed, f"{name} never changed the image"
    # the input is not modified
    assert np.array_equal(image, make_image(kind)) and np.array_equal(mask, make_mask())


def test_two_dimensional_gray_and_other_dtypes():
    image = make_image("gray")[..., 0]
    out_image, _ = build_augment("heavy").apply(image, make_mask(), seed=1)
    assert out_image.shape == (32, 32) and out_image.dtype == np.uint8
    image16 = (make_image("rgb").astype(np.uint16) * 200).astype(np.uint16)
    out16, _ = build_augment("heavy").apply(image16, make_mask(), seed=1)
    assert out16.dtype == np.uint16 and out16.shape == image16.shape


def test_rotate90_keeps_a_non_square_shape():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    aug = build_augment("rotate90:p=1")
    firsts = {int(aug.apply(image, np.zeros((3, 4)), seed=s)[0][0, 0, 0]) for s in range(20)}
    assert firsts == {0, 11}  # unchanged or turned by 180 degrees


def test_borders_are_black_in_the_image_and_ignored_in_the_mask():
    image = np.full((48, 48, 3), 100, np.uint8)
    mask = np.ones((48, 48), np.int64)
    for seed in range(3):
        out_image, out_mask = build_augment("rotate:p=1").apply(image, mask, seed=seed)
        border = out_mask == 255
        assert set(np.unique(out_mask)) == {1, 255} and border.sum() > 20
        # away from the edge between them (interpolation blends there): exactly 0 and 100
        inner_border = ndimage.binary_erosion(border, np.ones((3, 3)))
        inner_image = ndimage.binary_erosion(~border, np.ones((3, 3)))
        assert inner_border.any() and (out_image[inner_border] == 0).all()
        assert (out_image[inner_image] == 100).all()


@pytest.mark.parametrize(
    "names", [PRESETS["default"], [n for n in PRESETS["heavy"] if n not in ("noise", "blur")]]
)
@pytest.mark.parametrize("shape", [(64, 64), (48, 64)])
def test_image_and_mask_stay_aligned(names, shape):
    image, mask = disc(*shape)
    aug = build_augment(names)
    moved = 0
    for seed in range(8):
        out_image, out_mask = aug.apply(image, mask, seed=seed)
        assert set(np.unique(out_mask)) <= {0, 1, 255}
        kept = out_mask != 255
        agree = ((out_mask == 1) == (out_image[..., 0] > 115))[kept].mean()
        assert agree >= 0.95, (seed, agree)
        moved += not np.array_equal(out_mask, mask)
    assert moved >= 4


def test_heavy_with_noise_and_blur_stays_mostly_aligned():
    image, mask = disc()
    aug = build_augment("heavy")
    for seed in range(6):
        out_image, out_mask = aug.apply(image, mask, seed=seed)
        kept = out_mask != 255
        assert ((out_mask == 1) == (out_image[..., 0] > 115))[kept].mean() >= 0.93


@pytest.mark.parametrize("kind", ["rgb", "float"])
def test_same_seed_same_output_different_seeds_differ(kind):
    image, mask = make_image(kind), make_mask()
    aug = build_augment("heavy")
    first = aug.apply(image, mask, seed=11)
    for other in range(5):  # call history does not matter
        aug.apply(image, mask, seed=other)
    again = aug.apply(image, mask, seed=11)
    fresh = pickle.loads(pickle.dumps(build_augment("heavy"))).apply(image, mask, seed=11)
    for out in (again, fresh):
        assert np.array_equal(out[0], first[0]) and np.array_equal(out[1], first[1])
    outputs = [aug.apply(image, mask, seed=s) for s in range(12, 16)]
    assert any(not np.array_equal(out[0], first[0]) for out in outputs)


def test_pickle_after_use_drops_the_built_pipelines():
    aug = build_augment("default")
    aug.apply(make_image("rgb"), make_mask(), seed=0)
    copy = pickle.loads(pickle.dumps(aug))
    assert copy == aug and copy._pipelines == {}


def test_apply_rejects_bad_input():
    aug = build_augment("flip")
    with pytest.raises(ValueError, match=r"C in 1\.\.4"):
        aug.apply(np.zeros((8, 8, 5), np.uint8), np.zeros((8, 8)), seed=0)
    with pytest.raises(ValueError, match="does not match"):
        aug.apply(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9)), seed=0)
    with pytest.raises(ValueError, match="negative"):
        aug.apply(np.zeros((8, 8, 3), np.uint8), np.full((8, 8), -1), seed=0)


@pytest.mark.parametrize("top", [300, 70_000, 2**20])
def test_object_ids_of_a_label_image_survive_the_geometry(top):
    # an instance run's masks are label images: ids past 255 must move whole, never wrap
    mask = np.zeros((64, 64), np.int64)
    mask[10:20, 10:20], mask[30:40, 30:40], mask[44:54, 4:14] = top, 3, top - 1
    for seed in range(4):
        _, out = build_augment("default").apply(make_image("rgb", 64, 64), mask, seed=seed)
        assert set(np.unique(out).tolist()) - {0, 255} == {3, top - 1, top}


# --- mosaic -----------------------------------------------------------------------------------


def constant_samples(h, w, count=4, channels=3):
    return [
        (np.full((h, w, channels), 10 * k, np.uint8), np.full((h, w), k, np.int64))
        for k in range(1, count + 1)
    ]


@pytest.mark.parametrize("seed", range(4))
def test_mosaic_of_canvas_sized_samples_has_all_four(seed):
    image, mask = mosaic(constant_samples(32, 40), (32, 40), np.random.default_rng(seed))
    assert image.shape == (32, 40, 3) and image.dtype == np.uint8 and mask.dtype == np.int64
    assert set(np.unique(image)) == {10, 20, 30, 40}
    assert np.array_equal(mask, image[..., 0] // 10)
    # four rectangles meeting at a centre in the middle half
    rows = np.flatnonzero(np.diff(image[:, 0, 0].astype(int)))
    cols = np.flatnonzero(np.diff(image[0, :, 0].astype(int)))
    assert len(rows) == 1 and 8 <= rows[0] + 1 <= 24
    assert len(cols) == 1 and 10 <= cols[0] + 1 <= 30


def test_mosaic_pads_small_samples_and_accepts_two():
    image, mask = mosaic(constant_samples(6, 5, channels=1), (32, 32), np.random.default_rng(1))
    assert image.shape == (32, 32, 1)
    assert set(np.unique(image)) <= {0, 10, 20, 30, 40}
    pad = mask == 255
    assert pad.any() and (image[pad] == 0).all()
    assert np.array_equal(mask[~pad], image[..., 0][~pad] // 10)
    assert (~pad).sum() == 4 * 30  # every small sample fits whole in its quadrant
    image, mask = mosaic(constant_samples(32, 32, count=2), (24, 24), np.random.default_rng(2))
    assert image.shape == (24, 24, 3) and set(np.unique(image)) == {10, 20}
    assert np.array_equal(mask, image[..., 0] // 10)


def test_mosaic_is_deterministic_and_checks_its_input():
    samples = constant_samples(40, 40)
    a = mosaic(samples, (32, 32), np.random.default_rng(5))
    b = mosaic(samples, (32, 32), np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="2 to 4"):
        mosaic(samples[:1], (32, 32), np.random.default_rng(0))
    mixed = [*samples[:3], (samples[3][0].astype(np.float32), samples[3][1])]
    with pytest.raises(ValueError, match="differ"):
        mosaic(mixed, (32, 32), np.random.default_rng(0))


# --- copy-paste -------------------------------------------------------------------------------


def donor_with_square(size=(32, 32), box=(10, 15, 12, 17), value=2):
    image = np.full((*size, 3), 100, np.uint8)
    mask = np.zeros(size, np.int64)
    y0, y1, x0, x1 = box
    image[y0:y1, x0:x1] = 250
    mask[y0:y1, x0:x1] = value
    return image, mask


@pytest.mark.parametrize("seed", range(3))
def test_copy_paste_one_object_onto_an_empty_target(seed):
    target_image = np.full((40, 48, 3), 10, np.uint8)
    target_mask = np.zeros((40, 48), np.int64)
    donor_image, donor_mask = donor_with_square()
    out_image, out_mask = copy_paste(
        target_image, target_mask, donor_image, donor_mask, np.random.default_rng(seed)
    )
    pasted = out_mask == 2
    assert pasted.sum() == 25 and set(np.unique(out_mask)) == {0, 2}
    assert (out_image[pasted] == 250).all() and (out_image[~pasted] == 10).all()
    ys, xs = np.nonzero(pasted)
    assert np.ptp(ys) == 4 and np.ptp(xs) == 4  # still a 5 x 5 square
    assert (target_mask == 0).all() and (target_image == 10).all()  # inputs untouched


def test_copy_paste_without_donor_objects_returns_the_input():
    target_image, target_mask = make_image("rgb"), make_mask()
    donor_mask = np.zeros((32, 32), np.int64)
    donor_mask[5:9, 5:9] = 255
    out_image, out_mask = copy_paste(
        target_image, target_mask, make_image("rgb", seed=1), donor_mask, np.random.default_rng(0)
    )
    assert np.array_equal(out_image, target_image) and np.array_equal(out_mask, target_mask)


@pytest.mark.parametrize("seed", range(3))
def test_copy_paste_never_pastes_ignore(seed):
    donor_image, donor_mask = donor_with_square(value=1)
    donor_mask[9:16, 9:18] = np.where(donor_mask[9:16, 9:18] == 1, 1, 255)  # ring of ignore
    donor_mask[:, 25:] = 255
    target_mask = np.zeros((20, 20), np.int64)
    _, out_mask = copy_paste(
        np.zeros((20, 20, 3), np.uint8),
        target_mask,
        donor_image,
        donor_mask,
        np.random.default_rng(seed),
    )
    assert set(np.unique(out_mask)) == {0, 1} and (out_mask == 1).sum() == 25


def test_copy_paste_limits_objects_and_crops_large_ones():
    donor_image = np.full((32, 32, 1), 60, np.uint8)
    donor_mask = np.zeros((32, 32), np.int64)
    for k, (y, x) in enumerate([(2, 2), (2, 20), (20, 2), (20, 20), (12, 12)]):
        donor_mask[y : y + 3, x : x + 3] = 1 + k % 2
    target = (np.zeros((32, 32, 1), np.uint8), np.zeros((32, 32), np.int64))
    _, out_mask = copy_paste(
        *target, donor_image, donor_mask, np.random.default_rng(0), max_objects=1
    )
    assert np.count_nonzero(out_mask) == 9
    big_image = np.full((40, 40, 1), 77, np.uint8)
    big_mask = np.ones((40, 40), np.int64)
    out_image, out_mask = copy_paste(
        np.zeros((16, 16, 1), np.uint8),
        np.zeros((16, 16), np.int64),
        big_image,
        big_mask,
        np.random.default_rng(0),
    )
    assert (out_mask == 1).all() and (out_image == 77).all()
    with pytest.raises(ValueError, match="differ"):
        copy_paste(
            *target, np.zeros((8, 8, 3), np.uint8), donor_mask[:8, :8], np.random.default_rng(0)
        )
