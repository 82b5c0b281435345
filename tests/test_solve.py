"""solve(): one entry point that verifies every placement and reports status, bound and gap."""

from __future__ import annotations

import subprocess
import sys

import pytest

from optplace import PlacementVerificationError, SolveParams, Status, solve
from optplace.registry import _METHODS, MethodOutput, register
from optplace.result import StopReason, UnplacedReason, relative_gap
from tests.conftest import INSTANCES, load


@pytest.fixture
def temporary_method():
    """Register a throwaway method for one test and remove it afterwards."""
    names = []

    def add(name, function, **kwargs):
        register(name, "test-only", kwargs.pop("kind", "heuristic"), **kwargs)(function)
        names.append(name)

    yield add
    for name in names:
        _METHODS.pop(name, None)


def test_first_fit_result_shape():
    """A solve returns status, objective, trivial bound, gap, assignments and unplaced reasons."""
    result = solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "first_fit")
    assert result.status == Status.FEASIBLE and result.stop_reason == StopReason.COMPLETED
    assert result.objective == 2 and result.bound == 3 and result.gap == pytest.approx(0.5)
    assert [a.application for a in result.assignments] == ["a1", "a2"]
    assert result.unplaced[0].reason == UnplacedReason.INSUFFICIENT_CAPACITY
    assert result.input_hash and result.optplace_version and result.method == "first_fit"
    assert all(a.meets_slo for a in result.assignments)


def test_hosting_everything_feasible_is_proven_optimal():
    """When every application that fits alone is hosted, max_hosted is proven optimal."""
    result = solve(load(INSTANCES / "seed" / "gpu_workload1.json"), "first_fit")
    assert result.status == Status.OPTIMAL and result.gap == 0


def test_infeasible_host_all_is_a_result_not_an_error():
    """host_all with an app that fits nowhere returns status infeasible, no bound, reasons per app."""
    result = solve(load(INSTANCES / "tiny" / "infeasible_host_all.json"), "first_fit")
    assert result.status == Status.INFEASIBLE
    assert result.objective is None and result.bound is None and result.gap is None
    reasons = {u.application: u.reason for u in result.unplaced}
    assert reasons["slow"] == UnplacedReason.CANNOT_MEET_SLO_ALONE


def test_a_violating_placement_never_ships(temporary_method):
    """A method that returns an SLO-violating placement makes solve raise, not return."""
    temporary_method(
        "overloader", lambda inst, params: MethodOutput(placement={a.name: "gpu1" for a in inst.applications})
    )
    with pytest.raises(PlacementVerificationError, match="slo_violated"):
        solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "overloader")


def test_a_declared_baseline_reports_its_violations(temporary_method):
    """Latency-blind baselines may violate SLOs, and the result says so explicitly."""
    temporary_method(
        "blind",
        lambda inst, params: MethodOutput(placement={a.name: "gpu1" for a in inst.applications}),
        kind="baseline",
        may_violate_slo=True,
    )
    result = solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "blind")
    assert result.violates_slo and result.hosted == 3 and result.hosted_without_violation == 0
    assert {v.code for v in result.violations} == {"slo_violated"}


def test_a_crashing_method_raises_with_its_traceback(temporary_method):
    """A programming error inside a method propagates with its traceback, never as a status."""

    def broken(inst, params):
        raise RuntimeError("solver exploded")

    temporary_method("broken", broken)
    with pytest.raises(RuntimeError, match="solver exploded") as caught:
        solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "broken")
    assert any(frame.name == "broken" for frame in caught.traceback)


def test_unknown_method_is_misuse():
    """Asking for a method that does not exist raises with the list of known ones."""
    with pytest.raises(ValueError, match=r"known methods: .*first_fit"):
        solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "simulated_annealing_9000")


def test_params_override_objectives_and_are_recorded():
    """params.objectives replaces the instance's objectives; params are echoed in the result."""
    result = solve(
        load(INSTANCES / "tiny" / "ps_one_per_gpu.json"),
        "first_fit",
        SolveParams(objectives=["min_accelerators"], seed=7),
    )
    assert result.objective_name == "min_accelerators" and result.objective == 2
    assert result.seed == 7 and result.params["objectives"] == ["min_accelerators"]


def test_accepts_a_plain_dict():
    """solve() validates a JSON-like dict into an Instance."""
    doc = load(INSTANCES / "tiny" / "ps_one_per_gpu.json").model_dump(mode="json")
    assert solve(doc, "first_fit").objective == 2


def test_input_hash_is_stable_and_content_based():
    """The input hash depends on the content only."""
    a = solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "first_fit").input_hash
    b = solve(load(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "first_fit").input_hash
    c = solve(load(INSTANCES / "tiny" / "priority.json"), "first_fit").input_hash
    assert a == b != c


def test_gap_definition():
    """gap = |bound - objective| / max(|objective|, 1); None when either is unknown."""
    assert relative_gap(8, 10) == pytest.approx(0.25)
    assert relative_gap(0, 3) == 3
    assert relative_gap(None, 3) is None and relative_gap(3, None) is None


def test_import_loads_no_solver():
    """import optplace (and solving with a heuristic) imports no MILP/CP solver."""
    code = (
        "import sys, optplace; from optplace.registry import list_methods; list_methods(); "
        "optplace.solve(optplace.Instance.model_validate_json(open('instances/tiny/priority.json').read()), 'first_fit'); "
        "print([m for m in sys.modules if m.split('.')[0] in ('highspy', 'pyomo', 'ortools')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=INSTANCES.parent)
    assert out.stdout.strip() == "[]"


def test_alone_check_proves_nothing_under_the_additive_ps_model():
    """Under the seed's additive PS formula a fast neighbour lowers latency, so missing the SLO alone is no proof."""
    from optplace.diagnose import check_alone
    from optplace.domain import Instance

    doc = {
        "accelerator_types": [{"name": "gpu", "discipline": "ps"}],
        "nodes": [{"name": "n", "memory_mb": 8000, "accelerators": [{"name": "g", "type": "gpu"}]}],
        "models": [
            {"name": "big", "profiles": {"gpu": {"service_time_ms": 100}}},
            {"name": "tiny", "profiles": {"gpu": {"service_time_ms": 1}}},
        ],
        # big alone: rho 0.2, R = 125 > 120. Beside tiny (100 req/s): additive R = 101.3 <= 120.
        "applications": [
            {"name": "A", "model": "big", "rate_rps": 2, "slo": {"latency_ms": 120}},
            {"name": "B", "model": "tiny", "rate_rps": 100, "slo": {"latency_ms": 120}},
        ],
    }
    exact = Instance.model_validate(doc)
    additive = Instance.model_validate({**doc, "settings": {"ps_model": "additive"}})
    assert check_alone(exact)["A"].candidate_accelerators == []
    assert check_alone(additive)["A"].candidate_accelerators == ["g"]
    assert check_alone(additive)["A"].feasible_accelerators == []  # alone it does miss: 125 > 120
    assert solve(additive, "first_fit").bound == 2  # the trivial bound no longer excludes A


def test_assignments_name_the_cocompiled_binary_to_deploy():
    """A result says which co-compilation group each application's edgeTPU runs (None: compiled apart)."""
    result = solve(load(INSTANCES / "tiny" / "cocompile.json"), "first_fit")
    groups = {a.application: a.cocompilation_group for a in result.assignments}
    assert groups == {"a1": "ab", "b1": "ab", "c1": None, "c2": None}
