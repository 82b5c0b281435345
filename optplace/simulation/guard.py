"""Simulation as a guard: judge every hosted application's SLO on a simulated placement.

:func:`check_by_simulation` simulates a placement (Poisson arrivals, the simulator of
:mod:`optplace.simulation.core`) and gives each placed application a :class:`Verdict` on the
statistic its SLO names, from the batch-means 95% confidence interval:

* ``meets`` — the whole interval lies at or below the SLO;
* ``borderline`` — the interval straddles the SLO (the run cannot tell);
* ``sure_violation`` — the whole interval lies above the SLO;
* ``undetermined`` — too few measured requests for an interval.

``solve(..., params={"verify": "simulate"})`` attaches the check to the result, and
``benchmarks/slo_guard.py`` runs it over every method's placements. The verdict is defined
here once; everything that counts violations calls :func:`judge`.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from optplace.domain import Instance
from optplace.simulation.statistics import Estimate


class Verdict(StrEnum):
    MEETS = "meets"  # the 95% interval lies at or below the SLO
    BORDERLINE = "borderline"  # the interval straddles the SLO
    SURE_VIOLATION = "sure_violation"  # the interval lies entirely above the SLO
    UNDETERMINED = "undetermined"  # too few measured requests for an interval


def judge(estimate: Estimate, slo_ms: float) -> Verdict:
    """The verdict of a simulated SLO statistic against its SLO."""
    if estimate.ci_low is None or estimate.ci_high is None or math.isnan(estimate.value):
        return Verdict.UNDETERMINED
    if estimate.ci_low > slo_ms:
        return Verdict.SURE_VIOLATION
    if estimate.ci_high > slo_ms:
        return Verdict.BORDERLINE
    return Verdict.MEETS


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class ApplicationCheck(_Out):
    """One hosted application: its SLO statistic as predicted and as simulated, and the verdict."""

    application: str = Field(description="The application's name.")
    accelerator: str = Field(description="Where it is placed.")
    statistic: str = Field(description="The SLO's statistic: mean or a percentile such as p99.")
    slo_ms: float = Field(description="The application's latency SLO (ms).")
    predicted_ms: float | None = Field(description="The evaluator's value of that statistic (ms); null when unstable.")
    simulated_ms: Estimate = Field(description="The simulated statistic with its 95% confidence interval.")
    requests: int = Field(description="Measured (post warm-up) requests of this application.")
    verdict: Verdict = Field(
        description="meets (interval at or below the SLO), borderline (straddles it), sure_violation (above it) or undetermined (too few requests)."
    )


class SimulationCheck(_Out):
    """The outcome of simulating a placement: one verdict per hosted application."""

    seed: int = Field(description="Seed of the simulation's random streams.")
    arrivals: str = Field(description="The arrival process simulated (poisson).")
    requests_per_accelerator: int = Field(description="Measured requests expected on every used accelerator, at least.")
    capped: bool = Field(description="True when max_requests shortened the runs below requests_per_accelerator.")
    nodes_simulated: int = Field(description="Nodes simulated (each on its own: nodes share nothing).")
    batches: int = Field(description="Batches of the batch-means confidence intervals.")
    requests_simulated: int = Field(description="Requests simulated in all, warm-up included.")
    runtime_s: float = Field(description="Wall time of the simulation (s).")
    applications: list[ApplicationCheck] = Field(description="One check per hosted application.")
    sure_violations: list[str] = Field(description="Applications whose interval lies entirely above the SLO.")
    borderline: list[str] = Field(description="Applications whose interval straddles the SLO.")

    @property
    def ok(self) -> bool:
        """No application is surely or possibly over its SLO."""
        return not self.sure_violations and not self.borderline


def check_by_simulation(
    instance: Instance,
    placement: Mapping[str, str],
    *,
    requests_per_accelerator: int = 20_000,
    max_requests: int | None = 2_000_000,
    batches: int = 20,
    seed: int = 0,
) -> SimulationCheck:
    """Simulate ``placement`` and judge every placed application's SLO (deterministic per seed).

    Nodes share nothing (the front end is per node, the network a constant delay), so each node
    is simulated on its own, for as long as its used accelerator with the least arrival rate
    needs to expect ``requests_per_accelerator`` measured requests: a quiet node does not make a
    busy one simulate millions of requests. When all runs together would simulate more than
    ``max_requests`` (warm-up included), every run is shortened by the same factor (``capped``).
    """
    from optplace.simulation.core import DEFAULT_WARMUP_FRACTION, simulate

    if requests_per_accelerator <= 0:
        raise ValueError("requests_per_accelerator must be positive")
    started = time.perf_counter()
    rates = {a.name: a.rate_rps for a in instance.applications}
    node_of = {acc.name: node.name for node, acc in instance.accelerators()}
    by_node: dict[str, dict[str, str]] = defaultdict(dict)
    for app, accelerator in placement.items():
        by_node[node_of.get(accelerator, "")][app] = accelerator
    horizon_s: dict[str, float] = {}
    expected = 0.0
    for node, node_placement in by_node.items():
        accelerator_rate: dict[str, float] = defaultdict(float)
        for app, accelerator in node_placement.items():
            accelerator_rate[accelerator] += rates.get(app, 0.0)
        quietest = min(accelerator_rate.values())
        horizon_s[node] = requests_per_accelerator / quietest if quietest > 0 else 1.0
        expected += (1.0 + DEFAULT_WARMUP_FRACTION) * horizon_s[node] * sum(accelerator_rate.values())
    factor = 1.0 if max_requests is None or expected <= max_requests else max_requests / expected

    applications: list[ApplicationCheck] = []
    requests = 0
    arrivals = "poisson"
    for node, node_placement in by_node.items():
        report = simulate(instance, node_placement, duration_s=horizon_s[node] * factor, batches=batches, seed=seed)
        requests += report.requests_simulated
        arrivals = report.arrivals
        applications += [
            ApplicationCheck(
                application=a.application,
                accelerator=a.accelerator,
                statistic=a.statistic,
                slo_ms=a.slo_ms,
                predicted_ms=a.predicted_ms,
                simulated_ms=a.simulated_ms,
                requests=a.requests,
                verdict=judge(a.simulated_ms, a.slo_ms),
            )
            for a in report.applications
        ]
    order = {a.name: i for i, a in enumerate(instance.applications)}
    applications.sort(key=lambda a: order[a.application])
    return SimulationCheck(
        seed=seed,
        arrivals=arrivals,
        requests_per_accelerator=round(requests_per_accelerator * factor),
        capped=factor < 1.0,
        nodes_simulated=len(by_node),
        batches=batches,
        requests_simulated=requests,
        runtime_s=time.perf_counter() - started,
        applications=applications,
        sure_violations=[a.application for a in applications if a.verdict == Verdict.SURE_VIOLATION],
        borderline=[a.application for a in applications if a.verdict == Verdict.BORDERLINE],
    )
