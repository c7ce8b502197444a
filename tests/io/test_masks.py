"""Tests of seglab.io.masks: read_mask keeps the stored values, write_mask round-trips them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from seglab.errors import DataError
from seglab.io import read_mask, write_mask
from tests.io.synthetic import (
    PALETTE,
    H,
    W,
    _assert_names_file,
    _grey,
    _indices,
    _palette_png,
    _png16,
    _rgb,
    _save,
)

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")


def test_mask_binary_0_255(tmp_path):
    values = (np.indices((H, W)).sum(axis=0) % 2 * 255).astype(np.uint8)
    mask, meta = read_mask(_save(tmp_path / "m.png", values))
    assert mask.dtype == np.uint8 and mask.shape == (H, W) and meta.channels == 1
    np.testing.assert_array_equal(mask, values)
    assert meta.palette is None


def test_mask_small_values(tmp_path):
    values = (np.arange(H * W).reshape(H, W) % 6).astype(np.uint8)
    mask, _ = read_mask(_save(tmp_path / "m.png", values))
    np.testing.assert_array_equal(mask, values)


def test_mask_palette_indices(tmp_path):
    mask, meta = read_mask(_palette_png(tmp_path / "m.png"))
    np.testing.assert_array_equal(mask, _indices())
    assert meta.mode == "P" and mask.dtype == np.uint8
    np.testing.assert_array_equal(meta.palette[: len(PALETTE)], PALETTE)


def test_mask_palette_with_transparency_keeps_indices(tmp_path):
    path = _palette_png(tmp_path / "m.png", transparency=bytes([0, 255, 255, 255, 255]))
    mask, meta = read_mask(path)
    np.testing.assert_array_equal(mask, _indices())
    assert meta.palette is not None


def test_mask_16bit_values(tmp_path):
    values = np.array([[0, 1, 256], [300, 1000, 65535]], np.uint16)
    mask, meta = read_mask(_save(tmp_path / "m.png", values))
    assert mask.dtype == np.uint16 and meta.bit_depth == 16
    np.testing.assert_array_equal(mask, values)


def test_mask_rgb_colours(tmp_path):
    mask, meta = read_mask(_save(tmp_path / "m.png", _rgb()))
    assert mask.shape == (H, W, 3) and mask.dtype == np.uint8 and meta.channels == 3
    np.testing.assert_array_equal(mask, _rgb())


def test_mask_rgb_equal_channels_is_grey(tmp_path):
    grey = (np.arange(H * W).reshape(H, W) % 3).astype(np.uint8)
    mask, meta = read_mask(_save(tmp_path / "m.png", np.dstack([grey] * 3)))
    assert mask.shape == (H, W) and meta.channels == 1 and meta.mode == "RGB"
    np.testing.assert_array_equal(mask, grey)


def test_mask_rgba_drops_alpha(tmp_path):
    rgba = np.dstack([_rgb(), np.zeros((H, W), np.uint8)])  # even fully transparent pixels
    mask, meta = read_mask(_save(tmp_path / "m.png", rgba))
    assert mask.shape == (H, W, 3) and meta.mode == "RGBA"
    np.testing.assert_array_equal(mask, _rgb())


def test_mask_one_bit_and_la(tmp_path):
    bits = np.indices((H, W)).sum(axis=0) % 2 == 1
    Image.fromarray(bits).save(tmp_path / "b.png")
    mask, meta = read_mask(tmp_path / "b.png")
    np.testing.assert_array_equal(mask, bits * 255)
    assert meta.bit_depth == 1
    la = Image.merge("LA", [Image.fromarray(_grey()), Image.fromarray(np.zeros((H, W), np.uint8))])
    la.save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "la.png")[0], _grey())


def test_mask_16bit_colour_png(tmp_path):
    rgb8 = _rgb()
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), rgb8[..., ::-1].astype(np.uint16) * 257)
    mask, meta = read_mask(path)
    assert mask.dtype == np.uint8 and meta.mode == "RGB;16"
    np.testing.assert_array_equal(mask, rgb8)
    cv2.imwrite(str(path), (rgb8[..., ::-1].astype(np.uint16) * 257) + 1)
    with pytest.raises(DataError) as excinfo:
        read_mask(path)
    _assert_names_file(excinfo, path)
    la = np.dstack([np.full((H, W), 300, np.uint16), np.zeros((H, W), np.uint16)])
    mask, _ = read_mask(_png16(tmp_path / "la.png", la, colour_type=4))
    np.testing.assert_array_equal(mask, la[..., 0])


def test_mask_tiff_integers(tmp_path):
    values = np.array([[0, 3, 700], [65535, 1, 2]], np.uint16)
    tifffile.imwrite(tmp_path / "m.tif", values)
    mask, meta = read_mask(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, values)
    assert mask.dtype == np.uint16 and meta.format == "TIFF"


def test_mask_tiff_float_of_integers(tmp_path):
    values = np.array([[0.0, 1.0, 2.0], [255.0, 3.0, 0.0]], np.float32)
    tifffile.imwrite(tmp_path / "m.tif", values)
    mask, meta = read_mask(tmp_path / "m.tif")
    assert mask.dtype.kind in "iu" and meta.dtype == "float32"
    np.testing.assert_array_equal(mask, values.astype(int))


@pytest.mark.parametrize("bad", [0.5, np.nan, np.inf])
def test_mask_tiff_float_non_integer(tmp_path, bad):
    values = np.array([[0.0, 1.0], [bad, 2.0]], np.float32)
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, values)
    with pytest.raises(DataError) as excinfo:
        read_mask(path)
    assert "integer" in _assert_names_file(excinfo, path)


def test_mask_tiff_palette_indices(tmp_path):
    cmap = np.zeros((3, 256), np.uint16)
    cmap[:, : len(PALETTE)] = PALETTE.T.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "m.tif", _indices(), photometric="palette", colormap=cmap)
    mask, meta = read_mask(tmp_path / "m.tif")
    np.testing.assert_array_equal(mask, _indices())
    np.testing.assert_array_equal(meta.palette[: len(PALETTE)], PALETTE)


def test_mask_tiff_rgba_and_too_many_channels(tmp_path):
    rgba = np.dstack([_rgb(), np.full((H, W), 255, np.uint8)])
    tifffile.imwrite(tmp_path / "m.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif")[0], _rgb())
    path = tmp_path / "five.tif"
    tifffile.imwrite(path, np.zeros((H, W, 5), np.uint8), planarconfig="contig")
    with pytest.raises(DataError) as excinfo:
        read_mask(path)
    _assert_names_file(excinfo, path)


# ----------------------------------------------------------------------------- write_mask


def test_write_mask_uint8_round_trip(tmp_path):
    values = (np.arange(H * W).reshape(H, W) % 7).astype(np.uint8)
    values[0, 0] = 255
    path = write_mask(tmp_path / "sub" / "m.png", values)
    assert path == tmp_path / "sub" / "m.png" and path.is_file()
    mask, meta = read_mask(path)
    np.testing.assert_array_equal(mask, values)
    assert mask.dtype == np.uint8 and meta.mode == "L"


def test_write_mask_bool(tmp_path):
    values = np.indices((H, W)).sum(axis=0) % 2 == 0
    mask, _ = read_mask(write_mask(tmp_path / "m.png", values))
    np.testing.assert_array_equal(mask, values.astype(np.uint8))


@pytest.mark.parametrize("num_colours", [2, 5, 256])
def test_write_mask_palette(tmp_path, num_colours):
    colours = [(i, 255 - i, (7 * i) % 256) for i in range(num_colours)]
    values = (np.arange(H * W).reshape(H, W) % 6).astype(np.int64)  # indices beyond short palettes
    path = write_mask(tmp_path / "m.png", values, palette=colours)
    with Image.open(path) as img:
        assert img.mode == "P"
    mask, meta = read_mask(path)
    np.testing.assert_array_equal(mask, values)
    np.testing.assert_array_equal(meta.palette[:num_colours], np.array(colours, np.uint8))


def test_write_mask_16bit(tmp_path):
    values = np.array([[0, 255, 256], [1000, 65535, 3]], np.int32)
    path = write_mask(tmp_path / "m.png", values)
    with Image.open(path) as img:
        assert img.mode.startswith("I;16")
    mask, _ = read_mask(path)
    assert mask.dtype == np.uint16
    np.testing.assert_array_equal(mask, values)


def test_write_mask_colours_and_single_channel(tmp_path):
    np.testing.assert_array_equal(read_mask(write_mask(tmp_path / "c.png", _rgb()))[0], _rgb())
    values = _indices()[..., None]
    np.testing.assert_array_equal(read_mask(write_mask(tmp_path / "g.png", values))[0], _indices())


@pytest.mark.parametrize("name", ["m.jpg", "m.jpeg", "m.tif"])
def test_write_mask_refuses_lossy_or_other_formats(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(DataError) as excinfo:
        write_mask(path, _indices())
    assert "PNG" in _assert_names_file(excinfo, path)
    assert not path.exists()


@pytest.mark.parametrize(
    ("mask", "palette", "words"),
    [
        (np.array([[-1, 0]]), None, "0..65535"),
        (np.array([[0, 70000]]), None, "0..65535"),
        (np.array([[0.0, 1.0]]), None, "integer"),
        (np.array([[0, 300]]), [(0, 0, 0)], "palette"),
        (np.zeros((2, 2), np.uint8), [(0, 0, 300)], "palette"),
        (np.zeros((2, 2), np.uint8), [(0, 0)], "palette"),
        (np.zeros((2, 2, 3), np.uint8), [(0, 0, 0)], "palette"),
        (np.zeros((2, 2, 3), np.uint16), None, "uint8"),
        (np.zeros((2, 2, 2, 2), np.uint8), None, "shape"),
    ],
)
def test_write_mask_refuses(tmp_path, mask, palette, words):
    path = tmp_path / "m.png"
    with pytest.raises(DataError) as excinfo:
        write_mask(path, mask, palette=palette)
    assert words in _assert_names_file(excinfo, path)
    assert not path.exists()
