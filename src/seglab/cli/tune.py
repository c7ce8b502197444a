"""``seglab tune``: a study of short training runs over the seed's choices (:mod:`seglab.tune`).

Settings every trial shares are ``seglab train``'s: ``--config FILE`` and ``--fix FIELD=VALUE``
(``--fix model.name=smp.unet``, ``--fix epochs=5``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seglab.cli.console import console

Opt = typer.Option


def tune_cmd(
    data: Annotated[Path | None, Opt("--data", help="Labelled dataset (COCO or folders).")] = None,
    time_limit: Annotated[
        str | None, Opt("--time-limit", help="The whole study: 30m, 2h. Trials stop in time.")
    ] = None,
    trials: Annotated[
        int | None, Opt("--trials", help="Trials in the study (all workers; resumed ones count).")
    ] = None,
    trial_time: Annotated[
        str | None,
        Opt("--trial-time", help="Each trial's budget [time limit / trials, or an eighth]."),
    ] = None,
    space: Annotated[
        Path | None, Opt("--space", help="YAML narrowing or widening the default space.")
    ] = None,
    storage: Annotated[
        str | None,
        Opt("--storage", help="Database URL shared by workers (postgresql://...) [journal file]."),
    ] = None,
    study: Annotated[str, Opt("--study", help="Study name; its folder is OUT/NAME.")] = "study",
    out: Annotated[Path, Opt("--out", help="Folder of studies.")] = Path("studies"),
    folds: Annotated[
        int | None, Opt("--folds", help="Score each trial by K-fold cross-validation.")
    ] = None,
    pruner: Annotated[str, Opt("--pruner", help="median, hyperband or none.")] = "median",
    sampler: Annotated[str, Opt("--sampler", help="tpe or random.")] = "tpe",
    seed: Annotated[int, Opt("--seed", help="Seed of the sampler and of every trial.")] = 0,
    refit: Annotated[
        float,
        Opt(
            "--refit",
            help="Share of --time-limit kept to train the best settings again at "
            "the end, into STUDY/best/ (e.g. 0.4) [0: no refit].",
        ),
    ] = 0.0,
    config: Annotated[
        Path | None, Opt("--config", help="YAML of settings every trial shares (train's).")
    ] = None,
    fix: Annotated[
        list[str] | None,
        Opt("--fix", help="A setting every trial shares: FIELD=VALUE (dotted TrainConfig field)."),
    ] = None,
    overwrite: Annotated[
        bool, Opt("--overwrite", help="Start the study anew (deletes its folder and journal).")
    ] = False,
    show_space: Annotated[
        bool, Opt("--show-space", help="Print the search space as YAML and exit.")
    ] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Only the final tables.")] = False,
) -> None:
    """Search the seed's choices -- optimizer, learning rate, weight decay, activation, init,
    loss, augmentation, width (and, with --space, model, crop and image size, threshold,
    preprocessing) -- with short training runs on Optuna, pruning the bad ones from their
    validation curves, inside --time-limit.

    Writes OUT/STUDY/: trials/trial-NNN/ (each a run folder), study.csv (one row per trial),
    best.yaml (seglab train --config best.yaml reruns the best), confidence.csv, plots/,
    study.json. Run it again to resume the study; start a second worker with the same
    --storage and --study to share it.

    Examples:

      seglab tune --data nuclei/ --time-limit 30m

      seglab tune --data d/ --time-limit 1h --space space.yaml --folds 3

      seglab tune --data d/ --time-limit 30m --refit 0.4   # then 12 minutes on the best

      seglab tune --data d/ --time-limit 2h --storage postgresql://u:p@db/optuna --study s1
    """
    from seglab.api import tune, tune_space
    from seglab.cli.render import print_study_result

    if show_space:
        console.print(tune_space(space), markup=False, highlight=False, end="", soft_wrap=True)
        return
    if data is None and config is None:
        raise typer.BadParameter("give --data DATASET (or --config with data: in it)")
    from seglab.config import parse_assignments

    fixed = _nested(parse_assignments(fix, what="--fix"))

    def say(text: str) -> None:
        if not quiet:
            console.print(text, highlight=False, markup=False)

    result = tune(
        data,
        config=config,
        time_limit=time_limit,
        trials=trials,
        trial_time=trial_time,
        space=space,
        storage=storage,
        study=study,
        out=out,
        folds=folds,
        pruner=pruner,
        sampler=sampler,
        seed=seed,
        refit=refit,
        overwrite=overwrite,
        print_fn=say,
        **fixed,
    )
    print_study_result(result, console)
    if result.interrupted:
        raise typer.Exit(130)


def _nested(flat: dict) -> dict:
    """``{"model.name": "x"}`` -> ``{"model": {"name": "x"}}``; ``none`` stays the name it
    is for ``augment``, ``scheduler`` and ``preprocess`` (a field not fixed is the recipe's)."""
    from seglab.cli.train import _set

    out: dict = {}
    for key, value in flat.items():
        _set(out, key, "none" if value is None else value)
    return out
