"""How a run is planned: a new run (recipe resolved, run folder made), a resumed one (its stored
config, its data found wherever the resume is started from) or a DDP process of rank > 0 (rank
0's folder and config).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from seglab.config import TrainConfig, load_config
from seglab.core.devices import check_accelerator
from seglab.errors import DataError
from seglab.train.rundir import (
    PrintFn,
    clear_partial_writes,
    new_run_dir,
    resume_paths,
    write_config,
)
from seglab.train.setup import RunPlan, open_run

RUN_DIR_VAR = "SEGLAB_RUN_DIR"
"""Set by rank 0 before training, so the DDP processes Lightning starts use its run folder."""


def process_rank() -> int:
    """This process's global rank from the launcher's environment (0 when not distributed)."""
    for key in ("RANK", "SLURM_PROCID"):
        if os.environ.get(key, "").isdigit():
            return int(os.environ[key])
    return sum(int(os.environ.get(k, "0") or 0) for k in ("LOCAL_RANK", "NODE_RANK"))


def quiet(_text: str) -> None:
    """A ``print_fn`` that prints nothing."""


DATA_PATHS = ("path", "annotations", "images", "masks")
"""The DataConfig fields that are paths: stored absolute, so a run resumes from any folder."""


def new_plan(config: TrainConfig, say: PrintFn, progress: bool, callbacks: tuple) -> RunPlan:
    """A new run: the recipe resolved, a new run folder with the resolved config in it."""
    check_accelerator(config.accelerator, config.devices)
    config = absolute_data(config)
    setup = open_run(config, say, resolve=True)
    config = setup.config
    run_dir = new_run_dir(config.out, config.name, overwrite=config.overwrite)
    write_config(config, run_dir / "config.yaml")
    return RunPlan(setup, run_dir, None, say, progress, callbacks)


def absolute_data(config: TrainConfig) -> TrainConfig:
    """``config`` with its dataset paths made absolute (as typed, they would only mean
    something from the folder the run was started in)."""
    data = config.data
    paths = {
        name: Path(value).resolve()
        for name in DATA_PATHS
        if (value := getattr(data, name)) is not None
    }
    return config.model_copy(update={"data": data.model_copy(update=paths)}) if paths else config


def resume_plan(config: TrainConfig, say: PrintFn, progress: bool, callbacks: tuple) -> RunPlan:
    """Continue ``config.resume``: its stored config, with the few options a resume may change
    taken from ``config`` (``--data`` too: where the dataset is now)."""
    run_dir, ckpt = resume_paths(config.resume)
    stored = load_config(run_dir / "config.yaml")
    keep = {"epochs", "time_limit", "patience", "workers", "devices", "accelerator"}
    update = {k: getattr(config, k) for k in config.model_fields_set & keep}
    given = config.data.model_fields_set & set(DATA_PATHS)
    if "data" in config.model_fields_set and given:
        moved = {k: Path(getattr(config.data, k)).resolve() for k in given}
        update["data"] = stored.data.model_copy(update=moved)
    config = stored.model_copy(update={**update, "resume": None})
    check_accelerator(config.accelerator, config.devices)
    config = _locate_data(config, run_dir, given)
    setup = open_run(config, say, resolve=False)
    clear_partial_writes(run_dir)  # what a killed process was writing: never a whole file
    reason = (
        f"resuming {run_dir} from {ckpt.name}"
        if ckpt is not None
        else f"restarting {run_dir} from the beginning: it was stopped before its first checkpoint"
    )
    setup = replace(setup, reasons=[reason])
    return RunPlan(setup, run_dir, ckpt, say, progress, callbacks)


def _locate_data(config: TrainConfig, run_dir: Path, given: set[str]) -> TrainConfig:
    """The resumed run's dataset paths, wherever the resume is started from.

    Runs written before the paths were stored absolute hold them as typed, relative to the
    folder the run was started in: that folder is found from ``out`` (``runs`` as typed, the
    run folder inside it). A path found nowhere is a :class:`DataError` naming config.yaml and
    the field, saying to pass ``--data``.
    """
    found = {}
    for name in DATA_PATHS:
        value = getattr(config.data, name)
        if value is None or name in given or Path(value).exists():
            continue
        value = Path(value)
        started = _started_in(config.out, run_dir)
        if not value.is_absolute() and started is not None and (started / value).exists():
            found[name] = (started / value).resolve()
            continue
        flag = "--data" if name == "path" else f"--{name} (in a config file)"
        raise DataError(
            f"the run's dataset is not at {value} (moved, or the run was started in another "
            f"folder); give its place now with seglab train --resume {run_dir} --data PATH"
            + ("" if name == "path" else f", or {flag}"),
            path=run_dir / "config.yaml",
            field=f"data.{name}",
        )
    if not found:
        return config
    return config.model_copy(update={"data": config.data.model_copy(update=found)})


def _started_in(out: Path, run_dir: Path) -> Path | None:
    """The folder a run with a relative ``out`` was started in: ``run_dir``'s parent less
    ``out``'s parts (``None`` when they do not match, or ``out`` is absolute)."""
    out = Path(out)
    parent = run_dir.resolve().parent
    if out.is_absolute() or out == Path("."):
        return parent if out == Path(".") else None
    parts = out.parts
    if parent.parts[-len(parts) :] != parts:
        return None
    return Path(*parent.parts[: -len(parts)])


def worker_plan(config: TrainConfig, callbacks: tuple) -> RunPlan:
    """A DDP process of rank > 0: rank 0's run folder and resolved config, quiet."""
    run_dir = Path(os.environ.get(RUN_DIR_VAR) or config.out / (config.name or "train"))
    config = load_config(_wait_for(run_dir / "config.yaml"))
    setup = open_run(config, quiet, resolve=False, check=False)
    return RunPlan(setup, run_dir, None, quiet, callbacks=callbacks)


def _wait_for(path: Path, *, seconds: float = 600.0) -> Path:
    """Wait for rank 0 to write ``path`` (it resolves the recipe first)."""
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise DataError("rank 0 did not write the run's config in time", path=path)
        time.sleep(0.5)
    return path


# -- the fit, step by step -----------------------------------------------------------------------
