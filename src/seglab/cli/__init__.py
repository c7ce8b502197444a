"""The ``seglab`` command: parse flags, call one :mod:`seglab.api` function, print, exit.

This module only assembles the app from the command modules (``data``, ``classical``,
``train``, ``tune``, ``predict``, ``export``, ``report``, ``evaluate``) and runs it; the
consoles live in :mod:`seglab.cli.console`, the printing in :mod:`seglab.cli.render`. No module
under ``cli/`` imports this one, so the imports form no cycle.

Heavy libraries are imported inside the commands so ``seglab --help`` answers at once.
Errors seglab raises on purpose (:class:`~seglab.errors.SeglabError`) are printed without a
traceback and exit with status 2; ``data check`` exits 1 when the dataset has errors.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from seglab import __version__
from seglab.cli.classical import classical_cmd, compare_cmd
from seglab.cli.console import console, err_console, setup_logging
from seglab.cli.data import data_app
from seglab.cli.evaluate import evaluate_cmd
from seglab.cli.export import export_cmd
from seglab.cli.predict import predict_cmd
from seglab.cli.report import report_cmd
from seglab.cli.train import train_cmd
from seglab.cli.tune import tune_cmd
from seglab.errors import SeglabError

__all__ = ["app", "main"]

app = typer.Typer(
    help="seglab: image segmentation from labelled images to the best model and its predictions.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
# Registration order is the order of ``seglab --help``.
app.command("classical")(classical_cmd)
app.command("compare")(compare_cmd)
app.command("train")(train_cmd)
app.command("tune")(tune_cmd)
app.command("predict")(predict_cmd)
app.command("export")(export_cmd)
app.command("report")(report_cmd)
app.command("evaluate")(evaluate_cmd)


def _version(value: bool) -> None:
    if value:
        console.print(f"seglab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More logging.")] = False,
) -> None:
    """seglab: image segmentation from labelled images to the best model and its predictions."""
    setup_logging(verbose)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status; seglab's own errors print without a traceback."""
    try:
        app(args=argv, standalone_mode=True)
    except SeglabError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
