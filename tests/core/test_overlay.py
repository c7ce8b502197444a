"""Tests of seglab.core.overlay: class colours, overlays with contours, object overlays, contact
sheets."""

from __future__ import annotations

import numpy as np
import pytest

from seglab.core.overlay import IGNORE_COLOUR, class_colours, make_grid, overlay, to_display
from tests.data.convert.test_convert import disc

ALPHA = 0.45


def scene() -> tuple[np.ndarray, np.ndarray]:
    """A flat grey 40x40 image; a disc of class 1 and a square of class 2."""
    image = np.full((40, 40, 3), 100, np.uint8)
    mask = np.zeros((40, 40), np.int64)
    mask[disc((40, 40), (12, 12), 7)] = 1
    mask[22:34, 20:36] = 2
    return image, mask


def blended(value: int, colour: np.ndarray) -> np.ndarray:
    return np.rint((1 - ALPHA) * value + ALPHA * colour.astype(float)).astype(np.uint8)


def test_class_colours_are_deterministic_distinct_and_bright():
    colours = class_colours(255)
    assert colours.shape == (255, 3) and colours.dtype == np.uint8
    assert colours[0].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in colours.tolist()}) == 255
    assert tuple(IGNORE_COLOUR) not in {tuple(c) for c in colours.tolist()}
    np.testing.assert_array_equal(class_colours(255), colours)
    np.testing.assert_array_equal(class_colours(3), colours[:3])
    red = class_colours(2)[1]
    assert red[0] == 255 and red[1] < 100 and red[2] < 100
    with pytest.raises(ValueError, match="num_classes"):
        class_colours(0)


def test_overlay_puts_class_colours_exactly_on_the_mask():
    image, mask = scene()
    out = overlay(image, mask, num_classes=3, alpha=ALPHA, contours=False)
    assert out.shape == (40, 40, 3) and out.dtype == np.uint8
    colours = class_colours(3)
    np.testing.assert_array_equal(out[mask == 0], image[mask == 0])
    for cls in (1, 2):
        assert (out[mask == cls] == blended(100, colours[cls])).all()


def test_overlay_contours_lie_on_the_mask_boundary():
    image, mask = scene()
    plain = overlay(image, mask, num_classes=3, contours=False)
    out = overlay(image, mask, num_classes=3)
    changed = (out != plain).any(axis=-1)
    assert changed.any()
    colours = class_colours(3)
    padded = np.pad(mask, 1, constant_values=-1)
    for y, x in zip(*np.nonzero(changed), strict=True):
        cls = mask[y, x]
        assert cls in (1, 2)
        assert (out[y, x] == colours[cls]).all()
        window = padded[y : y + 3, x : x + 3]
        assert (window != cls).any(), (y, x)  # an 8-neighbour lies outside the object
    # every pixel with a 4-neighbour outside its object is outlined
    for cls in (1, 2):
        region = np.pad(mask == cls, 1)
        inner = region[1:-1, 1:-1] & region[:-2, 1:-1] & region[2:, 1:-1]
        inner &= region[1:-1, :-2] & region[1:-1, 2:]
        border = (mask == cls) & ~inner
        assert changed[border].all()
        assert not changed[inner].any()


def test_overlay_shows_ignore_grey_and_hatched():
    image, mask = scene()
    mask[0:6, 30:40] = 255
    out = overlay(image, mask, num_classes=3)
    ignored = out[mask == 255].astype(int)
    assert (ignored[:, 0] == ignored[:, 1]).all() and (ignored[:, 1] == ignored[:, 2]).all()
    assert len(np.unique(ignored[:, 0])) == 2  # grey blend plus hatching
    assert not (out[mask == 255] == 100).all(axis=-1).any()


@pytest.mark.parametrize(
    "image",
    [
        np.full((40, 40, 1), 100, np.uint8),
        np.full((40, 40), 100, np.uint8),
        np.full((40, 40, 3), 100 / 255, np.float32),
        np.linspace(0, 4000, 1600, dtype=np.float32).reshape(40, 40, 1),
    ],
)
def test_overlay_accepts_gray_float_and_high_range_images(image):
    _, mask = scene()
    out = overlay(image, mask, num_classes=3, contours=False)
    assert out.shape == (40, 40, 3) and out.dtype == np.uint8
    shown = to_display(image)
    np.testing.assert_array_equal(out[mask == 0], shown[mask == 0])
    if image.max() <= 255 and image.dtype == np.uint8:
        assert (shown == 100).all()


def test_to_display_scales_floats():
    assert to_display(np.full((4, 4), 0.5, np.float32)).max() == 128
    ramp = np.linspace(0, 4000, 400, dtype=np.float32).reshape(20, 20)
    shown = to_display(ramp)
    assert shown.min() == 0 and shown.max() == 255
    nan = np.full((3, 3, 3), np.nan, np.float32)
    assert (to_display(nan) == 0).all()


def test_overlay_rejects_a_mask_of_another_size():
    image, mask = scene()
    with pytest.raises(ValueError, match="differs"):
        overlay(image, mask[:-1], num_classes=3)


def test_make_grid_size_and_aspect():
    tiles = [np.full((30, 60, 3), 200, np.uint8)] + [np.zeros((20, 20), np.uint8)] * 4
    grid = make_grid(tiles, ncols=3, tile_size=64, pad=4, labels=list("abcde"))
    assert grid.shape == (2 * 64 + 3 * 4, 3 * 64 + 4 * 4, 3)
    # the 30x60 tile becomes 32x64, centred vertically in its cell
    cell = grid[4 : 4 + 64, 4 : 4 + 64]
    rows = np.nonzero((cell == 200).all(axis=-1).any(axis=1))[0]
    assert rows.min() == 16 and rows.max() == 47
    assert make_grid(tiles, tile_size=64, pad=0).shape == (128, 192, 3)  # 3 columns by default
    with pytest.raises(ValueError, match="labels"):
        make_grid(tiles, labels=["a"])
    with pytest.raises(ValueError, match="at least one"):
        make_grid([])


def test_make_grid_draws_labels():
    tiles = [np.zeros((64, 64, 3), np.uint8)]
    plain = make_grid(tiles, tile_size=64, pad=0)
    labelled = make_grid(tiles, tile_size=64, pad=0, labels=["some/long/name_0001.png"])
    assert (labelled[:20] != plain[:20]).any()
    assert (labelled[40:] == plain[40:]).all()


# ------------------------------------------------------------------------------ objects


def test_instance_colours_are_fixed_distinct_and_never_black():
    from seglab.core.overlay import instance_colours

    colours = instance_colours(2000)
    assert colours.shape == (2001, 3) and colours.dtype == np.uint8
    assert colours[0].tolist() == [0, 0, 0] and (colours[1:].max(axis=1) > 150).all()
    assert np.array_equal(instance_colours(5), colours[:6])  # an id keeps its colour
    # ids numbered one after the other (neighbours in a raster scan) are far apart
    gaps = np.abs(colours[1:-1].astype(int) - colours[2:].astype(int)).sum(axis=1)
    assert gaps.min() > 100
    with pytest.raises(ValueError, match="count must be an integer >= 0"):
        instance_colours(-1)


def test_object_contours_separate_touching_objects_and_follow_the_edge():
    from seglab.core.overlay import object_contours

    labels = np.zeros((7, 9), np.int32)
    labels[1:6, 1:4] = 1
    labels[1:6, 4:7] = 2  # touches object 1
    labels[:, 8] = 3  # on the image's edge
    edge = object_contours(labels)
    assert edge[3, 3] and edge[3, 4]  # each side of the touching line
    assert not edge[3, 2] and not edge[3, 5]  # interiors
    assert edge[:, 8].all() and not edge[labels == 0].any()
    assert object_contours(labels, thickness=2)[3, 2]


def test_instance_overlay_colours_each_object_and_keeps_the_background():
    from seglab.core.labels import from_label_image
    from seglab.core.overlay import instance_colours, instance_overlay

    image = np.full((10, 12, 3), 100, np.uint8)
    labels = np.zeros((10, 12), np.int32)
    labels[1:9, 1:6], labels[1:9, 6:11] = 1, 2
    out = instance_overlay(image, from_label_image(labels))
    colours = instance_colours(2)
    assert (out[labels == 0] == 100).all()
    assert out[1, 1].tolist() == colours[1].tolist() and out[1, 6].tolist() == colours[2].tolist()
    assert out[4, 3].tolist() != out[4, 8].tolist()  # interiors differ by object
    assert np.array_equal(instance_overlay(image, labels, alpha=0.0, contours=False), image)
    with pytest.raises(ValueError, match=r"label image shape \(3, 3\) differs"):
        instance_overlay(image, np.zeros((3, 3), np.int32))
