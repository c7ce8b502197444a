"""Tests of seglab.io.sniff: the reader by content, and what a non-image file holds."""

from __future__ import annotations

import pytest

from seglab.io.sniff import content_format, is_tiff, missing_reason, unreadable_reason


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "PNG"),
        (b"\xff\xd8\xff\xe0", "JPEG"),
        (b"II*\x00\x08\x00", "TIFF"),
        (b"MM\x00*\x00\x00", "TIFF"),
        (b"II+\x00", "TIFF"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WEBP"),
        (b"GIF89a", "GIF"),
        (b"%PDF-1.4", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"hello", None),
        (b"", None),
    ],
)
def test_content_format(head, expected):
    assert content_format(head) == expected


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.png", b"II*\x00" + bytes(12), True),  # a TIFF named .png
        ("a.tif", b"\x89PNG\r\n\x1a\n" + bytes(8), False),  # a PNG named .tif
        ("a.tif", b"", True),  # nothing to tell: the extension decides
        ("a.png", b"junk junk junk", False),
        ("a.TIFF", b"junk junk junk", True),
    ],
)
def test_is_tiff_by_content_then_extension(tmp_path, name, data, expected):
    path = tmp_path / name
    path.write_bytes(data)
    assert is_tiff(path) is expected


def test_is_tiff_of_a_missing_file_follows_the_extension(tmp_path):
    assert is_tiff(tmp_path / "gone.tif") and not is_tiff(tmp_path / "gone.png")


def test_missing_reason(tmp_path):
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "loop.png").symlink_to("loop.png")
    (tmp_path / "gone.png").symlink_to("/nowhere/x.png")
    assert missing_reason(tmp_path / "dir.png") == "a folder, not an image file"
    assert missing_reason(tmp_path / "loop.png").startswith("symbolic link loop")
    assert "it points to /nowhere/x.png" in missing_reason(tmp_path / "gone.png")
    assert missing_reason(tmp_path / "absent.png") == "file not found"


def test_unreadable_reason_says_nothing_about_binary_junk(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(bytes(range(128, 256)) * 4)
    assert unreadable_reason(path) is None
    assert unreadable_reason(tmp_path / "absent.png") is None


def test_unreadable_reason_of_text_cut_inside_a_character(tmp_path):
    # the 512 bytes read may end in the middle of a multi-byte character: still text
    path = tmp_path / "x.png"
    path.write_bytes(("é" * 400).encode("utf-8"))
    assert unreadable_reason(path).startswith("the file holds text")
