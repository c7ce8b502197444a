"""Tests of seglab.core.files: image names, safe and unique file names, output folders."""

from __future__ import annotations

import pytest

from seglab.core.files import (
    NAME_MAX,
    atomic_write,
    check_output_path,
    is_image_file,
    make_folder,
    prepare_file,
    prepare_out,
    safe_name,
    unique_name,
)
from seglab.errors import ConfigError, SeglabError


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


def test_an_output_path_under_a_file_names_the_option_and_the_file(tmp_path):
    (tmp_path / "file").write_text("x")
    for call in (
        lambda: prepare_out(tmp_path / "file" / "out", False, what="masks"),
        lambda: make_folder(tmp_path / "file" / "a" / "b", option="--out"),
        lambda: check_output_path(tmp_path / "file" / "x.csv", option="--out"),
    ):
        with pytest.raises(ConfigError, match=r"--out .*: .*file is a file, not a folder"):
            call()
    with pytest.raises(ConfigError, match=r"--rle-csv .*file is a file"):
        prepare_file(tmp_path / "file" / "x.csv", option="--rle-csv")
    assert not (tmp_path / "file").is_dir()


def test_a_name_longer_than_the_file_system_takes_is_refused_before_any_write(tmp_path):
    long = "é" * 130  # 260 bytes in UTF-8, 130 characters: bytes are what is counted
    with pytest.raises(ConfigError, match=rf"--name: the name .* is 260 bytes long.*{NAME_MAX}"):
        make_folder(tmp_path / "runs" / long, option="--name")
    assert not (tmp_path / "runs").exists()  # nothing made on the way
    with pytest.raises(ConfigError, match="--out: the name"):
        prepare_out(tmp_path / ("n" * 300), False, what="masks")
    assert make_folder(tmp_path / ("n" * NAME_MAX)).is_dir()  # the limit itself is fine


def test_a_folder_that_cannot_be_made_is_a_config_error(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(tmp_path), "mkdir", refuse)
    with pytest.raises(ConfigError, match=r"--out .*cannot create the folder \(no permission"):
        make_folder(tmp_path / "new")


def test_prepare_file_makes_the_folder_of_a_file(tmp_path):
    path = prepare_file(tmp_path / "a" / "b" / "masks.csv", option="--rle-csv")
    assert path.parent.is_dir() and not path.exists()


def test_atomic_write_of_a_name_as_long_as_file_systems_allow(tmp_path):
    name = "n" * 250 + ".json"  # 255 bytes: NAME.tmp would be 259, over the limit
    path = atomic_write(tmp_path / name, lambda tmp: tmp.write_text("{}"))
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == [name]
