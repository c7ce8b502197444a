"""``seglab tune`` from the command line: the space, the fixed settings, the printed tables."""

from __future__ import annotations

import csv

import pytest
import yaml

from seglab.cli import main
from seglab.tune.space import load_space


def test_show_space_prints_the_default_space_as_a_space_file(capsys, tmp_path):
    assert main(["tune", "--show-space"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "space.yaml"
    path.write_text(text)
    assert load_space(path).to_dict() == load_space().to_dict()
    assert "optimizer" in yaml.safe_load(text)


def test_tune_needs_data(capsys):
    assert main(["tune", "--time-limit", "1m"]) != 0
    assert "--data" in capsys.readouterr().err


def test_a_bad_space_file_is_named(tmp_path, discs, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("lr: {low: 1, high: 0.1}\n")
    code = main(["tune", "--data", str(discs), "--trials", "1", "--trial-time", "10s",
                 "--space", str(space), "--out", str(tmp_path)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert str(space) in err.replace("\n", "") and "below high" in err


@pytest.mark.slow
def test_tune_from_the_cli_prints_its_best_trials_and_settings(tmp_path, discs, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("replace: true\noptimizer: [adam, sgd]\n")
    code = main([
        "tune", "--data", str(discs), "--trials", "2", "--trial-time", "60s", "--space",
        str(space), "--out", str(tmp_path / "studies"), "--study", "cli",
        "--fix", "epochs=2", "--fix", "model.options.base_width=8", "--fix",
        "model.options.depth=2", "--fix", "batch_size=4", "--fix", "workers=0",
        "--fix", "augment=none", "--fix", "scheduler=none",
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Best trials by val_dice" in printed and "Best settings" in printed
    study_dir = tmp_path / "studies" / "cli"
    with open(study_dir / "study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    config = yaml.safe_load((study_dir / "trials" / "trial-000" / "config.yaml").read_text())
    assert config["epochs"] == 2 and config["augment"] == "none"  # --fix reached the trials
    assert config["model"]["options"]["base_width"] == 8
    assert str(study_dir / "best.yaml") in printed.replace("\n", "")
