"""How the CLI package is put together: no import cycle, no heavy import for help or a data
check, and the same defaults as the API it calls."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import seglab.cli
from tests.builders import coco_dataset

CLI_DIR = Path(seglab.cli.__file__).parent
HEAVY = ("torch", "lightning", "albumentations")


def _imports(path: Path) -> set[str]:
    """Every module a file imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("path", sorted(CLI_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_cli_module_imports_the_cli_package(path):
    # seglab.cli imports every command module; one importing it back would be a cycle
    assert "seglab.cli" not in _imports(path)
    assert "seglab.cli.__init__" not in _imports(path)


@pytest.mark.parametrize("args", [["--help"], ["data", "check", "DATASET"]])
def test_help_and_data_check_import_no_deep_learning_library(args, tmp_path):
    coco_dataset(tmp_path / "good")
    argv = [str(tmp_path / "good") if a == "DATASET" else a for a in args]
    code = (
        f"import sys; from seglab.cli import main; code = main({argv!r}); "
        f"print('CODE', code, 'HEAVY', [m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "CODE 0 HEAVY []" in done.stdout, done.stdout + done.stderr


def _defaults(function) -> dict[str, object]:
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _same(cli_value, api_value) -> bool:
    if isinstance(cli_value, Path) or isinstance(api_value, Path):
        return Path(cli_value) == Path(api_value)
    if isinstance(api_value, float) and isinstance(cli_value, str):  # --empty-score "1"
        return float(cli_value) == api_value
    return cli_value == api_value


def _api_pairs():
    """(command, API functions that hold its defaults, CLI name -> API name where they differ)."""
    import seglab.api as api
    from seglab.cli import classical, data, evaluate, export, predict, report
    from seglab.data.sample import write_sample
    from seglab.evaluation.run import evaluate as run_evaluate
    from seglab.predict.run import predict_images
    from seglab.report.html import build_report

    sample = {"train": "n_train", "val": "n_val", "test": "n_test"}
    return [
        (data.data_preview, [api.preview_dataset], {}),
        (data.data_sample, [api.write_sample, write_sample], sample),
        (data.data_convert, [api.convert_dataset], {}),
        (classical.classical_cmd, [api.classical], {}),
        (classical.compare_cmd, [api.compare], {}),
        (predict.predict_cmd, [api.predict, predict_images], {}),
        (evaluate.evaluate_cmd, [api.evaluate, run_evaluate], {}),
        (report.report_cmd, [api.report, build_report], {}),
        (export.export_cmd, [api.export], {}),
    ]


def test_the_cli_and_the_api_have_the_same_defaults():
    from seglab.api import AUTO

    checked = 0
    for command, functions, renamed in _api_pairs():
        api_defaults: dict[str, object] = {}
        for function in reversed(functions):  # the API function's own default wins
            api_defaults.update(_defaults(function))
        for name, value in _defaults(command).items():
            api_name = renamed.get(name, name)
            if name in ("quiet", "param") or api_name not in api_defaults:
                continue  # presentation only (progress bar), or parsed before the call
            if command.__name__ == "evaluate_cmd" and name == "out":
                assert value is None and api_defaults["out"] is AUTO  # the CLI passes AUTO
                continue
            assert _same(value, api_defaults[api_name]), (command.__name__, name)
            checked += 1
    assert checked > 40
