"""Knapsack baselines: latency-blind placements, with their violations reported."""

from __future__ import annotations

from optplace import SolveParams, solve
from tests.conftest import INSTANCES, load
from tests.heuristics.builders import app, build


def test_memory_first_fit_overloads_and_says_so():
    """tiny/ps_one_per_gpu: memory fits all three 500 MB apps on gpu1 (1500 of 3200 MB).

    rho = 0.6, R = 100 / 0.4 = 250 ms > 150 ms for all three: three SLO violations, none clean.
    """
    result = solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "knapsack_first_fit")
    assert result.placement() == {"a1": "gpu1", "a2": "gpu1", "a3": "gpu1"}
    assert result.violates_slo and result.hosted == 3 and result.hosted_without_violation == 0
    assert {v.application for v in result.violations if v.code == "slo_violated"} == {"a1", "a2", "a3"}
    assert not any(a.meets_slo for a in result.assignments)


def test_memory_worst_fit_spreads():
    """Worst fit: a1 -> gpu1 (tie, first); a2 -> gpu2 (2700 MB left vs 2200); a3 -> gpu1 (tie at 2200, first).

    gpu1 (rho 0.4, R = 166.7 ms) violates for a1 and a3; a2 alone meets its SLO: one clean app.
    """
    result = solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "knapsack_worst_fit")
    assert result.placement() == {"a1": "gpu1", "a2": "gpu2", "a3": "gpu1"}
    assert result.hosted_without_violation == 1 and result.violates_slo


def test_memory_best_fit_picks_the_fullest_node():
    """Nodes of 4000 and 2000 MB (3200 and 1600 usable); 500 MB apps of distinct models go to the small node.

    p (model P): 1100 MB left on node-small vs 2700 -> small; q (model Q): 600 vs 2700 -> small;
    r (model R): 100 vs 2700 -> small; s: the small node has 100 MB left -> big.
    """
    doc = build(
        [("big", "gpu"), ("small", "gpu")],
        {m: {"gpu": {"service_time_ms": 1, "memory_mb": 500}} for m in "PQRS"},
        [app(m.lower(), m, 1) for m in "PQRS"],
    ).model_dump(mode="json")
    doc["nodes"][1]["memory_mb"] = 2000
    result = solve(doc, "knapsack_best_fit")
    assert result.placement() == {"p": "small", "q": "small", "r": "small", "s": "big"}


def test_sharing_a_running_backend_comes_first():
    """One GPU on a 1000 MB node (800 usable); backends 300 MB, front ends 50 MB.

    x1 (m1) 350 MB, y (m2) 350 MB, then x2 (m1) shares x1's backend and needs only its 50 MB front end:
    750 MB, all three hosted. Were m1 not shareable, x2 would need 350 MB more and stay out.
    """
    models = {m: {"gpu": {"service_time_ms": 1, "memory_mb": 300}} for m in ("m1", "m2")}
    apps = [app(n, m, 1, frontend_memory_mb=50) for n, m in (("x1", "m1"), ("y", "m2"), ("x2", "m1"))]
    doc = build([("gpu1", "gpu")], models, apps).model_dump(mode="json")
    doc["nodes"][0]["memory_mb"] = 1000
    assert solve(doc, "knapsack_first_fit").hosted == 3
    doc["models"][0]["shareable"] = False
    assert solve(doc, "knapsack_first_fit").placement() == {"x1": "gpu1", "y": "gpu1"}


def test_utilization_only_ignores_switch_overhead():
    """tiny/fcfs_switch: sum(lambda s) = 0.3 <= 0.8 for all three, but the switches break the 25 ms SLO.

    b1 (model B) and a1, a2 (model A): switch probabilities 2/3 and 1/3 push the latency past 25 ms.
    """
    result = solve(load(INSTANCES / "tiny" / "fcfs_switch.json"), "knapsack_utilization")
    assert result.hosted == 3 and result.hosted_without_violation == 0 and result.violates_slo


def test_utilization_only_respects_the_cap():
    """tiny/ps_one_per_gpu (load 0.2 each): all three fit one GPU's 0.8 cap, so all go to gpu1 and violate."""
    result = solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "knapsack_utilization")
    assert result.placement() == {"a1": "gpu1", "a2": "gpu1", "a3": "gpu1"}
    best = solve(
        load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "knapsack_utilization", SolveParams(options={"fit": "worst"})
    )
    assert best.hosted == 3


def test_baselines_respect_compatibility():
    """Latency-blind, not rule-blind: allowed types, labels and dedicated devices still hold."""
    instance = build(
        [("gpu1", "gpu"), ("ded1", "ded")],
        {"A": {"gpu": {"service_time_ms": 10}, "ded": {"service_time_ms": 10}}, "B": {"ded": {"service_time_ms": 10}}},
        [app("only_gpu", "A", 1, allowed_accelerator_types=["gpu"]), app("b1", "B", 1), app("a_ded", "A", 1)],
        disciplines={"gpu": "ps", "ded": "dedicated"},
    )
    for method in ("knapsack_first_fit", "knapsack_best_fit", "knapsack_worst_fit", "knapsack_utilization"):
        placement = solve(instance, method).placement()
        assert placement["only_gpu"] == "gpu1" and placement["b1"] == "ded1"
        assert placement.get("a_ded") != "ded1"  # a second backend on a dedicated device is never allowed
