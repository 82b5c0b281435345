"""``auto``: best verified placement within the limit, with the tightest proven bound."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from optplace.bounds import tighter, trivial_bound
from optplace.objectives import lexicographic_key
from optplace.progress import listening
from optplace.registry import MethodOutput, list_methods
from optplace.result import Status, StopReason
from optplace.solve import solve
from tests.conftest import TINY
from tests.exact.conftest import load_json
from tests.heuristics.strategies import instances

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
    assert stages[0] == "ordered_worst_fit" and "local_search" in stages  # measured best first
    if "configuration" in {m.name for m in list_methods()}:
        assert "configuration" in stages


def test_auto_reports_proven_infeasibility():
    """host_all that fails only jointly comes back infeasible from auto as well."""
    from tests.exact.conftest import DATA

    result = solve(load_json(DATA / "host_all_capacity.json"), "auto", {"time_limit_s": 20, "threads": 1})
    assert result.status == Status.INFEASIBLE


def test_deterministic_auto_gives_byte_identical_placements():
    """Two deterministic runs of auto (work budgets, one thread) return the same placement, and say so."""
    from optplace.generate import generate_instance

    instance = generate_instance("hetero", 24, None, 5)
    params = {"time_limit_s": 2, "deterministic": True, "seed": 3}
    first, second = solve(instance, "auto", params), solve(instance, "auto", params)
    assert first.placement() == second.placement() and first.objective == second.objective
    assert first.bound == second.bound
    assert first.deterministic and second.deterministic and first.stats["work_s"] == second.stats["work_s"]
    assert first.stop_reason in (StopReason.COMPLETED, StopReason.ITERATION_LIMIT)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(max_apps=7))
def test_auto_is_never_worse_than_a_heuristic_it_ran(instance):
    """On small random instances auto's placement is lexicographically at least every construction heuristic's."""
    result = solve(instance, "auto", {"time_limit_s": 1, "deterministic": True, "threads": 1})
    assert result.status in (Status.OPTIMAL, Status.FEASIBLE, Status.INFEASIBLE, Status.NO_SOLUTION_FOUND)
    ran = [s["stage"] for s in result.stats.get("stages", [])]
    for name in ran:
        info = next((m for m in list_methods() if m.name == name), None)
        if info is None or info.kind != "heuristic" or name == "local_search":
            continue
        other = solve(instance, name, {"time_limit_s": 1, "deterministic": True})
        if other.status not in (Status.OPTIMAL, Status.FEASIBLE):
            continue
        assert result.status in (Status.OPTIMAL, Status.FEASIBLE), name
        ours = lexicographic_key(instance.objectives, result.objectives)
        theirs = lexicographic_key(instance.objectives, other.objectives)
        assert ours >= theirs, name
    if result.status in (Status.OPTIMAL, Status.FEASIBLE):
        trivial = trivial_bound(instance)
        assert result.bound is not None and trivial is not None
        assert tighter(result.bound, trivial, instance.objectives[0].maximize) == result.bound


def test_auto_streams_improving_verified_incumbents():
    """While auto runs, a listener receives only better placements or tighter bounds; the last is the answer."""
    from optplace.evaluate import evaluate
    from optplace.generate import generate_instance

    instance = generate_instance("hetero", 30, None, 2)
    seen: list[MethodOutput] = []
    with listening(seen.append):
        result = solve(instance, "auto", {"time_limit_s": 3, "threads": 1})
    assert seen
    keys = [lexicographic_key(instance.objectives, evaluate(instance, o.placement).objectives) for o in seen]
    assert keys == sorted(keys)
    for before, after, a, b in zip(keys, keys[1:], seen, seen[1:]):
        assert after > before or (a.bound is not None and b.bound is not None and b.bound < a.bound)
    assert all(evaluate(instance, o.placement).feasible and o.bound is not None for o in seen)
    assert keys[-1] == lexicographic_key(instance.objectives, result.objectives)
    progress = result.stats["progress"]
    assert {"stage", "incumbent", "bound"} <= {e["event"] for e in progress}


def test_stage_options_are_checked_by_each_stage_method():
    """auto passes stage_options to its stages, each checked by that method's own options model first."""
    from optplace.exceptions import ParamsError
    from tests.conftest import INSTANCES, load

    instance = load(INSTANCES / "tiny" / "priority.json")
    with pytest.raises(ParamsError, match=r"options\.stage_options"):
        solve(instance, "auto", {"options": {"stage_options": {"milp_highs": {"refine_rounds": 2.5}}}})
    with pytest.raises(ParamsError, match=r"options\.stage_options"):
        solve(instance, "auto", {"options": {"stage_options": {"first_fit": {}}}})  # not a stage of auto
    result = solve(
        instance,
        "auto",
        {"time_limit_s": 5, "options": {"heuristic_share": 0.5, "stage_options": {"configuration": {"dive": False}}}},
    )
    assert result.status == Status.OPTIMAL


@pytest.mark.parametrize(("apps", "accelerators", "seed"), [(60, 8, 1), (100, 14, 2)])
def test_auto_is_never_below_the_local_search_run_alone(apps, accelerators, seed):
    """Seed-scale instances where the local search from auto's best construction ends in a worse
    local optimum than from its own start: auto searches from both and keeps the better."""
    from optplace.generate import generate_instance

    instance = generate_instance("hetero", apps, accelerators, seed=seed)
    alone = solve(instance, "local_search", {"time_limit_s": 10, "deterministic": True})
    result = solve(instance, "auto", {"time_limit_s": 4, "deterministic": True})
    assert alone.objective is not None and result.objective is not None
    assert result.objective >= alone.objective
