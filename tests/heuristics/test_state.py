"""ClusterState: the incremental probe agrees with the independent evaluator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optplace import cluster_state as state_module
from optplace import latency
from optplace.cluster_state import ClusterState
from optplace.domain import Instance
from optplace.evaluate import ViolationCode, evaluate
from tests.heuristics.strategies import instances

# Codes that a partial placement carries by construction, not because of the probed move.
_PARTIAL = {ViolationCode.NOT_HOSTED}


def _feasible_partial(instance: Instance, placement: dict[str, str]) -> bool:
    evaluation = evaluate(instance, placement)
    for v in evaluation.violations:
        if v.code in _PARTIAL:
            continue
        if v.code == ViolationCode.PINNED_MOVED and v.accelerator is None:
            continue  # an unplaced pinned app: the probe places pins later, not a placement error
        return False
    return True


def _probe_loosely(state: ClusterState, a: int, d: int, tolerance: float) -> bool:
    saved = state_module.TOLERANCE
    state_module.TOLERANCE = tolerance
    try:
        return state.can_place(a, d)
    finally:
        state_module.TOLERANCE = saved


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances(), data=st.data())
def test_probe_matches_evaluator(instance, data):
    """can_place says yes exactly when the evaluator accepts the placement with the app added."""
    state = ClusterState(instance)
    pairs = [(a, d) for a in range(state.n_apps) for d in range(state.n_accs)]
    order = data.draw(st.permutations(pairs))
    for a, d in order[:40]:
        if state.assignment[a] >= 0:
            continue
        probe = state.can_place(a, d)
        trial = {**state.placement(), state.app_names[a]: state.acc_names[d]}
        truth = _feasible_partial(instance, trial)
        if probe:
            assert truth, f"probe accepted {state.app_names[a]} on {state.acc_names[d]}, evaluator rejects"
            state.place(a, d)
        elif truth:
            # Only inside the tolerance band the probe keeps tighter than the evaluator's.
            assert _probe_loosely(state, a, d, 1e-7), f"probe rejected a clear fit: {trial}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances(), data=st.data())
def test_remove_restores_the_state(instance, data):
    """Placing then removing leaves aggregates, memory and objective totals as they were."""
    state = ClusterState(instance)
    placed = []
    for a in range(state.n_apps):
        for d in range(state.n_accs):
            if state.can_place(a, d):
                state.place(a, d)
                placed.append(a)
                break
    before = (list(state.util), list(state.node_mem), list(state.dev_mem), state.objective_key())
    for a in data.draw(st.permutations(placed)):
        d = state.remove(a)
        state.place(a, d)
    after = (list(state.util), list(state.node_mem), list(state.dev_mem), state.objective_key())
    assert np.allclose(before[0], after[0], rtol=1e-12, atol=1e-15)
    assert np.allclose(before[1], after[1]) and np.allclose(before[2], after[2])
    assert np.allclose(before[3], after[3])
    values = evaluate(instance, state.placement()).objectives
    for objective, value in state.objective_values().items():
        assert value == pytest.approx(values[objective.value])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instance=instances())
def test_utilization_after_is_exact(instance):
    """The vectorised utilisation-after-join equals the evaluator's (a lower bound on co-compiling types)."""
    state = ClusterState(instance)
    cocompiling = {g.accelerator_type for g in instance.cocompilation_groups}
    for a in range(state.n_apps):
        rho = state.utilization_after(a)
        for d in range(state.n_accs):
            if not state.compatible(a, d):
                continue
            placement = {**state.placement(), state.app_names[a]: state.acc_names[d]}
            report = next(r for r in evaluate(instance, placement).accelerators if r.accelerator == state.acc_names[d])
            if report.type in cocompiling:  # least overheads: never above the option the evaluator reports
                assert rho[d] <= report.utilization * (1 + 1e-9) + 1e-12
            else:
                assert rho[d] == pytest.approx(report.utilization, rel=1e-9, abs=1e-12)
        cands = state.candidates(a)
        fits = [d for d in cands if state.can_place(a, int(d))]
        if fits:
            state.place(a, int(fits[0]))


@given(
    q=st.sampled_from([0.5, 0.9, 0.95, 0.99, 0.999]),
    rates=st.lists(st.floats(0.5, 30), min_size=1, max_size=4),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_probe_tail_check_agrees_with_the_evaluators_quantile(q, rates, data):
    """One tail evaluation at a budget (the probe) answers 'quantile <= budget' (the evaluator) alike."""
    n = len(rates)
    service = data.draw(st.lists(st.floats(0.5, 40), min_size=n, max_size=n))
    switch = data.draw(st.lists(st.sampled_from([0.0, 5.0, 12.5, 25.0]), min_size=n, max_size=n))
    queue = latency.switch_queue(rates, service, 0.0, switch)
    if not queue.stable:
        return
    for i in range(n):
        value = queue.quantile(i, q)
        assert queue.within(i, q, value * (1.0 + 1e-12))
        assert not queue.within(i, q, value * (1.0 - 1e-9)) or value <= service[i] * (1.0 + 1e-12)


def test_probe_rejects_each_limit():
    """Memory, the cap, the dedicated rule and the SLO each stop a join on their own."""
    doc = {
        "accelerator_types": [{"name": "gpu", "discipline": "ps"}, {"name": "ded", "discipline": "dedicated"}],
        "nodes": [
            {
                "name": "n1",
                "memory_mb": 1000,
                "accelerators": [{"name": "g", "type": "gpu"}, {"name": "x", "type": "ded"}],
            }
        ],
        "models": [
            {
                "name": "big",
                "profiles": {"gpu": {"service_time_ms": 10, "memory_mb": 500}, "ded": {"service_time_ms": 10}},
            },
            {
                "name": "fast",
                "profiles": {"gpu": {"service_time_ms": 10, "memory_mb": 100}, "ded": {"service_time_ms": 10}},
            },
        ],
        "applications": [
            {"name": "b1", "model": "big", "rate_rps": 1, "slo": {"latency_ms": 1000}},
            {"name": "b2", "model": "big", "rate_rps": 1, "slo": {"latency_ms": 1000}, "frontend_memory_mb": 400},
            {"name": "f1", "model": "fast", "rate_rps": 70, "slo": {"latency_ms": 1000}},
            {"name": "f2", "model": "fast", "rate_rps": 1, "slo": {"latency_ms": 10.5}},
        ],
    }
    state = ClusterState(Instance.model_validate(doc))
    b1, b2, f1, f2 = range(4)
    g, x = state.acc_index["g"], state.acc_index["x"]
    state.place(b1, g)  # 500 MB of the 800 MB usable, rho 0.01
    assert not state.can_place(b2, g)  # shares the backend, but 400 MB front end > 300 MB left
    assert state.can_place(f1, g)  # rho 0.01 + 0.7 = 0.71 <= 0.8
    state.place(f1, g)
    assert not state.can_place(f2, g)  # rho 0.72: R = 10 / 0.28 = 35.7 ms > 10.5 ms
    state.place(f2, x)  # alone on the dedicated device: M/D/1 R = 10 * 1.99 / 1.98 = 10.05 ms
    assert not state.can_place(b2, x)  # a second backend on a dedicated device
    assert math.isclose(state.util[g], 0.71)  # f2 went to the dedicated device, not g


def _tiny(name: str) -> Instance:
    from tests.conftest import INSTANCES, load

    return load(INSTANCES / "tiny" / f"{name}.json")


def test_probe_accepts_a_pair_only_its_cocompilation_group_makes_fit():
    """a1 + b1 meet 25 ms only co-compiled (12.6 vs 28.3 ms): the probe says yes with the group, no without."""
    for groups, expected in ((None, True), ([], False)):
        instance = _tiny("cocompile")
        if groups is not None:
            instance = instance.model_copy(update={"cocompilation_groups": groups})
        state = ClusterState(instance)
        a1, b1, c1 = state.app_index["a1"], state.app_index["b1"], state.app_index["c1"]
        tpu1 = state.acc_index["tpu1"]
        state.place(a1, tpu1)
        assert state.can_place(b1, tpu1) is expected
        assert not state.can_place(c1, tpu1)  # C is no member: compiled apart, 28.3 ms


def test_probe_refuses_a_backend_past_max_backends_but_lets_a_shared_one_join():
    """With m1 and m2 open on a GPU allowed two backends, m3 is refused and a second m1 application joins."""
    state = ClusterState(_tiny("max_backends"))
    gpu = state.acc_index["gpu1"]
    state.place(state.app_index["a"], gpu)
    state.place(state.app_index["c"], gpu)
    d = state.app_index["d"]
    assert not state.can_place(d, gpu) and not state.fits_memory(d, gpu)
    assert gpu not in state.candidates(d) and gpu not in state.memory_candidates(d)
    assert state.can_place(state.app_index["b"], gpu)


def test_probe_refuses_what_the_occupancy_limit_forbids():
    """a (one outstanding request, 12 req/s) may not share the GPU with c: 1.18 requests in flight > 0.8."""
    state = ClusterState(_tiny("frontend_occupancy"))
    gpu = state.acc_index["gpu1"]
    state.place(state.app_index["c"], gpu)
    assert not state.can_place(state.app_index["a"], gpu)
    assert state.can_place(state.app_index["d"], gpu)  # d's own limit (160 ms at 5 req/s) holds


def test_probe_follows_the_switch_variance():
    """Under the seed's formula a1 and b1 share the edgeTPU (26.67 ms <= 27); under the exact queue they do not."""
    instance = _tiny("switch_variance_seed")
    for variance, expected in (("seed", True), ("bernoulli", False), ("dependent", False)):
        varied = instance.model_copy(
            update={"settings": instance.settings.model_copy(update={"switch_variance": variance})}
        )
        state = ClusterState(varied)
        state.place(0, 0)
        assert state.can_place(1, 0) is expected, variance
