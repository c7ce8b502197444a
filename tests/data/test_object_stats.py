"""Objects per image, touching objects and objects cut by crops, alone and in `data check`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seglab.api import check_dataset as api_check
from seglab.core.labels import from_label_image
from seglab.data.checks import check_dataset
from seglab.data.object_stats import (
    ObjectStats,
    cut_by_crop,
    object_sides,
    touching_ids,
    touching_pairs,
)
from seglab.errors import ConfigError

from .objects import three_objects, write_coco, write_dsb, write_label_folder


def test_two_touching_squares_and_a_disc_apart():
    labels = three_objects()
    assert touching_ids(labels).tolist() == [[1, 2]]
    assert touching_pairs(labels) == 1
    assert object_sides(labels).tolist() == [8, 8, 9]
    assert cut_by_crop(labels, 8) == 1 and cut_by_crop(labels, 7) == 3
    assert cut_by_crop(labels, 9) == 0


def test_diagonal_neighbours_touch_and_a_gap_does_not():
    labels = np.zeros((5, 5), np.int32)
    labels[0, 0], labels[1, 1] = 1, 2  # diagonal: 8-neighbours
    labels[3, 4], labels[4, 3] = 3, 4  # anti-diagonal
    labels[0, 4] = 5  # apart from every other
    assert touching_ids(labels).tolist() == [[1, 2], [3, 4]]
    assert touching_pairs(np.zeros((4, 4), np.int32)) == 0
    assert touching_pairs(np.zeros((0, 0), np.int32)) == 0


def test_object_stats_add_up_over_images():
    stats = ObjectStats(crop_size=8)
    stats.add(from_label_image(three_objects()), "a")
    stats.add(from_label_image(np.zeros((4, 4), np.int32)), "b")
    assert (stats.images, stats.objects, stats.touching_images, stats.touching_pairs) == (
        2,
        3,
        1,
        1,
    )
    assert stats.larger_than_crop == 1 and stats.cut_share == pytest.approx(1 / 3)
    assert stats.touching_examples == ["a (1 pair)"]
    d = stats.to_dict([3, 0])
    assert d["per_image"] == {"min": 0, "median": 1.5, "max": 3, "total": 3}
    assert ObjectStats().cut_share is None and ObjectStats().to_dict()["larger_than_crop"] is None


@pytest.mark.parametrize("write", [write_coco, write_dsb, write_label_folder])
def test_data_check_reports_the_objects_of_every_instance_format(tmp_path, write):
    labels = three_objects()
    write(tmp_path, {"a": labels, "b": np.where(labels == 3, 1, 0)})
    report = check_dataset(tmp_path, crop_size=8)
    assert report.ok, [str(p) for p in report.problems]
    s = report.splits[0]
    assert s.objects_per_image == [3, 1]
    stats = s.objects
    assert (stats.touching_images, stats.touching_pairs, stats.larger_than_crop) == (1, 1, 2)
    assert stats.cut_share == pytest.approx(2 / 4)
    d = s.to_dict()["objects"]
    assert d["per_image"] == {"min": 1, "median": 2.0, "max": 3, "total": 4}
    assert d["crop_size"] == 8 and d["touching_pairs"] == 1


def test_objects_off_and_crop_size_checked(tmp_path):
    write_coco(tmp_path, {"a": three_objects()})
    off = check_dataset(tmp_path, objects=False).splits[0]
    assert off.objects is None and off.to_dict()["objects"] is None
    assert off.objects_per_image == [3]
    assert check_dataset(tmp_path).splits[0].objects.larger_than_crop == 0  # no crop given
    with pytest.raises(ConfigError, match="crop size"):
        check_dataset(tmp_path, crop_size=0)


def test_objects_in_the_json_report(tmp_path):
    write_coco(tmp_path / "data", {"a": three_objects()})
    out = tmp_path / "report.json"
    api_check(tmp_path / "data", json_out=out, crop_size=7)
    objects = json.loads(out.read_text())["splits"][0]["objects"]
    assert objects["touching_pairs"] == 1 and objects["larger_than_crop"] == 3
    assert objects["cut_share"] == 1.0
