"""What a study is asked to do: :class:`TuneConfig`, and the budget of each trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seglab.config import parse_duration
from seglab.errors import ConfigError

DEFAULT_TRIALS = 8
"""Trials a study plans for when only ``--time-limit`` is given: each gets an eighth of it."""
MIN_TRIAL_SECONDS = 20.0
"""The shortest trial budget ``seglab tune`` plans (the recipe's timed probe and one
validation take seconds)."""


class TuneConfig(BaseModel):
    """A study (see :func:`seglab.tune.study.run_study`).

    Attributes
    ----------
    base: the TrainConfig fields every trial shares (``data`` among them), as a mapping or a
        YAML file (``--config``); the space's parameters go on top.
    time_limit: seconds for the whole study (this worker's share of it); ``trials``: the
        study's total number of trials (across workers; a resumed study counts its old ones).
    trial_time: each trial's budget (default ``time_limit / trials``, else an eighth of it).
    space: a space file (``None``: the default space, :mod:`seglab.tune.space`).
    storage: a database URL or journal file (``None``: ``STUDY/journal.log``).
    study / out: the study's name and the folder its folder ``out/study`` goes in.
    folds: score each trial by K-fold cross-validation (the mean of its folds' best scores).
    pruner / sampler: ``median``, ``hyperband`` or ``none``; ``tpe`` or ``random``.
    seed: the sampler's seed and every trial's training seed.
    refit: the share of ``time_limit`` kept for training the best trial's config once more
        when the search ends, for the rest of the time (``STUDY/best/``, a run like any
        other); 0: no refit. The trials share the rest.
    overwrite: start the study anew, deleting its folder (otherwise an existing study resumes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: dict[str, Any] | Path | None = None
    time_limit: float | None = Field(None, gt=0)
    trials: int | None = Field(None, ge=1)
    trial_time: float | None = Field(None, gt=0)
    space: Path | None = None
    storage: str | None = None
    study: str = "study"
    out: Path = Path("studies")
    folds: int | None = Field(None, ge=2)
    pruner: Literal["median", "hyperband", "none"] = "median"
    sampler: Literal["tpe", "random"] = "tpe"
    seed: int = 0
    refit: float = Field(0.0, ge=0.0, lt=1.0)
    overwrite: bool = False

    @field_validator("time_limit", "trial_time", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return parse_duration(value)

    @property
    def study_dir(self) -> Path:
        return Path(self.out) / self.study

    @property
    def search_time(self) -> float | None:
        """The seconds the trials share: the time limit less the refit's share."""
        return None if self.time_limit is None else self.time_limit * (1.0 - self.refit)

    def planned_trial_time(self) -> float:
        """Each trial's budget: ``trial_time``, else the time limit shared by ``trials`` (an
        eighth of it without ``trials``), at least :data:`MIN_TRIAL_SECONDS`.

        >>> TuneConfig(time_limit="30m").planned_trial_time()
        225.0
        """
        if self.trial_time is not None:
            return self.trial_time
        search = self.search_time
        if search is None:
            raise ConfigError("give --time-limit (the study's) or --trial-time (each trial's)")
        share = search / (self.trials or DEFAULT_TRIALS)
        return min(search, max(MIN_TRIAL_SECONDS, share))

    def check(self) -> None:
        """Refuse a study that could not end: neither a time limit nor a number of trials."""
        if self.time_limit is None and self.trials is None:
            raise ConfigError(
                "a study needs an end: give --time-limit (e.g. 30m) and/or --trials N"
            )
        if self.refit and self.time_limit is None:
            raise ConfigError("--refit is a share of --time-limit: give --time-limit too")
        self.planned_trial_time()
