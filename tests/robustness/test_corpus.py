"""Every case of the corpus: the right exit status, no traceback, and a message that names the
file and the field or option (see ``corpus.py``); ``docs/robustness.md`` lists every case."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.corpus import Env, all_cases, problems_of, run_case

CASES = all_cases()
DOC = Path(__file__).resolve().parents[2] / "docs" / "robustness.md"


def _param(case):
    marks = [pytest.mark.slow] if case.slow else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case, tmp_path, request):
    env = Env(tmp_path, make_run=lambda: request.getfixturevalue("tiny_run")[0])
    outcome = run_case(case, env)
    assert not problems_of(case, outcome), outcome.output


def test_the_corpus_is_large_and_broad():
    groups = {c.group for c in CASES}
    assert len(CASES) >= 120
    assert {"coco", "image", "masks", "model card", "checkpoint", "options"} <= groups


def test_docs_list_every_case():
    text = DOC.read_text()
    missing = [c.id for c in CASES if f"| {c.group} | {c.name} |" not in text]
    assert not missing, f"run `python -m tests.robustness.table`: {missing[:5]}"
