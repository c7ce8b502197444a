"""Tests of seglab.data.preview: colours, overlays, grids and preview folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from seglab.core.overlay import overlay
from seglab.data.coco import CocoSource
from seglab.data.folders import FolderSource
from seglab.data.inputs import ImageFolderSource
from seglab.data.preview import MAX_PREVIEW_SIDE, write_previews
from seglab.errors import ConfigError, SeglabError
from tests.data.convert.test_convert import MASK_SIZE, make_coco_dataset, make_mask_dataset


def test_write_previews_writes_one_panel_per_item_and_a_grid(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds", multiclass=True))
    paths = write_previews(src, tmp_path / "preview")
    assert [p.name for p in paths] == ["d1.png", "d2.png", "empty.png", "grid.png"]
    assert sorted(p.name for p in (tmp_path / "preview").iterdir()) == sorted(p.name for p in paths)
    panel = np.asarray(Image.open(paths[0]))
    assert panel.shape == (MASK_SIZE, 2 * MASK_SIZE + 4, 3)
    image, mask = src.load(0)
    np.testing.assert_array_equal(panel[:, :MASK_SIZE], image)
    np.testing.assert_array_equal(
        panel[:, MASK_SIZE + 4 :], overlay(image, mask, num_classes=src.num_classes)
    )
    picked = write_previews(src, tmp_path / "two", num=2, seed=3)
    again = write_previews(src, tmp_path / "two", num=2, seed=3, overwrite=True)
    assert len(picked) == 3 and [p.name for p in picked] == [p.name for p in again]


def test_write_previews_refuses_a_non_empty_folder(tmp_path):
    src = FolderSource(*make_mask_dataset(tmp_path / "ds"))
    (tmp_path / "preview").mkdir()
    (tmp_path / "preview" / "old.png").write_bytes(b"")
    with pytest.raises(SeglabError, match="--overwrite"):
        write_previews(src, tmp_path / "preview")
    assert len(write_previews(src, tmp_path / "preview", overwrite=True)) == 4
    with pytest.raises(ConfigError, match="num"):
        write_previews(src, tmp_path / "other", num=0)


def test_write_previews_skips_a_corrupt_image_with_a_warning(tmp_path):
    images, masks = make_mask_dataset(tmp_path / "ds")
    (images / "d2.png").write_bytes(b"not a png at all")
    src = FolderSource(images, masks)
    with pytest.warns(RuntimeWarning, match="d2.png"):
        paths = write_previews(src, tmp_path / "preview")
    assert [p.name for p in paths] == ["d1.png", "empty.png", "grid.png"]


def test_write_previews_of_coco_and_unlabelled_sources(tmp_path):
    src = CocoSource(make_coco_dataset(tmp_path / "coco", multiclass=True))
    paths = write_previews(src, tmp_path / "coco_preview")
    assert [p.name for p in paths] == ["a.png", "sub__b.png", "c.png", "grid.png"]
    h, w = src.image_size(0)
    assert np.asarray(Image.open(paths[0])).shape == (h, 2 * w + 4, 3)
    plain = ImageFolderSource(src.images_dir)
    paths = write_previews(plain, tmp_path / "plain_preview", num=2)
    assert len(paths) == 3
    assert np.asarray(Image.open(paths[0])).shape == (h, w, 3)


def test_write_previews_downscales_large_images(tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(np.zeros((40, 1200, 3), np.uint8)).save(folder / "wide.png")
    (path, grid) = write_previews(ImageFolderSource(folder), tmp_path / "preview")
    assert np.asarray(Image.open(path)).shape == (34, MAX_PREVIEW_SIDE, 3)
    assert grid.name == "grid.png"
