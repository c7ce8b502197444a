"""Tests of seglab.core.files: image names, safe and unique file names, output folders."""

from __future__ import annotations

import pytest

from seglab.core.files import atomic_write, is_image_file, prepare_out, safe_name, unique_name
from seglab.errors import SeglabError


def test_is_image_file_goes_by_the_extension_in_any_case():
    assert is_image_file("a/b.JPG") and is_image_file("x.tiff")
    assert not is_image_file("notes.txt") and not is_image_file("mask")


@pytest.mark.parametrize(
    ("key", "name"),
    [("a/b c.jpg", "a__b_c"), ("..", "item"), ("<script>.png", "script"), ("x.tar.gz", "x.tar.gz")],
)
def test_safe_name_keeps_folders_apart_and_drops_unsafe_characters(key, name):
    assert safe_name(key) == name


def test_unique_name_numbers_clashes_case_insensitively():
    used: set[str] = set()
    assert [unique_name(n, used) for n in ("a", "A", "a", "b")] == ["a", "A_2", "a_3", "b"]


def test_prepare_out_refuses_a_non_empty_folder_unless_asked(tmp_path):
    out = prepare_out(tmp_path / "new" / "out", False, what="masks")
    assert out.is_dir()
    (out / "x.png").write_bytes(b"")
    with pytest.raises(SeglabError, match="not empty; pass overwrite=True"):
        prepare_out(out, False, what="masks")
    assert prepare_out(out, True, what="masks") == out
    (tmp_path / "file").write_text("x")
    with pytest.raises(SeglabError, match="not a folder"):
        prepare_out(tmp_path / "file", True, what="masks")


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = atomic_write(tmp_path / "a.json", lambda tmp: tmp.write_text("{}"))
    assert path.read_text() == "{}" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_safe_name():
    assert safe_name("a/b c?.jpg") == "a__b_c"
    assert safe_name("../x.png") == "x"
    assert safe_name("???") == "item"
