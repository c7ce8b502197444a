"""The search space: defaults, space files, sampling into TrainConfig options."""

from __future__ import annotations

import pytest

from seglab.errors import ConfigError
from seglab.tune.space import (
    AUTO,
    DEFAULT_SPACE,
    build_space,
    load_space,
    overrides,
    space_yaml,
    suggest,
)


def test_default_space_covers_the_seeds_choices():
    space = load_space()
    assert space.names == list(DEFAULT_SPACE)
    paths = {p.name: p.path for p in space.params}
    assert paths["activation"] == "model.options.activation"
    assert paths["init"] == "model.init"
    assert paths["width"] == "model.options.base_width"
    lr = next(p for p in space.params if p.name == "lr")
    assert (lr.kind, lr.log) == ("float", True)
    assert "bce_dice" in next(p for p in space.params if p.name == "loss").choices


def test_multiclass_studies_try_multiclass_losses():
    losses = next(p for p in load_space(multiclass=True).params if p.name == "loss").choices
    assert "bce_dice" not in losses and "ce_dice" in losses


def test_a_space_file_narrows_widens_fixes_and_removes(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(
        "optimizer: [sgd, adam]\n"
        "lr: {low: 0.001, high: 0.1, log: true}\n"
        "activation: null\n"
        "augment: heavy\n"
        "crop_size: [auto, 64]\n"
        "loss_options.pos_weight: {low: 1, high: 4}\n"
    )
    space = load_space(path)
    names = space.names
    assert "activation" not in names and "augment" not in names
    assert names[-2:] == ["crop_size", "loss_options.pos_weight"]
    assert space.fixed == {"augment": "heavy"}
    weight = next(p for p in space.params if p.name == "loss_options.pos_weight")
    assert (weight.kind, weight.low, weight.high) == ("int", 1.0, 4.0)
    assert next(p for p in space.params if p.name == "optimizer").choices == ("sgd", "adam")


def test_replace_starts_from_an_empty_space(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("replace: true\noptimizer: [sgd, adam]\n")
    assert load_space(path).names == ["optimizer"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("lr: {low: 0.1, high: 0.01}", ["lr", "below high"]),
        ("lr: {low: 0, high: 0.1, log: true}", ["lr", "low > 0"]),
        ("lr: {low: 0.1}", ["lr", "low and high"]),
        ("lr: {low: a, high: 1}", ["lr.low", "a number"]),
        ("optimizer: {choices: []}", ["optimizer", "non-empty"]),
        ("optimizer: [sgd, sgd]", ["optimizer", "twice"]),
        ("optimizer: {choice: [sgd]}", ["optimizer", "unknown key 'choice'"]),
        ("colour: [red]", ["colour", "TrainConfig field"]),
        ("time_limit: [10, 20]", ["time_limit", "set by seglab tune"]),
        ("width: {choices: [8], when: {depth: 3}}", ["width", "'depth'"]),
        ("- a list", ["a mapping"]),
    ],
)
def test_bad_space_files_name_the_file_and_the_entry(tmp_path, text, words):
    path = tmp_path / "space.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_space(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_suggest_follows_when_and_overrides_nest_the_fields():
    import optuna

    space = build_space(
        {
            "model": ["unet", "smp.unet"],
            "width": {"choices": [8, 16], "when": {"model": "unet"}},
            "encoder": {"choices": ["resnet18"], "when": {"model": ["smp.unet"]}},
            "lr": {"low": 1e-3, "high": 1e-1, "log": True},
            "crop_size": [AUTO, 64],
        }
    )
    trial = optuna.trial.FixedTrial({"model": "unet", "width": 16, "lr": 0.01, "crop_size": AUTO})
    params = suggest(trial, space)
    assert params == {"model": "unet", "width": 16, "lr": 0.01, "crop_size": AUTO}
    assert overrides(params, space) == {
        "model": {"name": "unet", "options": {"base_width": 16}},
        "lr": 0.01,
    }  # auto leaves the crop to the recipe
    smp = optuna.trial.FixedTrial({"model": "smp.unet", "encoder": "resnet18", "lr": 0.01,
                                   "crop_size": 64})  # fmt: skip
    params = suggest(smp, space)
    assert "width" not in params and params["encoder"] == "resnet18"
    assert overrides(params, space)["model"] == {
        "name": "smp.unet",
        "options": {"encoder": "resnet18"},
    }


def test_when_reads_fixed_settings_and_the_recipes_unet():
    import optuna

    space = build_space({"width": {"choices": [8, 16], "when": {"model": "unet"}}})
    trial = optuna.trial.FixedTrial({"width": 8})
    assert suggest(trial, space) == {"width": 8}  # no model set: the recipe's U-Net
    assert suggest(trial, space, {"model.name": "smp.fpn"}) == {}


def test_space_yaml_reads_back_as_the_same_space(tmp_path):
    space = load_space()
    path = tmp_path / "space.yaml"
    path.write_text(space_yaml(space))
    again = load_space(path)
    assert again.to_dict() == space.to_dict()
    assert "# crop_size" in path.read_text()  # the optional ones, off


def test_a_study_can_compare_the_families():
    """The families of docs/models.md as study parameters: a model with its width, a head,
    attention to scale, an adversarial weight and the contour losses; ``none`` leaves a
    wrapper off, and every trial's options make a valid TrainConfig."""
    import optuna

    from seglab.config import TrainConfig
    from seglab.tune.space import OPTIONAL_SPACE

    space = build_space(
        {key: OPTIONAL_SPACE[key] for key in ("model", "head", "multiscale", "adversarial")}
        | {"width": DEFAULT_SPACE["width"], "loss": ["bce_dice", "active_contour", "mumford_shah"]}
    )
    trial = optuna.trial.FixedTrial({"model": "segnet", "width": 8, "head": "crf",
                                     "multiscale": "1,0.75,0.5", "adversarial": 0.1,
                                     "loss": "mumford_shah"})  # fmt: skip
    chosen = overrides(suggest(trial, space), space)
    config = TrainConfig.model_validate(chosen)
    assert config.model.name == "segnet" and config.model.options == {"base_width": 8}
    assert config.model.head == "crf" and config.model.multiscale == [1.0, 0.75, 0.5]
    assert config.adversarial == 0.1 and config.loss == "mumford_shah"
    plain = optuna.trial.FixedTrial({"model": "smp.fpn", "head": "none", "multiscale": "none",
                                     "adversarial": "none", "loss": "bce_dice"})  # fmt: skip
    config = TrainConfig.model_validate(overrides(suggest(plain, space), space))
    assert config.model.head is None and config.model.multiscale is None
    assert config.adversarial is None and config.model.options == {}
