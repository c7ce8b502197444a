"""Tests of seglab.io.meta: image extensions and ImageMeta."""

from __future__ import annotations

from pathlib import Path

import pytest

from seglab.io import ImageMeta, is_image_file, read_image
from tests.io.synthetic import _rgb, _save

# any warning (a leaked file handle, a Pillow conversion warning...) is a failure
pytestmark = pytest.mark.filterwarnings("error")


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
