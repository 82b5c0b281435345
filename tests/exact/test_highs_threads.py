"""In-process HiGHS solves that ask for different thread counts all keep their answers."""

from __future__ import annotations

from pathlib import Path

import optplace
from optplace.result import Status

TINY = Path(__file__).resolve().parents[2] / "instances" / "tiny" / "priority.json"


def test_in_process_solves_with_different_thread_counts_stay_optimal() -> None:
    """HiGHS starts one scheduler per process; a later run with another ``threads`` must not fail."""
    instance = optplace.load_instance(TINY)
    for threads in (2, 1, 2):
        result = optplace.solve(
            instance, "milp_highs", {"threads": threads, "time_limit_s": 20, "options": {"isolate": False}}
        )
        assert result.status == Status.OPTIMAL, (threads, result.message)
        assert result.bound == 5.0
