"""Local search: each move family fixes the placement it was built for."""

from __future__ import annotations

from optplace import SolveParams, solve
from optplace.heuristics.local_search import default_budget
from tests.conftest import INSTANCES, load
from tests.heuristics.builders import app, build


def improve(instance, initial, **options):
    params = SolveParams(seed=1, time_limit_s=30, options={"initial_placement": initial, **options})
    return solve(instance, "local_search", params)


def test_eject_one_to_admit_two():
    """One GPU, cap 0.8, s = 100 ms: 'large' (load 0.6) blocks 'small1' + 'small2' (0.35 each, 0.7 together).

    From {large}, ejecting large admits both small apps: 2 hosted instead of 1.
    """
    instance = build(
        [("gpu1", "gpu")],
        {"A": {"gpu": {"service_time_ms": 100}}},
        [app("large", "A", 6), app("small1", "A", 3.5), app("small2", "A", 3.5)],
        objectives=["max_hosted"],
    )
    result = improve(instance, {"large": "gpu1"})
    assert result.placement() == {"small1": "gpu1", "small2": "gpu1"}
    assert result.stats["moves"]["eject"] == 1


def test_eject_moves_the_blocker_elsewhere():
    """'x' sits on the GPU (load 0.5) though the edgeTPU takes it at 0.1; 'y' fits only the GPU (0.5).

    Ejecting x from the GPU admits y, and x moves to the edgeTPU: both hosted.
    """
    instance = build(
        [("gpu1", "gpu"), ("tpu1", "tpu")],
        {
            "X": {"gpu": {"service_time_ms": 100}, "tpu": {"service_time_ms": 20}},
            "Y": {"gpu": {"service_time_ms": 100}},
        },
        [app("x", "X", 5), app("y", "Y", 5.5)],
        objectives=["max_hosted"],
    )
    assert improve(instance, {"x": "gpu1"}).placement() == {"x": "tpu1", "y": "gpu1"}


def test_consolidation_frees_accelerators():
    """tiny/min_accelerators spread over three GPUs (0.3 + 0.3, 0.3, 0.3) consolidates to two."""
    instance = load(INSTANCES / "tiny" / "min_accelerators.json")
    names = [a.name for a in instance.applications]
    spread = {names[0]: "gpu1", names[1]: "gpu1", names[2]: "gpu2", names[3]: "gpu3"}
    result = improve(instance, spread)
    assert result.objective == 2 and result.hosted == 4
    assert result.stats["moves"]["consolidate"] >= 1


def test_return_home_swaps_two_displaced_apps():
    """a runs on gpu1 and b on gpu2 today, each GPU fits one; from the swapped placement both go home."""
    instance = build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {"A": {"gpu": {"service_time_ms": 100}}},
        [app("a", "A", 5, current_accelerator="gpu1"), app("b", "A", 5, current_accelerator="gpu2")],
        objectives=["max_hosted", "min_migrations"],
    )
    result = improve(instance, {"a": "gpu2", "b": "gpu1"})
    assert result.placement() == {"a": "gpu1", "b": "gpu2"} and result.objectives["min_migrations"] == 0


def test_relocate_for_value():
    """Under max_value the app moves from gpu1 (value 1) to gpu2 (value 3)."""
    instance = build(
        [("gpu1", "gpu"), ("gpu2", "gpu")],
        {"A": {"gpu": {"service_time_ms": 10}}},
        [app("v", "A", 1, value_by_accelerator={"gpu1": 1.0, "gpu2": 3.0})],
        objectives=["max_value"],
    )
    assert improve(instance, {"v": "gpu1"}).placement() == {"v": "gpu2"}


def test_rebalance_lowers_the_load():
    """x loads the GPU 0.5 / 0.8 but the edgeTPU only 0.1 / 0.8: with the key unchanged it moves to the edgeTPU."""
    instance = build(
        [("gpu1", "gpu"), ("tpu1", "tpu")],
        {"X": {"gpu": {"service_time_ms": 100}, "tpu": {"service_time_ms": 20}}},
        [app("x", "X", 5)],
        objectives=["max_hosted", "min_accelerators"],
    )
    result = improve(instance, {"x": "gpu1"})
    assert result.placement() == {"x": "tpu1"} and result.stats["moves"]["rebalance"] == 1


def test_priority_instance_reaches_the_optimum():
    """tiny/priority: the best of the constructions already hosts 'important' (5), the optimum."""
    result = solve(load(INSTANCES / "tiny" / "priority.json"), "local_search")
    assert result.objective == 5 and result.placement() == {"important": "gpu1"}


def test_same_seed_same_result_and_trace():
    """Two runs with one seed give the same placement; the trace starts at the initial objectives."""
    instance = load(INSTANCES / "seed" / "heterogeneous.json")
    params = SolveParams(seed=3, time_limit_s=60)
    first, second = solve(instance, "local_search", params), solve(instance, "local_search", params)
    assert first.placement() == second.placement()
    trace = first.stats["trace"]
    assert trace[0]["max_hosted"] <= trace[-1]["max_hosted"] == first.objective
    assert first.stop_reason == "completed"


def test_time_limit_is_respected_and_reported():
    """A tiny budget stops the search with a verified placement, stop reason time_limit when cut."""
    instance = load(INSTANCES / "seed" / "heterogeneous_200.json")
    result = solve(instance, "local_search", SolveParams(time_limit_s=0.05))
    assert result.status == "feasible" and result.hosted > 0
    assert result.stop_reason in ("time_limit", "completed")


def test_default_budget_is_modest():
    """The default budget grows with size but stays at most 2 s (auto runs local search too)."""
    assert default_budget(10) < default_budget(500) <= 2.0 and default_budget(100_000) == 2.0
