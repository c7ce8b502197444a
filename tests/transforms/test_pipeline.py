"""Tests of seglab.transforms.pipeline: building by name, checking, storing, and the registry."""

from __future__ import annotations

import inspect
import json
import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from seglab.errors import ConfigError
from seglab.transforms import (
    TRANSFORMS,
    Pipeline,
    TransformSpec,
    build_pipeline,
    clahe,
    median,
    normalize,
    opening,
    parse_step,
)


def image_and_mask():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (16, 16, 3)).astype(np.uint8)
    mask = np.zeros((16, 16), np.int64)
    mask[4:12, 4:12] = 1
    mask[0, 0] = 1
    return image, mask


def test_strings_dicts_and_specs_build_the_same_pipeline():
    a = build_pipeline(["clahe:clip_limit=2.0,tile_grid=8", "normalize:mode=zscore"])
    b = build_pipeline(
        [
            {"name": "clahe", "clip_limit": 2.0, "tile_grid": 8},
            {"name": "normalize", "mode": "zscore"},
        ]
    )
    c = build_pipeline(
        [
            TransformSpec(name="clahe", params={"clip_limit": 2.0, "tile_grid": 8}),
            {"name": "normalize", "params": {"mode": "zscore"}},
        ]
    )
    d = build_pipeline("clahe:clip_limit=2.0,tile_grid=8; normalize:mode=zscore")
    assert a == b == c == d
    assert len(a) == 2


def test_pipeline_applies_steps_in_order():
    image, mask = image_and_mask()
    pipe = build_pipeline(["median:size=3", "clahe", "opening:radius=1", "normalize"])
    out_img, out_mask = pipe(image, mask)
    expect_img, expect_mask = normalize(*opening(*clahe(*median(image, mask, size=3))))
    np.testing.assert_array_equal(out_img, expect_img)
    np.testing.assert_array_equal(out_mask, expect_mask)
    assert out_mask[0, 0] == 0  # the speck was opened away
    pred_img, pred_mask = pipe(image)  # prediction time: no mask
    assert pred_mask is None
    np.testing.assert_array_equal(pred_img, out_img)


def test_parse_values():
    spec = parse_step(
        "centre: size=[64, 48], mode=pad, at=none, fill=0.5,"
        " flag=TRUE, other=false, word='x', n=-3, e=1e-3"
    )
    assert spec.name == "centre"
    assert spec.params == {
        "size": [64, 48],
        "mode": "pad",
        "at": None,
        "fill": 0.5,
        "flag": True,
        "other": False,
        "word": "x",
        "n": -3,
        "e": 1e-3,
    }
    assert isinstance(spec.params["n"], int) and isinstance(spec.params["fill"], float)


def test_parse_refuses_items_without_equals():
    with pytest.raises(ConfigError, match="not key=value"):
        parse_step("clahe:2.0")


def test_to_config_is_json_and_round_trips():
    pipe = build_pipeline(
        [
            "gaussian:sigma=1.5",
            "centre:size=[32,32],mode=pad",
            {"name": "normalize", "mode": "fixed", "mean": (0.5, 0.4, 0.3), "std": np.float64(0.2)},
        ]
    )
    config = pipe.to_config()
    text = json.dumps(config)
    again = Pipeline.from_config(json.loads(text))
    assert again == pipe
    assert again.to_config() == config
    assert build_pipeline(str(pipe)) == pipe


def test_to_config_records_every_parameter():
    config = build_pipeline(["clahe"]).to_config()
    assert config == [
        {"name": "clahe", "params": {"clip_limit": 2.0, "tile_grid": 8, "per_channel": False}}
    ]


def test_unknown_name_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        build_pipeline(["median", "claeh"])
    message = str(err.value)
    assert "step 2 'claeh'" in message and "did you mean 'clahe'" in message
    for name in TRANSFORMS:
        assert name in message


def test_unknown_parameter_names_it_and_lists_valid_ones():
    with pytest.raises(ConfigError) as err:
        build_pipeline([{"name": "clahe", "clip": 2}])
    message = str(err.value)
    assert "step 1 'clahe'" in message and "'clip'" in message
    assert "clip_limit, tile_grid, per_channel" in message


@pytest.mark.parametrize(
    ("step", "match"),
    [
        ("gaussian:sigma=-1", "step 1 'gaussian': sigma must be >= 0"),
        ("median:size=4", "step 1 'median': size must be odd"),
        ("normalize:mode=unit", "step 1 'normalize': mode must be one of"),
        ("centre:mode=shift", "step 1 'centre': mode must be one of crop, pad"),
        ("opening:radius=a", "step 1 'opening': radius must be an integer"),
        ({"sigma": 1}, "needs a 'name'"),
        (3, "expected a string, a dict or a TransformSpec"),
        ({"name": "gaussian", "sigma": object()}, "parameter values must be"),
    ],
)
def test_bad_steps_are_config_errors(step, match):
    with pytest.raises(ConfigError, match=match):
        build_pipeline([step])


def test_a_dict_is_not_a_pipeline():
    with pytest.raises(ConfigError, match="list of steps"):
        build_pipeline({"name": "clahe"})


def test_data_dependent_values_are_left_to_the_data():
    # 5 per-channel means cannot be tried on the 3-channel probe image, but are a valid config
    pipe = build_pipeline([{"name": "normalize", "mode": "fixed", "mean": [0.5] * 5, "std": 0.2}])
    out, _ = pipe(np.full((4, 4, 5), 0.7, np.float32))
    np.testing.assert_allclose(out, 1.0, rtol=1e-5)


def test_transform_spec_is_frozen_and_strict():
    spec = TransformSpec(name="gaussian", params={"sigma": (1, 2)})
    assert spec.params == {"sigma": [1, 2]}  # tuples are stored as JSON lists
    with pytest.raises(ValidationError):
        spec.name = "median"
    with pytest.raises(ValidationError):
        TransformSpec(name="gaussian", sigma=1)


def test_pipeline_pickles_for_data_loader_workers():
    pipe = build_pipeline(["clahe", "normalize:mode=imagenet"])
    again = pickle.loads(pickle.dumps(pipe))
    image, mask = image_and_mask()
    assert again == pipe
    np.testing.assert_array_equal(again(image, mask)[0], pipe(image, mask)[0])


def test_empty_pipeline_is_identity():
    image, mask = image_and_mask()
    pipe = build_pipeline([])
    out_img, out_mask = pipe(image, mask)
    assert out_img is image and out_mask is mask
    assert pipe.to_config() == [] and str(pipe) == ""


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_every_registered_transform_follows_the_convention(name):
    """(image, mask, *, options with defaults) -> (image, mask); builds with its defaults."""
    fn = TRANSFORMS[name]
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params[:2]] == ["image", "mask"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[2:])
    assert all(p.default is not inspect.Parameter.empty for p in params[2:])
    image, mask = image_and_mask()
    out_img, out_mask = build_pipeline([name])(image, mask)
    assert out_img.shape[:2] == out_mask.shape
