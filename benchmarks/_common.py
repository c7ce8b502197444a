"""What the benchmark scripts share: where ../shared/data is, budgets, and data sets by name."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def seconds(text: str) -> float:
    """A budget such as ``30m`` in seconds (seglab's own reading of ``--time-limit``)."""
    from seglab.config import parse_duration

    return float(parse_duration(text))


def dataset(name: str, out: Path) -> Path:
    """``sample`` is written by seglab into ``out`` (200 train, 50 val images of 512 px); other
    names are folders of ../shared/data, or paths."""
    if name == "sample":
        from seglab.api import write_sample

        write_sample(out / "sample", overwrite=True)
        return out / "sample"
    path = SHARED_DATA / name
    return path if path.exists() else Path(name)


def write_table(
    stem: Path,
    columns: Sequence[str],
    rows: Sequence[dict],
    cell: Callable[[object], str],
    *,
    title: str | None = None,
) -> str:
    """Print the markdown table of ``rows`` (``cell`` writes each value) and write it to
    ``STEM.md``, with the rows as ``STEM.csv``; returns the markdown."""
    lines = [*([title, ""] if title else []), "| " + " | ".join(columns) + " |"]
    lines.append("|" + "---|" * len(columns))
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    stem.with_suffix(".md").write_text(text + "\n")
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return text
