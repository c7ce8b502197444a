"""One HTML page of a study (``seglab tune``): :func:`build_study_report`, the research report.

The page, in the run report's style (:mod:`seglab.report.html`: autoescaped, inline CSS, no
JavaScript, nothing from the network), reports a finished or running study folder
(:mod:`seglab.report.study_data`):

* **Study** -- the data set, task, monitor, budgets, folds, sampler and pruner, the trials by
  state, the storage; the best score against the baseline when there is one;
* **Data and preprocessing** -- the data set as the run report shows it (of the best trial's
  run), what the data check found before it trained, and the preprocessing, augmentation,
  image and crop sizes: fixed for every trial, tried, and resolved for the best trial;
* **Hypotheses** -- a part per parameter that varied ("Optimizers", "Activations"...): its
  values (bins for numbers, as ``confidence.csv`` has them) with their trials, mean +- std and
  best score, and the val curves of the trials, a panel and a colour per value, side by side;
* **Best approach and why** -- the best trial's settings and resolved config, the importances,
  Optuna's plots, and for each setting the trials that share it and their spread;
* **Trials** -- every row of ``study.csv``, linked to its run folder (or its report);
* **Overfitting** -- each finished trial's verdict, counted by kind, and the best trial's
  verdict and curves;
* **Error analysis of the best model** -- its evaluation on the val split (a folds trial: its
  first fold), the worst images first, and the images with the most false alarms and misses
  (:mod:`seglab.report.study_errors`).

Beside the page, ``STUDY/report/`` holds ``evaluation/`` (reused while newer than the best run's
weights and made from the same run, data and split; ``refresh=True`` evaluates again),
``hypotheses/`` (the curves) and ``thumbs/`` (the gallery tiles), both written anew each time.
A study still running, or whose trials all failed or were pruned, gets a page all the same: each
part that needs a finished trial says why it is empty.

>>> page = build_study_report("studies/cig")  # doctest: +SKIP
>>> page.name  # doctest: +SKIP
'report.html'
"""

from __future__ import annotations

import datetime as dt
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.core.files import make_folder, safe_name
from seglab.errors import ConfigError, DataError
from seglab.report import sections
from seglab.report import study_sections as parts
from seglab.report.assets import ASSETS, data_config
from seglab.report.gallery import DEFAULT_THUMB
from seglab.report.html import check_thumb, environment, house_style, linker, page_path
from seglab.report.study_data import (
    Param,
    Study,
    Trial,
    TrialRun,
    read_curve,
    read_study,
    trial_run,
)
from seglab.report.study_errors import analyse_errors, error_context
from seglab.report.study_plots import Curve, Panel, colour, plot_hypothesis

if TYPE_CHECKING:
    from seglab.config import DataConfig

OPTUNA_PLOTS = (
    ("history", "optimisation history"),
    ("parallel", "parallel coordinates"),
    ("slice", "slice: score per value"),
)
"""``STUDY/plots/NAME.png`` shown under the best approach (``importances.png`` beside the bars)."""


def build_study_report(
    study: str | Path,
    *,
    data: str | Path | None = None,
    split: str = "val",
    out: str | Path | None = None,
    single_file: bool = False,
    thumb: int = DEFAULT_THUMB,
    refresh: bool = False,
) -> Path:
    """Write the research report of a study folder and return its path.

    Parameters
    ----------
    study:
        The study folder (``study.json``, ``study.csv``, ``trials/``...), finished or running.
    data:
        The labelled dataset of the error analysis; ``None``: the best trial's own (its
        ``config.yaml``), with the val split it trained with. For a dataset that moved.
    split:
        The split of the error analysis.
    out:
        The HTML file; default ``STUDY/report.html``. Images are linked relative to it.
    single_file:
        Embed every image as a ``data:`` URI (the links to the trials' folders stay links).
    thumb:
        Longest side of the gallery tiles in pixels.
    refresh:
        Evaluate the best model again even when ``STUDY/report/evaluation`` is up to date.

    Raises
    ------
    DataError
        ``study.json`` or ``study.csv`` is missing or malformed (the message names the file and
        the key or column), or ``data`` cannot be evaluated.
    ConfigError
        ``thumb`` is not a whole number of pixels >= 16.
    """
    check_thumb(thumb)
    folder = Path(study)
    info = read_study(folder)
    page = page_path(folder, out)
    assets = _assets_folder(folder)
    runs = {t.number: trial_run(info, t) for t in info.trials}
    best = _best(info, runs)
    config = _data_config(info, best, runs, data)
    link = linker(make_folder(page.parent, option="--out").resolve(), single_file)
    href = linker(page.parent.resolve(), False)  # folders and pages stay links in one file too
    errors = analyse_errors(
        best.run,
        best.files,
        config,
        why_not=best.note,
        data=data,
        split=split,
        refresh=refresh,
        assets=assets,
        thumb=thumb,
    )
    context = {
        "style": house_style(),
        "study": _header(info, best),
        "data": _data_section(info, best, config),
        "hypotheses": _hypotheses(info, runs, best, assets / "hypotheses", link),
        "best": _best_section(info, best, href, link),
        "trials": _trial_rows(info, runs, href),
        "overfitting": _overfitting(info, runs, best, link),
        "errors": error_context(errors, link),
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }
    text = environment().get_template("study.html.j2").render(**context)
    page.write_text(text, encoding="utf-8")
    return page


def _assets_folder(study: Path) -> Path:
    """``STUDY/report/``, made when missing."""
    folder = study / ASSETS
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{folder}: cannot write the report's files there ({exc.strerror}); report a "
            "writable copy of the study folder"
        ) from None
    return folder


# -- the best trial ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Best:
    """The best trial, its run (``None`` when it has no folder), the run's files (``None`` when
    unreadable) and, without them, why."""

    trial: Trial | None
    number: int | None
    score: float | None
    run: TrialRun | None
    files: sections.RunFiles | None
    note: str


def _best(study: Study, runs: dict[int, TrialRun | None]) -> _Best:
    meta = study.best
    if meta is None:
        return _Best(None, None, None, None, None, f"No best trial yet: {_progress(study)}.")
    trial = study.best_trial()
    run = runs.get(meta["number"])
    if run is None and isinstance(meta.get("run"), str):
        run = trial_run(study, _stub(meta))
    if run is None:
        note = f"The best trial's run folder {meta.get('run')!r} is not in the study folder."
        return _Best(trial, meta["number"], meta["score"], None, None, note)
    try:
        files = sections.check_run(run.run)
    except DataError as exc:
        note = f"The best trial's run cannot be read: {exc}"
        return _Best(trial, meta["number"], meta["score"], run, None, note)
    return _Best(trial, meta["number"], meta["score"], run, files, "")


def _stub(meta: dict[str, Any]) -> Trial:
    """A row for a best trial ``study.csv`` does not list yet (written before the CSV)."""
    return Trial(meta["number"], "COMPLETE", meta["score"], None, None, None, meta["run"], "", {})


def _progress(study: Study) -> str:
    """How far the study is, for the parts that need a finished trial."""
    counts = {
        s: sum(1 for t in study.trials if t.state == s)
        for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")
    }
    if not study.trials:
        return "study.csv lists no trial yet"
    words = [f"{n} {s.lower().replace('fail', 'failed')}" for s, n in counts.items() if n]
    none = "" if any(t.scored for t in study.trials) else ", and none complete with a score"
    return f"{', '.join(words)} of {len(study.trials)} trials{none}"


# -- the data ------------------------------------------------------------------------------------


def _data_config(study: Study, best: _Best, runs, data) -> DataConfig | None:
    """The dataset of the best trial's run (else of any trial's, else study.json's), moved to
    ``data`` when given; ``None`` when nothing says where it is."""
    import yaml

    from seglab.config import DataConfig

    candidates = [best.run] if best.run is not None else []
    candidates += [r for r in runs.values() if r is not None]
    for run in candidates:
        try:
            config = yaml.safe_load((run.run / "config.yaml").read_text(encoding="utf-8"))
            return data_config(config if isinstance(config, dict) else {}, data, run.run)
        except (OSError, yaml.YAMLError, DataError):
            continue
    where = data if data is not None else study.meta.get("data")
    return DataConfig(path=Path(where)) if where else None


def _data_section(study: Study, best: _Best, config: DataConfig | None) -> dict[str, Any]:
    summary = best.files.summary if best.files is not None else None
    return {
        "summary": sections.data_summary(config) if config is not None else None,
        "check": parts.data_check(summary),
        "prep": parts.prep_rows(study, best.files.config if best.files is not None else None),
        "fixed": [(k, parts.show(v)) for k, v in (study.meta.get("fixed") or {}).items()],
    }


# -- the study -----------------------------------------------------------------------------------


def _header(study: Study, best: _Best) -> dict[str, Any]:
    from seglab._version import __version__

    meta = study.meta
    baseline = meta.get("baseline")
    compared = None
    if baseline is not None and best.score is not None:
        diff = best.score - baseline["score"]
        compared = {
            "score": baseline["score"],
            "run": str(baseline.get("run") or ""),
            "diff": diff,
            "better": diff > 0 if study.maximize else diff < 0,
        }
    counts = meta.get("counts") or {}
    running = counts.get("running", 0)
    state = (
        f"finished {meta['finished']}"
        if meta.get("finished")
        else (
            f"running ({running} trial{'s' * (running != 1)} now)"
            if running
            else "not finished (no trial running)"
        )
    )
    return {
        "name": str(meta.get("name") or study.folder.resolve().name),
        "path": str(study.folder.resolve()),
        "command": f"seglab report {shlex.quote(str(study.folder.resolve()))}",
        "version": __version__,
        "study_version": str(meta.get("seglab_version") or ""),
        "meta": meta,
        "state": state,
        "counts": {k: counts.get(k, 0) for k in ("complete", "pruned", "fail", "running")},
        "rows": len(study.trials),
        "best": best.number is not None and {"number": best.number, "score": best.score},
        "best_note": best.note,
        "baseline": compared,
    }


# -- the hypotheses ------------------------------------------------------------------------------


def _hypotheses(study: Study, runs, best: _Best, folder: Path, link) -> dict[str, Any]:
    shutil.rmtree(folder, ignore_errors=True)
    curves: dict[int, tuple[list[float], list[float]]] = {}
    for number, run in runs.items():
        if run is not None:
            curves[number] = read_curve(run.run, study.monitor)
    varied, constant = [], []
    for param in study.space.values():
        if not parts.varied(study, param):
            values = {t.params.get(param.name, "") for t in study.trials} - {""}
            constant.append((param.name, ", ".join(sorted(values)) or "not tried yet"))
            continue
        groups, source = parts.value_groups(study, param)
        panels = [
            Panel(
                g.label,
                colour(i),
                [_curve(t, curves, best) for t in g.members if t.number in curves],
            )
            for i, g in enumerate(groups)
        ]
        plot = plot_hypothesis(
            panels,
            folder / f"{safe_name(param.name)}.png",
            title=f"{parts.title(param)}: {study.monitor} of each trial",
            monitor=study.monitor,
            trial_time=study.meta.get("trial_time"),
        )
        varied.append(
            {
                "param": param.name,
                "title": parts.title(param),
                "path": param.path,
                "space": parts.space_text(param),
                "source": source,
                "plot": link(plot) if plot is not None else None,
                "groups": [_group(g, panels[i].colour) for i, g in enumerate(groups)],
            }
        )
    return {"params": varied, "constant": constant, "progress": _progress(study)}


def _curve(trial: Trial, curves, best: _Best) -> Curve:
    seconds, values = curves[trial.number]
    return Curve(
        trial.number, seconds, values, trial.state == "PRUNED", trial.number == best.number
    )


def _group(group: parts.Group, colour_: str) -> dict[str, Any]:
    return {
        "label": group.label,
        "colour": colour_,
        "trials": group.trials,
        "mean": group.mean,
        "std": group.std,
        "best": group.best,
        "is_best": group.is_best,
        "numbers": [t.number for t in group.members],
        **{s.lower(): group.count(s) for s in ("PRUNED", "FAIL", "RUNNING")},
    }


# -- the best approach ---------------------------------------------------------------------------


def _best_section(study: Study, best: _Best, href, link) -> dict[str, Any]:
    plots = study.folder / "plots"
    shown = [(name, caption, plots / f"{name}.png") for name, caption in OPTUNA_PLOTS]
    importance_plot = plots / "importances.png"
    hypotheses = {name: parts.value_groups(study, p)[0] for name, p in study.space.items()}
    config = None
    if best.files is not None:
        config = sections.config_section(best.files.config, best.run.run / "config.yaml")
    params = (study.best or {}).get("params") or {}
    return {
        "number": best.number,
        "score": best.score,
        "note": best.note,
        "run": _run_link(best.run, href),
        "params": [(k, parts.show(v)) for k, v in params.items()],
        "config": config,
        "importances": parts.importance_rows(study),
        "scored": sum(1 for t in study.trials if t.scored),
        "importance_plot": link(importance_plot) if importance_plot.is_file() else None,
        "plots": [{"name": n, "caption": c, "src": link(p)} for n, c, p in shown if p.is_file()],
        "reasons": [
            {
                **r,
                "group": r["group"] and _group(r["group"], ""),
                "others": [_group(g, "") for g in r["others"]],
            }
            for r in parts.reasons(study, hypotheses)
        ],
    }


def _run_link(run: TrialRun | None, href) -> dict[str, str] | None:
    """The link to a trial: its report when one was written, else its folder."""
    if run is None:
        return None
    for page in (run.folder / "report.html", run.run / "report.html"):
        if page.is_file():
            return {"href": href(page), "label": "report", "path": str(run.folder)}
    return {"href": href(run.folder), "label": "run folder", "path": str(run.folder)}


# -- trials and verdicts -------------------------------------------------------------------------


def _trial_rows(study: Study, runs, href) -> dict[str, Any]:
    rows = []
    for trial in study.trials:
        rows.append(
            {
                "number": trial.number,
                "state": trial.state,
                "score": trial.score,
                "score_std": trial.score_std,
                "seconds": trial.seconds,
                "pruned_at": trial.pruned_at,
                "error": trial.error,
                "params": [
                    _cell(param, trial.params.get(name, "")) for name, param in study.space.items()
                ],
                "link": _run_link(runs.get(trial.number), href),
                "best": trial.number == (study.best or {}).get("number"),
            }
        )
    return {"params": list(study.space), "rows": rows}


def _cell(param: Param, text: str) -> tuple[str, str]:
    """A trial's value as the table shows it (numbers in 3 digits) and in full."""
    if param.numeric and text:
        try:
            return parts.short(float(text)), text
        except ValueError:
            pass
    return text, text


def _overfitting(study: Study, runs, best: _Best, link) -> dict[str, Any]:
    rows = parts.verdicts(study, runs)
    verdict, curves = None, []
    if best.files is not None:
        verdict = sections.verdict_info(best.files.summary.get("verdict"))
        curves = [
            {"name": p.stem.replace("_", " "), "src": link(p)}
            for p in sections.curves(best.run.run, best.files)
        ]
    return {
        "rows": rows,
        "counts": parts.verdict_counts(rows),
        "best": verdict,
        "curves": curves,
        "fold_note": best.run.fold_note if best.run is not None else "",
        "progress": _progress(study),
    }
