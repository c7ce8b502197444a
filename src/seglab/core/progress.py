"""The progress bar every long command shows (predict, evaluate)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(
    total: int, enabled: bool, description: str = "predicting"
) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar over ``total`` images; yields ``advance(n)`` (a no-op when
    not ``enabled``)."""
    if not enabled:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
