"""Corpus cases for studies, cross-validation and ensembles (group ``study``): bad space files,
storages and options of ``seglab tune``, ``train --folds`` that cannot split the data, and
runs that cannot form an ensemble; each refused before any trial or training, naming the file
and the entry or the option. See ``corpus.py`` for what a case asserts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.builders import write_discs, write_image
from tests.robustness.corpus import ERROR, Case, Env


def _data(env: Env) -> Path:
    return write_discs(env.path("discs"), splits={"train": 4, "val": 2})


def _tune(env: Env, *options: str) -> list[str]:
    """A tiny study's command line with ``options`` (it is refused before its first trial)."""
    return ["tune", "--data", _data(env), "--out", env.path("studies"), "--trials", "1",
            "--trial-time", "20s", "--fix", "epochs=1", "-q", *options]  # fmt: skip


def _space(text: str) -> Callable[[Env], list[str]]:
    def build(env: Env) -> list[str]:
        path = env.path("space.yaml")
        path.write_text(text)
        return _tune(env, "--space", path)

    return build


def study_case(name: str, build: Callable[[Env], list[str]], *says: str) -> Case:
    return Case("study", name, build, ERROR, says=says)


def _other_study(env: Env) -> list[str]:
    """A study folder of another dataset, resumed with this one."""
    out = env.path("studies")
    (out / "study").mkdir(parents=True)
    (out / "study" / "study.json").write_text(json.dumps({"data": "/somewhere/else"}))
    return ["tune", "--data", _data(env), "--out", out, "--trials", "1", "--trial-time", "20s"]


def _ensemble_of_different_classes(env: Env) -> list[str]:
    """The tiny run and a copy whose model.json names other classes."""
    run, other = env.run(), env.run()
    card = json.loads((other / "model.json").read_text())
    card["classes"] = ["background", "something else"]
    (other / "model.json").write_text(json.dumps(card))
    image = write_image(env.path("in") / "a.png")
    return ["predict", "--model", run, "--model", other, "--input", image, "--out",
            env.path("out"), "-q"]  # fmt: skip


CASES: list[Case] = [
    study_case("space file not YAML", _space("lr: [1, 2\n"), "space.yaml", "cannot read"),
    study_case("space file a list", _space("- lr\n"), "space.yaml", "a mapping"),
    study_case("space parameter unknown", _space("colour: [red]\n"), "space.yaml: colour",
               "TrainConfig field"),
    study_case("space range upside down", _space("lr: {low: 0.1, high: 0.01}\n"),
               "space.yaml: lr", "below high"),
    study_case("space log range from 0", _space("lr: {low: 0, high: 0.1, log: true}\n"),
               "space.yaml: lr", "low > 0"),
    study_case("space key misspelt", _space("optimizer: {choice: [sgd]}\n"),
               "space.yaml: optimizer", "unknown key 'choice'"),
    study_case("space when of nothing", _space("width: {choices: [8], when: {depth: 3}}\n"),
               "space.yaml: width", "'depth'"),
    study_case("space sets the budget", _space("time_limit: [10, 20]\n"),
               "space.yaml: time_limit", "set by seglab tune"),
    study_case("storage not a URL", lambda env: _tune(env, "--storage", "mydb"),
               "--storage 'mydb'", "database URL"),
    study_case("storage unreachable, password hidden",
               lambda env: _tune(env, "--storage", "postgresql://me:secret@127.0.0.1:1/db"),
               "--storage postgresql://me:***@127.0.0.1:1/db", "cannot open"),
    study_case("tune --pruner unknown", lambda env: _tune(env, "--pruner", "asha"), "--pruner",
               "'median', 'hyperband' or 'none'"),
    study_case("tune --sampler unknown", lambda env: _tune(env, "--sampler", "grid"), "--sampler"),
    study_case("tune --folds 1", lambda env: _tune(env, "--folds", "1"), "--folds", "2"),
    study_case("tune --refit without --time-limit", lambda env: _tune(env, "--refit", "0.4"),
               "--refit", "--time-limit"),
    study_case("tune --refit 1", lambda env: _tune(env, "--refit", "1"), "--refit"),
    study_case("tune with no end", lambda env: ["tune", "--data", _data(env), "--out",
                                                env.path("s")], "--time-limit", "--trials"),
    study_case("tune --folds more than images", lambda env: _tune(env, "--folds", "9"),
               "9 folds need at least 9 train images"),
    study_case("tune resumes a study of another dataset", _other_study, "study.json",
               "this study is of /somewhere/else"),
    study_case("train --folds 1", lambda env: ["train", "--data", _data(env), "--folds", "1",
                                               "--out", env.path("runs"), "-q"], "--folds"),
    study_case("ensemble of runs with other classes", _ensemble_of_different_classes,
               "-run has classes ('background', 'something else')", "leave it out"),
]  # fmt: skip
