"""Tests of seglab.io on bad files: every failure is a DataError that names the file."""

from __future__ import annotations

import builtins
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tifffile

from seglab.errors import DataError
from seglab.io import read_image, read_image_size, read_mask
from tests.io.synthetic import _assert_names_file, _png16, _png_bytes, _save, _truncate

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


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "the file is empty (0 bytes)"),
        (b"Hello, I am text\n" * 20, "holds text, not image data (it starts 'Hello, I am"),
        (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "holds HTML"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG drawing"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(200), "is a PDF document"),
        (_png_bytes([(b"IHDR", struct.pack(">IIBBBBB", 0, 0, 8, 0, 0, 0, 0))]), "0 x 0 pixels"),
    ],
)
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_what_a_file_holds_instead_of_an_image(tmp_path, data, words, suffix):
    path = tmp_path / f"x{suffix}"
    path.write_bytes(data)
    for read in (read_image, read_mask):
        with pytest.raises(DataError, match=re.escape(words)) as excinfo:
            read(path)
        assert "re-export or remove the file" in _assert_names_file(excinfo, path)


@pytest.mark.parametrize(
    ("stored", "name"), [(".png", "x.tif"), (".tif", "x.png"), (".png", "x.jpg")]
)
def test_the_content_picks_the_reader_not_the_extension(tmp_path, stored, name):
    arr = np.random.default_rng(0).random((6, 8, 3), dtype=np.float32)
    source = tmp_path / f"source{stored}"
    if stored == ".tif":  # float RGB: Pillow cannot read it, tifffile can
        tifffile.imwrite(source, arr, photometric="rgb")
    else:
        arr = (arr * 255).astype(np.uint8)
        _save(source, arr)
    source.rename(tmp_path / name)
    image, meta = read_image(tmp_path / name)
    np.testing.assert_array_equal(image, arr)
    assert meta.format == ("TIFF" if stored == ".tif" else "PNG")
    assert read_image_size(tmp_path / name) == (8, 6)


def test_folders_and_broken_links_are_named(tmp_path):
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "loop.png").symlink_to("loop.png")
    (tmp_path / "gone.tif").symlink_to(tmp_path / "nowhere.tif")
    expected = {
        "dir.png": "a folder, not an image file",
        "loop.png": "symbolic link loop",
        "gone.tif": "broken symbolic link (it points to",
    }
    for name, words in expected.items():
        for read in (read_image, read_mask, read_image_size):
            with pytest.raises(DataError, match=re.escape(words)) as excinfo:
                read(tmp_path / name)
            _assert_names_file(excinfo, tmp_path / name)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_permission_denied_is_not_called_truncated(tmp_path, monkeypatch, suffix):
    # tests run as root, where chmod 000 does not stop a read: refuse the open instead
    path = tmp_path / f"locked{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, np.zeros((4, 4), np.uint8))
    else:
        _save(path, np.zeros((4, 4), np.uint8))
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(os.fsdecode(file)) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)
    for read in (read_image, read_mask):
        with pytest.raises(DataError, match="permission denied") as excinfo:
            read(path)
        assert "truncated" not in _assert_names_file(excinfo, path)


def _flip(path: Path, at: int) -> Path:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("where", ["cut", "pixels", "crc", "filter"])
def test_broken_16bit_colour_png_prints_nothing_but_the_error(tmp_path, capfd, where):
    # OpenCV and libpng print their own complaints straight to the terminal: seglab checks
    # the file first, so a person reads one message, which names the file
    noise = np.random.default_rng(0).integers(0, 65536, (16, 16, 3), dtype=np.uint16)
    path = _png16(tmp_path / "deep.png", noise, colour_type=2)
    size = len(path.read_bytes())
    if where == "cut":
        _truncate(path)
    elif where == "pixels":
        _flip(path, 33 + 8 + 40)  # inside the zlib stream of IDAT (CRC fixed below)
        data = path.read_bytes()
        (length,) = struct.unpack(">I", data[33:37])
        body = data[37 : 41 + length]
        path.write_bytes(
            data[: 41 + length] + struct.pack(">I", zlib.crc32(body)) + data[45 + length :]
        )
    elif where == "crc":
        _flip(path, size - 13)  # the last byte of IDAT's CRC
    else:  # a valid stream whose first row has filter type 9
        raw = bytearray(
            b"".join(b"\x00" + row.tobytes() for row in noise.astype(">u2").reshape(16, -1))
        )
        raw[0] = 9
        header = struct.pack(">IIBBBBB", 16, 16, 16, 2, 0, 0, 0)
        path.write_bytes(
            _png_bytes([(b"IHDR", header), (b"IDAT", zlib.compress(bytes(raw))), (b"IEND", b"")])
        )
    capfd.readouterr()
    with pytest.raises(DataError, match="unreadable or truncated 16-bit PNG") as excinfo:
        read_image(path)
    _assert_names_file(excinfo, path)
    assert capfd.readouterr().err == ""
