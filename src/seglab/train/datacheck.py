"""What ``seglab data check`` says, said by ``seglab train`` before it starts.

Training reads the same readers as the check, which leave faulty records out (an odd-length
polygon, a file name escaping the dataset, an unreadable image...). Left out silently, a run
would "complete" on less data than the person thinks; so :func:`check_before_training` runs the
full check, prints its problems, keeps them for ``summary.json``, and stops on errors unless the
person accepts training without the faulty records (``--skip-bad-data``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from seglab.config import TrainConfig
from seglab.errors import DataError
from seglab.train.rundir import PrintFn

SHOWN = 10
"""Problems printed before training (every one is in ``summary.json`` up to :data:`KEPT`)."""
KEPT = 200
"""Problems kept in ``summary.json``; ``seglab data check --json`` writes them all."""


@dataclass(frozen=True)
class DataCheck:
    """The counts and the first :data:`KEPT` problems of the check a run started from."""

    errors: int
    warnings: int
    problems: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for ``summary.json``'s ``data_check``."""
        return asdict(self)


def check_before_training(config: TrainConfig, say: PrintFn) -> DataCheck:
    """Check ``config.data`` as ``seglab data check`` does and say what it finds.

    Raises
    ------
    DataError
        The check found errors and ``config.data.skip_bad`` is off; the message names the first
        problems (file and field) and how to go on.
    """
    from seglab.data.checks import check_dataset

    report = check_dataset(config.data)
    errors, warnings = report.errors, report.warnings
    where = config.data.path or config.data.annotations or config.data.images
    if errors and not config.data.skip_bad:
        shown = "\n  ".join(str(p) for p in errors[:SHOWN])
        more = f"\n  ... and {len(errors) - SHOWN} more" if len(errors) > SHOWN else ""
        raise DataError(
            f"the data check found {len(errors)} error(s), so training did not start:\n  "
            f"{shown}{more}\nFix them (`seglab data check {where}` lists every problem), or "
            "pass --skip-bad-data to train without the faulty records.",
            path=where,
        )
    problems = errors + warnings
    if problems:
        left_out = ", left out of training" if errors else ""
        say(f"data check: {len(errors)} error(s){left_out}, {len(warnings)} warning(s)")
        for problem in problems[:SHOWN]:
            say(f"  {problem.severity}: {problem}")
        if len(problems) > SHOWN:
            say(f"  ... and {len(problems) - SHOWN} more in summary.json (data_check)")
    return DataCheck(len(errors), len(warnings), [asdict(p) for p in problems[:KEPT]])
