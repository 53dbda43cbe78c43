"""How long a job is expected to run, from how long the same tool took before.

A tool's price grows with the size of its input (residues folded, ligands docked at
some exhaustiveness), so seconds per estimated credit is the measure of speed that
carries from one input size to another; free tools (priced 0) count each run as one
unit, the median run."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

#: How many of the latest completed runs of a tool the estimate looks at.
RECENT_RUNS = 20


def _units(credits: int) -> int:
    return max(1, credits)


def expected_seconds(past: Sequence[tuple[float, int]], credits: int) -> float | None:
    """The expected run time of a job priced ``credits``, from past runs given as
    (seconds, credits): the median seconds per unit, times this job's units. None
    without any past run."""
    if not past:
        return None
    per_unit = statistics.median(seconds / _units(paid) for seconds, paid in past)
    return per_unit * _units(credits)
