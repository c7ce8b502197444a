"""Tests of seglab.io.tiff: 16-bit, float, multi-channel, planar and ImageJ TIFFs."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from seglab.io import read_image, read_mask
from tests.io.synthetic import PALETTE, H, W, _grey, _indices, _rgb

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")


def test_tiff_uint8_grey(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", _grey())
    image, meta = read_image(tmp_path / "a.tif")
    assert image.dtype == np.uint8 and image.shape == (H, W, 1)
    np.testing.assert_array_equal(image[..., 0], _grey())
    assert (meta.format, meta.mode, meta.dtype, meta.bit_depth) == (
        "TIFF",
        "MINISBLACK",
        "uint8",
        8,
    )


def test_tiff_uint16_rgb(tmp_path):
    rgb = _rgb().astype(np.uint16) * 257
    rgb[0, 0] = (0, 65535, 1)
    tifffile.imwrite(tmp_path / "a.tiff", rgb, photometric="rgb")
    image, meta = read_image(tmp_path / "a.tiff")
    assert image.dtype == np.float32 and image.shape == (H, W, 3)
    np.testing.assert_array_equal(image, rgb.astype(np.float32) / np.float32(65535))
    assert image[0, 0, 0] == 0.0 and image[0, 0, 1] == 1.0
    assert (meta.dtype, meta.bit_depth, meta.mode) == ("uint16", 16, "RGB")


def test_tiff_big_endian_uint16(tmp_path):
    values = np.array([[0, 65535], [1, 300]], np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", values, byteorder=">")
    image, _ = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image[..., 0], values / np.float32(65535))


def test_tiff_float_with_nan(tmp_path):
    values = np.array([[0.5, -2.0, np.nan], [np.inf, 1e6, 0.0]], np.float32)
    tifffile.imwrite(tmp_path / "a.tif", values)
    image, meta = read_image(tmp_path / "a.tif")
    assert image.dtype == np.float32 and image.shape == (2, 3, 1)
    np.testing.assert_array_equal(image[..., 0], values)  # kept as it is, NaN included
    assert meta.has_nonfinite and meta.dtype == "float32"
    tifffile.imwrite(tmp_path / "b.tif", np.nan_to_num(values, posinf=0.0))
    assert not read_image(tmp_path / "b.tif")[1].has_nonfinite


def test_tiff_other_integers_cast_unchanged(tmp_path):
    values = np.array([[-5, 70000], [0, 1]], np.int32)
    tifffile.imwrite(tmp_path / "a.tif", values)
    image, meta = read_image(tmp_path / "a.tif")
    assert image.dtype == np.float32 and meta.dtype == "int32"
    np.testing.assert_array_equal(image[..., 0], values)


def test_tiff_five_channels(tmp_path):
    stack = (np.arange(H * W * 5).reshape(H, W, 5) % 256).astype(np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", stack, photometric="minisblack", planarconfig="contig")
    image, meta = read_image(tmp_path / "a.tif")
    assert image.shape == (H, W, 5) and meta.channels == 5
    np.testing.assert_array_equal(image, stack)


def test_tiff_two_channels_without_alpha_kept(tmp_path):
    stack = (np.arange(H * W * 2).reshape(H, W, 2) % 256).astype(np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", stack, photometric="minisblack", planarconfig="contig")
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif")[0], stack)


def test_tiff_channels_first(tmp_path):
    chw = (np.arange(3 * 32 * 40).reshape(3, 32, 40) % 251).astype(np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", chw, photometric="minisblack", planarconfig="separate")
    image, meta = read_image(tmp_path / "a.tif")
    assert image.shape == (32, 40, 3) and meta.stored_size == (40, 32)
    np.testing.assert_array_equal(image, np.moveaxis(chw, 0, -1))
    tifffile.imwrite(tmp_path / "b.tif", chw, photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_image(tmp_path / "b.tif")[0], np.moveaxis(chw, 0, -1))


def test_tiff_imagej_channel_stack(tmp_path):
    chw = (np.arange(3 * 32 * 40).reshape(3, 32, 40) % 251).astype(np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", chw, imagej=True, metadata={"axes": "CYX"})
    image, _ = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image, np.moveaxis(chw, 0, -1))


def test_tiff_multipage_gives_first_page(tmp_path):
    with tifffile.TiffWriter(tmp_path / "a.tif") as tif:
        tif.write(_grey())
        tif.write(255 - _grey())
        tif.write(np.zeros((3, 4), np.uint8))
    with pytest.warns(UserWarning, match=r"a\.tif: multi-page TIFF: seglab reads page 1 of 3"):
        image, _ = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image[..., 0], _grey())
    with pytest.warns(UserWarning, match="page 1 of 3"):
        mask, _ = read_mask(tmp_path / "a.tif")
    np.testing.assert_array_equal(mask, _grey())


def test_tiff_alpha_by_extrasamples(tmp_path):
    rgba = np.dstack([_rgb(), np.full((H, W), 9, np.uint8)])
    tifffile.imwrite(tmp_path / "a.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif")[0], rgba[..., :3])
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif", keep_alpha=True)[0], rgba)
    # a fourth channel not marked as alpha is data
    tifffile.imwrite(tmp_path / "b.tif", rgba, photometric="rgb", extrasamples=["unspecified"])
    np.testing.assert_array_equal(read_image(tmp_path / "b.tif")[0], rgba)


def test_tiff_palette_becomes_rgb(tmp_path):
    cmap = np.zeros((3, 256), np.uint16)
    cmap[:, : len(PALETTE)] = PALETTE.T.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "a.tif", _indices(), photometric="palette", colormap=cmap)
    image, meta = read_image(tmp_path / "a.tif")
    assert meta.mode == "PALETTE"
    np.testing.assert_array_equal(image, PALETTE[_indices()])


def test_tiff_bilevel(tmp_path):
    bits = np.indices((H, W)).sum(axis=0) % 2 == 1
    tifffile.imwrite(tmp_path / "a.tif", bits)
    image, meta = read_image(tmp_path / "a.tif")
    assert image.dtype == np.uint8 and meta.bit_depth == 1
    np.testing.assert_array_equal(image[..., 0], bits * 255)
