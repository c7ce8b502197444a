"""Networks from model cards: :func:`build_network` names the card's file and field for every
network it cannot build, and :func:`load_network_weights` names both files when the weights do
not fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from seglab.errors import DataError
from seglab.models import MODELS
from seglab.models.build import MAX_PARAMETERS, build_network, load_network_weights
from seglab.models.card import InputSpec, read_card
from tests.builders import tiny_card

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy_runs" / "binary"


def test_a_good_card_builds_its_network():
    net = build_network(tiny_card())
    assert net(torch.zeros(1, 3, 8, 8)).shape == (1, 1, 8, 8)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"architecture": "nope"}, "architecture", "unknown model 'nope'; this seglab builds unet"),
        ({"options": {"base_width": "x"}}, "options.base_width", "expected a whole number"),
        ({"options": {"base_width": True}}, "options.base_width", "expected a whole number"),
        ({"options": {"dropout": "x"}}, "options.dropout", "expected a number"),
        ({"options": {"activation": 3}}, "options.activation", "expected a name, got 3"),
        ({"options": {"foo": 1}}, "options.foo", "unet has no option 'foo'; its options: "),
        ({"options": {"depth": 0}}, "options.depth", "depth must be a positive integer"),
        ({"options": {"depth": 40}}, "options.depth", "depth must be at most 12"),
        ({"options": {"norm": "nope"}}, "options.norm", "unknown norm 'nope'"),
        ({"options": {"upsampling": "up"}}, "options.upsampling", "unknown UNet upsampling"),
        ({"options": {"base_width": 8, "width_cap": 4}}, "options.width_cap", "width_cap"),
        ({"input": InputSpec(multiple=6)}, "input.multiple", r"not a multiple of the stride \(4\)"),
    ],
)
def test_a_card_seglab_cannot_build_names_the_file_and_field(changes, field, message):
    with pytest.raises(DataError, match=message) as error:
        build_network(tiny_card(**changes), source="runs/x/model.json")
    assert error.value.path == "runs/x/model.json" and error.value.field == field
    assert "retrain" in str(error.value)


def test_options_of_another_architecture_are_errors_of_the_options():
    # smp takes **kwargs: the U-Net's options reach smp, which refuses them
    card = tiny_card(architecture="smp.unet", input=InputSpec(multiple=32))
    with pytest.raises(DataError, match=r"cannot build smp\.unet") as error:
        build_network(card)
    assert error.value.field.startswith("options")


def test_a_card_describing_a_huge_network_is_refused_before_allocating_it():
    options = {"base_width": 200_000, "width_cap": 200_000, "depth": 1}
    with pytest.raises(DataError, match=f"at most {MAX_PARAMETERS:,}") as error:
        build_network(tiny_card(options=options, input=InputSpec(multiple=2)))
    assert error.value.field == "options"


def test_every_registered_architecture_is_known_to_thetiny_card():
    assert "unet" in MODELS  # the card's architecture check is the registry itself
    with pytest.raises(DataError, match=", ".join(list(MODELS)[:3])):
        build_network(tiny_card(architecture="unet2"))


def _legacy_net(tmp_path: Path, **changes):
    info = {**json.loads((LEGACY / "model.json").read_text()), **changes}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(info))
    return build_network(read_card(path), source=path), path


def test_the_weights_of_the_card_load(tmp_path):
    net, card = _legacy_net(tmp_path)
    load_network_weights(net, LEGACY / "model.safetensors", card=card)


def test_weights_of_another_width_name_the_first_tensor_and_both_files(tmp_path):
    net, card = _legacy_net(tmp_path, options={"base_width": 8, "depth": 2})
    with pytest.raises(DataError, match=r"inc\.conv1\.conv\.weight is 4x3x3x3 in the file but "
                       r"8x3x3x3 for the card") as error:  # fmt: skip
        load_network_weights(net, LEGACY / "model.safetensors", card=card)
    assert error.value.path == str(LEGACY / "model.safetensors")
    assert "model.json and model.safetensors are not from the same run" in str(error.value)


def test_weights_with_other_tensors_are_missing_and_unexpected(tmp_path):
    net, card = _legacy_net(tmp_path)
    other = tmp_path / "model.safetensors"
    save_file({"other.weight": torch.zeros(1)}, str(other))
    with pytest.raises(DataError, match=r"missing, 1 unexpected"):
        load_network_weights(net, other, card=card)


@pytest.mark.parametrize("data", [b"", b"\x00" * 7, b"garbage" * 100])
def test_a_damaged_weights_file_is_named(tmp_path, data):
    net, card = _legacy_net(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(data)
    with pytest.raises(DataError, match="damaged or not a safetensors file") as error:
        load_network_weights(net, weights, card=card)
    assert error.value.path == str(weights)


def test_a_truncated_weights_file_is_named(tmp_path):
    net, card = _legacy_net(tmp_path)
    weights = tmp_path / "model.safetensors"
    data = (LEGACY / "model.safetensors").read_bytes()
    weights.write_bytes(data[: len(data) - 100])
    with pytest.raises(DataError, match="cannot read the weights"):
        load_network_weights(net, weights, card=card)
