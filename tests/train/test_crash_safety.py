"""A training process killed with SIGKILL at any moment leaves a run folder that ``--resume``
continues and ``predict`` can use: every file a run writes is written beside its place and
renamed into it, so no reader ever sees half a file.

Real processes: ``seglab train`` is started, killed at a random moment or at the instant a file
is being written (a ``.tmp`` beside its place), then resumed, then predicted with. The number of
trials is fixed for ``make test``; a release check runs more:

    SEGLAB_KILL_TRIALS=30 .venv/bin/pytest tests/train/test_crash_safety.py
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.builders import write_discs

TRIALS = int(os.environ.get("SEGLAB_KILL_TRIALS", "4"))
SEGLAB = str(Path(sys.executable).parent / "seglab")
TRAIN = ["--model", "unet", "-m", "base_width=4", "-m", "depth=2", "--epochs", "8",
         "--batch-size", "4", "--augment", "none", "--workers", "0", "--quiet"]  # fmt: skip


def _seglab(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    return subprocess.run(
        [SEGLAB, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env
    )


def _kill_when(proc: subprocess.Popen, run: Path, *, writing: bool, delay: float) -> str:
    """SIGKILL ``proc`` after ``delay`` s, or (``writing``) the first time after that a file of
    the run is half-written; returns what was happening."""
    deadline = time.monotonic() + delay
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            partial = [p.name for p in run.rglob("*.tmp")] if run.exists() else []
            if not writing or partial:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return f"killed while writing {partial}" if partial else "killed"
        time.sleep(0.0005 if writing else 0.01)
    return "finished before the kill"


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_leaves_a_run_that_resumes_and_predicts(tmp_path, trial):
    data = write_discs(tmp_path / "discs", splits={"train": 16, "val": 4})
    run = tmp_path / "runs" / "run"
    rng = random.Random(trial)
    start = [SEGLAB, "train", "--data", data, "--out", run.parent, "--name", "run", *TRAIN]
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}
    proc = subprocess.Popen(list(map(str, start)), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    # even trials: at a random moment of the run (start-up included); odd: mid-write
    what = _kill_when(proc, run, writing=trial % 2 == 1, delay=rng.uniform(2.0, 12.0))
    print(f"trial {trial}: {what}")  # pytest -s shows what each trial hit
    if (run / "model.safetensors").exists():  # usable as it is, before any resume
        done = _seglab("predict", "--model", run, "--input", data / "val" / "images",
                       "--out", tmp_path / "before", "--quiet")  # fmt: skip
        assert done.returncode == 0, f"{what}: {done.stderr}"
    resumed = _seglab("train", "--resume", run, "--quiet")
    if not (run / "config.yaml").exists():  # killed before the run was set up: nothing to go on
        assert resumed.returncode == 2 and "Traceback" not in resumed.stderr, resumed.stderr
        assert "without --resume" in " ".join(resumed.stderr.split()), resumed.stderr
        return
    assert resumed.returncode == 0 and "Traceback" not in resumed.stderr, (
        f"{what}: {resumed.stderr}"
    )
    assert not list(run.rglob("*.tmp")), what
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 8 and [r.split(",")[0] for r in rows[1:]] == [
        str(e) for e in range(1, 9)
    ]
    done = _seglab("predict", "--model", run, "--input", data / "val" / "images",
                   "--out", tmp_path / "after", "--quiet")  # fmt: skip
    assert done.returncode == 0, f"{what}: {done.stderr}"
    assert len(list((tmp_path / "after" / "masks").iterdir())) == 4
