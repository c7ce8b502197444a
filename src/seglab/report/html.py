"""One HTML page of a training run: :func:`build_report`.

The page (Jinja2, autoescaped, inline CSS, no JavaScript, nothing loaded from the network) shows
the run's config, a summary of its data, the training curves, the overfitting verdict, the
metrics on the val split, a val gallery (image | truth | prediction | crop, worst Dice first) and,
with ``test=``, a test gallery (image | predicted mask | crop) like the seed's page.

It is built from files on disk only, so it can be regenerated at any time. Beside the page,
``RUN/report/`` holds what it is built from:

* ``evaluation/`` -- :func:`seglab.evaluation.run.evaluate` on the split (``scores.csv``,
  ``summary.json``, ``masks/``); reused while it is newer than the run's ``model.json`` and
  ``model.safetensors`` and was made from the same ``data`` and ``split`` (``refresh=True``
  evaluates again);
* ``test/`` -- :func:`seglab.predict.predict_images` on ``test`` (masks, overlays, crops); a
  later report without ``test`` shows these predictions again while they are newer than the
  weights;
* ``thumbs/`` -- the gallery tiles (written anew each time);
* ``state.json`` -- what ``evaluation/`` and ``test/`` were made from.

>>> page = build_report("runs/train", test="sample/test/images")  # doctest: +SKIP
>>> page.name  # doctest: +SKIP
'report.html'
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

from seglab.errors import ConfigError, DataError, SeglabError
from seglab.report import sections
from seglab.report.gallery import DEFAULT_THUMB, predicted_rows, read_json, scored_rows

TEMPLATES = Path(__file__).parent / "templates"
SMALL_TILE = 128  # tiles smaller than this are shown enlarged, with crisp pixels
DASH = "\u2013"  # a missing number
ASSETS = "report"  # RUN/report/: evaluation, test predictions, thumbnails


def build_report(
    run: str | Path,
    *,
    data: str | Path | None = None,
    test: str | Path | None = None,
    out: str | Path | None = None,
    split: str = "val",
    single_file: bool = False,
    thumb: int = DEFAULT_THUMB,
    refresh: bool = False,
) -> Path:
    """Write the HTML report of a training run and return its path.

    Parameters
    ----------
    run:
        The run folder (``config.yaml``, ``metrics.csv``, ``summary.json``, ``model.json``,
        ``model.safetensors``, ``plots/``).
    data:
        The labelled dataset to evaluate on; ``None``: the run's own (``config.yaml``), with
        the val split training used.
    test:
        Unlabelled images (folder, file or glob) for the test gallery.
    out:
        The HTML file; default ``RUN/report.html``. Images are linked relative to it.
    split:
        The split of the val gallery and of the metrics.
    single_file:
        Embed every image as a ``data:`` URI, so the page is one self-contained file (the
        tiles are written to ``RUN/report/thumbs`` all the same).
    thumb:
        Longest side of the gallery tiles in pixels.
    refresh:
        Evaluate again even when ``RUN/report/evaluation`` is up to date.

    Raises
    ------
    DataError
        A run file is missing or unreadable (the message names it and says what to do), the
        run's ``model.json`` was written by an incompatible seglab version, or ``data``/``test``
        cannot be read.
    """
    import seglab

    if isinstance(thumb, bool) or not isinstance(thumb, int) or thumb < 16:
        raise ConfigError(f"thumb must be an integer >= 16 (pixels), got {thumb!r}")
    run = Path(run)
    files = sections.check_run(run)
    page = Path(out) if out is not None else run / "report.html"
    if page.exists() and page.is_dir():
        raise SeglabError(f"{page}: is a folder; give --out a file name such as report.html")
    assets = run / ASSETS
    assets.mkdir(parents=True, exist_ok=True)
    state_path = assets / "state.json"
    state = _read_state(state_path)
    data_config = _data_config(files["config"], data, run)
    classes = list(files["model"].get("classes") or ["background", "foreground"])

    evaluation, eval_note = _evaluation(
        run, assets, state_path, state, data=data, split=split, refresh=refresh
    )
    predictions = _predictions(run, assets, state_path, state, test=test)

    thumbs = assets / "thumbs"
    shutil.rmtree(thumbs, ignore_errors=True)
    val = []
    if evaluation is not None:
        val = scored_rows(
            evaluation,
            _truth_lookup(data_config, split),
            thumbs / "val",
            num_classes=len(classes),
            class_names=classes,
            thumb=thumb,
        )
    test_gallery = []
    if predictions is not None:
        test_gallery = predicted_rows(
            predictions, thumbs / "test", num_classes=len(classes), thumb=thumb
        )
    eval_summary = {}
    if evaluation is not None:
        eval_summary = read_json(evaluation / "summary.json", what="the evaluation")

    page.parent.mkdir(parents=True, exist_ok=True)
    link = _linker(page.parent.resolve(), single_file)
    context = {
        "run": sections.run_header(run, files, seglab.__version__),
        "config": sections.config_section(files["config"], run / "config.yaml"),
        "data": sections.data_summary(data_config),
        "curves": [
            {"name": p.stem.replace("_", " "), "src": link(p)} for p in sections.curves(run, files)
        ],
        "verdict": sections.verdict_info(files["summary"].get("verdict")),
        "recipe": files["summary"].get("recipe") or [],
        "metrics": sections.metrics_table(eval_summary, multiclass=len(classes) > 2),
        "eval": sections.evaluation_info(split, eval_note, eval_summary),
        "classes": classes,
        "val": [_row(r, link) for r in val],
        "test": [_row(r, link) for r in test_gallery],
        "test_input": state.get("test", {}).get("input") if predictions else None,
        "test_skipped": _skipped(predictions),
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }
    page.write_text(render(context), encoding="utf-8")
    return page


def render(context: dict[str, Any]) -> str:
    """The page from ``context`` with ``templates/report.html.j2`` (autoescaped)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _fmt
    return env.get_template("report.html.j2").render(**context)


# -- the run folder ------------------------------------------------------------------------------


def _data_config(config: dict[str, Any], data: str | Path | None, run: Path):
    from pydantic import ValidationError

    from seglab.config import DataConfig, describe_validation

    try:
        base = DataConfig.model_validate(config.get("data") or {})
    except ValidationError as exc:
        raise DataError(
            f"the data section does not fit this seglab version ({describe_validation(exc)}); "
            "pass --data PATH",
            path=run / "config.yaml",
            field="data",
        ) from None
    if data is None:
        return base
    return base.model_copy(
        update={"path": Path(data), "annotations": None, "images": None, "masks": None}
    )


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _newer(folder: Path, run: Path) -> bool:
    """``folder`` was made (its ``summary.json`` written) after the run's model files."""
    summary = folder / "summary.json"
    if not summary.is_file():
        return False
    model = max((run / name).stat().st_mtime for name in ("model.json", "model.safetensors"))
    return summary.stat().st_mtime >= model


def _forget(folder: Path, what: str, state_path: Path, state: dict) -> None:
    """Clear ``folder`` and its entry in ``state.json`` before making it again, so a failure
    half way never leaves outputs that look current."""
    state.pop(what, None)
    state_path.write_text(json.dumps(state, indent=2))
    shutil.rmtree(folder, ignore_errors=True)


def _evaluation(
    run: Path, assets: Path, state_path: Path, state: dict, *, data, split: str, refresh: bool
) -> tuple[Path | None, str]:
    """The evaluation folder (made or reused) and a note for the page when there is none."""
    folder = assets / "evaluation"
    wanted = {"data": None if data is None else str(Path(data).resolve()), "split": split}
    if not refresh and state.get("evaluation") == wanted and _newer(folder, run):
        return folder, ""
    from seglab.evaluation.run import evaluate

    _forget(folder, "evaluation", state_path, state)
    try:
        evaluate(model=run, data=data, split=split, out=folder, overwrite=True)
    except (DataError, ConfigError) as exc:
        if data is not None or _names_run_file(exc, run):
            raise  # the model (or the dataset asked for) is unusable: say so, not in the page
        return None, (
            f"The {split} split could not be evaluated ({exc}). "
            "Pass --data PATH to evaluate on the dataset where it is now."
        )
    state["evaluation"] = wanted
    state_path.write_text(json.dumps(state, indent=2))
    return folder, ""


def _names_run_file(exc: Exception, run: Path) -> bool:
    """The error is about a file of the run folder (its model), not about the dataset."""
    path = getattr(exc, "path", None)
    return path is not None and Path(path).resolve().parent == run.resolve()


def _predictions(run: Path, assets: Path, state_path: Path, state: dict, *, test) -> Path | None:
    """The test predictions folder (made, or reused without ``test``), or ``None``."""
    folder = assets / "test"
    if test is None:
        return folder if state.get("test") and _newer(folder, run) else None
    from seglab.predict import predict_images

    _forget(folder, "test", state_path, state)
    predict_images(run, test, folder, overwrite=True)
    state["test"] = {"input": str(test)}
    state_path.write_text(json.dumps(state, indent=2))
    return folder


def _truth_lookup(config, split: str):
    """``(key, image_path) -> (image, mask) | None`` over the dataset's splits, ``split`` first;
    opened on first use."""
    from seglab.data.dataset import open_dataset

    by_path: dict[str, tuple] = {}  # resolved image path -> (source, item index)
    by_key: dict[str, tuple] = {}
    opened = False

    def find(key: str, image_path: str):
        nonlocal opened
        if not opened:
            opened = True
            for name in reversed(dict.fromkeys((split, "train", "val", "test"))):
                try:
                    source = open_dataset(config, split=name)
                except (DataError, OSError):
                    continue
                if not source.labelled:
                    continue
                for i, item in enumerate(source.items):  # ``split`` comes last and wins
                    by_path[str(Path(item.image_path).resolve())] = by_key[item.key] = (source, i)
        found = by_path.get(str(Path(image_path).resolve())) if image_path else None
        found = found or by_key.get(key)
        return found[0].load(found[1]) if found else None

    return find


def _skipped(predictions: Path | None) -> list[str]:
    """The unreadable test images ``predict_images`` listed."""
    if predictions is None:
        return []
    skipped = read_json(predictions / "summary.json", what="the test predictions").get("skipped")
    return [str(p) for p in skipped] if isinstance(skipped, list) else []


def _grade(dice: float) -> str:
    if not math.isfinite(dice):
        return ""
    return "bad" if dice < 0.5 else ("fair" if dice < 0.8 else "good")


def _row(row, link) -> dict[str, Any]:
    return {
        "key": row.key,
        "grade": _grade(row.scores.get("dice", math.nan)),
        "scores": row.scores,
        "per_class": row.per_class,
        "note": row.note,
        "tiles": [
            {"label": label, "src": link(path), "small": _side(path) < SMALL_TILE}
            for label, path in row.tiles
        ],
    }


def _side(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        return max(img.size)


def _linker(base: Path, single_file: bool):
    """``path -> src``: a quoted URL relative to ``base``, or a ``data:`` URI."""
    types = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

    def link(path: Path) -> str:
        if single_file:
            kind = types.get(path.suffix.lower(), "application/octet-stream")
            return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        relative = Path(os.path.relpath(Path(path).resolve(), base)).as_posix()
        return quote(relative, safe="/")

    return link


def _fmt(value: Any, digits: int = 3) -> str:
    """A number for the page: ``digits`` decimals, a dash when missing."""
    if value is None or isinstance(value, bool):
        return DASH if value is None else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return DASH
    return f"{number:.{digits}f}"
