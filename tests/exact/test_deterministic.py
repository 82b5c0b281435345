"""Deterministic mode method by method: the same input gives the same placement, and the result says so."""

from __future__ import annotations

import pytest

from optplace.generate import generate_instance
from optplace.result import StopReason
from optplace.solve import solve


@pytest.mark.parametrize("method", ["local_search", "configuration", "milp_highs"])
def test_two_deterministic_runs_agree(method):
    """Work budgets instead of the clock: placements and bounds are equal, `deterministic` is true."""
    instance = generate_instance("hetero", 16, None, 9)
    params = {"time_limit_s": 1.5, "deterministic": True, "threads": 2, "seed": 1}
    first, second = solve(instance, method, params), solve(instance, method, params)
    assert first.placement() == second.placement()
    assert first.bound == second.bound and first.status == second.status
    assert first.deterministic and second.deterministic
    assert first.stop_reason != StopReason.TIME_LIMIT


def test_a_normal_run_does_not_claim_determinism():
    """Without the flag the result says deterministic: false, whatever happened."""
    instance = generate_instance("hetero", 10, None, 9)
    assert not solve(instance, "first_fit").deterministic
