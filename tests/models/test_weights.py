"""Local weights files: reading, prefix matching, channel adaptation, and refusing downloads."""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from seglab.errors import ConfigError
from seglab.models.weights import load_state_file, load_weights_into, local_weights_file


def _net(in_channels=3):
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3), nn.BatchNorm2d(4))


@pytest.mark.parametrize("value", ["imagenet", "DEFAULT", "ssl", True])
def test_hub_names_are_refused_with_the_fix(value):
    with pytest.raises(ConfigError, match=r"impossible here.*--encoder-weights PATH"):
        local_weights_file(value, option="encoder_weights")


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(ConfigError, match=re.escape(f"weights file not found: {missing}")):
        local_weights_file(str(missing), option="encoder_weights")
    assert local_weights_file(None, option="encoder_weights") is None


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_state_files_round_trip(tmp_path, suffix):
    state = _net().state_dict()
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state, "epoch": 3}, path)
    loaded = load_state_file(local_weights_file(path, option="weights"))
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_unreadable_file_is_a_config_error(tmp_path):
    path = tmp_path / "w.pth"
    path.write_text("not weights")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: cannot read weights")):
        load_state_file(path)


def test_prefixes_and_classifier_heads_are_matched():
    source = _net()
    state = {f"encoder.{k}": v for k, v in source.state_dict().items()}
    state["encoder.fc.weight"] = torch.zeros(2, 4)
    target = _net()
    load_weights_into(target, state, path="x.pth", what="the test net")
    assert torch.equal(target[0].weight, source[0].weight)


def test_rgb_first_conv_is_adapted_to_one_channel():
    source = _net()
    target = _net(in_channels=1)
    load_weights_into(target, source.state_dict(), path="x.pth", what="the test net")
    torch.testing.assert_close(target[0].weight, source[0].weight.sum(dim=1, keepdim=True))


def test_mismatch_lists_missing_unexpected_and_shapes():
    state = _net().state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["1.bias"]
    state["1.weight"] = torch.zeros(5)
    with pytest.raises(ConfigError) as info:
        load_weights_into(_net(), state, path="w.pth", what="the test net")
    message = str(info.value)
    assert message.startswith("w.pth: the weights do not fit the test net")
    assert "1 missing keys (1.bias)" in message
    assert "1 unexpected keys (extra.weight)" in message
    assert "1.weight: file (5,) vs model (4,)" in message
