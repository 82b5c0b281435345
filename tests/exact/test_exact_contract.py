"""Contract: every exact method and back-end reaches the known optimum of every tiny instance.

HiGHS runs as in production (search in a child process under the wall clock); CP-SAT and Pyomo
run in-process (``isolate: False``) so that the suite imports their solvers once rather than in
every child; one CP-SAT test runs isolated. The evaluator re-checks every result inside
``solve()``, which raises on any violation.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optplace.evaluate import evaluate
from optplace.formulations.assignment.build import build
from optplace.formulations.assignment.data import prepare
from optplace.isolation import run_isolated
from optplace.result import Status, StopReason
from optplace.solve import solve
from tests.conftest import TINY
from tests.exact.conftest import DATA, load_json

INSTANCES = [*TINY, *sorted(DATA.glob("*.json"))]
METHODS = ["milp_highs", "cpsat", "milp_pyomo"]


def params_for(method: str) -> dict:
    options = {"warm_start_methods": ["first_fit"]}
    if method != "milp_highs":
        options["isolate"] = False
    return {"time_limit_s": 30, "threads": 1, "options": options}


@pytest.mark.parametrize("path", INSTANCES, ids=[p.stem for p in INSTANCES])
@pytest.mark.parametrize("method", METHODS)
def test_known_optimum(method: str, path: Path):
    """Status, objective (every known lexicographic level) and the evaluator's verdict match."""
    instance = load_json(path)
    known = instance.provenance["known_optimum"]
    result = solve(instance, method, params_for(method))
    if known.get("status") == "infeasible":
        assert result.status == Status.INFEASIBLE
        assert result.assignments == []
        return
    assert result.status.has_solution, result.message
    primary = instance.objectives[0]
    assert result.objective == pytest.approx(known[primary.value])
    for objective in instance.objectives[1:]:
        if objective.value in known:
            assert result.objectives[objective.value] == pytest.approx(known[objective.value])
    assert evaluate(instance, result.placement()).feasible
    if result.bound is not None:
        assert (
            (result.bound >= result.objective - 1e-9) if primary.maximize else (result.bound <= result.objective + 1e-9)
        )
    if build(prepare(instance)).exact:
        assert result.status == Status.OPTIMAL
    assert result.solver_version


def test_cpsat_runs_isolated_too():
    """The CP-SAT back-end works under the child-process wall clock as well."""
    instance = load_json(Path(__file__).parents[2] / "instances" / "tiny" / "priority.json")
    result = solve(instance, "cpsat", {"time_limit_s": 30, "threads": 1})
    assert result.status == Status.OPTIMAL
    assert result.objective == pytest.approx(5.0)
    assert result.solver == "cpsat"
    assert result.stats["isolated"] is True


def test_infeasible_host_all_is_proven_by_the_model():
    """host_all that only fails jointly (each application fits alone) is proven infeasible."""
    instance = load_json(DATA / "host_all_capacity.json")
    result = solve(instance, "milp_highs", {"time_limit_s": 30, "threads": 1})
    assert result.status == Status.INFEASIBLE
    assert result.stop_reason == StopReason.COMPLETED


def _hard_instance():
    from optplace.generate import generate_instance

    return generate_instance("hetero", 60, None, 1)


def test_time_limit_returns_the_incumbent_with_bound_and_gap():
    """At the limit the best verified placement comes back as feasible, with its bound and gap."""
    result = solve(_hard_instance(), "milp_highs", {"time_limit_s": 2, "threads": 1})
    assert result.status.has_solution
    if result.status == Status.FEASIBLE:
        assert result.stop_reason == StopReason.TIME_LIMIT
        assert result.bound is not None and result.gap is not None
        assert result.bound >= result.objective
    assert result.hosted > 0


def test_a_solver_that_ignores_its_limit_is_killed(monkeypatch: pytest.MonkeyPatch):
    """With the search (and HiGHS) told it has 1000 s, optplace's wall clock kills it and keeps the incumbent."""
    from optplace.formulations.assignment import methods

    def overrunning(target, payload, **kwargs):
        return run_isolated(target, {**payload, "time_limit_s": 1000.0}, **kwargs)

    monkeypatch.setattr(methods, "run_isolated", overrunning)
    params = {"time_limit_s": 2, "threads": 1, "options": {"grace_s": 0.3, "relaxed_bound": False}}
    result = solve(_hard_instance(), "milp_highs", params)
    assert result.stats["killed"] or result.status == Status.OPTIMAL
    if result.stats["killed"]:
        assert result.status == Status.FEASIBLE
        assert result.stop_reason == StopReason.TIME_LIMIT
        assert result.hosted > 0
