"""``seglab tune``: a study of short training runs over the seed's choices, on Optuna.

:func:`run_study` asks Optuna for a trial, turns its parameters into a TrainConfig (the base
config, the space's values on top, the trial's budget), trains it as an ordinary run in
``STUDY/trials/trial-NNN/`` with a :class:`~seglab.tune.pruning.TrialReporter`, tells Optuna
the run's best score (or that it was pruned, or failed and why), and rewrites the study's files
(:mod:`seglab.tune.results`). It stops when the time limit has no room for another trial, or
the study has its ``trials``. Another ``seglab tune`` with the same storage and study name joins
the study (a second worker); the same command again resumes it.

Trials are seeded: the sampler by the study's seed (a new single-worker study draws the same
trials again), every trial's training by it too (the same data order and initial noise, so two
trials differ by their parameters).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from seglab.config import TrainConfig, deep_merge, train_config
from seglab.errors import ConfigError, DataError, SeglabError
from seglab.tune.options import MIN_TRIAL_SECONDS, TuneConfig
from seglab.tune.space import Space, describe, load_space, overrides, suggest

PrintFn = Callable[[str], None]


@dataclass(frozen=True)
class StudyResult:
    """What :func:`run_study` did: the study folder, its ``study.json`` content, the trials
    this worker ran (numbers), and whether it was interrupted."""

    study_dir: Path
    summary: dict[str, Any]
    ran: list[int] = field(default_factory=list)
    interrupted: bool = False
    confidence: list[dict[str, str]] = field(default_factory=list)

    @property
    def best(self) -> dict[str, Any] | None:
        """The best trial: number, score, run, params (``None`` before one finished)."""
        return self.summary.get("best")

    @property
    def files(self) -> dict[str, Path]:
        """The study's result files that exist."""
        names = ("study.csv", "study.json", "best.yaml", "confidence.csv", "space.yaml")
        found = {n: self.study_dir / n for n in names if (self.study_dir / n).exists()}
        plots = self.study_dir / "plots"
        found.update({f"plots/{p.name}": p for p in sorted(plots.glob("*.png"))})
        return found


def _quiet(_text: str) -> None:
    pass


def _base_config(config: TuneConfig) -> TrainConfig:
    """The TrainConfig every trial starts from, its dataset path made absolute."""
    from seglab.train.plans import absolute_data

    base = train_config(config.base)
    if base.data.path is None and base.data.images is None and base.data.annotations is None:
        raise ConfigError("give --data DATASET (or a --config file with data: path)")
    if base.resume is not None:
        raise ConfigError("--resume continues one run; a study resumes by running it again")
    return absolute_data(base)


def _monitor(base: TrainConfig) -> str:
    """The score trials are compared by: the base config's monitor (an instance study's is
    ``val_ap`` unless set)."""
    if "monitor" not in base.model_fields_set and base.task == "instance":
        return "val_ap"
    return base.monitor


def _multiclass(base: TrainConfig) -> bool:
    """Whether the study's losses must be multiclass ones (several classes, or instances)."""
    from seglab.data.dataset import open_dataset

    if base.task == "instance":
        return True
    return open_dataset(base.data, split="train").num_classes > 2


def _open_study(config: TuneConfig, storage: Any, direction: str):
    """Optuna's study, created or loaded; returns it and whether it existed already."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = config.study
    try:
        existing = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        existing = None
    if existing is not None:
        if existing.direction.name.lower() != direction:
            raise ConfigError(
                f"study {name!r} in the storage {existing.direction.name.lower()}s its "
                f"score, this one would {direction} it: choose another --study"
            )
        return existing, True
    try:
        return optuna.create_study(study_name=name, storage=storage, direction=direction), False
    except optuna.exceptions.DuplicatedStudyError:  # another worker created it just now
        return optuna.load_study(study_name=name, storage=storage), True


def _sampler(config: TuneConfig, joined: bool, planned: int):
    """TPE (random for its first third of the planned trials) or random search, seeded by the
    study's seed; a worker joining or resuming a study offsets the seed by its process id, so
    two workers do not draw the same trials."""
    import optuna

    seed = config.seed + (os.getpid() if joined else 0)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(3, planned // 3))


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_stale(study: Any, say: PrintFn) -> list[int]:
    """Mark FAIL the trials left RUNNING by a worker of this machine that is gone (killed), so
    a resumed study does not wait for them; returns their numbers."""
    import optuna

    host = socket.gethostname()
    stale = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        where, _, pid = worker.rpartition(":")
        if where == host and pid.isdigit() and not _alive(int(pid)):
            # a finished trial's attributes cannot be set, and Optuna has no public call for
            # another process's running trial: its storage's is the one way to say why
            study._storage.set_trial_user_attr(
                trial._trial_id, "error", "its worker stopped before it finished"
            )
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            stale.append(trial.number)
    if stale:
        say(f"trials {', '.join(map(str, stale))}: their worker stopped; marked failed")
    return stale


def _check_same_study(study_dir: Path, base: TrainConfig) -> None:
    """A study folder holds one study: resuming it on another dataset is refused."""
    path = study_dir / "study.json"
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read the study: {exc}", path=path) from None
    data = str(base.data.path)
    if stored.get("data") not in (None, data):
        raise ConfigError(
            f"{path}: this study is of {stored.get('data')}, not {data}; choose another "
            "--study (or --overwrite to start it anew)"
        )


def _prepare_folder(config: TuneConfig) -> Path:
    """The study folder: made, or cleared with ``overwrite`` (the journal included)."""
    from seglab.core.files import check_output_path, make_folder

    study_dir = check_output_path(config.study_dir, option="--study")
    if config.overwrite and study_dir.exists():
        if not (study_dir / "study.json").is_file() and any(study_dir.iterdir()):
            raise ConfigError(
                f"--overwrite {study_dir}: not a study folder (no study.json); not deleting it"
            )
        shutil.rmtree(study_dir)
    make_folder(study_dir / "trials", option="--out")
    return study_dir


def _info(config: TuneConfig, base: TrainConfig, space: Space, monitor: str, shown: str) -> dict:
    """The settings part of ``study.json``."""
    from seglab._version import __version__

    fixed = {**_fixed_fields(base), **space.fixed}
    return {
        "name": config.study,
        "seglab_version": __version__,
        "direction": "minimize" if monitor.endswith("loss") else "maximize",
        "monitor": monitor,
        "task": base.task,
        "data": str(base.data.path),
        "time_limit": config.time_limit,
        "trial_time": config.planned_trial_time(),
        "trials": config.trials,
        "folds": config.folds,
        "refit_share": config.refit,
        "seed": config.seed,
        "pruner": config.pruner,
        "sampler": config.sampler,
        "storage": shown,
        "space": space.to_dict(),
        "fixed": fixed,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "baseline": None,
        "refit": None,
    }


def _fixed_fields(base: TrainConfig) -> dict[str, Any]:
    """The fields the base config sets, flattened (``model.name``), but the data's place."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif prefix not in ("data.path", "data.annotations", "data.images", "data.masks"):
            flat[prefix] = value

    walk("", base.model_dump(mode="json", exclude_unset=True))
    return flat


def _stored_info(study_dir: Path, info: dict) -> dict:
    """A resumed study keeps the start time and baseline its ``study.json`` holds."""
    path = study_dir / "study.json"
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return info
        for key in ("started", "baseline"):
            if stored.get(key) is not None:
                info[key] = stored[key]
    return info


def run_study(config: TuneConfig, *, print_fn: PrintFn | None = print) -> StudyResult:
    """Run (or join, or resume) the study ``config`` describes; see the module docstring.

    Raises
    ------
    ConfigError
        A space, storage or option that cannot work, before any trial.
    DataError
        The dataset cannot be read (found by the first trial: it is not a hypothesis to fail).
    """
    from seglab.tune.results import write_results
    from seglab.tune.storage import open_storage

    say = print_fn or _quiet
    config.check()
    base = _base_config(config)
    monitor = _monitor(base)
    direction = "minimize" if monitor.endswith("loss") else "maximize"
    space = load_space(config.space, multiclass=_multiclass(base))
    study_dir = _prepare_folder(config)
    _check_same_study(study_dir, base)
    storage = open_storage(config.storage, study_dir)
    study, joined = _open_study(config, storage.storage, direction)
    trial_time = config.planned_trial_time()
    planned = config.trials or max(1, round((config.search_time or trial_time) / trial_time))
    study.sampler = _sampler(config, joined, planned)
    study.pruner = _make_pruner(config, planned)
    from seglab.tune.space import space_yaml

    (study_dir / "space.yaml").write_text(space_yaml(space))
    info = _stored_info(study_dir, _info(config, base, space, monitor, storage.shown))
    fail_stale(study, say)
    write_results(study, space, study_dir, info)
    say(
        f"study {config.study} ({'continued' if joined else 'new'}): {study_dir}, storage "
        f"{storage.shown}; {len(space.params)} parameters, {trial_time:.0f} s per trial"
        + (f", {config.folds} folds each" if config.folds else "")
        + f", pruner {config.pruner}"
    )
    runner = _TrialRunner(config, base, space, study, study_dir, monitor, say)
    ran, interrupted = runner.loop(trial_time)
    if config.refit and not interrupted:
        info["refit"] = runner.refit(write_results(study, space, study_dir, info))
        interrupted = info["refit"].get("status") == "interrupted"
    summary = write_results(study, space, study_dir, info, finished=True, plots=True)
    return StudyResult(
        study_dir, summary, ran, interrupted, _read_rows(study_dir / "confidence.csv")
    )


def _read_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _make_pruner(config: TuneConfig, planned: int):
    from seglab.tune.pruning import make_pruner

    return make_pruner(config.pruner, startup=2 if planned >= 6 else 1)


class _TrialRunner:
    """The loop of one worker: ask, train, tell, write the results."""

    def __init__(
        self,
        config: TuneConfig,
        base: TrainConfig,
        space: Space,
        study: Any,
        study_dir: Path,
        monitor: str,
        say: PrintFn,
    ) -> None:
        self.config = config
        self.base = base
        self.space = space
        self.study = study
        self.study_dir = study_dir
        self.monitor = monitor
        self.say = say
        self.started = time.monotonic()

    def remaining(self) -> float | None:
        """Seconds left for trials (the refit's share kept aside)."""
        limit = self.config.search_time
        return None if limit is None else limit - (time.monotonic() - self.started)

    def _trials_left(self) -> bool:
        if self.config.trials is None:
            return True
        return len(self.study.get_trials(deepcopy=False)) < self.config.trials

    def loop(self, trial_time: float) -> tuple[list[int], bool]:
        """Trials until the time or the count runs out; returns the numbers run and whether a
        Ctrl-C stopped the study."""
        from seglab.tune.results import write_results

        ran: list[int] = []
        info = json.loads((self.study_dir / "study.json").read_text())
        while self._trials_left():
            remaining = self.remaining()
            if remaining is not None and remaining < max(MIN_TRIAL_SECONDS, 0.5 * trial_time):
                break
            budget = trial_time if remaining is None else min(trial_time, remaining)
            trial = self.study.ask()
            if self.config.trials is not None and trial.number >= self.config.trials:
                # another worker took the last trial between the count and the ask
                trial.set_user_attr("error", "not run: the study had its --trials already")
                self.study.tell(trial, state=_state("FAIL"))
                break
            ran.append(trial.number)
            try:
                interrupted = self.run_trial(trial, budget)
            finally:
                write_results(self.study, self.space, self.study_dir, info)
            if interrupted:
                return ran, True
        return ran, False

    def trial_config(self, number: int, params: Mapping[str, Any], budget: float) -> TrainConfig:
        """The TrainConfig of trial ``number``: the base, the parameters, the budget."""
        options = deep_merge(
            overrides(params, self.space),
            {
                "time_limit": budget,
                "out": str(self.study_dir / "trials"),
                "name": f"trial-{number:03d}",
                "overwrite": True,
                "seed": self.config.seed,
            },
        )
        return train_config(self.base, **options)

    def run_trial(self, trial: Any, budget: float) -> bool:
        """Train one trial and tell Optuna how it went; ``True`` when Ctrl-C stopped it."""
        start = time.perf_counter()
        trial.set_user_attr("worker", _worker())
        trial.set_user_attr("run", f"trials/trial-{trial.number:03d}")
        params = suggest(trial, self.space, self._fixed())
        label = f"trial {trial.number} ({describe(params)})"
        try:
            config = self.trial_config(trial.number, params, budget)
            outcome = self._train(trial, config)
        except KeyboardInterrupt:
            self._fail(trial, "interrupted", start)
            self.say(f"{label}: interrupted")
            return True
        except DataError:
            self._fail(trial, "the dataset cannot be read", start)
            raise
        except SeglabError as exc:
            self._fail(trial, str(exc), start)
            self.say(f"{label}: failed: {exc}")
            return False
        seconds = time.perf_counter() - start
        trial.set_user_attr("seconds", round(seconds, 1))
        if outcome.status == "interrupted":
            self._fail(trial, "interrupted", start)
            self.say(f"{label}: interrupted")
            return True
        if outcome.score is None:
            self._fail(trial, "no validation finished within the trial's budget", start)
            self.say(f"{label}: failed: no validation finished within {budget:.0f} s")
            return False
        trial.set_user_attr("score", outcome.score)
        if outcome.std is not None:
            trial.set_user_attr("score_std", outcome.std)
        shown = f"{self.monitor} {outcome.score:.4f}" + (
            f" ± {outcome.std:.4f}" if outcome.std is not None else ""
        )
        if outcome.pruned_at is not None:
            trial.set_user_attr("pruned_at", round(outcome.pruned_at, 3))
            self.study.tell(trial, state=_state("PRUNED"))
            self.say(f"{label}: pruned at {outcome.pruned_at:.0%} of its budget, {shown}")
        else:
            self.study.tell(trial, outcome.score)
            self.say(f"{label}: {shown} in {seconds:.0f} s")
        return False

    def refit(self, summary: Mapping[str, Any]) -> dict[str, Any]:
        """Train the best trial's config once more for the time left into ``STUDY/best/``;
        what ``study.json`` records of it (``run``, ``score``, ``status``, ``seconds``)."""
        from seglab.config import load_config

        best = summary.get("best")
        left = (self.config.time_limit or 0) - (time.monotonic() - self.started)
        if best is None:
            self.say("refit: no trial finished, nothing to train again")
            return {"status": "no finished trial"}
        if left < MIN_TRIAL_SECONDS:
            self.say(f"refit: only {left:.0f} s left, not enough to train again")
            return {"status": "no time left"}
        source = load_config(self.study_dir / best["run"] / "config.yaml")
        config = train_config(
            source, time_limit=left, out=self.study_dir, name="best", overwrite=True
        )
        self.say(f"refit: trial {best['number']}'s settings for {left:.0f} s into {config.out}")
        start = time.perf_counter()
        if config.data.folds is not None:
            from seglab.train.folds import train_folds

            folds = train_folds(config, config.data.folds, print_fn=None)
            score, status = folds.mean, folds.status
        else:
            from seglab.train.run import train

            result = train(config, print_fn=None)
            score, status = result.best_score, result.status
        seconds = time.perf_counter() - start
        shown = "no validation" if score is None else f"{self.monitor} {score:.4f}"
        self.say(f"refit: {shown} in {seconds:.0f} s ({status}): {self.study_dir / 'best'}")
        return {"run": "best", "score": score, "status": status, "seconds": round(seconds, 1)}

    def _fixed(self) -> dict[str, Any]:
        fixed = _fixed_fields(self.base)
        if self.base.model is not None:
            fixed["model.name"] = self.base.model.name
        return fixed

    def _fail(self, trial: Any, error: str, start: float) -> None:
        trial.set_user_attr("error", error[:500])
        trial.set_user_attr("seconds", round(time.perf_counter() - start, 1))
        self.study.tell(trial, state=_state("FAIL"))

    def _train(self, trial: Any, config: TrainConfig) -> _Outcome:
        """Train ``config`` (K folds with ``--folds``), reporting its curve for pruning: a
        folds trial reports its first fold, and its other folds run only if that one is
        not pruned."""
        from seglab.train.run import train
        from seglab.tune.pruning import TrialReporter

        if not self.config.folds:
            reporter = TrialReporter(trial, monitor=self.monitor, budget=config.time_limit or 0)
            result = train(config, print_fn=None, callbacks=[reporter])
            return _Outcome(result.status, result.best_score, None, reporter.pruned_at)
        from seglab.core.files import make_folder
        from seglab.train.folds import fold_configs, summarise_folds
        from seglab.train.rundir import write_config

        folds = self.config.folds
        run_dir = make_folder(config.out / (config.name or "folds"), option="--out")
        # the trial's own config.yaml is the folds run's: best.yaml of a folds study reruns
        # the cross-validation (seglab train --config with data.folds set)
        write_config(train_config(config, data={"folds": folds}), run_dir / "config.yaml")
        results = []
        for index, fold in enumerate(fold_configs(config, folds, run_dir=run_dir)):
            reporter = TrialReporter(trial, monitor=self.monitor, budget=fold.time_limit or 0)
            result = train(fold, print_fn=None, callbacks=[reporter] if index == 0 else [])
            results.append(result)
            if result.status == "interrupted":
                return _Outcome("interrupted", None, None, None)
            if index == 0 and reporter.pruned_at is not None:
                return _Outcome(result.status, result.best_score, None, reporter.pruned_at)
        summary = summarise_folds(run_dir, results, folds=folds)
        if any(r.best_score is None for r in results):
            return _Outcome(results[-1].status, None, None, None)
        return _Outcome("completed", summary.mean, summary.std, None)


@dataclass(frozen=True)
class _Outcome:
    status: str
    score: float | None
    std: float | None
    pruned_at: float | None


def _state(name: str):
    import optuna

    return optuna.trial.TrialState[name]
