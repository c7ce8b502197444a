"""Exceptions seglab raises for bad input.

Every error about a user's data names the file and, where there is one, the field inside it
(a JSON key path such as ``annotations[12].segmentation`` or an annotation id), and says how to
fix it. The CLI prints these messages without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SeglabError(Exception):
    """Base class of the errors seglab raises on purpose; the message is meant for a person."""


class DataError(SeglabError, ValueError):
    """A file or a field in a user's dataset is wrong.

    Parameters
    ----------
    message:
        What is wrong and, where possible, how to fix it.
    path:
        The file the problem is in.
    field:
        Where in the file: a JSON key path, an annotation id, a CSV line...
    """

    def __init__(self, message: str, *, path: str | Path | None = None, field: str | None = None):
        self.path = None if path is None else str(path)
        self.field = field
        self.reason = message
        super().__init__(format_location(self.path, field, message))


class ConfigError(SeglabError, ValueError):
    """An option or a combination of options cannot work; the message says which and why."""


def format_location(path: str | Path | None, field: str | None, message: str) -> str:
    """Join ``path``, ``field`` and ``message`` as ``path: field: message`` (skipping blanks)."""
    parts = [str(p) for p in (path, field) if p]
    return ": ".join([*parts, message])
