"""The make-before-break planner: safe orders, parking, blocked steps, and the replay referee."""

from __future__ import annotations

from optplace.evaluate import ViolationCode, evaluate
from optplace.migration.changes import Changes, situation
from optplace.migration.plan import Planner
from optplace.migration.result import Purpose, StepAction
from optplace.migration.verify import verify_plan
from tests.migration.builders import app, cluster, drain_into_full_node, gpu_node, swap_cluster


def actions(planner: Planner) -> list[tuple[str, str, str]]:
    return [(s.action.value, s.application, s.accelerator) for s in planner.steps]


def test_a_move_is_start_shift_stop_with_the_copy_holding_memory():
    """Moving one application is start (copy holds memory), shift (traffic), stop (source freed)."""
    instance = cluster([gpu_node("n1", ["g1"]), gpu_node("n2", ["g2"])], [app("x", "m0", "g1")])
    planner = Planner(situation(instance, Changes()))
    assert planner.run({"x": "g2"})
    assert actions(planner) == [("start", "x", "g2"), ("shift", "x", "g2"), ("stop", "x", "g1")]
    start, shift, stop = planner.steps
    assert start.loads_backend and start.memory_mb == 1000 and start.load_time_ms == 100
    assert shift.source == "g1" and shift.utilization > 0 and shift.memory_mb == 0
    assert stop.memory_mb == -1000 and stop.utilization == 0
    assert planner.counts.moves == 1 and planner.states_checked == 3


def test_naive_order_would_overflow_memory_so_the_plan_reorders():
    """y (draining, listed first) cannot start on the full g1 until x has left: x moves first."""
    instance = drain_into_full_node()
    now = situation(instance, Changes(draining_accelerators=["g2"]))
    naive = evaluate(now.instance, now.start, reserved={"y": "g1"})
    assert [v.code for v in naive.violations] == [ViolationCode.NODE_MEMORY_EXCEEDED]
    planner = Planner(now)
    assert planner.run({"y": "g1", "x": "g3", "z": "g1"})
    order = actions(planner)
    assert order.index(("stop", "x", "g1")) < order.index(("start", "y", "g1"))
    assert verify_plan(now, planner.steps, {"y": "g1", "x": "g3", "z": "g1"}) == []


def test_a_swap_is_broken_by_parking_on_a_spare_accelerator():
    """Two full nodes swapping their applications park one on the spare node, then finish."""
    now = situation(swap_cluster(spare=True), Changes())
    planner = Planner(now)
    assert planner.run({"x": "g2", "y": "g1"})
    purposes = [s.purpose for s in planner.steps if s.action == StepAction.SHIFT]
    assert purposes == [Purpose.PARK, Purpose.REBALANCE, Purpose.UNPARK]
    assert planner.counts.moves == 3 and planner.counts.parking_moves == 1
    assert verify_plan(now, planner.steps, {"x": "g2", "y": "g1"}) == []


def test_a_swap_without_spare_room_reports_the_missing_memory():
    """Without a parking spot the swap is blocked; each blocked start lacks one backend's 1,000 MB."""
    planner = Planner(situation(swap_cluster(spare=False), Changes()))
    assert not planner.run({"x": "g2", "y": "g1"})
    assert planner.steps == []
    missing = {m.application: m for m in planner.missing_capacity()}
    assert set(missing) == {"x", "y"}
    assert missing["x"].step == StepAction.START and missing["x"].accelerator == "g2"
    assert missing["x"].memory_mb == 1000 and missing["x"].utilization == 0
    assert [v.code for v in missing["x"].violations] == [ViolationCode.NODE_MEMORY_EXCEEDED]


def test_the_budget_stops_voluntary_moves_but_not_a_drain():
    """max_moves=0 blocks x's move (reported as a budget stop); leaving a draining accelerator is free."""
    now = situation(drain_into_full_node(), Changes(draining_accelerators=["g2"], max_moves=0))
    planner = Planner(now, max_moves=0)
    assert not planner.run({"y": "g1", "x": "g3", "z": "g1"})
    missing = {m.application: m for m in planner.missing_capacity()}
    assert missing["x"].budget and missing["x"].memory_mb == 0
    assert not missing["y"].budget and missing["y"].memory_mb == 1000
    free = Planner(situation(swap_cluster(spare=True), Changes(draining_accelerators=["g1"], max_moves=0)), 0)
    assert free.run({"x": "g3", "y": "g2"}) and free.counts.budgeted_moves == 0


def test_an_overloaded_accelerator_may_only_lose_load_until_it_is_fixed():
    """After a rate rise overloads g1, moving its second application away is safe, adding to g1 is not."""
    instance = cluster(
        [gpu_node("n1", ["g1"], memory_mb=5000), gpu_node("n2", ["g2"], memory_mb=5000)],
        [app("x", "m0", "g1"), app("y", "m1", "g1"), app("w", "m2")],
    )
    hot = situation(instance, Changes(rates_rps={"x": 16.0}))  # g1: 16 x 0.05 + 0.05 = 0.85 > cap 0.8
    planner = Planner(hot)
    assert planner.initial.violations
    assert not planner.run({"x": "g1", "y": "g1", "w": "g1"})  # adding w to the hot g1 is refused
    planner = Planner(hot)
    assert planner.run({"x": "g1", "y": "g2", "w": "g2"})
    assert [s.purpose for s in planner.steps if s.action == StepAction.SHIFT] == [Purpose.RELIEVE, Purpose.ADMIT]


def test_replay_rejects_a_plan_whose_order_overflows_memory():
    """verify_plan is a real referee: the same steps in the naive order fail the replay."""
    now = situation(drain_into_full_node(), Changes(draining_accelerators=["g2"]))
    target = {"y": "g1", "x": "g3", "z": "g1"}
    planner = Planner(now)
    assert planner.run(target)
    y_steps = [s for s in planner.steps if s.application == "y"]
    x_steps = [s for s in planner.steps if s.application == "x"]
    problems = verify_plan(now, y_steps + x_steps, target)
    assert problems and "node_memory_exceeded" in problems[0]
    assert verify_plan(now, x_steps, target) == ["the plan does not end in the target placement"]


def test_an_unstable_accelerator_may_become_merely_overloaded_on_the_way():
    """Evicting z from an unstable g1 (rho 1.05) leaves it over its cap (0.9): the same violation,
    improving, so the step is safe; evicting y then clears it."""
    instance = cluster(
        [gpu_node("n1", ["g1"], memory_mb=5000)],
        [app("x", "m0", "g1"), app("z", "m1", "g1"), app("y", "m2", "g1")],
    )
    planner = Planner(situation(instance, Changes(rates_rps={"x": 12.0, "z": 3.0, "y": 6.0})))
    assert next(v.code for v in planner.initial.violations) == ViolationCode.UNSTABLE
    assert planner.run({"x": "g1"})
    assert [(s.action, s.application, round(s.utilization, 2)) for s in planner.steps] == [
        (StepAction.EVICT, "z", 0.9),
        (StepAction.EVICT, "y", 0.6),
    ]


def test_settling_evicts_the_smallest_application_that_clears_the_place():
    """g1 at 0.85 > 0.8: evicting z (0.1) suffices, so neither x (0.6) nor y (0.15) is evicted."""
    instance = cluster(
        [gpu_node("n1", ["g1"], memory_mb=5000)],
        [app("x", "m0", "g1"), app("y", "m1", "g1"), app("z", "m2", "g1")],
    )
    planner = Planner(situation(instance, Changes(rates_rps={"x": 12.0, "y": 3.0, "z": 2.0})))
    assert planner.settle()
    assert [(s.action, s.application) for s in planner.steps] == [(StepAction.EVICT, "z")]
