"""Tests of seglab.io.limits: the decompression-bomb limit is kept and never left changed."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from seglab.errors import DataError
from seglab.io import read_image, read_image_size, read_mask
from tests.io.synthetic import _assert_names_file, _save

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")


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


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_environment_variable_lifts_the_limit(tmp_path, monkeypatch, suffix):
    # commands without --allow-large-images (predict, train) read a trusted large image so
    path = tmp_path / f"big{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, np.zeros((100, 100), np.uint8))
    else:
        _save(path, np.zeros((100, 100), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.setenv("SEGLAB_ALLOW_LARGE_IMAGES", "0")
    with pytest.raises(DataError, match="SEGLAB_ALLOW_LARGE_IMAGES=1"):
        read_image(path)
    monkeypatch.setenv("SEGLAB_ALLOW_LARGE_IMAGES", "1")
    for read in (read_image, read_mask):
        assert read(path)[0].shape[:2] == (100, 100)
    assert Image.MAX_IMAGE_PIXELS == 1000
