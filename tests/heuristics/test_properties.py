"""Every model-driven method returns evaluator-feasible, deterministic placements on random instances."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from optplace import SolveParams, Status, solve
from optplace.registry import list_methods
from tests.heuristics.strategies import instances

# Only the product's methods: other test modules may have registered test-only ones (one of them
# deliberately kills its process) by the time this module is collected.
BUILTIN = [m for m in list_methods() if not m.function.__module__.startswith("tests.")]
HEURISTICS = [m.name for m in BUILTIN if m.kind == "heuristic"]
BASELINES = [m.name for m in BUILTIN if m.kind == "baseline"]
# A generous wall clock so local search always stops at a local optimum: the determinism claim.
PARAMS = SolveParams(seed=7, time_limit_s=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances())
def test_heuristics_are_feasible_and_deterministic(instance):
    """solve() verifies each heuristic's placement (it raises otherwise) and a rerun gives the same one."""
    for method in HEURISTICS:
        first = solve(instance, method, PARAMS)
        assert first.status in (Status.FEASIBLE, Status.OPTIMAL, Status.NO_SOLUTION_FOUND, Status.INFEASIBLE)
        assert first.status != Status.ERROR, first.message
        if first.status.has_solution:
            assert not first.violates_slo and first.hosted_without_violation == first.hosted
        again = solve(instance, method, PARAMS)
        assert again.placement() == first.placement(), method


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances())
def test_baselines_report_their_violations(instance):
    """Baselines may violate SLOs, but the result says so: a flag, the violations, the clean count."""
    for method in BASELINES:
        result = solve(instance, method, PARAMS)
        assert result.status != Status.ERROR, result.message
        if result.status.has_solution:
            violating = {v.application for v in result.violations if v.application}
            assert result.violates_slo == any(v.code != "not_hosted" for v in result.violations)
            assert result.hosted_without_violation <= result.hosted - len(violating & set(result.placement()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances(max_apps=12))
def test_local_search_never_worse_than_its_start(instance):
    """Local search ends at least as good (lexicographically) as the construction it starts from."""
    from optplace.cluster_state import better
    from optplace.heuristics.local_search import improve

    state, stats, _ = improve(instance, PARAMS)

    def key(hosted: float, values: dict) -> tuple:
        signed = tuple(values[o.value] * (1 if o.maximize else -1) for o in state.objectives)
        return (hosted, *signed) if instance.host_all else signed

    start = stats["trace"][0]
    end = {o.value: v for o, v in state.objective_values().items()}
    assert not better(key(start["hosted"], start), key(state.n_placed, end))
