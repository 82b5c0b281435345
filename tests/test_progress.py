"""IncumbentLog and the incumbent channel: verified incumbents, valid bounds, a monotone trace, nested publishing."""

from __future__ import annotations

from optplace.progress import IncumbentLog, Throttle, listening, publish, someone_listens
from optplace.registry import MethodOutput
from optplace.result import Status
from tests.conftest import INSTANCES, load

PRIORITY = load(INSTANCES / "tiny" / "priority.json")  # maximise hosted priority; optimum 5


def feasible_placements():
    """Two verified placements of the tiny priority instance, the second better."""
    from optplace.solve import solve

    best = solve(PRIORITY, "milp_highs", {"time_limit_s": 10}).placement()
    worse = dict(best)
    worse.pop(sorted(worse)[0])
    return worse, best


def test_offer_keeps_the_best_verified_placement_and_rejects_violations():
    """A better placement replaces the incumbent, a worse one does not, an infeasible one is rejected and counted."""
    worse, best = feasible_placements()
    log = IncumbentLog(PRIORITY)
    assert log.offer(worse, "a")
    assert log.offer(best, "b")
    assert not log.offer(worse, "c")
    overloaded = {app.name: PRIORITY.nodes[0].accelerators[0].name for app in PRIORITY.applications}
    assert not log.offer(overloaded, "d")
    assert log.best == best and log.best_source == "b" and log.rejected == 1


def test_the_tightest_valid_bound_wins_and_a_refuted_bound_is_dropped():
    """Bounds tighten (max: smaller); one below a verified value is a solver error: discarded, and recorded."""
    _, best = feasible_placements()
    log = IncumbentLog(PRIORITY)
    log.offer(best, "search")
    value = log.primary_value()
    assert value is not None
    log.offer_bound(value + 3.0, "lp")
    log.offer_bound(value + 1.4, "lagrangian")  # integral objective: rounded down to value + 1
    assert log.bound == value + 1.0 and log.bound_source == "lagrangian"
    assert not log.offer_bound(value - 1.0, "broken")
    assert log.discarded == {"broken": value - 1.0}
    log.offer_bound(value, "proof")
    assert log.proven() and log.gap() == 0.0


def test_the_trace_is_monotone():
    """Every event carries time, stage and values; incumbents only improve and bounds only tighten."""
    worse, best = feasible_placements()
    log = IncumbentLog(PRIORITY)
    log.stage("one")
    log.offer_bound(10.0, "x")
    log.offer(worse, "a")
    log.stage("two")
    log.offer_bound(8.0, "y")
    log.offer(best, "b")
    trace = log.trace()
    assert [e["event"] for e in trace] == ["stage", "bound", "incumbent", "stage", "bound", "incumbent"]
    assert [e["stage"] for e in trace] == ["one", "one", "one", "two", "two", "two"]
    incumbents = [e["incumbent"] for e in trace if e["incumbent"] is not None]
    bounds = [e["bound"] for e in trace if e["bound"] is not None]
    assert incumbents == sorted(incumbents) and bounds == sorted(bounds, reverse=True)
    assert all(e["time_s"] >= 0 for e in trace)


def test_improvements_are_published_to_the_listener_of_the_creating_context():
    """Only improvements reach the listener, as verified outputs with the bound; nobody listening is a no-op."""
    worse, best = feasible_placements()
    seen: list[MethodOutput] = []
    assert not someone_listens()
    publish(MethodOutput(placement={}))  # nobody listens: nothing happens
    with listening(seen.append):
        assert someone_listens()
        log = IncumbentLog(PRIORITY)
    log.offer_bound(9.0, "lp")
    log.offer(worse, "a")
    log.offer(worse, "a again")
    log.offer(best, "b")
    assert [o.placement for o in seen] == [worse, best]
    assert all(o.status == Status.FEASIBLE and o.bound == 9.0 for o in seen)


def test_a_nested_log_publishes_into_the_enclosing_one():
    """A stage's log feeds the outer log, which re-publishes only what improves its incumbent or bound."""
    worse, best = feasible_placements()
    outside: list[MethodOutput] = []
    with listening(outside.append):
        outer = IncumbentLog(PRIORITY)
    outer.offer(best, "outer")
    with listening(outer.listener("stage")):
        inner = IncumbentLog(PRIORITY)
        inner.offer_bound(7.0, "inner lp")
        inner.offer(worse, "inner")  # worse than the outer incumbent: not re-published
    # the worse inner placement is not re-published; the inner bound arrived with it and tightens
    # the outer bound, which is published with the outer incumbent
    assert [o.placement for o in outside] == [best, best]
    assert [o.bound for o in outside] == [None, 7.0] and outer.bound == 7.0


def test_throttle_lets_one_through_per_interval():
    """At most one event per interval passes, and expensive ones are spaced out to keep their cost at 5%."""
    now = [0.0]
    throttle = Throttle(0.5, clock=lambda: now[0])
    assert throttle.ready() and not throttle.ready()
    now[0] = 0.49
    assert not throttle.ready()
    now[0] = 0.51
    assert throttle.ready()
    throttle.spent(0.1)  # publishing took 0.1 s: the next waits 0.1 / 5% = 2 s
    now[0] = 1.2
    assert not throttle.ready()
    now[0] = 2.6
    assert throttle.ready()
