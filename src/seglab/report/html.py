"""One HTML page of a training run: :func:`build_report`.

The page (Jinja2, autoescaped, inline CSS, no JavaScript, nothing loaded from the network) shows
the run's config, a summary of its data, the training curves, the overfitting verdict, the
metrics on the val split, a val gallery (image | truth | prediction | crop, worst Dice first) and,
with ``test=``, a test gallery (image | predicted mask | crop) like the seed's page. Rows whose
objects are too small for a thumbnail add a zoom column (:class:`seglab.report.gallery.Zoom`).

For an instance run (its card's ``task`` is ``instance``) the metrics are the objects' (DSB-2018
mean AP, AP@0.5, AP@0.75, AJI, COCO mask and box AP, the objects found, missed, false, split and
merged) and the val gallery shows image | true objects | predicted objects, a colour per object,
worst DSB mean AP first, with each image's count errors
(:mod:`seglab.report.instance_gallery`); ``evaluation/`` then holds ``labels/``.

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
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from seglab.core.files import check_output_path, make_folder
from seglab.errors import ConfigError, SeglabError
from seglab.predict.options import PredictOptions
from seglab.report import sections
from seglab.report.assets import Assets, Made, data_config, refresh_assets, truth_lookup
from seglab.report.gallery import (
    DEFAULT_THUMB,
    GalleryRow,
    predicted_rows,
    read_json,
    scored_rows,
)
from seglab.report.instance_gallery import instance_rows

if TYPE_CHECKING:
    from seglab.config import DataConfig

TEMPLATES = Path(__file__).parent / "templates"
SMALL_TILE = 128  # tiles smaller than this are shown enlarged, with crisp pixels
DASH = "\u2013"  # a missing number


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
    crf: bool = False,
    crf_iterations: int = 5,
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
    crf, crf_iterations:
        Refine the metrics' and galleries' masks with a dense CRF of ``crf_iterations``
        mean-field steps (as ``seglab evaluate --crf`` does; semantic runs).

    Raises
    ------
    DataError
        A run file is missing or unreadable (the message names it and says what to do), the
        run's ``model.json`` was written by an incompatible seglab version, or ``data``/``test``
        cannot be read.
    """
    check_thumb(thumb)
    run = Path(run)
    files = sections.check_run(run)
    page = page_path(run, out)
    assets = Assets.open(run)
    report = _Inputs(
        run=run,
        files=files,
        data_config=data_config(files.config, data, run),
        classes=list(files.card.classes),
        split=split,
    )
    if crf:
        PredictOptions(crf=True, crf_iterations=crf_iterations)  # refuses a bad count
    made = refresh_assets(
        assets,
        data=data,
        test=test,
        split=split,
        refresh=refresh,
        crf=crf_iterations if crf else None,
    )
    val, test_rows = _galleries(report, made, assets.folder / "thumbs", thumb)
    eval_summary = {}
    if made.evaluation is not None:
        eval_summary = read_json(made.evaluation / "summary.json", what="the evaluation")
    make_folder(page.parent, option="--out")
    link = linker(page.parent.resolve(), single_file)
    context = _context(report, made, val, test_rows, eval_summary, link)
    page.write_text(render(context), encoding="utf-8")
    return page


def render(context: dict[str, Any]) -> str:
    """The page from ``context`` with ``templates/report.html.j2`` (autoescaped)."""
    return environment().get_template("report.html.j2").render(**context)


def environment():
    """The Jinja2 environment of the report pages (``templates/``): autoescaped, strict about
    missing names, with the ``num`` filter (:func:`format_number`)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    return env


def house_style():
    """The CSS of the run report (the ``<style>`` element of ``templates/report.html.j2``), for
    the other pages in its style: the run report's template stays its one home.

    Returned as :class:`markupsafe.Markup` -- it is this package's own file, and an escaped
    quote would break the CSS.
    """
    from markupsafe import Markup

    text = (TEMPLATES / "report.html.j2").read_text(encoding="utf-8")
    start, end = text.find("<style>"), text.find("</style>")
    if start < 0 or end < start:
        raise SeglabError(
            f"{TEMPLATES / 'report.html.j2'}: no <style> element; reinstall seglab"
        )  # a damaged installation, not a user's mistake
    return Markup(text[start + len("<style>") : end])


# -- the steps of build_report -------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    """The run a page is about: its files, the dataset it is scored on, its classes."""

    run: Path
    files: sections.RunFiles
    data_config: DataConfig
    classes: list[str]
    split: str

    @property
    def instance(self) -> bool:
        """The run predicts objects (its card's ``task``): the page shows instance metrics."""
        return self.files.card.task == "instance"


def check_thumb(thumb: int) -> None:
    """Refuse a tile side that is not an integer of at least 16 pixels (:class:`ConfigError`)."""
    if isinstance(thumb, bool) or not isinstance(thumb, int) or thumb < 16:
        raise ConfigError(f"thumb must be an integer >= 16 (pixels), got {thumb!r}")


def page_path(run: Path, out: str | Path | None) -> Path:
    """The page to write: ``out``, or ``report.html`` in the folder ``run``; checked as a file
    path before any work (``--out``)."""
    page = Path(out) if out is not None else run / "report.html"
    check_output_path(page, option="--out")
    if page.exists() and page.is_dir():
        raise SeglabError(f"{page}: is a folder; give --out a file name such as report.html")
    return page


def _galleries(
    report: _Inputs, made: Made, thumbs: Path, thumb: int
) -> tuple[list[GalleryRow], list[GalleryRow]]:
    """The val and test gallery rows, their tiles written anew into ``thumbs``."""
    classes = report.classes
    shutil.rmtree(thumbs, ignore_errors=True)
    val = []
    if made.evaluation is not None and report.instance:
        lookup = truth_lookup(report.data_config, report.split, objects=True)
        val = instance_rows(made.evaluation, lookup, thumbs / "val", thumb=thumb)
    elif made.evaluation is not None:
        val = scored_rows(
            made.evaluation,
            truth_lookup(report.data_config, report.split),
            thumbs / "val",
            num_classes=len(classes),
            class_names=classes,
            thumb=thumb,
        )
    test = []
    if made.predictions is not None:
        test = predicted_rows(
            made.predictions, thumbs / "test", num_classes=len(classes), thumb=thumb
        )
    return val, test


def _context(
    report: _Inputs,
    made: Made,
    val: list[GalleryRow],
    test: list[GalleryRow],
    eval_summary: dict[str, Any],
    link: Callable[[Path], str],
) -> dict[str, Any]:
    """What the template shows, as plain values."""
    from seglab._version import __version__

    run, files, classes = report.run, report.files, report.classes
    return {
        "run": sections.run_header(run, files, __version__),
        "config": sections.config_section(files.config, run / "config.yaml"),
        "data": sections.data_summary(report.data_config),
        "curves": [
            {"name": p.stem.replace("_", " "), "src": link(p)} for p in sections.curves(run, files)
        ],
        "verdict": sections.verdict_info(files.summary.get("verdict")),
        "recipe": files.summary.get("recipe") or [],
        "metrics": sections.metrics_table(eval_summary, multiclass=len(classes) > 2),
        "instance": sections.instance_section(eval_summary) if report.instance else None,
        "eval": sections.evaluation_info(report.split, made.eval_note, eval_summary),
        "classes": classes,
        "val": [gallery_row(r, link) for r in val],
        "test": [gallery_row(r, link) for r in test],
        "test_input": made.test_input,
        "test_skipped": _skipped(made.predictions),
        "generated": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
    }


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


def gallery_row(row, link) -> dict[str, Any]:
    """A :class:`~seglab.report.gallery.GalleryRow` as the templates show it: its tiles linked
    with ``link`` (:func:`linker`), small tiles marked for crisp enlarging, a Dice grade."""
    graded = "dsb_map" if "dsb_map" in row.scores else "dice"  # instance rows: by objects
    return {
        "key": row.key,
        "grade": _grade(row.scores.get(graded, math.nan)),
        "counts": row.counts,
        "scores": row.scores,
        "per_class": row.per_class,
        "note": row.note,
        "tiles": [
            {"label": label, "src": link(path), "small": _side(path) < SMALL_TILE}
            for label, path in row.tiles
        ],
        "zoom": row.zoom and {"src": link(row.zoom.path), "caption": row.zoom.caption},
    }


def _side(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        return max(img.size)


def linker(base: Path, single_file: bool):
    """``path -> src`` for the page's images: a quoted URL relative to ``base``, or a
    ``data:`` URI with ``single_file``."""
    types = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}

    def link(path: Path) -> str:
        if single_file:
            kind = types.get(path.suffix.lower(), "application/octet-stream")
            return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        relative = Path(os.path.relpath(Path(path).resolve(), base)).as_posix()
        return quote(relative, safe="/")

    return link


def format_number(value: Any, digits: int = 3) -> str:
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
