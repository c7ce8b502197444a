"""Weights files: the option, reading, prefix matching, head dropping, channel adaptation."""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from seglab.errors import ConfigError
from seglab.models.hub import resolve_weights
from seglab.models.weights import load_state_file, load_weights_into


def _net(in_channels=3):
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3), nn.BatchNorm2d(4))


def _no_names(name):
    raise AssertionError(f"a file option was taken for the hub name {name!r}")


def _resolve(value):
    return resolve_weights(value, option="encoder_weights", what="the test net", sources=_no_names)


@pytest.mark.parametrize("value", [True, 3, ""])
def test_values_that_are_neither_files_nor_names_are_refused(value):
    with pytest.raises(ConfigError, match=r"expected the path of a weights file or a hub name"):
        _resolve(value)


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(ConfigError, match=re.escape(f"weights file not found: {missing}")):
        _resolve(str(missing))
    assert _resolve(None) is None


def test_unknown_name_is_left_to_the_model(tmp_path):
    def names(name):
        raise ConfigError(f"no weights called {name!r}")

    with pytest.raises(ConfigError, match="no weights called 'imagenet'"):
        resolve_weights("imagenet", option="encoder_weights", what="net", sources=names)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_state_files_round_trip(tmp_path, suffix):
    state = _net().state_dict()
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state, "epoch": 3}, path)
    loaded = load_state_file(_resolve(path))
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_unreadable_file_is_a_config_error(tmp_path):
    path = tmp_path / "w.pth"
    path.write_text("not weights")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: cannot read weights")):
        load_state_file(path)


def test_prefixes_are_matched_and_keys_the_module_lacks_dropped():
    source = _net()
    state = {f"encoder.{k}": v for k, v in source.state_dict().items()}
    for head in ("fc.weight", "conv_head.weight", "bn2.weight", "classifier.bias", "layer9.w"):
        state[f"encoder.{head}"] = torch.zeros(2, 4)
    target = _net()
    load_weights_into(target, state, path="x.pth", what="the test net")
    assert torch.equal(target[0].weight, source[0].weight)
    assert torch.equal(target[1].running_var, source[1].running_var)


def test_rgb_first_conv_is_adapted_to_one_channel():
    source = _net()
    target = _net(in_channels=1)
    load_weights_into(target, source.state_dict(), path="x.pth", what="the test net")
    torch.testing.assert_close(target[0].weight, source[0].weight.sum(dim=1, keepdim=True))


def test_missing_keys_and_shapes_are_errors_named_with_the_file():
    state = _net().state_dict()
    state["fc.weight"] = torch.zeros(1)
    del state["1.bias"]
    state["1.weight"] = torch.zeros(5)
    before = _net()
    target = _net()
    target.load_state_dict(before.state_dict())
    with pytest.raises(ConfigError) as info:
        load_weights_into(target, state, path="w.pth", what="the test net")
    message = str(info.value)
    assert message.startswith("w.pth: the weights do not fit the test net")
    assert "1 missing keys (1.bias)" in message
    assert "1.weight: file (5,) vs model (4,)" in message
    assert "1 keys of the file not in the model, ignored (fc.weight)" in message
    assert torch.equal(target[0].weight, before[0].weight)  # nothing loaded
