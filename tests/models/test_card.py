"""The model card: what ``model.json`` holds, written by training and read by everything else;
run folders of earlier versions read back unchanged, and a wrong field is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seglab.config import ModelConfig, TrainConfig
from seglab.errors import DataError
from seglab.models.build import build_network, model_card
from seglab.models.card import MODEL_FORMAT, InputSpec, ModelCard, read_card
from tests.builders import tiny_card

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy_runs"
KEYS = [
    "format", "seglab_version", "task", "architecture", "options", "in_channels", "num_classes",
    "out_channels", "classes", "input", "preprocess", "threshold", "augment", "best_epoch",
    "best_score", "monitor",
]  # fmt: skip


def _card(**changes) -> ModelCard:
    return tiny_card(
        **({"input": InputSpec(image_size=16, multiple=4, train_long_side=32)} | changes)
    )


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_a_model_json_from_before_the_card_reads_back_to_the_same_json(name):
    path = LEGACY / name / "model.json"
    written = json.loads(path.read_text())
    card = read_card(path)
    assert card.task == "semantic" and card.format == MODEL_FORMAT
    again = card.to_dict()
    assert list(again) == KEYS
    assert again.pop("task") == "semantic"
    assert again == written and list(again) == list(written)
    assert list(again["input"]) == list(written["input"])


def test_the_card_derives_the_class_counts():
    binary, three = _card(), _card(classes=("bg", "a", "b"))
    assert (binary.num_classes, binary.out_channels, binary.binary) == (2, 1, True)
    assert (three.num_classes, three.out_channels, three.binary) == (3, 3, False)
    assert isinstance(_card(classes=["bg", "fg"]).classes, tuple)


def test_write_and_read_round_trip_atomically(tmp_path):
    card = _card(preprocess=({"name": "clahe", "params": {"clip_limit": 2.0}},), augment=("flip",))
    card = card.with_best(3, 0.75, "val_dice")
    path = card.write(tmp_path / "model.json")
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temporary file left
    assert read_card(path) == card
    assert json.loads(path.read_text())["best_epoch"] == 3
    assert path.read_text() == card.to_json()


def test_model_card_from_a_train_config_is_what_training_writes():
    config = TrainConfig(
        model=ModelConfig(name="unet", options={"base_width": 4}), image_size=64, threshold=0.4
    )
    card = model_card(
        config,
        in_channels=1,
        classes=["background", "a", "b"],
        multiple=16,
        preprocess=None,
        augment=["flip"],
        train_long_side=128,
    )
    assert card.to_dict()["input"] == {
        "image_size": 64, "crop_size": None, "multiple": 16,
        "scale": "uint8 / 255; 16-bit / 65535; float as read", "train_long_side": 128,
    }  # fmt: skip
    assert (card.architecture, dict(card.options), card.threshold) == (
        "unet",
        {"base_width": 4},
        0.4,
    )
    assert (card.in_channels, card.out_channels, card.preprocess, card.augment) == (
        1, 3, (), ("flip",),
    )  # fmt: skip
    assert card.best_epoch is None and card.with_best(2, 0.9, "val_loss").monitor == "val_loss"


@pytest.mark.parametrize("name", ["binary", "multiclass"])
def test_build_network_is_all_it_takes_to_load_the_weights(name):
    from safetensors.torch import load_model

    card = read_card(LEGACY / name / "model.json")
    net = build_network(card)
    load_model(net, str(LEGACY / name / "model.safetensors"), strict=True)
    with torch.no_grad():
        logits = net.eval()(torch.zeros(1, card.in_channels, 8, 8))
    assert logits.shape == (1, card.out_channels, 8, 8)


def test_fields_missing_in_older_runs_get_their_defaults(tmp_path):
    info = json.loads((LEGACY / "binary" / "model.json").read_text())
    for key in ("augment", "best_epoch", "best_score", "monitor", "seglab_version"):
        del info[key]
    del info["input"]["train_long_side"]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(info))
    card = read_card(path)
    assert card.augment == () and card.best_epoch is None and card.seglab_version == "unknown"
    assert card.input.train_long_side is None and card.input.image_size == 32


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"format": "seglab.model/99"}, "format", "another seglab version"),
        ({"classes": None}, "classes", "expected a list of class names"),
        ({"in_channels": 0}, "in_channels", "expected a whole number >= 1"),
        ({"input": {"multiple": "4"}}, "input.multiple", "expected a whole number >= 1"),
        ({"input": [1]}, "input", "expected a JSON object"),
        ({"num_classes": 5}, "num_classes", "differs from the 2 classes"),
        ({"task": "instances"}, "task", "expected one of semantic"),
        ({"threshold": "high"}, "threshold", "expected a number"),
        ({"out_channels": 3}, "out_channels", "3 does not fit the 2 classes"),
        ({"threshold": 1.5}, "threshold", "expected a number from 0 to 1, got 1.5"),
        ({"threshold": -0.1}, "threshold", "expected a number from 0 to 1"),
        ({"input": {"image_size": 4}}, "input.image_size", "pixels >= 8"),
        ({"input": {"crop_size": 0}}, "input.crop_size", "pixels >= 8"),
        ({"options": "x" * 500}, "options", r"got 'xxx+\.\.\. "),  # a long value is cut
    ],
)
def test_a_wrong_field_is_named_with_the_file(tmp_path, change, field, message):
    info = {**json.loads((LEGACY / "binary" / "model.json").read_text()), **change}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(info))
    with pytest.raises(DataError, match=message) as error:
        read_card(path)
    assert error.value.path == str(path) and error.value.field == field
    if field != "format":  # another version's card: the advice is to use that version
        assert "model.json is written by `seglab train`" in str(error.value)


def test_a_missing_field_and_a_broken_file_are_named(tmp_path):
    path = tmp_path / "model.json"
    info = json.loads((LEGACY / "binary" / "model.json").read_text())
    del info["architecture"]
    path.write_text(json.dumps(info))
    with pytest.raises(DataError, match="missing: expected a model name") as error:
        read_card(path)
    assert error.value.field == "architecture"
    path.write_text("{not json")
    with pytest.raises(DataError, match="cannot read the model description"):
        read_card(path)
    path.write_text("[]")
    with pytest.raises(DataError, match="expected a JSON object"):
        read_card(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("   \n", "the file is empty"),
        ("{not json", "it is not JSON"),
        ("null", "expected a JSON object, got null"),
        ("[1]", "expected a JSON object, got a list"),
        ('"card"', "expected a JSON object, got a string"),
        ("{}", "missing: every model.json seglab writes has format"),
    ],
)
def test_a_file_that_is_no_card_says_what_it_is_and_what_to_do(tmp_path, text, message):
    path = tmp_path / "model.json"
    path.write_text(text)
    with pytest.raises(DataError, match=message) as error:
        read_card(path)
    assert error.value.path == str(path)
    assert "retrain" in str(error.value)


def test_a_file_that_is_not_utf8_is_a_data_error(tmp_path):
    path = tmp_path / "model.json"
    path.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(DataError, match="cannot read the model description") as error:
        read_card(path)
    assert error.value.path == str(path)
