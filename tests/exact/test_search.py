"""The search around the model: neighbourhoods for large instances, bounds that contradict placements."""

from __future__ import annotations

from optplace.generate import generate_instance
from optplace.result import Status
from optplace.solve import solve


def test_neighbourhood_search_runs_and_never_loses_the_warm_start():
    """Forced onto the large-instance path, the search keeps a verified placement at least as good as first-fit."""
    instance = generate_instance("hetero", 40, 6, seed=3)
    greedy = solve(instance, "first_fit")
    options = {
        "isolate": False,
        "lns_above_pairs": 0,
        "lns_stall": 4,
        "lns_step_s": 1.0,
        "warm_start_methods": ["first_fit"],
    }
    result = solve(instance, "milp_highs", {"time_limit_s": 20, "threads": 1, "options": options})
    assert result.status.has_solution
    assert result.objective >= greedy.objective
    phases = {p["phase"]: p for p in result.stats["phases"]}
    assert "lagrangian" in phases
    if result.status == Status.FEASIBLE:
        assert phases["lns"]["neighbourhoods"] >= 1
