"""Terminal rendering (rich) of seglab's reports; the CLI prints, the API returns objects."""

from __future__ import annotations

import statistics

from rich.console import Console
from rich.table import Table

from seglab.data.checks import CheckReport, SplitSummary


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
    if s.mapping:
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
    return t


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
            console.print(f"[{colour}]{p.severity}[/{colour}] {p}", highlight=False, soft_wrap=True)
        if len(problems) > max_problems:
            console.print(f"... {len(problems) - max_problems} more (use --max-problems or --json)")
    verdict = "[green]OK[/green]" if report.ok else "[red]FAILED[/red]"
    console.print(f"\ndata check {verdict}: {report.path}")


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
    console.print(f"{summary['images']} masks in {out}/masks{timing}")
    if summary.get("skipped"):
        console.print(f"[yellow]{len(summary['skipped'])} images skipped[/yellow] (see warnings)")


def print_compare(result: dict, console: Console) -> None:
    """Print the ``seglab compare`` table and the files written."""
    t = Table(show_header=True, title="val split, mean over images")
    columns = ("method", "dice", "iou", "precision", "recall", "s/image")
    for col in columns:
        t.add_column(col, justify="left" if col == "method" else "right")
    for row in result["display"]:
        t.add_row(*(row[c] for c in columns))
    console.print(t)
    for f in result["files"]:
        console.print(f"wrote {f}", highlight=False)
