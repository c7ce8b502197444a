"""The CLI's two consoles and its logging set-up.

A module of its own so every command module can import the consoles without importing the
package that assembles the commands (which imports them: a cycle).
"""

from __future__ import annotations

import logging

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def setup_logging(verbose: bool) -> None:
    """Send log records and warnings to stderr through rich (DEBUG with ``verbose``)."""
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_time=False, show_path=False)],
        force=True,
    )
    logging.captureWarnings(True)
