"""``seglab train``'s options are generated from one table (``seglab.cli.train.FLAGS``): every
entry is an option with its help, in the table's order, and sets its TrainConfig field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from seglab.cli import app, main
from seglab.cli.train import FLAGS, Flag, train_options
from seglab.config import (
    NO_FLAG_FIELDS,
    DataConfig,
    ModelConfig,
    TrainConfig,
    flag_of,
    train_config,
)
from seglab.train.rundir import write_config

# Values the field's constraints accept where the type's plain example would not.
EXAMPLES: dict[str, tuple[list[str], Any]] = {
    "recipe": (["seed"], "seed"),
    "task": (["instance"], "instance"),
    "labels": (["instances"], "instances"),
    "monitor": (["val_loss"], "val_loss"),
    "logger": (["tensorboard"], "tensorboard"),
    "precision": (["32"], "32"),
    "time_limit": (["5m"], 300.0),
    "image_size": (["64"], 64),
    "crop_size": (["64"], 64),
    "devices": (["2"], 2),
    "classes": (["bg, disc"], ["bg", "disc"]),
    "multiscale": (["1,0.5"], [1.0, 0.5]),
    "head": (["crf"], "crf"),
    # a wrapper's options come with the wrapper
    "multiscale_option": (["aux_weight=0.5", "--multiscale", "1,0.5"], {"aux_weight": 0.5}),
    "head_option": (["iterations=2", "--head", "crf"], {"iterations": 2}),
}


def _example(flag: Flag) -> tuple[list[str], Any]:
    """Command-line words after the flag and the value they give the field."""
    if flag.name in EXAMPLES:
        return EXAMPLES[flag.name]
    kind = str(flag.type)
    if "bool" in kind:
        return [], True
    if "list[str]" in kind:
        return ["k=1"], {"k": 1}
    if "int" in kind:
        return ["3"], 3
    if "float" in kind:
        return ["0.25"], 0.25
    return ["x"], "x"  # str and Path: as written (config.yaml holds paths as strings)


def _lookup(data: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        data = data[part]
    return data


def test_the_command_has_exactly_the_table_options_in_order():
    command = typer.main.get_command(app).commands["train"]
    params = [p for p in command.params if p.name != "help"]
    assert [p.name for p in params] == [f.name for f in FLAGS]
    for param, flag in zip(params, FLAGS, strict=True):
        assert [*param.opts, *param.secondary_opts] == flag.decls.replace("/", " ").split()
        assert param.help == flag.help
        assert param.default == flag.default


def test_every_flag_is_in_the_help(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one line per option
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    text = text[text.index("Options") :]  # the options panel, after the examples
    positions = [text.index(f"│ {flag.decls.split()[0].split('/')[0]} ") for flag in FLAGS]
    assert positions == sorted(positions)  # the table's order
    for flag in FLAGS:
        assert flag.help is None or flag.help.split("<")[0] in text


def test_every_trainconfig_field_has_a_flag_or_is_listed():
    fields = {name for name in TrainConfig.model_fields if name not in ("data", "model")}
    fields |= {f"data.{name}" for name in DataConfig.model_fields}
    fields |= {f"model.{name}" for name in ModelConfig.model_fields}
    set_by_flags = {path for flag in FLAGS for path in flag.paths}
    assert fields - set_by_flags == NO_FLAG_FIELDS  # set by a config file or the API only
    assert {p for p in set_by_flags if not p.startswith("model.options.")} <= fields


def test_validation_errors_name_the_flag_that_sets_each_field():
    fields = {name for name in TrainConfig.model_fields if name not in ("data", "model")}
    fields |= {f"data.{name}" for name in DataConfig.model_fields}
    fields |= {f"model.{name}" for name in ModelConfig.model_fields}
    flags = {path: flag.decls.split()[0].split("/")[0] for flag in FLAGS for path in flag.paths}
    assert {field: flag_of(field) for field in fields} == {f: flags.get(f) for f in fields}


class _Called(Exception):
    """Raised by the stand-in for seglab.api.train with what it was given."""


@pytest.fixture
def captured(monkeypatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_train(config=None, *, progress=False, print_fn=print, **options):
        calls.append({"config": config, "progress": progress, "options": options})
        raise _Called

    monkeypatch.setattr("seglab.api.train", fake_train)
    return calls


@pytest.mark.parametrize("flag", [f for f in FLAGS if f.paths], ids=lambda f: f.name)
def test_each_flag_round_trips_into_config_yaml(flag, captured, tmp_path):
    words, expected = _example(flag)
    option = flag.decls.split()[0].split("/")[0]
    with pytest.raises(_Called):
        main(["train", "--data", "d", option, *words])
    config = train_config(captured[0]["config"], **captured[0]["options"])
    write_config(config, tmp_path / "config.yaml")
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    for path in flag.paths:
        if path != "data.path":  # --data is given to every case
            assert _lookup(written, path) == expected, path


def test_options_left_out_set_nothing_and_later_flags_win(captured):
    with pytest.raises(_Called):
        main(["train", "--config", "run.yaml", "-m", "activation=relu,depth=2", "--activation",
              "gelu", "--loss-option", "", "--classes", ""])  # fmt: skip
    call = captured[0]
    assert call["config"] == Path("run.yaml") and call["progress"] is True
    assert call["options"] == {"model": {"options": {"activation": "gelu", "depth": 2}}}
    assert train_options({"quiet": True, "config": Path("c"), "overwrite": False}) == {}


def test_missing_data_and_bad_assignments_are_clean_errors(captured, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["train", "--epochs", "3"]) == 2
    assert "give --data DATASET (or --config run.yaml, or --resume RUN)" in capsys.readouterr().err
    assert main(["train", "--data", "d", "--loss-option", "bad"]) == 2
    assert "--loss-option 'bad': expected NAME=VALUE" in capsys.readouterr().err
    assert captured == []
