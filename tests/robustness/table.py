"""Write ``docs/robustness.md``: every corpus case and what seglab says about it.

    .venv/bin/python -m tests.robustness.table

Runs each case as the tests do (a tiny run is trained once for the cases that need one) and
prints the counts by outcome. A case that does not behave as the corpus says is marked
``FAILS`` in the table, so the table never hides a regression.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections import Counter
from pathlib import Path

from tests.robustness.corpus import ERROR, FAILED, OK, Env, all_cases, problems_of, run_case
from tests.robustness.corpus import summary_line as line_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "robustness.md"
OUTCOMES = {OK: "handled (0)", FAILED: "check failed (1)", ERROR: "refused (2)"}
HEAD = """# Robustness: what seglab says about bad input

seglab is tried on a corpus of malformed and hostile inputs (`tests/robustness/cases_*.py`):
COCO files with every required field deleted, null or of the wrong type, bad polygons and RLE,
escaping and over-long names, broken JSON; unreadable and unusual images; broken mask folders;
edited model cards; damaged and untrusted checkpoints; impossible options. Each case asserts
the exit status, that no traceback is printed, and that the message names the file and the
field or option. This table is written by `python -m tests.robustness.table` from the same
cases (`tests/robustness/test_corpus.py` checks it lists them all).

Exit status: 0 done (with warnings where the input was odd), 1 `data check` found errors,
2 seglab refused with an error. Temporary paths are shown as `…`.

"""


def main() -> None:
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    cases = all_cases()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_run = functools.cache(lambda: _tiny_run(root / "tiny"))
        rows, counts, failing = [], Counter(), []
        for k, case in enumerate(cases):
            work = root / f"case{k}"
            work.mkdir()
            outcome = run_case(case, Env(work, make_run=make_run))
            faults = problems_of(case, outcome)
            if faults:
                failing.append((case.id, faults))
            counts[OUTCOMES.get(outcome.code, str(outcome.code))] += 1
            said = line_of(case, outcome).replace("|", "\\|").replace("`", "'")
            mark = " **FAILS**" if faults else ""
            rows.append(f"| {case.group} | {case.name} | {outcome.code}{mark} | {said} |")
    total = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    text = HEAD + f"{len(cases)} cases: {total}.\n\n| input | case | exit | what seglab says |\n"
    text += "|---|---|---|---|\n" + "\n".join(rows) + "\n"
    DOC.write_text(text)
    print(f"{len(cases)} cases: {total}; wrote {DOC}")
    for case_id, faults in failing:
        print(f"FAILS {case_id}: {'; '.join(faults)}")


def _tiny_run(root: Path) -> Path:
    from tests.builders import write_discs
    from tests.conftest import train_tiny

    return train_tiny(write_discs(root / "discs", splits={"train": 24, "val": 6}))


if __name__ == "__main__":
    main()
