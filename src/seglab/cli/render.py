"""Terminal rendering (rich) of what every command returns: the API returns objects, these
functions turn them into what the user reads. Each takes the console to print on, so tests
render into ``Console(record=True)``.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from seglab.classical.compare import CompareResult
    from seglab.data.checks import CheckReport, SplitSummary
    from seglab.data.object_stats import ObjectStats
    from seglab.evaluation.run import EvaluationResult
    from seglab.predict.run import PredictResult
    from seglab.train.folds import FoldsResult
    from seglab.train.rundir import TrainResult
    from seglab.tune.study import StudyResult


def _percentiles(values: list[int], qs=(5, 50, 95)) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    picks = [ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] for q in qs]
    return " / ".join(str(p) for p in picks)


def _split_table(s: SplitSummary) -> Table:
    t = Table(title=f"{s.name} ({s.kind}): {s.location}", title_justify="left", show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("images", f"{s.images_listed} listed, {s.images_readable} readable")
    if s.kind != "images":
        t.add_row("annotated / no objects", f"{s.annotated} / {s.unannotated}")
    if s.unlisted_files:
        t.add_row("image files not in the JSON", str(s.unlisted_files))
    sizes = ", ".join(f"{w}x{h} ({n})" for (w, h), n in s.image_sizes.most_common(5))
    if len(s.image_sizes) > 5:
        sizes += f", ... {len(s.image_sizes)} sizes"
    t.add_row("image sizes (WxH)", sizes or "-")
    t.add_row("channels", ", ".join(f"{c} ({n})" for c, n in sorted(s.channels.items())) or "-")
    if s.kind == "images":
        return t
    shares = ", ".join(
        f"{name} {share:.2%}" for name, share in zip(s.classes, s.class_share, strict=True)
    )
    t.add_row("classes (pixel share)", shares)
    if s.ignore_pixels:
        t.add_row("ignored pixels (255)", f"{s.ignore_pixels:,}")
    if s.mapping and s.mapping["kind"] == "instances":
        t.add_row("mask values", "label images: each id is an object (class 1)")
    elif s.mapping:
        pairs = ", ".join(f"{k}->{v}" for k, v in list(s.mapping["mapping"].items())[:12])
        t.add_row("mask values -> classes", f"{s.mapping['kind']}: {pairs}")
    if s.objects_per_image:
        opi = s.objects_per_image
        t.add_row(
            "objects per image",
            f"min {min(opi)}, median {statistics.median(opi):g}, mean {statistics.mean(opi):.1f}, "
            f"max {max(opi)} ({sum(opi)} objects)",
        )
        t.add_row("object area px (p5 / p50 / p95)", _percentiles(s.object_areas))
        style = "yellow" if s.small_objects else ""
        t.add_row("very small objects", f"[{style}]{s.small_objects}[/]" if style else "0")
    if s.objects is not None and s.objects.objects:
        _object_rows(t, s.objects)
    return t


def _object_rows(t: Table, stats: ObjectStats) -> None:
    """Rows for touching objects and objects cut by crops."""
    plural = "s" if stats.touching_pairs != 1 else ""
    touching = (
        f"{stats.touching_pairs} pair{plural} in {stats.touching_images} of {stats.images} images"
    )
    if stats.touching_examples:
        touching += " (" + escape(", ".join(stats.touching_examples[:3])) + ")"
    t.add_row("touching objects (8-neighbours)", touching)
    if stats.crop_size is not None:
        share = stats.cut_share or 0.0
        style = "yellow" if stats.larger_than_crop else ""
        text = (
            f"{stats.larger_than_crop} of {stats.objects} ({share:.1%}): every crop cuts them"
            if stats.larger_than_crop
            else f"none of {stats.objects}"
        )
        t.add_row(
            f"objects larger than the {stats.crop_size} px crop",
            f"[{style}]{text}[/]" if style else text,
        )


def print_check_report(report: CheckReport, console: Console, *, max_problems: int = 50) -> None:
    """Print the summary tables and the problems of a :class:`CheckReport`."""
    for s in report.splits:
        console.print(_split_table(s))
    problems = report.errors + report.warnings
    if problems:
        console.print(
            f"\n[bold]{len(report.errors)} errors, {len(report.warnings)} warnings[/bold]"
        )
        for p in problems[:max_problems]:
            colour = "red" if p.severity == "error" else "yellow"
            console.print(
                f"[{colour}]{p.severity}[/{colour}] {escape(str(p))}",
                highlight=False,
                soft_wrap=True,
            )
        if len(problems) > max_problems:
            console.print(f"... {len(problems) - max_problems} more (use --max-problems or --json)")
    verdict = "[green]OK[/green]" if report.ok else "[red]FAILED[/red]"
    console.print(f"\ndata check {verdict}: {escape(str(report.path))}")


def print_classical_summary(summary: dict, out, console: Console) -> None:
    """Print what ``seglab classical`` did: method, chosen parameters, scores, files."""
    params = ", ".join(f"{k}={v}" for k, v in summary["params"].items()) or "defaults"
    console.print(f"[bold]{summary['method']}[/bold] ({params})", highlight=False)
    if summary.get("fitted_on"):
        how = "tuned" if summary["tuned"] else "fitted"
        console.print(f"{how} on {summary['fitted_on']} training images")
    scores = summary.get("scores")
    if scores:
        t = Table(show_header=True)
        for col in ("metric", "mean", "median", "std"):
            t.add_column(col)
        for m in ("dice", "iou", "precision", "recall"):
            s = scores[m]
            t.add_row(m, f"{s['mean']:.4f}", f"{s['median']:.4f}", f"{s['std']:.4f}")
        console.print(t)
    spi = summary.get("seconds_per_image")
    timing = f", {spi:.3f} s/image" if spi is not None else ""
    console.print(f"{summary['images']} masks in {escape(str(out))}/masks{timing}")
    if summary.get("skipped"):
        console.print(f"[yellow]{len(summary['skipped'])} images skipped[/yellow] (see warnings)")


def print_compare(result: CompareResult, console: Console) -> None:
    """Print the ``seglab compare`` table (three decimals, Dice with its spread over images)
    and the files written."""
    t = Table(show_header=True, title="val split, mean over images")
    columns = ("method", "dice", "iou", "precision", "recall", "s/image")
    for col in columns:
        t.add_column(col, justify="left" if col == "method" else "right")
    for r in result.rows:
        t.add_row(
            r.method,
            f"{r.dice:.3f} ± {r.dice_std:.3f}",
            f"{r.iou:.3f}",
            f"{r.precision:.3f}",
            f"{r.recall:.3f}",
            f"{r.seconds_per_image:.3f}",
        )
    console.print(t)
    for f in result.files:
        console.print(f"wrote {escape(str(f))}", highlight=False)


def print_preview(paths: list[Path], console: Console) -> None:
    """Print what ``seglab data preview`` wrote (``paths``: the previews, the grid last)."""
    console.print(f"wrote {len(paths) - 1} previews and {escape(str(paths[-1]))}")


def print_sample(summary: dict[str, Any], out: Path, console: Console) -> None:
    """Print where ``seglab data sample`` wrote the dataset and its summary."""
    console.print(f"wrote the sample dataset to {escape(str(out))}")
    console.print(summary, highlight=False)


def print_conversion(summary: dict[str, Any], to: str, out: Path, console: Console) -> None:
    """Print what ``seglab data convert`` wrote."""
    console.print(f"converted to {to} in {escape(str(out))}")
    console.print(summary, highlight=False)


def print_train_result(result: TrainResult, console: Console) -> None:
    """Print how a training run ended and where its run folder is."""
    console.print(
        f"[bold]{result.status}[/bold] after {result.epochs} epochs in {result.seconds:.0f} s; "
        f"run folder: {result.run_dir}",
        highlight=False,
    )


def _score(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4f}"


def print_folds_result(result: FoldsResult, console: Console) -> None:
    """Print a cross-validation: each fold's best score, epochs and status, then the mean ±
    sample std of the scores, and where the folds run is."""
    t = Table(title=f"{len(result.results)} of {result.folds or len(result.results)} folds")
    t.add_column("fold", justify="right")
    t.add_column(f"best {result.monitor}", justify="right")
    t.add_column("best epoch", justify="right")
    t.add_column("epochs", justify="right")
    t.add_column("status")
    t.add_column("seconds", justify="right")
    for index, (fold, score) in enumerate(zip(result.results, result.scores, strict=True), 1):
        number = fold.config.data.fold if fold.config is not None else None
        t.add_row(
            str(number or index),
            _score(score),
            "-" if fold.best_epoch is None else str(fold.best_epoch),
            str(fold.epochs),
            escape(fold.status),
            f"{fold.seconds:.0f}",
        )
    console.print(t)
    if result.mean is None:
        console.print("[yellow]no fold has a best score yet[/yellow]")
    else:
        spread = "" if result.std is None else f" ± {result.std:.4f}"
        console.print(
            f"[bold]{result.monitor} {result.mean:.4f}{spread}[/bold] (mean ± sample std over "
            f"{len(_known(result.scores))} folds; min {_score(result.min)}, max "
            f"{_score(result.max)})",
            highlight=False,
        )
    console.print(
        f"[bold]{escape(result.status)}[/bold]; folds run: {escape(str(result.run_dir))} "
        "(seglab predict --model on it averages the folds)",
        highlight=False,
    )


def _known(scores: list[float | None]) -> list[float]:
    return [s for s in scores if s is not None and math.isfinite(s)]


def print_predictions(result: PredictResult, console: Console) -> None:
    """Print what ``seglab predict`` did: images, time, rate and backend, the masks folder
    (an instance run: the label images and the objects per image), the RLE CSV and COCO JSON
    written, and the images skipped."""
    rate = result.images_per_second
    folder = "labels" if result.task == "instance" else "masks"
    console.print(
        f"{result.images} images predicted in {result.seconds:.1f} s"
        + (f" ({rate:.1f} images/s, {result.backend})" if rate else "")
        + f"; {folder} in {result.out / folder}",
        highlight=False,
    )
    counts = result.objects_per_image
    if result.task == "instance" and counts:
        console.print(
            f"{sum(counts)} objects, {statistics.mean(counts):.1f} per image "
            f"(min {min(counts)}, median {statistics.median(counts):g}, max {max(counts)})",
            highlight=False,
        )
    for label, path in (("RLE CSV", result.rle_csv), ("COCO JSON", result.coco_json)):
        if path:
            console.print(f"{label}: {escape(str(path))}", highlight=False)
    if result.skipped:
        console.print(
            f"[yellow]{len(result.skipped)} unreadable images skipped:[/yellow] "
            + ", ".join(result.skipped[:5])
            + (" ..." if len(result.skipped) > 5 else ""),
            highlight=False,
        )


def print_export(path: Path, console: Console, *, first: str | None = None) -> None:
    """Print the file ``seglab export`` wrote (or ``first``, e.g. that it was up to date) and
    its check against PyTorch (read back from the file's metadata)."""
    from seglab.api import export_info

    info = export_info(path)
    console.print(first or f"wrote {path}", highlight=False, soft_wrap=True)
    console.print(
        f"verified against PyTorch: max probability difference "
        f"{info['max_abs_prob_diff']:.1e} (tolerance 1e-4); input multiple {info['multiple']}, "
        f"classes {', '.join(info['classes'])}",
        highlight=False,
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4f}"
    return "-" if value is None else str(value)


def _metrics_table(summary: dict[str, Any]) -> Table:
    what = summary.get("model") or summary.get("pred")
    table = Table(
        title=f"{what} on {summary['data']} ({summary['split']}, {summary['images']} images)",
        title_justify="left",
    )
    for column in ("class", "metric", "mean", "median", "std", "min", "max"):
        table.add_column(column, justify="left" if column in ("class", "metric") else "right")
    groups = [("all", summary["metrics"])]
    if len(summary["per_class"]) > 1:
        groups += list(summary["per_class"].items())
    for name, metrics in groups:
        for metric, stats in metrics.items():
            table.add_row(
                name if metric == "dice" else "",
                metric,
                *(_cell(stats.get(k)) for k in ("mean", "median", "std", "min", "max")),
            )
    return table


INSTANCE_LABELS = {
    "dsb_map": "DSB mean AP",
    "ap50": "AP@0.5",
    "ap75": "AP@0.75",
    "aji": "AJI",
    "dice": "Dice (all objects)",
}
"""How the instance scores of ``summary.json`` are named in the terminal."""
COUNT_NAMES = ("found", "missed", "false", "split", "merged")


def _instance_table(summary: dict[str, Any]) -> Table:
    """Per-image scores (mean over images, with their spread), then COCO AP over the split."""
    what = summary.get("model") or summary.get("pred")
    table = Table(
        title=f"{what} on {summary['data']} ({summary['split']}, {summary['images']} images)",
        title_justify="left",
    )
    for column in ("metric", "mean", "median", "std", "min", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, label in INSTANCE_LABELS.items():
        stats = summary["metrics"].get(metric, {})
        table.add_row(
            label, *(_cell(stats.get(k)) for k in ("mean", "median", "std", "min", "max"))
        )
    coco = summary.get("coco") or {}
    how = "" if coco.get("categories") != "class-agnostic" else ", class-agnostic"
    table.add_section()
    for kind in ("mask", "box"):
        scores = coco.get(kind) or {}
        for key, name in (("ap", "AP"), ("ap50", "AP@0.5"), ("ap75", "AP@0.75")):
            table.add_row(f"COCO {kind} {name} (split{how})", _cell(scores.get(key)))
    return table


def _count_table(counts: dict[str, int]) -> Table:
    """The objects counted over the split at IoU 0.5."""
    table = Table(title="objects (IoU 0.5)", title_justify="left")
    for column in ("true", "predicted", *COUNT_NAMES):
        table.add_column(column, justify="right")
    keys = ("true_objects", "pred_objects", *COUNT_NAMES)
    table.add_row(*(str(counts.get(k, "-")) for k in keys))
    return table


def _print_instance_evaluation(summary: dict[str, Any], console: Console) -> None:
    console.print(_instance_table(summary))
    console.print(_count_table(summary.get("counts") or {}))
    if summary["worst"]:
        low = Table(
            title=f"worst {len(summary['worst'])} images by DSB mean AP", title_justify="left"
        )
        # no label-image column: labels/NAME.png, said below, would fold the table at 80 columns
        low.add_column("image", overflow="fold")
        for column in ("DSB mAP", "AJI", *COUNT_NAMES):
            low.add_column(column, justify="right")
        for row in summary["worst"]:
            cells = [row["image"], _cell(row["dsb_map"]), _cell(row["aji"])]
            low.add_row(*cells, *(str(row[k]) for k in COUNT_NAMES))
        console.print(low)


def _print_semantic_evaluation(summary: dict[str, Any], console: Console) -> None:
    console.print(_metrics_table(summary))
    if summary["worst"]:
        low = Table(title=f"worst {len(summary['worst'])} images by Dice", title_justify="left")
        for column in ("image", "dice", "iou", "mask"):
            low.add_column(column, justify="right" if column in ("dice", "iou") else "left")
        for row in summary["worst"]:
            low.add_row(row["image"], _cell(row["dice"]), _cell(row["iou"]), row.get("pred", ""))
        console.print(low)


def print_evaluation(result: EvaluationResult, console: Console) -> None:
    """Print mean/median/std of each metric (per class when there are several), the worst
    images and the files written; for objects (``task`` ``instance``), the DSB and COCO
    scores and the object counts."""
    summary = result.summary
    instance = summary.get("task") == "instance"
    if instance:
        _print_instance_evaluation(summary, console)
    else:
        _print_semantic_evaluation(summary, console)
    if summary["missing"]:
        scored = "predicting no object" if instance else "empty predictions"
        console.print(
            f"[yellow]{len(summary['missing'])} images had no prediction and were scored as "
            f"{scored}[/yellow]"
        )
    if result.out is not None:
        written = "labels/" if instance else "masks/"
        files = ["scores.csv", "summary.json"] + ([written] if "model" in summary else [])
        console.print(
            f"wrote {escape(', '.join(files))} in {escape(str(result.out))}", highlight=False
        )


def print_study_result(result: StudyResult, console: Console, *, top: int = 10) -> None:
    """The study's best trials, its best settings with their confidence (the trials sharing
    each one: their count and score mean ± std), and the files written."""
    import csv

    summary = result.summary
    monitor = summary.get("monitor", "score")
    with open(result.study_dir / "study.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    counts = summary.get("counts", {})
    console.print(
        f"study {escape(str(summary.get('name')))}: "
        + ", ".join(f"{n} {state}" for state, n in counts.items() if n),
        highlight=False,
    )
    names = list(summary.get("space", {}))
    done = [r for r in rows if r["score"] and r["state"] in ("COMPLETE", "PRUNED")]
    reverse = summary.get("direction", "maximize") == "maximize"
    done.sort(key=lambda r: float(r["score"]), reverse=reverse)
    table = Table(title=f"Best trials by {monitor}", title_justify="left")
    for column in ("trial", monitor, "s", "settings"):
        table.add_column(column, justify="left" if column == "settings" else "right")
    for row in done[:top]:
        score = f"{float(row['score']):.4f}" + (
            f" ± {float(row['score_std']):.4f}" if row["score_std"] else ""
        )
        state = "" if row["state"] == "COMPLETE" else f" {row['state'].lower()}"
        settings = ", ".join(
            f"{n} {_param_cell(row[n])}" for n in names if row.get(n) not in (None, "")
        )
        table.add_row(row["number"] + state, score, row["seconds"], settings)
    console.print(table)
    best = result.best
    if best is None:
        console.print("no trial finished: see the errors in study.csv")
    else:
        conf = Table(
            title=f"Best settings (trial {best['number']}, {monitor} {best['score']:.4f}) and the "
            "trials that share them",
            title_justify="left",
        )
        for column in ("parameter", "best", "trials", "mean ± std", "other values"):
            conf.add_column(column, justify="left" if column in ("parameter", "best") else "right")
        for name in names:
            mine = [g for g in result.confidence if g["param"] == name and g["is_best"] == "true"]
            others = [g for g in result.confidence if g["param"] == name and g["is_best"] != "true"]
            if not mine:
                continue
            g = mine[0]
            spread = f"{float(g['mean']):.4f}" + (f" ± {float(g['std']):.4f}" if g["std"] else "")
            rest = ", ".join(f"{o['value']} {float(o['mean']):.3f} ({o['trials']})" for o in others)
            conf.add_row(name, escape(g["value"]), g["trials"], spread, escape(rest) or "-")
        console.print(conf)
    refit = summary.get("refit") or {}
    if refit.get("run"):
        score = refit.get("score")
        shown = "no validation" if score is None else f"{monitor} {score:.4f}"
        console.print(
            f"refit of the best settings: {shown} ({refit.get('status')}): "
            f"{escape(str(result.study_dir / refit['run']))}",
            highlight=False,
        )
    for name, path in result.files.items():
        if not name.startswith("plots/"):
            console.print(f"{name}: {escape(str(path))}", highlight=False)
    plots = [n for n in result.files if n.startswith("plots/")]
    if plots:
        console.print(f"plots: {result.study_dir / 'plots'} ({', '.join(p[6:] for p in plots)})")


def _param_cell(text: str) -> str:
    """A parameter's study.csv cell for a table: floats to 3 significant digits."""
    try:
        return f"{float(text):.3g}" if "." in text or "e" in text else (text or "-")
    except ValueError:
        return escape(text)
