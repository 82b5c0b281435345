"""The configuration method: exact set check, relaxed scenarios that cover every feasible set, valid bounds."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from optplace.domain import Instance, Objective
from optplace.evaluate import evaluate
from optplace.formulations.configuration.build import build
from optplace.formulations.configuration.pricing import EPS, Pricer, SetChecker, subproblems
from optplace.io import load_instance
from optplace.result import Status
from optplace.solve import solve

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"time_limit_s": 20, "threads": 1}


def tiny(seed: int, *, apps: int = 5, discipline: str = "fcfs", **settings) -> Instance:
    """Two accelerators of one type (or a PS + FCFS pair), a few models, mean or p95 SLOs, optional front end."""
    rng = np.random.default_rng(seed)
    types = [{"name": "x", "discipline": discipline}]
    if discipline == "mixed":
        types = [{"name": "x", "discipline": "ps"}, {"name": "y", "discipline": "fcfs"}]
    names = [t["name"] for t in types]
    nodes = [
        {
            "name": f"n{k}",
            "memory_mb": float(rng.choice([1500, 4000])),
            "preprocess_cores": 1.0,
            "accelerators": [{"name": f"acc{k}", "type": names[k % len(names)]}],
        }
        for k in range(2)
    ]
    models = [
        {
            "name": f"m{m}",
            "shareable": bool(rng.random() < 0.7),
            "profiles": {
                t: {
                    "service_time_ms": float(np.round(rng.uniform(4, 30), 2)),
                    "switch_overhead_ms": float(np.round(rng.uniform(0, 20), 2)),
                    "memory_mb": float(rng.choice([200, 600])),
                }
                for t in names
            },
        }
        for m in range(3)
    ]
    applications = [
        {
            "name": f"a{i}",
            "model": f"m{int(rng.integers(0, 3))}",
            "rate_rps": float(rng.choice([3, 6, 10, 15])),
            "slo": {"latency_ms": float(rng.choice([50, 80, 120])), "statistic": str(rng.choice(["mean", "p95"]))},
            "priority": float(rng.integers(1, 3)),
            "preprocess_ms": float(rng.choice([0.0, 6.0])),
            "frontend_memory_mb": 100.0,
        }
        for i in range(apps)
    ]
    return Instance.model_validate(
        {
            "name": f"tiny-{seed}",
            "settings": {"network_delay_ms": 2.0, **settings},
            "accelerator_types": types,
            "nodes": nodes,
            "models": models,
            "applications": applications,
            "objectives": ["max_hosted", "min_accelerators"],
        }
    )


def brute_force_best(instance: Instance) -> float:
    """The best primary objective over every placement the evaluator accepts.

    Every accelerator with a profile is tried, not only those feasible alone: under the additive PS
    model an application that misses its SLO alone can meet it beside faster ones.
    """
    models = instance.model_map()
    names = [a.name for a in instance.applications]
    options = [
        [None, *(acc.name for _, acc in instance.accelerators() if acc.type in models[a.model].profiles)]
        for a in instance.applications
    ]
    primary = instance.objectives[0]
    best = -math.inf
    for combo in itertools.product(*options):
        placement = {n: acc for n, acc in zip(names, combo) if acc is not None}
        if instance.host_all and len(placement) < len(names):
            continue
        report = evaluate(instance, placement)
        if report.feasible:
            value = report.objectives[primary.value]
            best = max(best, value if primary.maximize else -value)
    return best if primary.maximize else -best


CASES = [
    pytest.param(seed, discipline, variant, id=f"{discipline}-{variant}-{seed}")
    for seed in range(4)
    for discipline, variant in [("fcfs", "exact"), ("ps", "exact"), ("ps", "additive"), ("mixed", "exact")]
]


@pytest.mark.parametrize(("seed", "discipline", "variant"), CASES)
def test_bound_is_valid_and_optimal_status_is_true(seed, discipline, variant):
    """Against brute force: the bound is never below the optimum, and 'optimal' means optimal."""
    _assert_bound_valid_and_optimal_true(tiny(seed, discipline=discipline, ps_model=variant))


def _assert_bound_valid_and_optimal_true(instance) -> None:
    best = brute_force_best(instance)
    result = solve(instance, "configuration", PARAMS)
    assert result.status.has_solution
    assert result.objective <= best + 1e-9
    assert result.bound is not None and result.bound >= best - 1e-9
    if result.status == Status.OPTIMAL:
        assert result.objective == pytest.approx(best)


@pytest.mark.parametrize("seed", range(3))
def test_set_checker_agrees_with_the_evaluator(seed):
    """A set is feasible for the checker exactly when the evaluator accepts it alone on an accelerator."""
    instance = tiny(seed, apps=6, discipline="fcfs")
    model = build(instance)
    for cls in model.classes:
        checker = SetChecker(cls)
        accelerator = cls.accelerators[0]
        for size in range(1, min(4, cls.size) + 1):
            for items in itertools.combinations(range(cls.size), size):
                placement = {model.app_names[int(cls.apps[i])]: accelerator for i in items}
                assert checker.feasible(items) == evaluate(instance, placement).feasible, items


def covered(pricer: Pricer, items: tuple[int, ...]) -> bool:
    """Some scenario (and threshold) admits the set: the rows of its tightest member hold."""
    cls = pricer.cls
    profit = np.ones(cls.size)
    for scenario in pricer.scenarios:
        if not set(items) <= set(scenario.order.tolist()):
            continue
        members = [i for i in scenario.order.tolist() if i in items]
        for sub in subproblems(scenario, profit, scenario.order):
            group = set(sub.candidates.tolist()) | ({sub.forced} if sub.forced is not None else set())
            if sub.forced is not None and sub.forced != members[0]:
                continue
            if not set(items) <= group:
                continue
            rows, caps = sub.rows()
            index = list(items)
            rows_hold = all(float(row[index].sum()) <= cap + EPS for row, cap in zip(rows, caps))
            if rows_hold and (scenario.final is None or float(scenario.final[index].sum()) <= 1e-9):
                return True
    return False


@pytest.mark.parametrize("family", ["hetero", "edgetpu", "percentile"])
def test_scenarios_cover_every_feasible_set(family):
    """Every exactly feasible set sampled at random satisfies the rows of some scenario (the relaxation is valid)."""
    from optplace.generate import generate_instance

    instance = generate_instance(family, 24, 2, seed=3)
    rng = np.random.default_rng(0)
    for cls in build(instance).classes:
        pricer = Pricer(cls)
        checked = 0
        for _ in range(400):
            size = int(rng.integers(1, 7))
            items = tuple(sorted(rng.choice(cls.size, size=min(size, cls.size), replace=False).tolist()))
            if pricer.checker.feasible(items):
                checked += 1
                assert covered(pricer, items), (cls.type_name, items)
        assert checked > 0


def test_pricing_finds_the_best_feasible_set():
    """The exact pricing maximum is at least the best feasible set found by enumeration."""
    instance = tiny(7, apps=7, discipline="ps")
    rng = np.random.default_rng(1)
    for cls in build(instance).classes:
        pricer = Pricer(cls)
        profit = rng.uniform(-0.5, 1.5, cls.size)
        result = pricer.price(profit, np.zeros(len(cls.group_memory_mb)), 0.0)
        best = 0.0
        for size in range(1, cls.size + 1):
            for items in itertools.combinations(range(cls.size), size):
                if pricer.checker.feasible(items):
                    best = max(best, float(profit[list(items)].sum()))
        assert result.complete
        assert (result.best if math.isfinite(result.best) else 0.0) >= best - 1e-9


def test_tiny_processor_sharing_instance_is_solved_to_optimality():
    """Two GPUs, three apps that cannot share: optimum 2 hosted, proven."""
    result = solve(load_instance(ROOT / "instances" / "tiny" / "ps_one_per_gpu.json"), "configuration", PARAMS)
    assert result.status == Status.OPTIMAL
    assert result.objective == 2 and result.bound == 2


def test_min_accelerators_without_host_all_is_refused_clearly():
    """A minimised primary objective without host_all is an error with a message, never a wrong bound."""
    instance = tiny(1).model_copy(update={"objectives": [Objective.MIN_ACCELERATORS]})
    result = solve(instance, "configuration", PARAMS)
    assert result.status == Status.ERROR
    assert "host_all" in result.message and result.bound is None


def test_host_all_min_cost_is_solved():
    """Host every application at least cost (GAP-like): optimal and equal to brute force."""
    instance = tiny(2, apps=4, discipline="ps").model_copy(
        update={"host_all": True, "objectives": [Objective.MIN_ACCELERATORS]}
    )
    best = brute_force_best(instance)
    result = solve(instance, "configuration", PARAMS)
    if math.isinf(best):
        assert result.status in (Status.INFEASIBLE, Status.NO_SOLUTION_FOUND)
    else:
        assert result.status == Status.OPTIMAL and result.objective == best


def test_infeasible_host_all_is_not_a_placement():
    """Three apps that each need most of the only accelerator: no placement hosts all of them."""
    instance = tiny(0, apps=3, discipline="ps").model_copy(update={"host_all": True})
    doc = instance.model_dump()
    doc["nodes"] = doc["nodes"][:1]
    for app in doc["applications"]:
        app["rate_rps"] = 20.0
        app["model"] = "m0"
        app["slo"] = {"latency_ms": 500.0, "statistic": "mean"}
    doc["models"][0]["profiles"]["x"]["service_time_ms"] = 30.0
    instance = Instance.model_validate(doc)
    result = solve(instance, "configuration", PARAMS)
    assert result.status in (Status.INFEASIBLE, Status.NO_SOLUTION_FOUND)
    assert not result.assignments


@pytest.mark.parametrize("seed", range(12))
def test_extensions_keep_the_bound_valid_and_the_check_exact(seed):
    """Co-compilation, occupancy limits, max_backends and switch variants: the bound is never below the brute-force
    optimum, 'optimal' is optimal, and every set the checker accepts is accepted by the evaluator (and vice versa)."""
    from tests.exact.conftest import random_instance

    instance = random_instance(seed, n_apps=4, extensions=True)
    _assert_bound_valid_and_optimal_true(instance)
    model = build(instance)
    for cls in model.classes:
        if cls.node is not None:
            continue  # a node shared with another accelerator: the checker looks at one accelerator alone
        checker = SetChecker(cls)
        for size in range(1, cls.size + 1):
            for items in itertools.combinations(range(cls.size), size):
                placement = {model.app_names[int(cls.apps[i])]: cls.accelerators[0] for i in items}
                assert checker.feasible(items) == evaluate(instance, placement).feasible, (cls.type_name, placement)
