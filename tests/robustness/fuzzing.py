"""What the fuzz tests share: their example budget and the JSON values they mutate with.

``SEGLAB_FUZZ_EXAMPLES`` sets the examples per test (default 150, so ``make test`` stays fast);
a release check runs more, e.g. ``SEGLAB_FUZZ_EXAMPLES=5000 .venv/bin/pytest
tests/robustness/``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("SEGLAB_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
"""The settings of every fuzz test: a fixed budget, no deadline (CI machines are shared)."""

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
"""Any JSON value, small: what a broken exporter, a hand edit or a bad copy puts in a field."""
