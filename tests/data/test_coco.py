"""COCO reading: polygons, RLE, crowds, ids, categories, layouts."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from seglab.core.constants import IGNORE_INDEX
from seglab.data import open_dataset
from seglab.data.coco import CocoSource, find_annotation_file
from seglab.data.layout import discover
from seglab.data.rle import coco_uncompressed_rle, encode_coco_rle
from seglab.errors import DataError
from tests.builders import coco_dataset, square, write_image


def _ann(aid, iid, cid, seg, iscrowd=0, **kw):
    return {"id": aid, "image_id": iid, "category_id": cid, "segmentation": seg,
            "iscrowd": iscrowd, **kw}  # fmt: skip


def test_polygon_square_gives_known_mask(tmp_path):
    coco_dataset(tmp_path)
    src = open_dataset(tmp_path, val_fraction=0)
    assert src.classes == ["background", "thing"]
    mask = src.load_mask(0)
    assert mask.dtype == np.int64 and mask.shape == (32, 32)
    # pycocotools fills the square [4, 12) x [4, 12): 64 pixels
    assert mask.sum() == 64 and mask[4:12, 4:12].all()
    assert src.load_mask(1).sum() == 0  # image without annotations: all background


def test_multipart_polygon_and_rle_formats(tmp_path):
    obj = np.zeros((32, 32), np.uint8)
    obj[20:30, 2:6] = 1
    crowd = np.zeros((32, 32), np.uint8)
    crowd[0:3, 0:32] = 1
    anns = [
        _ann(1, 1, 1, [square(2, 2, 4), square(10, 10, 4)]),  # two parts, one object
        _ann(2, 1, 1, encode_coco_rle(obj)),  # compressed RLE
        _ann(3, 2, 1, coco_uncompressed_rle(obj)),  # uncompressed RLE
        _ann(4, 2, 1, coco_uncompressed_rle(crowd), iscrowd=1),
    ]
    coco_dataset(tmp_path, annotations=anns)
    src = CocoSource(tmp_path / "coco_annotations.json")
    m1 = src.load_mask(0)
    assert m1[2:6, 2:6].all() and m1[10:14, 10:14].all() and m1[20:30, 2:6].all()
    assert m1.sum() == 16 + 16 + 40
    m2 = src.load_mask(1)
    assert (m2[20:30, 2:6] == 1).all()
    assert (m2[0:3] == IGNORE_INDEX).all()  # crowd -> ignore by default
    assert len(src.instances(0)) == 2 and src.instances(1)[1].iscrowd


@pytest.mark.parametrize(
    ("crowd", "expected"), [("ignore", IGNORE_INDEX), ("foreground", 1), ("background", 0)]
)
def test_crowd_modes(tmp_path, crowd, expected):
    crowd_mask = np.zeros((32, 32), np.uint8)
    crowd_mask[16:24, 16:24] = 1
    anns = [_ann(1, 1, 1, [square(0, 0, 8)]), _ann(2, 1, 1, encode_coco_rle(crowd_mask), 1)]
    coco_dataset(tmp_path, annotations=anns)
    mask = CocoSource(tmp_path / "coco_annotations.json", crowd=crowd).load_mask(0)
    assert (mask[16:24, 16:24] == expected).all()
    assert (mask[0:8, 0:8] == 1).all()


def test_crowd_does_not_erase_objects(tmp_path):
    crowd_mask = np.ones((32, 32), np.uint8)
    anns = [_ann(1, 1, 1, [square(0, 0, 8)]), _ann(2, 1, 1, encode_coco_rle(crowd_mask), 1)]
    coco_dataset(tmp_path, annotations=anns)
    mask = CocoSource(tmp_path / "coco_annotations.json").load_mask(0)
    assert (mask[0:8, 0:8] == 1).all() and (mask[8:, 8:] == IGNORE_INDEX).all()


def test_string_ids_noncontiguous_categories_and_overlap_order(tmp_path):
    images = [
        {"id": "img-a", "file_name": "a.png", "width": 32, "height": 32},
        {"id": "img-b", "file_name": "b.png", "width": 32, "height": 32},
    ]
    cats = [{"id": 17, "name": "cat"}, {"id": 3, "name": "dog"}]
    anns = [
        _ann("x1", "img-a", 17, [square(8, 8, 4)]),  # small, on top of the big one
        _ann("x2", "img-a", 3, [square(0, 0, 20)]),
    ]
    coco_dataset(tmp_path, images=images, annotations=anns, categories=cats)
    src = CocoSource(tmp_path / "coco_annotations.json")
    assert src.classes == ["background", "dog", "cat"]  # ordered by category id
    mask = src.load_mask(0)
    assert (mask[8:12, 8:12] == 2).all()  # small object stays visible over the large one
    assert mask[0, 0] == 1 and mask[19, 19] == 1 and mask[25, 25] == 0
    assert src.items[0].image_id == "img-a"
    assert src.num_annotated == 1 and len(src) == 2


def test_image_id_of_other_type_is_matched_with_warning(tmp_path):
    coco_dataset(tmp_path, annotations=[_ann(1, "1", 1, [square(0, 0, 4)])])
    src = CocoSource(tmp_path / "coco_annotations.json")
    assert src.load_mask(0).sum() == 16
    assert any("matched to image id 1" in p.message for p in src.problems)


def test_roboflow_export_layout_and_supercategory(tmp_path):
    # Roboflow: JSON beside the images, named _annotations.coco.json, with a dataset-name
    # category 0 that is only the supercategory of the real one.
    split = tmp_path / "train"
    write_image(split / "a.jpg")
    cats = [
        {"id": 0, "name": "butts", "supercategory": "none"},
        {"id": 1, "name": "butt", "supercategory": "butts"},
    ]
    (split / "_annotations.coco.json").write_text(
        '{"images":[{"id":0,"file_name":"a.jpg","width":32,"height":32}],'
        '"annotations":[{"id":0,"image_id":0,"category_id":1,"bbox":[0,0,4,4],'
        '"segmentation":[[0,0,4,0,4,4,0,4]],"iscrowd":0}],'
        + f'"categories":{cats}'.replace("'", '"')
        + "}"
    )
    specs = discover(tmp_path)
    assert specs["train"].kind == "coco" and specs["train"].images == split
    src = open_dataset(tmp_path, val_fraction=0)
    assert src.classes == ["background", "butt"]
    assert src.load_mask(0).sum() == 16


def test_cvat_layout_annotations_folder_and_subdir_file_names(tmp_path):
    write_image(tmp_path / "images" / "sub" / "a.png")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_default.json").write_text(
        '{"images":[{"id":1,"file_name":"sub/a.png","width":32,"height":32}],'
        '"annotations":[],"categories":[{"id":1,"name":"x"}]}'
    )
    assert find_annotation_file(tmp_path).name == "instances_default.json"
    src = open_dataset(tmp_path, val_fraction=0)
    assert src.items[0].image_path == tmp_path / "images" / "sub" / "a.png"


def test_explicit_annotations_and_images(tmp_path):
    json_path = coco_dataset(tmp_path / "export", json_name="labels/whatever.json")
    src = open_dataset(annotations=json_path, images=tmp_path / "export" / "images", val_fraction=0)
    assert len(src) == 2 and src.load_mask(0).sum() == 64


def test_several_json_files_must_be_chosen(tmp_path):
    coco_dataset(tmp_path, json_name="a.json")
    coco_dataset(tmp_path, json_name="b.json")
    with pytest.raises(DataError, match="several COCO annotation files"):
        discover(tmp_path)


def test_missing_width_height_read_from_file(tmp_path):
    images = [{"id": 1, "file_name": "a.png"}]
    write_image(tmp_path / "images" / "a.png", 20, 30)
    coco_dataset(
        tmp_path,
        images=images,
        annotations=[_ann(1, 1, 1, [square(0, 0, 4)])],
        create_files=False,
    )
    mask = CocoSource(tmp_path / "coco_annotations.json").load_mask(0)
    assert mask.shape == (20, 30) and mask.sum() == 16


def test_pycocotools_agreement_on_polygon(tmp_path):
    poly = [3.5, 2.0, 25.0, 6.5, 18.2, 28.9, 4.0, 20.0]
    coco_dataset(tmp_path, annotations=[_ann(1, 1, 1, [poly])])
    mask = CocoSource(tmp_path / "coco_annotations.json").load_mask(0)
    expected = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([poly], 32, 32)))
    assert np.array_equal(mask, expected.astype(np.int64))


def test_invalid_json_names_line(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "ann.json").write_text('{"images": [,]}')
    with pytest.raises(DataError, match=r"ann\.json: invalid JSON at line 1"):
        CocoSource(tmp_path / "ann.json")


def test_missing_top_level_key(tmp_path):
    (tmp_path / "ann.json").write_text('{"annotations": []}')
    with pytest.raises(DataError, match=r'ann\.json: missing key "images"'):
        CocoSource(tmp_path / "ann.json")


def test_an_image_with_over_255_objects_loads(tmp_path):
    # pycocotools' area() overflows past 255 objects in one call (numpy 2 refuses the wrap)
    anns = [_ann(k + 1, 1, 1, [square(4 * (k % 20), 4 * (k // 20), 2)]) for k in range(300)]
    images = [{"id": 1, "file_name": "a.png", "width": 80, "height": 60}]
    coco_dataset(tmp_path, images=images, annotations=anns, size=(60, 80))
    src = open_dataset(tmp_path, val_fraction=0)
    mask = src.load_mask(0)
    assert mask.shape == (60, 80) and int(mask.sum()) == 300 * 4
    assert len(src.instances(0)) == 300


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("annotations.json", "", True),  # empty: broken, not "no annotations"
        ("notes.json", "not json at all", True),  # not JSON text
        ("_annotations.coco.json", "{}", True),  # named as annotations, no COCO key
        ("meta.json", '{"classes": ["a"]}', False),  # some other JSON: not the annotations
    ],
)
def test_a_broken_annotation_file_is_found_not_ignored(tmp_path, name, text, found):
    write_image(tmp_path / "images" / "a.png")
    (tmp_path / name).write_text(text)
    assert (find_annotation_file(tmp_path) == tmp_path / name) is found


def test_an_empty_or_deeply_nested_file_says_so(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "ann.json").write_text(" \n")
    with pytest.raises(DataError, match=r"ann\.json: the annotation file is empty"):
        CocoSource(tmp_path / "ann.json")
    (tmp_path / "ann.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match=r"ann\.json: JSON nested too deeply"):
        CocoSource(tmp_path / "ann.json")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"iscrowd": "0"}, "(id=1).iscrowd"),  # a string is not read as crowd
        ({"iscrowd": 2}, "(id=1).iscrowd"),
        ({"image_id": [1]}, "(id=1).image_id"),
        ({"category_id": {"id": 1}}, "(id=1).category_id"),
        ({"id": [1]}, "annotations[0].id"),
    ],
)
def test_loose_types_are_errors_and_the_annotation_is_left_out(tmp_path, change, field):
    coco_dataset(tmp_path, annotations=[{**_ann(1, 1, 1, [square(4, 4, 8)]), **change}])
    src = CocoSource(tmp_path / "coco_annotations.json")
    errors = [str(p) for p in src.log.errors]
    assert len(errors) == 1 and field in errors[0]
    assert src.load_mask(0).sum() == 0  # left out: not painted, not ignored as a crowd


def test_far_polygon_vertices_are_clipped_drawing_the_same_pixels(tmp_path):
    from seglab.data.coco_fields import clip_polygon

    poly = [4.0, 4.0, 300.0, 10.0, 20.0, 250.0]  # far outside: pycocotools walks every pixel
    clipped = clip_polygon(poly, 32, 32)
    assert max(clipped) <= 64 and min(clipped) >= -32
    assert clip_polygon([4, 4, 50, 4, 4, -20], 32, 32) == [4, 4, 50, 4, 4, -20]  # near: as is
    direct = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([poly], 32, 32)))
    drawn = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([clipped], 32, 32)))
    assert (direct != drawn).sum() <= 2 and direct.sum() > 300  # an edge pixel's rounding
    huge = [4, 4, 2.0**40, 4, 4, 2.0**40]  # past C ints: would crash pycocotools unclipped
    coco_dataset(tmp_path, annotations=[_ann(1, 1, 1, [huge])])
    mask = CocoSource(tmp_path / "coco_annotations.json").load_mask(0)
    assert mask[5, 5] == 1 and mask[31, 31] == 1 and mask[2, 2] == 0
