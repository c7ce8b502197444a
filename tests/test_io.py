"""Tests of seglab.io: every rule of the module docstring, on tiny synthetic files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageFile, ImageOps, features

from seglab.errors import DataError
from seglab.io import (
    ImageMeta,
    is_image_file,
    read_image,
    read_image_size,
    read_mask,
    write_mask,
)

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")

H, W = 6, 8  # stored height and width of most test images


def _rgb(h: int = H, w: int = W) -> np.ndarray:
    """An RGB image whose every pixel is different, so any flip or rotation shows."""
    i = np.arange(h * w).reshape(h, w)
    return np.stack([i * 5 % 256, (i * 7 + 50) % 256, 255 - i], axis=-1).astype(np.uint8)


def _grey(h: int = H, w: int = W) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) * 5).astype(np.uint8)


def _save(path: Path, arr: np.ndarray, **kwargs) -> Path:
    Image.fromarray(arr).save(path, **kwargs)
    return path


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += length + 12
    return chunks


def _png_bytes(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body)
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc))
    return b"".join(out)


def _png16(path: Path, arr: np.ndarray, colour_type: int) -> Path:
    """Write a 16-bit PNG by hand (Pillow cannot write 16-bit colour or grey + alpha)."""
    h, w = arr.shape[:2]
    rows = arr.astype(">u2").reshape(h, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(_png_bytes([(b"IHDR", header), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]))
    return path


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _assert_names_file(excinfo: pytest.ExceptionInfo, path: Path) -> str:
    message = str(excinfo.value)
    assert path.name in message
    return message


# ---------------------------------------------------------------------------------- images


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


PALETTE = np.array([(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (10, 20, 30)], np.uint8)


def _indices(h: int = H, w: int = W) -> np.ndarray:
    return (np.arange(h * w).reshape(h, w) % len(PALETTE)).astype(np.uint8)


def _palette_png(path: Path, transparency: bytes | None = None) -> Path:
    img = Image.fromarray(_indices())
    img.putpalette(PALETTE.reshape(-1).tolist())
    if transparency is None:
        img.save(path)
    else:
        img.save(path, transparency=transparency)
    return path


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


# ------------------------------------------------------------------------------------ TIFF


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
    image, _ = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image[..., 0], _grey())


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


# ------------------------------------------------------------------------ EXIF orientation


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_exif_orientation_6(tmp_path, suffix):
    if suffix == ".webp" and not features.check("webp"):
        pytest.skip("Pillow built without WebP")
    stored = np.kron(_rgb(3, 4), np.ones((8, 8, 1), np.uint8))  # blocks survive JPEG
    kwargs = {"quality": 100, "subsampling": 0} if suffix == ".jpg" else {}
    kwargs = {"lossless": True} if suffix == ".webp" else kwargs
    path = _save(tmp_path / f"a{suffix}", stored, exif=_exif(6), **kwargs)
    image, meta = read_image(path)
    expected = np.rot90(stored, k=-1)  # 6: rotate 90 degrees clockwise
    assert image.shape == expected.shape == (32, 24, 3)
    tol = 3 if suffix == ".jpg" else 0
    assert np.abs(image.astype(int) - expected).max() <= tol
    assert meta.exif_transposed
    assert meta.stored_size == (32, 24) and (meta.width, meta.height) == (24, 32)
    assert read_image_size(path) == (24, 32)
    assert read_image_size(path, exif=False) == (32, 24)


def test_mask_follows_exif_orientation(tmp_path):
    stored = _indices()
    path = tmp_path / "m.png"
    Image.fromarray(stored).save(path, exif=_exif(6))
    mask, meta = read_mask(path)
    np.testing.assert_array_equal(mask, np.rot90(stored, k=-1))
    assert meta.exif_transposed and meta.stored_size == (W, H) and mask.shape == (W, H)
    image_path = _save(tmp_path / "i.png", _rgb(), exif=_exif(6))
    assert read_image(image_path)[0].shape[:2] == mask.shape


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(tmp_path, orientation):
    path = _save(tmp_path / "a.png", _rgb(), exif=_exif(orientation))
    with Image.open(path) as img:
        expected = np.asarray(ImageOps.exif_transpose(img))
    image, meta = read_image(path)
    np.testing.assert_array_equal(image, expected)
    assert meta.exif_transposed == (orientation != 1)
    assert read_image_size(path) == (expected.shape[1], expected.shape[0])
    np.testing.assert_array_equal(read_mask(path)[0], expected)
    # the TIFF Orientation tag means the same
    tifffile.imwrite(
        tmp_path / "a.tif", _rgb(), photometric="rgb", extratags=[(274, 3, 1, orientation, True)]
    )
    image, meta = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image, expected)
    assert meta.exif_transposed == (orientation != 1) and meta.stored_size == (W, H)
    assert read_image_size(tmp_path / "a.tif") == (expected.shape[1], expected.shape[0])
    assert read_image_size(tmp_path / "a.tif", exif=False) == (W, H)


def test_invalid_orientation_is_ignored(tmp_path):
    path = _save(tmp_path / "a.png", _rgb(), exif=_exif(9))
    image, meta = read_image(path)
    np.testing.assert_array_equal(image, _rgb())
    assert not meta.exif_transposed and read_image_size(path) == (W, H)
    bad_tag = [(274, 3, 1, 0, True)]
    tifffile.imwrite(tmp_path / "a.tif", _rgb(), photometric="rgb", extratags=bad_tag)
    image, meta = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image, _rgb())
    assert not meta.exif_transposed and read_image_size(tmp_path / "a.tif") == (W, H)


def test_png_exif_after_pixels(tmp_path):
    _save(tmp_path / "a.png", _rgb(), exif=_exif(6))
    chunks = _png_chunks((tmp_path / "a.png").read_bytes())
    exif = [c for c in chunks if c[0] == b"eXIf"]
    others = [c for c in chunks if c[0] != b"eXIf"]
    assert exif and others[-1][0] == b"IEND"
    path = tmp_path / "late.png"
    path.write_bytes(_png_bytes(others[:-1] + exif + others[-1:]))
    image, _ = read_image(path)
    np.testing.assert_array_equal(image, np.rot90(_rgb(), k=-1))
    assert read_image_size(path) == (H, W)


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


# ------------------------------------------------------------------- decompression bombs


@pytest.mark.parametrize("limit", [6000, 1000])  # Pillow warns above 1x, errors above 2x
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_decompression_bomb_limit(tmp_path, monkeypatch, limit, suffix):
    path = tmp_path / f"big{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, np.zeros((100, 100), np.uint8))
    else:
        _save(path, np.zeros((100, 100), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    for read in (read_image, read_mask):
        with pytest.raises(DataError) as excinfo:
            read(path)
        message = _assert_names_file(excinfo, path)
        assert "allow_large=True" in message and "--allow-large-images" in message
        assert f"{limit:,}" in message and "10,000" in message
        assert limit == Image.MAX_IMAGE_PIXELS
        array, meta = read(path, allow_large=True)
        assert array.shape[:2] == (100, 100) and meta.stored_size == (100, 100)
        assert limit == Image.MAX_IMAGE_PIXELS
    assert read_image_size(path) == (100, 100)  # no pixels decoded, no limit
    assert limit == Image.MAX_IMAGE_PIXELS


def test_limit_restored_after_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    path = tmp_path / "bad.png"
    path.write_text("not an image")
    with pytest.raises(DataError):
        read_image(path, allow_large=True)
    assert Image.MAX_IMAGE_PIXELS == 1000


# ---------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_truncated_file(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    if suffix == ".tif":
        tifffile.imwrite(path, noise, photometric="rgb")
    else:
        _save(path, noise)
    _truncate(path)
    for read in (read_image, read_mask):
        with pytest.raises(DataError) as excinfo:
            read(path)
        message = _assert_names_file(excinfo, path)
        assert "truncated" in message


def test_truncated_16bit_colour_png(tmp_path):
    noise = np.random.default_rng(0).integers(0, 65536, (64, 64, 3), dtype=np.uint16)
    path = _truncate(_png16(tmp_path / "cut.png", noise, colour_type=2))
    with pytest.raises(DataError) as excinfo:
        read_image(path)
    _assert_names_file(excinfo, path)


@pytest.mark.parametrize("name", ["text.png", "text.jpg", "text.tif", "empty.png"])
def test_not_an_image(tmp_path, name):
    path = tmp_path / name
    path.write_text("" if name.startswith("empty") else "hello, I am text\n" * 20)
    for read in (read_image, read_mask, read_image_size):
        with pytest.raises(DataError) as excinfo:
            read(path)
        _assert_names_file(excinfo, path)


@pytest.mark.parametrize("name", ["missing.png", "missing.tif"])
def test_missing_file(tmp_path, name):
    path = tmp_path / name
    for read in (read_image, read_mask, read_image_size):
        with pytest.raises(DataError) as excinfo:
            read(path)
        assert "not found" in _assert_names_file(excinfo, path)


def test_data_error_is_value_error(tmp_path):
    with pytest.raises(ValueError):
        read_image(tmp_path / "missing.png")


# ---------------------------------------------------------------------------------- masks


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


# ----------------------------------------------------------------------------------- misc


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jpg", True),
        ("a.JPEG", True),
        ("dir/a.png", True),
        ("a.Tif", True),
        ("a.tiff", True),
        ("a.webp", True),
        ("a.bmp", True),
        ("a.gif", True),
        ("a.txt", False),
        ("a.json", False),
        ("png", False),
    ],
)
def test_is_image_file(name, expected):
    assert is_image_file(name) is expected
    assert is_image_file(Path(name)) is expected


def test_meta_is_frozen_and_comparable(tmp_path):
    _, meta = read_image(_save(tmp_path / "a.png", _rgb()))
    _, again = read_image(tmp_path / "a.png")
    assert isinstance(meta, ImageMeta) and meta == again
    with pytest.raises(AttributeError):
        meta.width = 3
