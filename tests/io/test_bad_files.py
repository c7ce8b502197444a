"""Tests of seglab.io on bad files: every failure is a DataError that names the file."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from seglab.errors import DataError
from seglab.io import read_image, read_image_size, read_mask
from tests.io.synthetic import _assert_names_file, _png16, _save, _truncate

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")


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
