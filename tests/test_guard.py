"""verify="simulate": the simulation guard's verdicts, through the library, the CLI and its bounds."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from optplace import SolveParams, solve
from optplace.cli import main
from optplace.domain import Instance
from optplace.simulation import Estimate, Verdict, check_by_simulation, judge


def md1_instance(tight_slo_ms: float = 13.0) -> Instance:
    """Two FCFS devices, each M/D/1 at rho 0.5 with s = 10 ms (mean response 15 ms).

    ``tight`` states a mean SLO below 15 ms, which the analytic model rejects too, so only a
    latency-blind baseline places it; ``loose`` has room to spare.
    """
    return Instance.model_validate(
        {
            "name": "md1",
            "settings": {"network_delay_ms": 0.0},
            "accelerator_types": [{"name": "tpu", "discipline": "fcfs"}],
            "nodes": [
                {"name": "n1", "memory_mb": 4096, "accelerators": [{"name": "tpu1", "type": "tpu"}]},
                {"name": "n2", "memory_mb": 4096, "accelerators": [{"name": "tpu2", "type": "tpu"}]},
            ],
            "models": [
                {"name": "m1", "profiles": {"tpu": {"service_time_ms": 10.0, "memory_mb": 100}}},
                {"name": "m2", "profiles": {"tpu": {"service_time_ms": 10.0, "memory_mb": 3000}}},
            ],
            "applications": [
                {"name": "tight", "model": "m1", "rate_rps": 50, "slo": {"latency_ms": tight_slo_ms}},
                {"name": "loose", "model": "m2", "rate_rps": 50, "slo": {"latency_ms": 40.0}},
            ],
        }
    )


def test_judge_reads_the_interval_against_the_slo():
    """Above the SLO entirely: sure; straddling: borderline; below: meets; no interval: undetermined."""
    assert judge(Estimate(value=12.0, ci_low=11.0, ci_high=13.0), 10.0) == Verdict.SURE_VIOLATION
    assert judge(Estimate(value=9.5, ci_low=9.0, ci_high=10.5), 10.0) == Verdict.BORDERLINE
    assert judge(Estimate(value=10.5, ci_low=9.0, ci_high=12.0), 10.0) == Verdict.BORDERLINE
    assert judge(Estimate(value=9.0, ci_low=8.0, ci_high=10.0), 10.0) == Verdict.MEETS
    assert judge(Estimate(value=99.0, ci_low=None, ci_high=None), 10.0) == Verdict.UNDETERMINED


def test_check_finds_a_violation_the_latency_blind_baseline_ships():
    """M/D/1 at rho 0.5 (15 ms) under a 13 ms mean SLO is a sure violation; a 40 ms SLO is met."""
    instance = md1_instance()
    check = check_by_simulation(instance, {"tight": "tpu1", "loose": "tpu2"}, requests_per_accelerator=20_000)
    verdicts = {a.application: a.verdict for a in check.applications}
    assert verdicts == {"tight": Verdict.SURE_VIOLATION, "loose": Verdict.MEETS}
    assert check.sure_violations == ["tight"] and check.borderline == [] and not check.ok
    assert check.applications[0].simulated_ms.value == pytest.approx(15.0, rel=0.05)
    assert check.nodes_simulated == 2 and not check.capped


def test_solve_with_verify_simulate_attaches_the_check():
    """solve(verify=simulate) simulates the verified placement; without it there is no simulation."""
    instance = md1_instance()
    plain = solve(instance, "first_fit")
    assert plain.simulation is None
    params = {"verify": "simulate", "simulation": {"requests_per_accelerator": 5_000}}
    result = solve(instance, "first_fit", params)
    assert result.placement() == {"loose": "tpu1"} or result.placement() == {"loose": "tpu2"}
    assert result.simulation is not None
    assert [a.application for a in result.simulation.applications] == ["loose"]
    assert result.simulation.applications[0].verdict == Verdict.MEETS
    assert result.simulation.requests_per_accelerator == 5_000
    assert result.params["verify"] == "simulate"


def test_verify_reports_what_a_baseline_breaks():
    """A memory-only baseline piles both onto one device (rho 1): simulation flags both as sure violations."""
    result = solve(md1_instance(), "knapsack_first_fit", {"verify": "simulate"})
    assert result.placement() == {"tight": "tpu1", "loose": "tpu1"}
    assert result.violates_slo  # the analytic check already lists it ...
    assert result.simulation is not None  # ... and simulation agrees
    assert sorted(result.simulation.sure_violations) == ["loose", "tight"]


def test_verify_is_deterministic_for_a_seed_and_bounded():
    """Same seed, same check; another simulation seed moves the numbers; max_requests caps the run."""
    instance = md1_instance(tight_slo_ms=30.0)
    params = {"verify": "simulate", "simulation": {"requests_per_accelerator": 4_000}}
    first = solve(instance, "first_fit", params).simulation
    again = solve(instance, "first_fit", params).simulation
    other = solve(instance, "first_fit", {**params, "seed": 3}).simulation
    assert first is not None and again is not None and other is not None
    assert first.model_dump(exclude={"runtime_s"}) == again.model_dump(exclude={"runtime_s"})
    assert first.applications[0].simulated_ms != other.applications[0].simulated_ms
    capped = solve(
        instance,
        "first_fit",
        {"verify": "simulate", "simulation": {"requests_per_accelerator": 100_000, "max_requests": 20_000}},
    ).simulation
    assert capped is not None and capped.capped and capped.requests_simulated <= 20_000 * 1.05
    assert capped.requests_per_accelerator < 100_000


@pytest.mark.parametrize(
    "simulation",
    [
        {"requests_per_accelerator": 10**9},
        {"max_requests": 10**12},
        {"batches": 1},
        {"replications": 3},
    ],
)
def test_simulation_settings_are_bounded(simulation):
    """No input can ask verify=simulate for unbounded work; unknown settings are refused."""
    with pytest.raises(ValidationError):
        SolveParams.model_validate({"verify": "simulate", "simulation": simulation})
    with pytest.raises(ValidationError):
        SolveParams.model_validate({"verify": "always"})


def test_cli_verify_simulate_prints_the_verdicts(tmp_path, capsys):
    """`optplace solve --verify simulate` adds the simulated table; --json carries result.simulation."""
    path = tmp_path / "md1.json"
    path.write_text(md1_instance(tight_slo_ms=30.0).model_dump_json(), encoding="utf-8")
    code = main(["solve", str(path), "-m", "first_fit", "--verify", "simulate", "--verify-requests", "2000"])
    out = capsys.readouterr().out
    assert code == 0
    assert "simulation check:" in out and "verdict" in out and "meets" in out
    assert "0 sure violations, 0 borderline" in out
    code = main(["solve", str(path), "-m", "first_fit", "--verify", "simulate", "--verify-requests", "2000", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {a["verdict"] for a in document["simulation"]["applications"]} == {"meets"}
    assert main(["solve", str(path), "--verify", "simulate", "--verify-requests", "5"]) == 2
    assert "requests_per_accelerator" in capsys.readouterr().err
