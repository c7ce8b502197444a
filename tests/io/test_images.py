"""Tests of seglab.io.images: read_image's channel and dtype rules per format; read_image_size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile, features

from seglab.io import read_image, read_image_size, read_mask
from tests.io.synthetic import (
    PALETTE,
    H,
    W,
    _exif,
    _grey,
    _indices,
    _palette_png,
    _png16,
    _rgb,
    _save,
)

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")


def test_jpeg_rgb(tmp_path):
    colour = np.zeros((16, 16, 3), np.uint8)
    colour[:] = (200, 40, 90)
    path = _save(tmp_path / "a.jpg", colour, quality=100, subsampling=0)
    image, meta = read_image(path)
    assert image.shape == (16, 16, 3) and image.dtype == np.uint8
    assert np.abs(image.astype(int) - colour).max() <= 2  # lossy, but a flat colour survives
    assert (meta.format, meta.mode, meta.dtype, meta.bit_depth) == ("JPEG", "RGB", "uint8", 8)
    assert (meta.height, meta.width, meta.channels) == (16, 16, 3)
    assert meta.stored_size == (16, 16) and not meta.exif_transposed and not meta.has_nonfinite


def test_jpeg_grey(tmp_path):
    grey = np.full((16, 24), 120, np.uint8)
    image, meta = read_image(_save(tmp_path / "a.jpeg", grey, quality=100))
    assert image.shape == (16, 24, 1) and image.dtype == np.uint8
    assert np.abs(image[..., 0].astype(int) - 120).max() <= 1
    assert meta.mode == "L" and meta.channels == 1 and meta.stored_size == (24, 16)


def test_png_grey_exact(tmp_path):
    image, meta = read_image(_save(tmp_path / "a.png", _grey()))
    assert image.shape == (H, W, 1) and image.dtype == np.uint8
    np.testing.assert_array_equal(image[..., 0], _grey())
    assert (meta.format, meta.mode, meta.stored_size) == ("PNG", "L", (W, H))


def test_png_rgb_exact(tmp_path):
    image, meta = read_image(_save(tmp_path / "a.png", _rgb()))
    np.testing.assert_array_equal(image, _rgb())
    assert meta.mode == "RGB" and meta.channels == 3


def test_output_is_writable_and_contiguous(tmp_path):
    image, _ = read_image(_save(tmp_path / "a.png", _rgb()))
    assert image.flags.writeable and image.flags.c_contiguous
    image[0, 0] = 0  # transforms may work in place
    mask, _ = read_mask(_save(tmp_path / "m.png", _grey()))
    assert mask.flags.writeable and mask.flags.c_contiguous


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 3), (2, 40), (40, 2)])
def test_tiny_images(tmp_path, size):
    rgb = _rgb(*size)
    image, _ = read_image(_save(tmp_path / "a.png", rgb))
    np.testing.assert_array_equal(image, rgb)
    tifffile.imwrite(tmp_path / "a.tif", rgb, photometric="rgb")
    image, _ = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image, rgb)


def test_png_rgba_alpha(tmp_path):
    rgba = np.dstack([_rgb(), np.linspace(0, 255, H * W).reshape(H, W).astype(np.uint8)])
    path = _save(tmp_path / "a.png", rgba)
    image, meta = read_image(path)
    np.testing.assert_array_equal(image, rgba[..., :3])  # colours as stored, not premultiplied
    assert meta.mode == "RGBA" and meta.channels == 3
    image, meta = read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(image, rgba)
    assert meta.channels == 4


def test_png_la_alpha(tmp_path):
    la = np.dstack([_grey(), np.full((H, W), 7, np.uint8)])
    path = tmp_path / "a.png"
    Image.merge("LA", [Image.fromarray(la[..., 0]), Image.fromarray(la[..., 1])]).save(path)
    image, meta = read_image(path)
    assert meta.mode == "LA" and image.shape == (H, W, 1)
    np.testing.assert_array_equal(image[..., 0], _grey())
    image, _ = read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(image, la)


def test_png_palette_becomes_rgb(tmp_path):
    image, meta = read_image(_palette_png(tmp_path / "a.png"))
    assert meta.mode == "P" and image.shape == (H, W, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, PALETTE[_indices()])


def test_png_palette_with_transparency(tmp_path):
    alpha = bytes([0, 255, 128, 255, 64])
    path = _palette_png(tmp_path / "a.png", transparency=alpha)
    image, _ = read_image(path)
    np.testing.assert_array_equal(image, PALETTE[_indices()])
    image, _ = read_image(path, keep_alpha=True)
    assert image.shape == (H, W, 4)
    np.testing.assert_array_equal(image[..., :3], PALETTE[_indices()])
    np.testing.assert_array_equal(image[..., 3], np.frombuffer(alpha, np.uint8)[_indices()])


def test_png_one_bit(tmp_path):
    bits = np.indices((H, W)).sum(axis=0) % 2 == 1
    path = tmp_path / "a.png"
    Image.fromarray(bits).save(path)
    with Image.open(path) as img:
        assert img.mode == "1"
    image, meta = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (H, W, 1)
    np.testing.assert_array_equal(image[..., 0], bits * 255)
    assert (meta.mode, meta.bit_depth) == ("1", 1)


def test_png_16bit_grey_to_unit_float(tmp_path):
    values = np.array([[0, 1, 257, 32768], [65534, 65535, 1000, 40000]], np.uint16)
    path = _save(tmp_path / "a.png", values)
    image, meta = read_image(path)
    assert image.dtype == np.float32 and image.shape == (2, 4, 1)
    assert image[0, 0, 0] == 0.0 and image[1, 1, 0] == 1.0
    np.testing.assert_array_equal(image[..., 0], values.astype(np.float32) / np.float32(65535))
    assert (meta.mode, meta.dtype, meta.bit_depth) == ("I;16", "uint16", 16)


def test_png_16bit_colour_keeps_full_depth(tmp_path):
    rgb = (np.arange(H * W * 3).reshape(H, W, 3) * 1234 % 65536).astype(np.uint16)
    rgb[0, 0] = (0, 65535, 1)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), rgb[..., ::-1])
    image, meta = read_image(path)
    assert image.dtype == np.float32 and image.shape == (H, W, 3)
    np.testing.assert_array_equal(image, rgb.astype(np.float32) / np.float32(65535))
    assert (meta.mode, meta.dtype, meta.bit_depth) == ("RGB;16", "uint16", 16)


def test_png_16bit_rgba_and_la(tmp_path):
    rgba = (np.arange(H * W * 4).reshape(H, W, 4) * 999 % 65536).astype(np.uint16)
    path = _png16(tmp_path / "rgba.png", rgba, colour_type=6)
    image, _ = read_image(path)
    np.testing.assert_array_equal(image, rgba[..., :3] / np.float32(65535))
    image, meta = read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(image, rgba / np.float32(65535))
    assert meta.mode == "RGBA;16"
    la = rgba[..., :2]
    path = _png16(tmp_path / "la.png", la, colour_type=4)
    image, meta = read_image(path)
    np.testing.assert_array_equal(image, la[..., :1] / np.float32(65535))
    image, _ = read_image(path, keep_alpha=True)
    np.testing.assert_array_equal(image, la / np.float32(65535))


def test_bmp(tmp_path):
    image, meta = read_image(_save(tmp_path / "a.bmp", _rgb()))
    np.testing.assert_array_equal(image, _rgb())
    assert meta.format == "BMP"


def test_gif(tmp_path):
    image, _ = read_image(_palette_png(tmp_path / "a.gif"))
    np.testing.assert_array_equal(image, PALETTE[_indices()])


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_webp_lossless(tmp_path):
    image, meta = read_image(_save(tmp_path / "a.webp", _rgb(), lossless=True))
    np.testing.assert_array_equal(image, _rgb())
    assert meta.format == "WEBP"
    rgba = np.dstack([_rgb(), np.full((H, W), 100, np.uint8)])
    path = _save(tmp_path / "b.webp", rgba, lossless=True, exact=True)
    assert read_image(path)[0].shape == (H, W, 3)
    np.testing.assert_array_equal(read_image(path, keep_alpha=True)[0], rgba)


def test_read_image_size_reads_header_only(tmp_path, monkeypatch):
    png = _save(tmp_path / "a.png", _rgb())
    jpg = _save(tmp_path / "a.jpg", _rgb(), exif=_exif(8))
    tifffile.imwrite(tmp_path / "a.tif", _rgb(), photometric="rgb")

    def no_decoding(*args, **kwargs):
        raise AssertionError("pixels decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(tifffile.TiffPage, "asarray", no_decoding)
    assert read_image_size(png) == (W, H)
    assert read_image_size(jpg) == (H, W)
    assert read_image_size(tmp_path / "a.tif") == (W, H)
