"""optplace.replan end to end: targets, plans, fallbacks, budgets, move costs, and invariants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optplace import Instance, replan
from optplace.domain import Objective
from optplace.migration import ChangesError, PlanOutcome, Purpose, StepAction, timed_out, verify_plan
from optplace.migration.changes import situation, target_instance
from optplace.params import SolveParams
from optplace.result import Status, StopReason
from tests.heuristics.strategies import instance_docs
from tests.migration.builders import app, cluster, drain_into_full_node, gpu_node, one_node_two_gpus


def shifts(result) -> list[tuple[str, str | None, str]]:
    return [(s.application, s.source, s.accelerator) for s in result.plan if s.action == StepAction.SHIFT]


def test_drain_is_reordered_and_the_drained_accelerator_emptied():
    """Draining g2 moves x off the full g1 first, then y onto it; g2 ends empty, all hosted."""
    result = replan(drain_into_full_node(), {"draining_accelerators": ["g2"]})
    assert result.outcome == PlanOutcome.COMPLETE and result.target.status in (Status.OPTIMAL, Status.FEASIBLE)
    assert result.placement() == {"y": "g1", "x": "g3", "z": "g1"}
    assert shifts(result) == [("x", "g1", "g3"), ("y", "g2", "g1")]
    assert [s.purpose for s in result.plan if s.action == StepAction.SHIFT] == [Purpose.REBALANCE, Purpose.DRAIN]
    assert result.moves == 2 and result.budgeted_moves == 1 and result.evictions == 0
    assert result.target.objectives[Objective.MIN_MIGRATIONS.value] == 1  # y had to move anyway
    assert result.states_checked == 7 and not result.blocked  # 6 steps and the refused start of y
    assert result.status == result.target.status  # a re-placement reads like a solve result


def test_a_change_that_cannot_be_absorbed_reports_the_missing_capacity():
    """Draining ga: a fits on gb only once its copy has room; the node lacks 1,000 MB, so the plan
    falls back to evicting a, empties ga, and says which step needs how much memory where."""
    result = replan(one_node_two_gpus(), {"draining_accelerators": ["ga"]})
    assert result.outcome == PlanOutcome.FALLBACK
    assert result.best_hosted == 2 and result.target.hosted == 1
    assert [(m.application, m.step, m.accelerator, m.node, m.memory_mb) for m in result.blocked] == [
        ("a", StepAction.START, "gb", "n1", 1000.0)
    ]
    assert "ga" not in result.placement().values()
    assert [(s.action, s.application) for s in result.plan] == [(StepAction.EVICT, "a")]
    assert result.target.unplaced[0].application == "a"


def test_pinned_applications_never_move():
    """A pinned application keeps its place even when moving it would host one more."""
    nodes = [gpu_node("n1", ["g1"]), gpu_node("n2", ["g2"], labels={"zone": "a"})]
    apps = [app("p", "m0", "g2", pinned=True), app("q", "m1", "g2"), app("new", "m2", required_labels={"zone": "a"})]
    free = replan(cluster(nodes, [{**a, "pinned": False} for a in apps]), {})
    pinned = replan(cluster(nodes, apps), {})
    assert free.target.hosted == 3 and pinned.target.hosted == 3
    assert pinned.placement()["p"] == "g2" and all(s.application != "p" for s in pinned.plan)


def test_a_failed_accelerator_loses_its_applications_and_they_are_recovered():
    """Applications on an unavailable accelerator, pinned ones too, are started elsewhere."""
    nodes = [gpu_node("n1", ["g1"]), gpu_node("n2", ["g2"]), gpu_node("n3", ["g3"])]
    instance = cluster(nodes, [app("x", "m0", "g1", pinned=True), app("y", "m1", "g1"), app("z", "m2", "g2")])
    result = replan(instance, {"unavailable_accelerators": ["g1"]})
    assert result.outcome == PlanOutcome.COMPLETE and result.lost == ["x", "y"]
    assert result.target.hosted == 3 and "g1" not in result.placement().values()
    recovered = [s for s in result.plan if s.action == StepAction.SHIFT]
    assert {s.application for s in recovered} == {"x", "y"}
    assert all(s.source is None and s.purpose == Purpose.RECOVER for s in recovered)
    assert result.admissions == 2 and result.moves == 0
    assert [v.code.value for v in result.initial_violations] == []


def test_new_removed_and_rate_changes_together():
    """A departure frees the room an arrival needs; the rates are in effect in every state."""
    nodes = [gpu_node("n1", ["g1"])]
    instance = cluster(nodes, [app("x", "m0", "g1"), app("y", "m1", "g1")])
    result = replan(
        instance,
        {"remove_applications": ["x"], "add_applications": [app("w", "m2")], "rates_rps": {"y": 3.0}},
    )
    assert result.placement() == {"y": "g1", "w": "g1"}
    assert result.admissions == 1 and result.moves == 0
    assert next(a for a in result.target.assignments if a.application == "y").predicted_latency_ms == pytest.approx(
        50 / (1 - 0.2)
    )


def test_budget_zero_keeps_everyone_and_reports_the_moves_it_stopped():
    """max_moves=0: the arrival that needs one move waits; the blocked move is a budget stop."""
    nodes = [gpu_node("n1", ["g1"], labels={"zone": "a"}), gpu_node("n2", ["g2"])]
    instance = cluster(nodes, [app("x", "m0", "g1"), app("z", "m1", "g1")])
    arrival = {"add_applications": [app("new", "m2", required_labels={"zone": "a"})]}
    unlimited = replan(instance, arrival)
    assert unlimited.target.hosted == 3 and unlimited.moves == 1
    limited = replan(instance, {**arrival, "max_moves": 0})
    assert limited.outcome == PlanOutcome.FALLBACK and limited.target.hosted == 2 and limited.moves == 0
    assert any(m.budget for m in limited.blocked)
    assert limited.target.bound == unlimited.target.bound


def test_move_cost_by_load_time_moves_the_quickest_model():
    """Either of two applications can make room; by load time the one with the faster model moves
    (an exact method without a heuristic warm start, so that the move-cost encoding alone decides)."""
    exact = {"warm_start": False}
    nodes = [gpu_node("n1", ["g1"], labels={"zone": "a"}), gpu_node("n2", ["g2"])]
    instance = cluster(nodes, [app("slow", "m3", "g1"), app("quick", "m0", "g1")])
    arrival = [app("new", "m2", required_labels={"zone": "a"})]
    result = replan(instance, {"add_applications": arrival, "move_cost": "load_time_ms"}, "milp_highs", exact)
    assert shifts(result)[0] == ("quick", "g1", "g2")
    assert result.move_cost == 100 and result.move_cost_unit == "load_time_ms"
    by_memory = replan(instance, {"add_applications": arrival, "move_cost": "memory_mb"}, "milp_highs", exact)
    assert by_memory.moves == 1 and by_memory.move_cost == 1000


def test_target_instance_drops_draining_places_and_encodes_move_costs():
    """The target instance lacks the draining accelerator; relative to staying, a move costs its
    load time (or 1) and an eviction twice the dearest move."""
    now = situation(drain_into_full_node(), {"draining_accelerators": ["g2"], "move_cost": "load_time_ms"})
    spec = target_instance(now, now.start)
    assert [acc.name for _, acc in spec.accelerators()] == ["g1", "g3"]
    assert spec.objectives == [
        Objective.MAX_HOSTED,
        Objective.MIN_COST,
        Objective.MIN_MIGRATIONS,
        Objective.MIN_ACCELERATORS,
    ]
    y, x, _ = spec.applications
    assert y.current_accelerator is None and y.cost_by_accelerator == {}
    assert x.cost_by_accelerator == {"g1": -200.0, "g3": -100.0} and all(t.cost == 0 for t in spec.accelerator_types)
    counted = target_instance(situation(drain_into_full_node(), {"draining_accelerators": ["g2"]}), now.start)
    assert counted.applications[1].cost_by_accelerator == {"g1": -2.0, "g3": -1.0}


def test_a_move_is_preferred_to_an_eviction():
    """At equal hosted weight the target moves a running application rather than evict one for a
    waiting one: x's rate rise overloads g1; x moving to g2 hosts three, and so would evicting x
    (or f) to admit w, which only fits on g2 while x is not there."""
    nodes = [gpu_node("n1", ["g1"], memory_mb=5000), gpu_node("n2", ["g2"], memory_mb=5000, labels={"zone": "b"})]
    apps = [
        app("x", "m0", "g1"),
        app("f", "m1", "g1", rate_rps=12.0),
        app("g", "m2", "g2", rate_rps=10.0),
        app("w", "m3", rate_rps=5.0, required_labels={"zone": "b"}),
    ]
    result = replan(cluster(nodes, apps), {"rates_rps": {"x": 5.0}})
    assert result.target.hosted == 3 and result.evictions == 0
    assert shifts(result) == [("x", "g1", "g2")] and result.plan[1].purpose == Purpose.RELIEVE


def test_a_stopped_replan_has_no_plan_and_an_empty_verified_target():
    """timed_out (the service's wall clock or memory limit) answers outcome none, nothing placed."""
    result = timed_out(
        drain_into_full_node(), {"draining_accelerators": ["g2"]}, "local_search", SolveParams(), 3.0, "killed"
    )
    assert result.outcome == PlanOutcome.NONE and result.plan == [] and result.status == Status.NO_SOLUTION_FOUND
    assert result.target.stop_reason == StopReason.TIME_LIMIT and result.target.hosted == 0
    assert {u.reason.value for u in result.target.unplaced} == {"not_attempted"}


def test_objectives_override_is_refused():
    """replan sets its own objectives; params.objectives is an error naming the field."""
    with pytest.raises(ValueError, match=r"params\.objectives"):
        replan(one_node_two_gpus(), {}, params={"objectives": ["max_hosted"]})


@pytest.mark.parametrize(
    ("changes", "pointer", "code"),
    [
        ({"remove_applications": ["nope"]}, "/remove_applications/0", "invalid_reference"),
        ({"rates_rps": {"nope": 2.0}}, "/rates_rps/nope", "invalid_reference"),
        ({"rates_rps": {"a": 2.0}, "remove_applications": ["a"]}, "/rates_rps/a", "conflict"),
        ({"add_applications": [app("a", "m0")]}, "/add_applications/0/name", "duplicate"),
        ({"add_applications": [app("w", "m9")]}, "/add_applications/0/model", "invalid_reference"),
        ({"add_applications": [app("w", "m0", "gb")]}, "/add_applications/0/current_accelerator", "not_running"),
        ({"unavailable_accelerators": ["gz"]}, "/unavailable_accelerators/0", "invalid_reference"),
        ({"draining_accelerators": ["ga", "ga"]}, "/draining_accelerators/1", "duplicate"),
        ({"draining_accelerators": ["ga"], "unavailable_accelerators": ["ga"]}, "/draining_accelerators/0", "conflict"),
        ({"draining_accelerators": ["ga", "gb"]}, "/draining_accelerators", "no_accelerator_left"),
    ],
)
def test_changes_that_do_not_fit_name_the_field(changes, pointer, code):
    """Each inconsistency is a ChangesError entry with its JSON pointer and code."""
    with pytest.raises(ChangesError) as caught:
        replan(one_node_two_gpus(), changes)
    assert (pointer, code) in [(e["pointer"], e["code"]) for e in caught.value.errors]


def test_draining_a_pinned_application_and_a_missing_load_time_are_errors():
    """Draining where a pinned application runs, or costing moves by an unknown load time, is refused."""
    doc = one_node_two_gpus().model_dump()
    doc["applications"][0]["pinned"] = True
    with pytest.raises(ChangesError, match="pinned"):
        replan(Instance.model_validate(doc), {"draining_accelerators": ["ga"]})
    doc["models"][0]["profiles"]["gpu"]["load_time_ms"] = None
    with pytest.raises(ChangesError, match="load_time_ms"):
        replan(Instance.model_validate(doc), {"move_cost": "load_time_ms"})


# --- invariants over random clusters -----------------------------------------------------------


@st.composite
def running_clusters(draw: st.DrawFn) -> tuple[Instance, dict]:
    """A random instance whose running applications run where their model can, and random changes."""
    doc = draw(instance_docs(max_apps=7, max_nodes=3))
    types = {acc["name"]: acc["type"] for node in doc["nodes"] for acc in node["accelerators"]}
    models = {m["name"]: m for m in doc["models"]}
    for application in doc["applications"]:
        where = application.get("current_accelerator")
        if where is not None and types[where] not in models[application["model"]]["profiles"]:
            application.pop("current_accelerator")
            application.pop("pinned", None)
    instance = Instance.model_validate(doc)
    names = [a.name for a in instance.applications]
    accelerators = sorted(types)
    pinned_on = {a.current_accelerator for a in instance.applications if a.pinned}
    changes: dict = {}
    removed = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    if removed:
        changes["remove_applications"] = removed
    kept = [n for n in names if n not in removed]
    if kept and draw(st.booleans()):
        changes["rates_rps"] = {draw(st.sampled_from(kept)): draw(st.integers(1, 300)) / 10}
    if draw(st.booleans()):
        template = draw(st.sampled_from(instance.applications))
        changes["add_applications"] = [
            template.model_copy(update={"name": "arrival", "current_accelerator": None, "pinned": False}).model_dump()
        ]
    event = draw(st.sampled_from(["none", "fail", "drain"]))
    if event != "none" and len(accelerators) > 1:
        victim = draw(st.sampled_from(accelerators))
        if event == "fail":
            changes["unavailable_accelerators"] = [victim]
        elif victim not in pinned_on:
            changes["draining_accelerators"] = [victim]
    if draw(st.booleans()):
        changes["max_moves"] = draw(st.integers(0, 2))
    return instance, changes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(running_clusters())
def test_replan_invariants_on_random_clusters(case):
    """Any re-placement: the plan replays safely into the verified target, pinned applications
    stay, failed and draining accelerators end empty, and migrations respect max_moves."""
    instance, changes = case
    result = replan(instance, changes, "first_fit")
    if result.outcome == PlanOutcome.NONE:
        assert result.plan == []
        return
    now = situation(instance, changes)
    placement = result.placement()
    assert verify_plan(now, result.plan, placement) == []
    assert result.target.status in (Status.OPTIMAL, Status.FEASIBLE) and not result.target.violations
    for application in now.instance.applications:
        if application.pinned:
            assert placement.get(application.name) == application.current_accelerator
            assert all(s.application != application.name for s in result.plan)
    gone = set(changes.get("unavailable_accelerators", [])) | set(changes.get("draining_accelerators", []))
    assert not gone & set(placement.values())
    assert not set(changes.get("remove_applications", [])) & set(placement)
    budget = changes.get("max_moves")
    migrations = [s for s in result.plan if s.action == StepAction.SHIFT and s.source and s.source not in gone]
    if budget is not None:
        assert len(migrations) <= budget
