"""Exact pricing over relaxed scenarios (switch overhead, front end, percentiles) against brute force."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optplace.domain import Instance
from optplace.evaluate import evaluate
from optplace.formulations.configuration.build import build
from optplace.formulations.configuration.pricing import Pricer
from optplace.io import load_instance
from optplace.solve import solve
from tests.exact.test_configuration import brute_force_best, tiny

ROOT = Path(__file__).resolve().parents[2]
PROFITS = (-0.5, 0.0, 0.0, 0.5, 1.0, 1.5)  # zero and negative profits: sets that only their items make feasible


def brute_force_pricing(pricer: Pricer, profit: np.ndarray, floor: float) -> float:
    """The largest value over every exactly feasible nonempty set, -inf if none beats ``floor``."""
    zero = np.zeros(len(pricer.cls.group_memory_mb))
    best = -math.inf
    for size in range(1, pricer.cls.size + 1):
        for items in itertools.combinations(range(pricer.cls.size), size):
            if pricer.checker.feasible(items):
                best = max(best, pricer.set_value(items, profit, zero))
    return best if best > floor + 1e-9 else -math.inf


def check_pricing_against_brute_force(instance: Instance, picks: list[int]) -> None:
    """Per class: exact pricing = brute force (its columns exactly feasible, valued right) <= relaxed pricing."""
    for cls in build(instance).classes:
        pricer = Pricer(cls)
        profit = np.array([PROFITS[p] for p in picks[: cls.size]])
        zero = np.zeros(len(cls.group_memory_mb))
        truth = brute_force_pricing(pricer, profit, 0.0)
        exact = pricer.price_exactly(profit, zero, 0.0, [], limit=1_000_000)
        assert exact is not None and exact.exact
        assert exact.best == truth or math.isclose(exact.best, truth, abs_tol=1e-9)
        for value, items in exact.columns:
            assert pricer.checker.feasible(items)
            assert math.isclose(value, pricer.set_value(items, profit, zero), abs_tol=1e-9)
        relaxed = pricer.price(profit, zero, 0.0)
        assert relaxed.complete
        assert (relaxed.best if math.isfinite(relaxed.best) else 0.0) >= (truth if math.isfinite(truth) else 0.0) - 1e-9


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    picks=st.lists(st.integers(0, len(PROFITS) - 1), min_size=7, max_size=7),
    switch_heavy=st.booleans(),
)
def test_exact_pricing_equals_brute_force_and_relaxed_pricing_bounds_it(seed, picks, switch_heavy):
    """FCFS with switch overhead, mean and p95 SLOs, front end: exact pricing = brute force <= relaxed pricing."""
    instance = tiny(seed, apps=7, discipline="fcfs")
    if switch_heavy:  # switches as long as services: the share of each model decides feasibility
        data = instance.model_dump(mode="json", exclude_none=True)
        for model in data["models"]:
            for profile in model["profiles"].values():
                profile["switch_overhead_ms"] = round(2.0 * profile["service_time_ms"], 2)
        instance = type(instance).model_validate(data)
    check_pricing_against_brute_force(instance, picks)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), p95=st.booleans())
def test_configuration_bound_is_at_least_the_brute_force_optimum_on_edgetpu_mixes(seed, p95):
    """FCFS edgeTPU mixes with switch overhead (mean or percentile SLOs): bound >= optimum, placement verified."""
    instance = tiny(seed, apps=5, discipline="fcfs")
    if p95:
        data = instance.model_dump(mode="json", exclude_none=True)
        for app in data["applications"]:
            app["slo"]["statistic"] = "p95"
        instance = type(instance).model_validate(data)
    best = brute_force_best(instance)
    result = solve(instance, "configuration", {"time_limit_s": 10, "threads": 1})
    assert result.status.has_solution
    assert evaluate(instance, result.placement()).feasible
    assert result.objective <= best + 1e-9
    assert result.bound is not None and result.bound >= best - 1e-9


def test_exact_pricing_lets_column_generation_converge_with_switch_overhead():
    """On an edgeTPU instance whose scenarios are relaxations, column generation ends converged, not stalled."""
    from optplace.generate import generate_instance

    instance = generate_instance("edgetpu", 16, 2, seed=5)
    result = solve(instance, "configuration", {"time_limit_s": 20, "threads": 1})
    assert result.stats["converged"] is True
    assert result.stats["exact_pricing"] is True
    assert result.bound is not None and result.objective <= result.bound


def switch_dominated() -> Instance:
    """One edgeTPU; model A switches in 60 ms, B in 1 ms; a1, a2 run A and b1 runs B, 10 rps each, 40 ms mean SLOs."""
    return Instance.model_validate(
        {
            "name": "switch-dominated",
            "settings": {"network_delay_ms": 0.0},
            "accelerator_types": [{"name": "tpu", "discipline": "fcfs"}],
            "nodes": [{"name": "n", "memory_mb": 4000, "accelerators": [{"name": "tpu0", "type": "tpu"}]}],
            "models": [
                {
                    "name": "A",
                    "profiles": {"tpu": {"service_time_ms": 1.0, "switch_overhead_ms": 60.0, "memory_mb": 10}},
                },
                {
                    "name": "B",
                    "profiles": {"tpu": {"service_time_ms": 1.0, "switch_overhead_ms": 1.0, "memory_mb": 10}},
                },
            ],
            "applications": [
                {"name": name, "model": model, "rate_rps": 10.0, "slo": {"latency_ms": 40.0}, "frontend_memory_mb": 0}
                for name, model in (("a1", "A"), ("a2", "A"), ("b1", "B"))
            ],
        }
    )


def test_exact_pricing_finds_sets_whose_subsets_are_infeasible():
    """{a1, b1} misses A's SLO (A switches half the time) but {a1, a2, b1} meets it: a2 at zero profit must be found."""
    instance = switch_dominated()
    assert not evaluate(instance, {"a1": "tpu0", "b1": "tpu0"}).feasible
    assert evaluate(instance, {"a1": "tpu0", "a2": "tpu0", "b1": "tpu0"}).feasible
    (cls,) = build(instance).classes
    pricer = Pricer(cls)
    names = [instance.applications[int(j)].name for j in cls.apps]
    profit = np.array([{"a1": 1.0, "a2": 0.0, "b1": 1.0}[n] for n in names])
    zero = np.zeros(len(cls.group_memory_mb))
    exact = pricer.price_exactly(profit, zero, 0.0, [], limit=1000)
    assert exact is not None and exact.best == 2.0
    assert {names[i] for i in exact.columns[0][1]} == {"a1", "a2", "b1"}
    assert pricer.price(profit, zero, 0.0).best >= 2.0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), picks=st.lists(st.integers(0, len(PROFITS) - 1), min_size=8, max_size=8))
def test_pricing_over_identical_applications_matches_brute_force(seed, picks):
    """Pairs of identical applications (searched as types, canonical sets only): relaxed >= exact = brute force."""
    data = tiny(seed, apps=4, discipline="fcfs").model_dump(mode="json", exclude_none=True)
    data["applications"] += [{**app, "name": f"{app['name']}-twin"} for app in data["applications"]]
    check_pricing_against_brute_force(Instance.model_validate(data), picks)


EXTENSIONS = ["cocompile", "frontend_occupancy", "max_backends", "switch_variance_seed"]


@pytest.mark.parametrize("name", EXTENSIONS)
@pytest.mark.parametrize("picks", [(4, 4, 4, 4), (1, 3, 5, 2), (0, 5, 1, 4)])
def test_exact_pricing_covers_the_domain_extensions(name, picks):
    """Co-compilation groups, occupancy limits, max_backends, switch variants: exact pricing = brute force."""
    instance = load_instance(ROOT / "instances" / "tiny" / f"{name}.json")
    check_pricing_against_brute_force(instance, list(picks))


@pytest.mark.parametrize("name", EXTENSIONS)
def test_configuration_bound_is_valid_on_the_domain_extensions(name):
    """On the extension instances: bound >= brute-force optimum, placement verified."""
    instance = load_instance(ROOT / "instances" / "tiny" / f"{name}.json")
    best = brute_force_best(instance)
    result = solve(instance, "configuration", {"time_limit_s": 10, "threads": 1})
    assert evaluate(instance, result.placement()).feasible
    assert result.bound is not None and result.bound >= best - 1e-9
