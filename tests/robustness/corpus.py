"""The corpus of malformed and hostile inputs: one :class:`Case` per input, run through the CLI.

A case writes its input under a temporary folder, names the ``seglab`` command line that reads
it, and says what a person must see: the exit status, and the file, field or option the message
names. :func:`run_case` runs the command in this process (``seglab.cli.main``) and returns what
it printed; ``tests/robustness/test_corpus.py`` asserts each case, and
``python -m tests.robustness.table`` writes the table of ``docs/robustness.md`` from the same
cases.

The cases live in ``cases_*.py`` modules beside this one, one per kind of input; each exposes a
``CASES`` list.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

OK, FAILED, ERROR = 0, 1, 2
"""Exit statuses: done (warnings at most), ``data check`` found errors, seglab refused."""


@dataclass
class Env:
    """Where a case writes its input, and the trained run and datasets it may copy."""

    tmp: Path
    make_run: Callable[[], Path] | None = None
    """Returns a trained tiny run folder (read-only; :meth:`run` copies it)."""
    _count: int = field(default=0, repr=False)

    def path(self, name: str) -> Path:
        """A fresh path under ``tmp``."""
        self._count += 1
        return self.tmp / f"{self._count}-{name}"

    def run(self) -> Path:
        """A private copy of the trained tiny run (with its checkpoint and data beside it)."""
        if self.make_run is None:
            raise RuntimeError("this case needs a trained run; give Env(make_run=...)")
        source = self.make_run()
        dest = self.path("run")
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("model.onnx*"))
        return dest


@dataclass(frozen=True)
class Case:
    """One malformed input and what seglab must say about it.

    ``build`` writes the input under ``env.tmp`` and returns the ``seglab`` arguments;
    ``code`` is the exit status; ``says`` are texts the output must hold (the file name, the
    field or option); ``absent`` texts it must not (a wrong "OK").
    """

    group: str
    name: str
    build: Callable[[Env], list[str]]
    code: int
    says: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    slow: bool = False

    @property
    def id(self) -> str:
        """``group: name``, the id of the case in pytest and in the docs."""
        return f"{self.group}: {self.name}"


@dataclass(frozen=True)
class Outcome:
    """What a case's command did: its exit status, its output (stdout + stderr) and the
    exception that escaped ``main``, if one did (a traceback a person would have seen)."""

    code: int | None
    output: str
    escaped: BaseException | None = None

    @property
    def flat(self) -> str:
        """The output with every run of whitespace as one space (console wrapping undone)."""
        return " ".join(self.output.split())


def run_case(case: Case, env: Env) -> Outcome:
    """Build ``case`` in ``env`` and run its command line in this process."""
    from seglab.cli import main
    from seglab.cli.console import console, err_console

    argv = case.build(env)
    out, err = io.StringIO(), io.StringIO()
    widths = console.width, err_console.width
    escaped, code = None, None
    try:
        console.width = err_console.width = 400  # no wrapping inside file names
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("always")  # the same warning in two cases shows twice
            try:
                code = main([str(a) for a in argv])
            except BaseException as exc:  # a traceback is what is tested
                escaped = exc
    finally:
        console.width, err_console.width = widths
    return Outcome(code, out.getvalue() + err.getvalue(), escaped)


def problems_of(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with ``outcome`` for ``case`` (empty when it is right)."""
    faults = []
    if outcome.escaped is not None:
        exc = outcome.escaped
        faults.append(f"escaped main: {type(exc).__name__}: {exc}")
    if "Traceback" in outcome.output:
        faults.append("printed a traceback")
    if outcome.code != case.code:
        faults.append(f"exit status {outcome.code}, expected {case.code}")
    flat = outcome.flat
    faults += [f"does not say {text!r}" for text in case.says if " ".join(text.split()) not in flat]
    faults += [f"says {text!r}" for text in case.absent if text in flat]
    return faults


def summary_line(case: Case, outcome: Outcome, *, width: int = 220) -> str:
    """The line of the output that tells a person about ``case``: the first error, else the
    first warning, else the first line saying one of the case's texts, else the last line
    (``data check OK``); tmp paths shortened."""
    import re

    lines = [" ".join(line.split()) for line in outcome.output.splitlines() if line.strip()]
    tests = (
        lambda ln: re.match(r"error\b", ln),
        lambda ln: re.match(r"(warning|WARNING)\b", ln),
        lambda ln: any(text and text in ln for text in case.says),
    )
    found = (next((ln for ln in lines if test(ln)), None) for test in tests)
    chosen = next((ln for ln in found if ln), lines[-1] if lines else "")
    chosen = chosen.replace(str(outcome_root(outcome, chosen)), "…")
    return chosen if len(chosen) <= width else chosen[: width - 1] + "…"


def outcome_root(outcome: Outcome, line: str) -> str:
    """The temporary folder prefix in ``line`` (``/tmp/.../``), or a string not in it."""
    import re

    found = re.search(r"/\S*?/\d+-", line)
    return found.group(0)[: -len(found.group(0).split("/")[-1])] if found else "\0"


def all_cases() -> list[Case]:
    """Every case of the ``cases_*`` modules, in module order."""
    import importlib
    import pkgutil

    package = Path(__file__).parent
    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            cases += importlib.import_module(f"tests.robustness.{info.name}").CASES
    ids = [c.id for c in cases]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"duplicate corpus case ids: {dupes}")
    return cases
