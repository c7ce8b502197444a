"""Tests of seglab.train.rundir without training: the run folder's name and output errors, and
the guard a resume's checkpoint goes through (damaged, untrusted, another network's)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from seglab.errors import ConfigError, DataError
from seglab.train.rundir import check_checkpoint, new_run_dir


class Evil:
    """Pickles as a call of ``os.system``."""

    def __reduce__(self):
        return (os.system, ("echo seglab-was-tricked",))


def _lightning_checkpoint(module: nn.Module, path: Path) -> Path:
    """What Lightning's checkpoint holds, as far as the guard looks."""
    state = {
        "state_dict": module.state_dict(),
        "epoch": 2,
        "global_step": 12,
        "pytorch-lightning_version": "2.5.0",
        "optimizer_states": [],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


@pytest.fixture
def run(tmp_path) -> tuple[Path, nn.Module]:
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    ckpt = _lightning_checkpoint(module, tmp_path / "run" / "checkpoints" / "last.ckpt")
    return ckpt, module


def test_a_good_checkpoint_passes(run):
    ckpt, module = run
    check_checkpoint(ckpt, module)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: b"", "the checkpoint is empty"),
        (lambda data: data[: len(data) // 2], r"damaged \(truncated, or not a checkpoint file\)"),
        (lambda data: os.urandom(3000), "damaged"),
    ],
)
def test_a_damaged_checkpoint_is_named_with_what_to_do(run, damage, message):
    ckpt, module = run
    ckpt.write_bytes(damage(ckpt.read_bytes()))
    with pytest.raises(DataError, match=message) as error:
        check_checkpoint(ckpt, module)
    text = str(error.value)
    assert error.value.path == str(ckpt)
    assert "model.safetensors" in text and "seglab train --config" in text
    assert "weights_only=False" not in text  # torch's advice to load it unsafely is not passed on


def test_a_zip_with_a_garbage_pickle_is_damaged_not_untrusted(run):
    ckpt, module = run
    source = zipfile.ZipFile(io.BytesIO(ckpt.read_bytes()))
    with zipfile.ZipFile(ckpt, "w") as out:
        for item in source.infolist():
            garbage = item.filename.endswith("data.pkl")
            out.writestr(item, b"\x80\x02garbage" if garbage else source.read(item))
    with pytest.raises(DataError, match="damaged \\(its pickle cannot be read: Unsupported"):
        check_checkpoint(ckpt, module)


def test_a_checkpoint_that_would_run_code_is_refused_as_untrusted(run, capfd):
    ckpt, module = run
    torch.save({"state_dict": {}, "payload": Evil()}, ckpt)
    with pytest.raises(DataError, match=r"untrusted: it asks to load posix\.system") as error:
        check_checkpoint(ckpt, module)
    assert "never load it with weights_only=False" in str(error.value)
    assert "seglab-was-tricked" not in capfd.readouterr().out  # nothing ran


def test_a_pickle_of_something_else_is_not_a_lightning_checkpoint(run):
    ckpt, module = run
    torch.save({"weights": [1, 2]}, ckpt)
    with pytest.raises(DataError, match="not a Lightning checkpoint \\(no state_dict, epoch"):
        check_checkpoint(ckpt, module)
    torch.save([1, 2], ckpt)
    with pytest.raises(DataError, match="not a Lightning checkpoint"):
        check_checkpoint(ckpt, module)


def test_a_checkpoint_of_another_network_names_the_first_tensor(run):
    ckpt, _ = run
    wider = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    with pytest.raises(DataError, match=r"0\.weight is 4x3x3x3 in the checkpoint but 8x3x3x3"):
        check_checkpoint(ckpt, wider)
    other = nn.Sequential(nn.Conv2d(3, 4, 3))
    with pytest.raises(DataError, match=r"1\.weight is only in the checkpoint"):
        check_checkpoint(ckpt, other)


def test_new_run_dir_names_the_option_of_a_path_it_cannot_make(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"--out .* is a file, not a folder"):
        new_run_dir(tmp_path / "file" / "runs", None, overwrite=False)
    with pytest.raises(ConfigError, match="--name: the name"):
        new_run_dir(tmp_path / "runs", "n" * 300, overwrite=False)
    assert new_run_dir(tmp_path / "runs", "ok", overwrite=False) == tmp_path / "runs" / "ok"
