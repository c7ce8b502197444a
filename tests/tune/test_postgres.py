"""Two ``seglab tune`` workers share one study through a real PostgreSQL server.

``.ci/run`` installs Debian's PostgreSQL, starts it and sets ``SEGLAB_TEST_POSTGRES`` (a URL of
an empty database) and ``SEGLAB_REQUIRE_POSTGRES`` (so a missing server fails CI instead of
skipping). Locally: ``pg_ctlcluster 15 main start``, create a user and a database, and export
the URL.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

URL = os.environ.get("SEGLAB_TEST_POSTGRES")


def _require_url() -> str:
    if URL:
        return URL
    if os.environ.get("SEGLAB_REQUIRE_POSTGRES"):
        pytest.fail("SEGLAB_REQUIRE_POSTGRES is set but SEGLAB_TEST_POSTGRES is not")
    pytest.skip("no PostgreSQL server: set SEGLAB_TEST_POSTGRES=postgresql://u:p@host/db")


def _worker(data: Path, out: Path, study: str, url: str, space: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "seglab"), "tune", "--data", str(data),
        "--storage", url, "--study", study, "--out", str(out), "--trials", "6",
        "--trial-time", "60s", "--pruner", "none", "--space", str(space),
        "--fix", "epochs=3", "--fix", "model.options.base_width=8",
        "--fix", "model.options.depth=2", "--fix", "batch_size=4", "--fix", "workers=0",
        "--fix", "augment=none", "--fix", "scheduler=none",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


@pytest.mark.slow
def test_two_workers_share_one_study_with_no_trial_lost_or_run_twice(discs, tmp_path):
    import optuna

    from seglab.tune.storage import open_storage

    url = _require_url()
    study = f"ci-{uuid.uuid4().hex[:8]}"
    space = tmp_path / "space.yaml"
    space.write_text("replace: true\noptimizer: [adam, sgd]\nlr: {low: 0.003, high: 0.03}\n")
    first = _worker(discs, tmp_path / "studies", study, url, space)
    second = _worker(discs, tmp_path / "studies", study, url, space)
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    for process, output in zip((first, second), outputs, strict=True):
        assert process.returncode == 0, output
    ran = [{int(n) for n in re.findall(r"^trial (\d+) \(", out, re.M)} for out in outputs]
    assert ran[0] and ran[1], outputs  # both workers ran trials
    assert not ran[0] & ran[1]  # no trial run twice

    stored = optuna.load_study(study_name=study, storage=open_storage(url, tmp_path).storage)
    trials = stored.get_trials()
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))  # every number once
    run = {t.number for t in trials if "not run" not in t.user_attrs.get("error", "")}
    assert run == ran[0] | ran[1] and len(run) == 6  # none lost: each one a worker reported
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials if t.number in run)
    workers = {t.user_attrs["worker"] for t in trials if t.number in run}
    assert len(workers) == 2
    study_dir = tmp_path / "studies" / study
    for trial in trials:
        if trial.number in run:
            assert (study_dir / trial.user_attrs["run"] / "summary.json").is_file()
    with open(study_dir / "study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {int(r["number"]) for r in rows} == set(numbers)  # the last worker wrote them all
