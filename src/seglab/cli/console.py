"""The CLI's two consoles and its logging set-up.

A module of its own so every command module can import the consoles without importing the
package that assembles the commands (which imports them: a cycle).
"""

from __future__ import annotations

import logging
import warnings

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
    # Off, then on: captureWarnings(True) does nothing when it was on before, yet whoever
    # restored warnings.showwarning since (a second main() in one process, a test runner's
    # warnings capture) left the warnings going elsewhere than this console.
    logging.captureWarnings(False)
    logging.captureWarnings(True)
    # A person needs the message, not the source line that raised it (--verbose keeps both).
    warnings.formatwarning = _formatwarning if verbose else _plain_warning


_formatwarning = warnings.formatwarning


def _plain_warning(message, category, filename, lineno, line=None) -> str:
    """A warning as its message alone (the CLI's log line already says "WARNING")."""
    return str(message)
