"""The parts of the report page read from a run folder: its files, config, data, curves and
metrics, as plain dicts for the template (:mod:`seglab.report.html` renders them)."""

from __future__ import annotations

import datetime as dt
import math
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seglab.errors import DataError
from seglab.report.gallery import read_json

if TYPE_CHECKING:
    from seglab.models.card import ModelCard

TIMES = "\u00d7"  # the sign in "32 x 32" image sizes

RUN_FILES = {
    "config.yaml": "this is not a seglab run folder (config.yaml is written when `seglab train` "
    "starts); point at a run folder such as runs/train",
    "metrics.csv": "the run was interrupted before its first epoch finished (metrics.csv is "
    "written at the end of each epoch); train it again",
    "summary.json": "the run has not finished: summary.json is written when training ends; wait "
    "for it, or continue an interrupted run with `seglab train --resume RUN`",
    "model.json": "no weights were saved (model.json and model.safetensors are written after "
    "the first validated epoch); train it again, or longer",
    "model.safetensors": "no weights were saved (model.json and model.safetensors are written "
    "after the first validated epoch); train it again, or longer",
}
KEY_FIELDS = (
    "recipe", "loss", "optimizer", "lr", "weight_decay", "scheduler", "epochs", "time_limit",
    "patience", "monitor", "batch_size", "image_size", "crop_size", "augment", "preprocess",
    "precision", "seed", "threshold",
)  # fmt: skip


@dataclass(frozen=True)
class RunFiles:
    """A run folder's files, read and checked: ``config.yaml`` (a mapping), ``summary.json``,
    the model card (``model.json``) and the rows of ``metrics.csv``."""

    config: dict[str, Any]
    summary: dict[str, Any]
    card: ModelCard
    metrics: list[dict[str, float]]


def check_run(run: Path) -> RunFiles:
    """Read a run folder's files (:class:`RunFiles`).

    Raises
    ------
    DataError
        The folder or one of :data:`RUN_FILES` is missing or unreadable, or ``model.json`` is
        not a model card of this seglab (:func:`seglab.models.card.read_card`); the message
        names the file and says what to do.
    """
    import yaml

    from seglab.models.card import read_card
    from seglab.train.plots import read_metrics

    if not run.is_dir():
        raise DataError("no such run folder; point at a folder written by `seglab train`", path=run)
    for name, advice in RUN_FILES.items():
        if not (run / name).is_file():
            raise DataError(f"missing: {advice}", path=run / name)
    try:
        config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"cannot read the run's config: {exc}", path=run / "config.yaml") from None
    if not isinstance(config, dict):
        raise DataError("not a run config (expected a YAML mapping)", path=run / "config.yaml")
    return RunFiles(
        config=config,
        summary=read_json(run / "summary.json", what="the run summary"),
        # checked as prediction checks it: a run of another format is refused here, first
        card=read_card(run / "model.json"),
        metrics=read_metrics(run / "metrics.csv"),
    )


def run_header(run: Path, files: RunFiles, version: str) -> dict[str, Any]:
    summary = files.summary
    best = summary.get("best_epoch")
    trained = dt.datetime.fromtimestamp((run / "model.safetensors").stat().st_mtime)
    return {
        "name": run.resolve().name,
        "path": str(run.resolve()),
        "command": f"seglab report {shlex.quote(str(run.resolve()))}",
        "status": summary.get("status", "unknown"),
        "epochs": summary.get("epochs", len(files.metrics)),
        "monitor": summary.get("monitor", "val_dice"),
        "best_epoch": _epoch_from_one(best, summary),
        "best_score": summary.get("best_score"),
        "seconds": summary.get("seconds"),
        "time_limit": summary.get("time_limit"),
        "budget_used": summary.get("budget_used"),
        "threshold": _threshold_choice(summary.get("threshold")),
        "trained": trained.astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "run_version": files.card.seglab_version,
        "version": version,
        "architecture": files.card.architecture,
    }


def config_section(config: dict[str, Any], path: Path) -> dict[str, Any]:
    model = config.get("model") or {}
    rows = []
    if isinstance(model, dict):
        options = ", ".join(f"{k}={v}" for k, v in (model.get("options") or {}).items())
        rows.append(("model", f"{model.get('name')}" + (f" ({options})" if options else "")))
        for key in ("init", "encoder_weights"):
            if model.get(key) not in (None, "default"):
                rows.append((f"model {key}", str(model[key])))
    for key in KEY_FIELDS:
        value = config.get(key)
        if value not in (None, {}, []):
            rows.append((key.replace("_", " "), _plain(value)))
    for key in ("loss_options", "optimizer_options", "scheduler_options"):
        if config.get(key):
            rows.append((key.replace("_", " "), _plain(config[key])))
    return {"rows": rows, "yaml": path.read_text(encoding="utf-8")}


def data_summary(config) -> dict[str, Any]:
    """Dataset path, classes, images per split and image sizes; ``{"error": ...}`` (and what is
    known) when the dataset cannot be opened any more."""
    from seglab.data.dataset import open_dataset
    from seglab.data.layout import discover

    where = config.path or config.images or config.annotations
    out: dict[str, Any] = {"path": str(where), "splits": [], "classes": [], "error": ""}
    try:
        specs = discover(
            config.path, annotations=config.annotations, images=config.images, masks=config.masks
        )
    except (DataError, OSError) as exc:
        out["error"] = f"the dataset cannot be opened any more: {exc}"
        return out
    for name in dict.fromkeys(("train", "val", *specs)):
        try:
            source = open_dataset(config, split=name)
        except (DataError, OSError) as exc:
            if name in specs:
                out["splits"].append({"name": name, "images": None, "kind": "", "note": str(exc)})
            continue
        note = ""
        if name in ("train", "val") and "val" not in specs:
            note = f"val_fraction {config.val_fraction} of train, seed {config.seed}"
        if source.labelled and not out["classes"]:
            out["classes"] = list(source.classes)
        out["splits"].append(
            {
                "name": name,
                "images": len(source),
                "kind": source.kind if source.labelled else "images only",
                "note": note,
                "sizes": _sizes(source),
            }
        )
    return out


def _sizes(source, limit: int = 200) -> str:
    from seglab.io.images import read_image_size

    seen: dict[tuple[int, int], int] = {}
    for item in source.items[:limit]:
        size = (item.width, item.height)
        if not all(size):
            try:
                size = read_image_size(item.image_path)
            except DataError:
                continue
        seen[size] = seen.get(size, 0) + 1
    if not seen:
        return "unknown"
    shown = sorted(seen, key=seen.__getitem__, reverse=True)
    text = ", ".join(f"{w}{TIMES}{h}" for w, h in shown[:3])
    if len(shown) > 3:
        areas = sorted(seen, key=lambda s: s[0] * s[1])
        low, high = areas[0], areas[-1]
        text = f"{len(shown)} sizes, {low[0]}{TIMES}{low[1]} to {high[0]}{TIMES}{high[1]}"
    more = len(source.items) > limit
    return text + (f" (first {limit} images)" if more else "")


def curves(run: Path, files: RunFiles) -> list[Path]:
    """The run's plots; drawn again from ``metrics.csv`` when ``plots/`` has none."""
    folder = run / "plots"
    order = {"loss": 0, "dice": 1, "lr": 2}
    found = sorted(folder.glob("*.png"), key=lambda p: (order.get(p.stem, 9), p.name))
    if not any(p.stem in order for p in found) and files.metrics:
        from seglab.train.plots import plot_history

        try:
            plot_history(files.metrics, folder)
        except OSError as exc:  # a read-only run folder: the page goes without curves
            warnings.warn(f"report: cannot draw the curves: {exc}", RuntimeWarning, stacklevel=2)
        found = sorted(folder.glob("*.png"), key=lambda p: (order.get(p.stem, 9), p.name))
    return found


def metrics_table(summary: dict[str, Any], *, multiclass: bool) -> dict[str, Any]:
    """The evaluation's numbers for the page.

    ``overall``: rows ``(metric, mean, median, std, min, max)``. ``per_class`` (multiclass
    only): ``{"metrics": [names], "rows": [(class, [(mean, std) per metric])]}``.
    """
    stats = ("mean", "median", "std", "min", "max")

    def row(name: str, value: Any) -> tuple:
        if isinstance(value, dict):
            return (name, *(_float(value.get(s)) for s in stats))
        return (name, _float(value), *([math.nan] * 4))

    overall = [row(k, v) for k, v in (summary.get("metrics") or {}).items()]
    classes = summary.get("per_class") or {}
    if not multiclass or not isinstance(classes, dict):
        return {"overall": overall, "per_class": None}
    names = list(dict.fromkeys(m for v in classes.values() if isinstance(v, dict) for m in v))
    rows = []
    for name, value in classes.items():
        value = value if isinstance(value, dict) else {}
        cells = []
        for metric in names:
            cell = value.get(metric)
            cell = cell if isinstance(cell, dict) else {"mean": cell}
            cells.append((_float(cell.get("mean")), _float(cell.get("std"))))
        rows.append((str(name), cells))
    return {"overall": overall, "per_class": {"metrics": names, "rows": rows} if rows else None}


INSTANCE_METRICS = (
    ("dsb_map", "DSB mean AP (IoU 0.5:0.95)"),
    ("ap50", "AP@0.5"),
    ("ap75", "AP@0.75"),
    ("aji", "AJI"),
    ("dice", "Dice (all objects as one mask)"),
)
"""The per-image scores of an instance evaluation as the page names them."""
INSTANCE_COUNTS = ("true_objects", "pred_objects", "found", "missed", "false", "split", "merged")
INSTANCE_ERRORS = (
    "below_half", "false_alarms", "missed", "perfect_empty", "with_split", "with_merged",
)  # fmt: skip


def instance_section(summary: dict[str, Any]) -> dict[str, Any]:
    """An instance evaluation's numbers for the page (``summary.json`` of
    :mod:`seglab.evaluation.instance_run`).

    ``metrics``: rows ``(name, mean, median, std, min, max)`` of the per-image scores;
    ``dsb_map``: its mean; ``coco``: rows ``(mask|box, AP, AP@0.5, AP@0.75)`` over the split,
    ``categories`` how classes were matched; ``counts``: objects summed over the images;
    ``errors``: how many images went wrong how.
    """
    stats = ("mean", "median", "std", "min", "max")
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), dict) else {}
    rows = []
    for key, name in INSTANCE_METRICS:
        value = metrics.get(key) if isinstance(metrics.get(key), dict) else {}
        rows.append((name, *(_float(value.get(s)) for s in stats)))
    coco = summary.get("coco") if isinstance(summary.get("coco"), dict) else {}
    coco_rows = []
    for kind in ("mask", "box"):
        scores = coco.get(kind) if isinstance(coco.get(kind), dict) else {}
        coco_rows.append((kind, *(_float(scores.get(k)) for k in ("ap", "ap50", "ap75"))))
    counts = summary.get("counts") if isinstance(summary.get("counts"), dict) else {}
    errors = summary.get("errors") if isinstance(summary.get("errors"), dict) else {}
    return {
        "metrics": rows,
        "dsb_map": rows[0][1],
        "aji": rows[3][1],
        "mask_ap": coco_rows[0][1],
        "coco": coco_rows,
        "categories": str(coco.get("categories") or ""),
        # every key present (None when unknown): the template is strict about missing ones
        "counts": {k: counts.get(k) for k in INSTANCE_COUNTS},
        "errors": {k: errors.get(k) for k in INSTANCE_ERRORS},
    }


def verdict_info(verdict: Any) -> dict[str, str] | None:
    if not isinstance(verdict, dict) or not verdict.get("kind"):
        return None
    kind = str(verdict["kind"])
    return {"kind": kind, "message": str(verdict.get("message", "")), "css": kind.replace(" ", "-")}


def evaluation_info(split: str, note: str, summary: dict[str, Any]) -> dict[str, Any]:
    skipped = summary.get("skipped") or []
    return {
        "split": split,
        "note": note,
        "images": summary.get("images"),
        "threshold": summary.get("threshold"),
        "crf": summary.get("crf") if isinstance(summary.get("crf"), dict) else None,
        "empty_score": summary.get("empty_score"),
        "skipped": len(skipped) if isinstance(skipped, list) else int(skipped or 0),
        "errors": summary.get("errors") if isinstance(summary.get("errors"), dict) else None,
        "recall_gap": _recall_gap(summary.get("metrics") or {}),
    }


def _recall_gap(metrics: dict[str, Any]) -> str:
    """A sentence when mean precision and recall differ by more than 0.1: which error dominates."""

    def mean(name: str) -> float:
        value = metrics.get(name)
        return _float(value.get("mean") if isinstance(value, dict) else value)

    precision, recall = mean("precision"), mean("recall")
    if math.isnan(precision) or math.isnan(recall) or abs(precision - recall) <= 0.1:
        return ""
    if precision < recall:
        return (
            f"Precision {precision:.3f} < recall {recall:.3f}: the model marks too much "
            "(false positives dominate); a higher --threshold or more background in training "
            "helps."
        )
    return (
        f"Recall {recall:.3f} < precision {precision:.3f}: the model misses object pixels "
        "(false negatives dominate); a lower --threshold, pos_weight or object-centred crops "
        "help."
    )


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _epoch_from_one(epoch: Any, summary: dict[str, Any]) -> int | None:
    """``summary.json``'s best epoch counted from 1 (older runs, without
    ``epochs_counted_from``, counted from 0)."""
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        return None
    return epoch if summary.get("epochs_counted_from") == 1 else epoch + 1


def _threshold_choice(choice: Any) -> dict[str, Any] | None:
    """``summary.json``'s threshold chosen on val, when it is complete."""
    keys = ("chosen", "val_dice", "val_dice_default")
    if not isinstance(choice, dict):
        return None
    if not all(isinstance(choice.get(k), float | int) for k in keys):
        return None
    return {k: choice[k] for k in keys}
