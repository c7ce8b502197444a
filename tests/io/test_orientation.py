"""Tests of seglab.io.orientation: EXIF/TIFF orientation is applied exactly once."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps, features

from seglab.io import read_image, read_image_size, read_mask
from tests.io.synthetic import H, W, _exif, _indices, _png_bytes, _png_chunks, _rgb, _save

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")


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
