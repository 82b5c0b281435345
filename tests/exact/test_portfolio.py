"""``auto``: best verified placement within the limit, with the tightest proven bound."""

from __future__ import annotations

import pytest

from optplace.registry import list_methods
from optplace.result import Status, StopReason
from optplace.solve import solve
from tests.conftest import TINY
from tests.exact.conftest import load_json

SOME_TINY = [p for p in TINY if p.stem in ("priority", "migrations", "min_accelerators", "memory_sharing")]


@pytest.mark.parametrize("path", SOME_TINY, ids=[p.stem for p in SOME_TINY])
def test_auto_reaches_the_known_optimum(path):
    """On tiny instances auto finds the optimum and proves it."""
    instance = load_json(path)
    known = instance.provenance["known_optimum"]
    result = solve(instance, "auto", {"time_limit_s": 20, "threads": 1})
    assert result.status == Status.OPTIMAL
    assert result.objective == pytest.approx(known[instance.objectives[0].value])
    assert result.bound == pytest.approx(result.objective)
    for objective in instance.objectives[1:]:
        if objective.value in known:
            assert result.objectives[objective.value] == pytest.approx(known[objective.value])


def test_auto_at_the_limit_returns_incumbent_bound_and_gap():
    """A hard instance under a short limit: feasible, time_limit, a bound, and no worse than first-fit."""
    from optplace.generate import generate_instance

    instance = generate_instance("hetero", 60, None, 1)
    greedy = solve(instance, "first_fit")
    result = solve(instance, "auto", {"time_limit_s": 3, "threads": 1})
    assert result.status.has_solution
    assert result.objective >= greedy.objective
    assert result.bound is not None and result.bound >= result.objective
    if result.status == Status.FEASIBLE:
        assert result.stop_reason == StopReason.TIME_LIMIT
        assert result.gap is not None and result.gap > 0
    stages = [s["stage"] for s in result.stats["stages"]]
    assert stages[0] == "heuristics"
    if "configuration" in {m.name for m in list_methods()}:
        assert "configuration" in stages


def test_auto_reports_proven_infeasibility():
    """host_all that fails only jointly comes back infeasible from auto as well."""
    from tests.exact.conftest import DATA

    result = solve(load_json(DATA / "host_all_capacity.json"), "auto", {"time_limit_s": 20, "threads": 1})
    assert result.status == Status.INFEASIBLE
