"""check_alone: what it calls usable alone is exactly what the evaluator accepts alone, with numbers in every reason."""

from __future__ import annotations

from hypothesis import given, settings

from optplace.builder import InstanceBuilder
from optplace.diagnose import check_alone
from optplace.domain import Instance
from optplace.evaluate import evaluate
from optplace.result import UnplacedReason
from tests.heuristics.strategies import instances


@settings(max_examples=60, deadline=None)
@given(instances())
def test_feasible_alone_is_what_the_evaluator_accepts_alone(instance: Instance) -> None:
    """An accelerator is listed as usable alone exactly when evaluating the application alone there is feasible."""
    checks = check_alone(instance)
    for app in instance.applications:
        accepted = [acc.name for _, acc in instance.accelerators() if _alone_ok(instance, app.name, acc.name)]
        assert checks[app.name].feasible_accelerators == accepted
        assert set(accepted) <= set(checks[app.name].candidate_accelerators)


def _alone_ok(instance: Instance, app: str, accelerator: str) -> bool:
    """The evaluator finds nothing wrong with ``app`` alone on ``accelerator`` (other apps' absence aside)."""
    violations = evaluate(instance, {app: accelerator}).violations
    return all(v.application not in (None, app) for v in violations)


def _tpu_pair(slo_ms: float, statistic: str = "p95") -> Instance:
    """One edgeTPU with one slow application (60 ms at 8 req/s: utilisation 0.48)."""
    b = InstanceBuilder(name="tail")
    tpu = b.add_accelerator_type("tpu", discipline="fcfs")
    b.add_accelerator(b.add_node("pi", memory_mb=4096), tpu, name="tpu1")
    big = b.add_model("big")
    b.add_profile(big, tpu, service_time_ms=60.0, memory_mb=100)
    b.add_application("slow", big, rate_rps=8, slo_ms=slo_ms, statistic=statistic)
    return b.instance()


def test_percentile_miss_alone_is_not_usable_alone() -> None:
    """A p95 application that misses its SLO alone is not 'usable alone' (/v1/validate) although methods still try it."""
    instance = _tpu_pair(slo_ms=100)
    alone = evaluate(instance, {"slow": "tpu1"})
    assert not alone.feasible and alone.applications[0].latency_ms > 100
    check = check_alone(instance)["slow"]
    assert check.feasible_accelerators == []
    assert check.candidate_accelerators == ["tpu1"]  # FCFS percentiles are not monotone in the mix
    assert check.reason is None
    assert f"{alone.applications[0].latency_ms:.3f} ms against an SLO of 100 ms" in check.detail


def test_mean_miss_alone_is_proven() -> None:
    """An FCFS mean SLO missed alone is a proof: no candidate, reason cannot_meet_slo_alone with both numbers."""
    check = check_alone(_tpu_pair(slo_ms=70, statistic="mean"))["slow"]
    assert check.candidate_accelerators == [] and check.reason == UnplacedReason.CANNOT_MEET_SLO_ALONE
    assert "against an SLO of 70 ms" in check.detail and "latency alone is 8" in check.detail


def test_exceeds_memory_alone_names_needed_and_available_megabytes() -> None:
    """exceeds_memory_alone says how many MB the closest accelerator needs and how many it allows."""
    b = InstanceBuilder()
    gpu = b.add_accelerator_type("gpu", discipline="ps")
    b.add_accelerator(b.add_node("small", memory_mb=1000), gpu, name="g1")
    b.add_accelerator(b.add_node("large", memory_mb=2000), gpu, name="g2")
    b.add_application("a", b.add_model("m", profiles={gpu: {"service_time_ms": 10, "memory_mb": 1700}}), 1, 500)
    check = check_alone(b.instance())["a"]
    assert check.reason == UnplacedReason.EXCEEDS_MEMORY_ALONE
    assert "needs 1700 MB of node memory" in check.detail and "'large' allows 1600 MB" in check.detail


def test_utilisation_reason_names_the_load() -> None:
    """An application whose load alone passes the cap everywhere is told its utilisation, rate and service time."""
    b = InstanceBuilder()
    gpu = b.add_accelerator_type("gpu", discipline="ps")
    b.add_accelerator(b.add_node("n", memory_mb=4000), gpu)
    b.add_application("a", b.add_model("m", profiles={gpu: {"service_time_ms": 100}}), rate_rps=9, slo_ms=5000)
    check = check_alone(b.instance())["a"]
    assert check.reason == UnplacedReason.CANNOT_MEET_SLO_ALONE
    assert "utilisation 0.900" in check.detail and "9 req/s x 100 ms" in check.detail and "cap of 0.8" in check.detail


def test_pinned_reason_says_why() -> None:
    """A pinned application that cannot run where it is pinned is told what fails there."""
    b = InstanceBuilder()
    gpu = b.add_accelerator_type("gpu", discipline="ps")
    g1 = b.add_accelerator(b.add_node("n", memory_mb=4000), gpu, name="g1")
    m = b.add_model("m", profiles={gpu: {"service_time_ms": 50}})
    b.add_application("a", m, rate_rps=2, slo_ms=20, current_accelerator=g1, pinned=True)
    check = check_alone(b.instance())["a"]
    assert check.reason == UnplacedReason.PINNED_ACCELERATOR_INFEASIBLE
    assert "pinned accelerator 'g1' even alone: predicted mean latency alone" in check.detail


@settings(max_examples=40, deadline=None)
@given(instances())
def test_placed_applications_are_candidates(instance: Instance) -> None:
    """Every application of a verified placement has a candidate accelerator (solve's bound checks only the unplaced)."""
    from optplace import solve

    for method in ("first_fit", "local_search"):
        result = solve(instance, method, {"time_limit_s": 2})
        checks = check_alone(instance)
        assert all(a.accelerator in checks[a.application].candidate_accelerators for a in result.assignments)


def test_an_occupancy_limit_missed_alone_is_a_reason_with_its_numbers():
    """At 20 req/s with one outstanding request the mean may be 40 ms; alone it is 29.4 / (1 - 0.588) = 71.359 ms."""
    from tests.conftest import make_instance

    doc = make_instance()
    doc["applications"][0].update(rate_rps=20, frontend_concurrency=1)
    check = check_alone(Instance.model_validate(doc), ["cam1"])["cam1"]
    assert check.reason == UnplacedReason.CANNOT_MEET_SLO_ALONE
    assert "40.000 ms its synchronous front end allows" in check.detail
    assert "71.359 ms" in check.detail
