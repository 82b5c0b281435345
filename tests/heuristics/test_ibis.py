"""The faithful seed baselines make the decisions of the authors' released code.

The recorded decisions (``tests/heuristics/data/ibis_decisions``, from ``benchmarks/ibis_fixtures.py``
driving umassos/ibis) are the oracle; the hand-derived cases pin each feasibility test and quirk.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optplace import Status, solve
from optplace.domain import Instance
from optplace.heuristics import ibis, ibis_model
from optplace.options import MethodOptionsError
from tests.conftest import ROOT, load
from tests.heuristics.strategies import instances

DATA = Path(__file__).parent / "data" / "ibis_decisions"
RECORDED = sorted(DATA.glob("*.json"))
RUNS = [(path, i) for path in RECORDED for i in range(len(json.loads(path.read_text())["runs"]))]

NANO = {"name": "jetson-nano-gpu", "discipline": "ps"}
CORAL = {"name": "coral-edgetpu", "discipline": "fcfs"}
RESNET50 = {"service_time_ms": 29.4, "memory_mb": 965}


def node(name: str, acc_type: str, memory_mb: float = 4096) -> dict[str, Any]:
    return {"name": name, "memory_mb": memory_mb, "accelerators": [{"name": f"{name}-acc", "type": acc_type}]}


def application(name: str, model: str, rate: float, slo: float = 1000.0, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "model": model,
        "rate_rps": rate,
        "slo": {"latency_ms": slo},
        "frontend_memory_mb": 50,
        **extra,
    }


def instance(nodes: list[dict], models: list[dict], apps: list[dict], types: list[dict] | None = None) -> Instance:
    return Instance.model_validate(
        {"accelerator_types": types or [NANO, CORAL], "nodes": nodes, "models": models, "applications": apps}
    )


def decisions(inst: Instance, method: str, **options: Any) -> list[dict[str, Any]]:
    result = solve(inst, method, {"options": {**options, "record_decisions": True}})
    assert result.status != Status.ERROR, result.message
    return result.stats["decisions"]


def test_recorded_instances_are_unchanged():
    """Each recording names the instance file it was made on; a changed instance needs a new recording."""
    assert len(RECORDED) == len(list((ROOT / "instances" / "seed").glob("*.json")))
    for path in RECORDED:
        doc = json.loads(path.read_text())
        digest = hashlib.sha256((ROOT / doc["instance"]).read_bytes()).hexdigest()
        assert digest == doc["instance_sha256"], f"{doc['instance']} changed: rerun benchmarks/ibis_fixtures.py"


@pytest.mark.parametrize(("path", "index"), RUNS, ids=[f"{p.stem}-{i}" for p, i in RUNS])
def test_reproduces_every_recorded_decision(path: Path, index: int):
    """Every decision of the authors' code on a seed workload: node, device kind, sharing, reasons to reject."""
    doc = json.loads(path.read_text())
    run = doc["runs"][index]
    inst = load(ROOT / doc["instance"])
    result = solve(
        inst, run["optplace"]["method"], {"options": {**run["optplace"]["options"], "record_decisions": True}}
    )
    assert result.status == Status.FEASIBLE, result.message
    assert result.stats["decisions"] == run["decisions"]
    assert result.stats["authors_hosted"] == run["hosted"]
    # What the placement holds: every decision for a device of the host's own kind.
    nodes = {a.application: a.node for a in result.assignments}
    right_kind = {d["application"]: d["node"] for d in run["decisions"] if d["node"] is not None}
    for name in result.stats.get("wrong_kind_hosts", []):
        right_kind.pop(name)
    assert nodes == right_kind


def test_forgetting_check_results_changes_no_decision(monkeypatch):
    """With room for one demand signature, every check is recomputed: the recorded decisions still follow."""
    monkeypatch.setattr(ibis, "MIN_KNOWN_SIGNATURES", 1)
    monkeypatch.setattr(ibis, "KNOWN_CHECKS", 1)
    doc = json.loads((DATA / "heterogeneous.json").read_text())
    inst = load(ROOT / doc["instance"])
    for run in doc["runs"]:
        options = {**run["optplace"]["options"], "record_decisions": True}
        assert solve(inst, run["optplace"]["method"], {"options": options}).stats["decisions"] == run["decisions"]


def test_occupancy_limit_rejects_resnet50_at_10_rps_on_an_empty_nano():
    """resnet50 (29.4 ms) alone at 10 req/s: R = 29.4 / (1 - 0.294) = 41.64 ms, front end 1000/(41.67 - 10) + 10

    = 41.58 ms, so 10 x 83.22 = 832 >= 800: rejected (frontend_load) though its 1 s SLO is met. At 9.5
    req/s: 9.5 x (40.79 + 41.09) = 778 < 800: hosted. optplace's own first_fit hosts both.
    """
    models = [{"name": "resnet50", "profiles": {"jetson-nano-gpu": RESNET50}}]
    for rate, hosted in ((10, False), (9.5, True)):
        inst = instance([node("nano1", "jetson-nano-gpu")], models, [application("cam", "resnet50", rate)], [NANO])
        (decision,) = decisions(inst, "ibis_first_fit")
        assert (decision["node"] is not None) == hosted
        if not hosted:
            assert decision["rejected"] == {"gpu": {"frontend_load": ["nano1"]}}
        assert solve(inst, "first_fit").hosted == 1


def test_depth_first_takes_nodes_in_name_order():
    """Node memory 1500 MB (1200 usable) holds one 965 MB backend plus a 50 MB front end; three models.

    The authors sort node names: nano1, nano10, nano2 (file order is nano1, nano2, nano10).
    """
    models = [{"name": m, "profiles": {"jetson-nano-gpu": RESNET50}} for m in ("m1", "m2", "m3")]
    nodes = [node(n, "jetson-nano-gpu", 1500) for n in ("nano1", "nano2", "nano10")]
    apps = [application(f"a{i}", f"m{i}", 1) for i in (1, 2, 3)]
    inst = instance(nodes, models, apps, [NANO])
    assert [d["node"] for d in decisions(inst, "ibis_first_fit")] == ["nano1", "nano10", "nano2"]


def edgetpu_app_at_10_rps() -> Instance:
    """efficientnet-L (42.18 ms, switch 17.53 ms) alone at 10 req/s, SLO 200 ms, on one Pi + edgeTPU.

    rho = 0.4218, W = 10 x 42.18^2 / (2 x 0.5782) / 1000 = 15.39 ms, R = 57.57 ms; front end
    1000/(50 - 10) + 10 = 35 ms: 10 x 92.57 = 926, not below 800 (threshold 0.8) but below 8000 (8).
    """
    models = [
        {
            "name": "efficientnet-L",
            "profiles": {"coral-edgetpu": {"service_time_ms": 42.18, "switch_overhead_ms": 17.53, "memory_mb": 100}},
        }
    ]
    apps = [application("cam", "efficientnet-L", 10, slo=200)]
    return instance([node("pi1", "coral-edgetpu")], models, apps, [CORAL])


def test_frontend_threshold_8_option():
    """The released edgeTPU file's ``08`` read as 8 lets the occupancy-limited application in."""
    inst = edgetpu_app_at_10_rps()
    (default,) = decisions(inst, "ibis_first_fit")
    assert default["rejected"] == {"tpu": {"frontend_load": ["pi1"]}}
    (quirk,) = decisions(inst, "ibis_first_fit", frontend_threshold_8=True)
    assert quirk == {"application": "cam", "node": "pi1", "device": "tpu", "shared": False}


def two_resnet50_apps_on_one_nano() -> Instance:
    """Two resnet50 applications at 6 req/s on one Nano, SLO 200 ms.

    Sharing: one class at 12 req/s, rho 0.353, R = 29.4 / 0.647 = 45.43 ms, front end (the newcomer's
    6 req/s) 1000/(41.67 - 6) + 10 = 38.04 ms: 12 x 83.47 = 1002 >= 800, rejected. As its own backend:
    two classes of 6 req/s, the same R: 6 x 83.47 = 501 < 800, feasible.
    """
    models = [{"name": "resnet50", "profiles": {"jetson-nano-gpu": RESNET50}}]
    apps = [application("a", "resnet50", 6, slo=200), application("b", "resnet50", 6, slo=200)]
    return instance([node("nano1", "jetson-nano-gpu")], models, apps, [NANO])


def test_gpu_share_anyway_option():
    """The GPU-only service's retry: b fails the sharing check, passes as its own backend, then shares."""
    inst = two_resnet50_apps_on_one_nano()
    assert decisions(inst, "ibis_first_fit")[1]["rejected"] == {"gpu": {"frontend_load": ["nano1"]}}
    shared = decisions(inst, "ibis_first_fit", gpu_share_anyway=True)[1]
    assert shared == {"application": "b", "node": "nano1", "device": "gpu", "shared": True}
    result = solve(inst, "ibis_breadth_first", {"options": {"gpu_share_anyway": True}})
    assert result.hosted == 2 and result.stats["quirks"] == ["gpu_share_anyway"]


def test_gpu_share_anyway_is_refused_on_mixed_clusters():
    """The mixed service has no such retry: asking for it there is an error that names the option."""
    result = solve(
        load(ROOT / "instances" / "seed" / "heter_toy.json"),
        "ibis_heterogeneous",
        {"options": {"gpu_share_anyway": True}},
    )
    assert result.status == Status.ERROR and "gpu_share_anyway" in result.message


def test_no_device_type_check_option():
    """A model with an edgeTPU profile only; the Pi's 150 MB (120 usable) cannot take 50 + 100 MB.

    With the authors' exclusions it is rejected on the Pi; without them their edgeTPU check accepts the
    Nano, which has no edgeTPU: not in the placement, listed in stats.wrong_kind_hosts.
    """
    models = [
        {
            "name": "mobilenet_v2",
            "profiles": {"coral-edgetpu": {"service_time_ms": 4.91, "switch_overhead_ms": 10.43, "memory_mb": 100}},
        }
    ]
    inst = instance(
        [node("nano1", "jetson-nano-gpu"), node("pi1", "coral-edgetpu", 150)],
        models,
        [application("cam", "mobilenet_v2", 5)],
    )
    (default,) = decisions(inst, "ibis_heterogeneous")
    assert default["rejected"] == {"tpu": {"memory": ["pi1"]}}
    result = solve(inst, "ibis_heterogeneous", {"options": {"no_device_type_check": True, "record_decisions": True}})
    assert result.stats["decisions"][0] == {"application": "cam", "node": "nano1", "device": "tpu", "shared": False}
    assert result.placement() == {} and result.stats["wrong_kind_hosts"] == ["cam"]


def test_pinned_applications_go_first():
    """b is pinned to the only Nano (room for one 965 MB backend): it is deployed before a, which stays out."""
    models = [{"name": m, "profiles": {"jetson-nano-gpu": RESNET50}} for m in ("m1", "m2")]
    apps = [application("a", "m1", 1), application("b", "m2", 1, current_accelerator="nano1-acc", pinned=True)]
    inst = instance([node("nano1", "jetson-nano-gpu", 1500)], models, apps, [NANO])
    assert solve(inst, "ibis_first_fit").placement() == {"b": "nano1-acc"}


def test_options_are_validated():
    """An unknown option, or a policy option on a method without policies, is rejected before the
    method runs, naming it (typed method options, issue 9)."""
    inst = edgetpu_app_at_10_rps()
    for method, options in (
        ("ibis_first_fit", {"frontend_threshold": 8}),
        ("ibis_first_fit", {"gpu_policy": "depth_first"}),
        ("ibis_heterogeneous", {"edgetpu_policy": "random"}),
    ):
        with pytest.raises(MethodOptionsError, match=f"options\\.{next(iter(options))}"):
            solve(inst, method, {"options": options})


# --- the authors' formulas ------------------------------------------------------------------------


def test_fcfs_one_class_is_md1():
    """One class: no switch, second moment s^2, so R = s (2 - rho) / (2 (1 - rho)) (M/D/1)."""
    (r,), (rho,) = ibis_model.fcfs_response_times([0.020], [15.0], [10.0])
    assert rho == pytest.approx(0.2) and r == pytest.approx(20 * 1.8 / 1.6)


def test_fcfs_squares_the_mean_service_time():
    """Two classes 10 + 10 req/s of 10 ms, switch 20 ms: s' = 10 + 0.5 x 20 = 20 ms each, rho = 0.4,

    E[S^2] taken as 20^2 = 400 (not E[(10 + B 20)^2] = 500): W = 20 x 400 / (2 x 0.6) / 1000 = 6.67 ms.
    """
    r, rho = ibis_model.fcfs_response_times([0.010, 0.010], [20.0, 20.0], [10.0, 10.0])
    assert sum(rho) == pytest.approx(0.4)
    assert r == pytest.approx([20 + 20 * 400 / 1.2 / 1000] * 2)


def test_ps_is_additive():
    """Additive PS: R_i = s_i + S/(1 - rho) - S, S the rate-weighted mean service time (Eq. 6/7).

    10 ms and 30 ms at 10 req/s each: S = 20 ms, rho = 0.4: R = s_i + 33.33 - 20.
    """
    r, rho = ibis_model.ps_response_times([0.010, 0.030], [10.0, 10.0])
    assert sum(rho) == pytest.approx(0.4)
    assert r == pytest.approx([10 + 20 / 0.6 - 20, 30 + 20 / 0.6 - 20])


def test_frontend_is_one_queue_per_application():
    """The front end: 1000 / (mu - lambda) ms over the application's own rate; infinite at mu = lambda."""
    rho, delay = ibis_model.frontend_delay(10.0, ibis_model.TPU_HOST_PREPROCESS_RATE)
    assert rho == pytest.approx(0.2) and delay == pytest.approx(1000 / 40)
    assert math.isinf(ibis_model.frontend_delay(50.0, 50.0)[1])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances(), quirks=st.sets(st.sampled_from(["frontend_threshold_8", "no_device_type_check"])))
def test_any_instance_gets_a_deterministic_placement_matching_its_decisions(inst, quirks):
    """Random instances (dedicated devices, several per node, device memory, labels, pins): no error, the same
    placement twice, and the placement is exactly the decisions made for a device of the host's kind."""
    options = {q: True for q in quirks} | {"record_decisions": True}
    for method in ("ibis_first_fit", "ibis_breadth_first", "ibis_heterogeneous"):
        first = solve(inst, method, {"options": options})
        assert first.status in (Status.FEASIBLE, Status.NO_SOLUTION_FOUND, Status.INFEASIBLE), first.message
        assert solve(inst, method, {"options": options}).placement() == first.placement()
        if first.status != Status.FEASIBLE:
            continue
        decided = {d["application"]: d["node"] for d in first.stats["decisions"] if d["node"] is not None}
        for name in first.stats.get("wrong_kind_hosts", []):
            decided.pop(name)
        assert {a.application: a.node for a in first.assignments} == decided
