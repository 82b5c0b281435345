"""The time-stepped driver: replay a timeline under a policy and judge every step by simulation.

At each step boundary the departed applications stop, the policy decides with what it can know
(observed rates are last step's; an arrival declares its first rate), and the step is then
simulated with the *true* rates of that step (:func:`optplace.simulation.simulate`, Poisson
arrivals within the step, ``warmup_s`` simulated before the measured ``step_s``). A hosted
application is *in violation* during a step when its simulated SLO statistic over the step exceeds
its SLO. Moves are instantaneous at the boundary; the make-before-break transition itself is
checked by the planner's evaluator, not simulated.

Every simulation sees all active applications in a fixed order (each with its own random stream
by index), so policies are compared on common random numbers: the same application gets the same
arrivals in the same step whatever the policy hosts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from optplace.online.policies import Policy, View
from optplace.online.timeline import Timeline
from optplace.simulation import simulate


@dataclass(frozen=True)
class StepRecord:
    step: int
    minute: float
    active: int
    hosted: int
    violating: int
    moves: int
    evictions: int
    decision_s: float
    replanned: bool


@dataclass
class RunResult:
    timeline: str
    policy: str
    step_s: float
    records: list[StepRecord] = field(default_factory=list)

    def totals(self) -> dict[str, float]:
        """Application-minutes demanded, hosted, in violation and hosted without violation ("clean");
        moves; evictions; decision time per event (per step when the policy never re-plans)."""
        per_step = self.step_s / 60.0
        events = [r.decision_s for r in self.records if r.replanned] or [r.decision_s for r in self.records]
        return {
            "app_minutes_demanded": per_step * sum(r.active for r in self.records),
            "app_minutes_hosted": per_step * sum(r.hosted for r in self.records),
            "app_minutes_violating": per_step * sum(r.violating for r in self.records),
            "app_minutes_clean": per_step * sum(r.hosted - r.violating for r in self.records),
            "moves": float(sum(r.moves for r in self.records)),
            "evictions": float(sum(r.evictions for r in self.records)),
            "decisions": float(len(events)),
            "decision_mean_s": float(np.mean(events)),
            "decision_p95_s": float(np.percentile(events, 95)),
            "decision_max_s": float(np.max(events)),
        }


def run(timeline: Timeline, policy: Policy, *, warmup_s: float = 5.0, seed: int = 0) -> RunResult:
    """Replay ``timeline`` under ``policy``; one simulated step per timeline step."""
    result = RunResult(timeline.name, policy.name, timeline.step_s)
    placement: dict[str, str] = {}
    measured: dict = {}
    previous: set[int] = set()
    accelerators = {acc.name for _, acc in timeline.cluster.accelerators()}
    for k in range(timeline.steps):
        active = timeline.active(k)
        names = {timeline.demands[i].application.name: i for i in active}
        departures = [name for name in placement if name not in names]
        placement = {name: acc for name, acc in placement.items() if name in names}
        arrivals = [timeline.demands[i].application.name for i in active if i not in previous]
        observed = [
            timeline.demands[i].application.model_copy(
                update={"rate_rps": float(timeline.demands[i].rates_rps[k - 1 if i in previous else k])}
            )
            for i in active
        ]
        view = View(
            step=k,
            instance=timeline.cluster.model_copy(update={"applications": observed}),
            placement=dict(placement),
            arrivals=arrivals,
            departures=departures,
            measured={name: m for name, m in measured.items() if name in names},
        )
        started = time.perf_counter()
        decision = policy.decide(view)
        decision_s = time.perf_counter() - started
        unknown = {a for a in decision.placement if a not in names} | (set(decision.placement.values()) - accelerators)
        if unknown:
            raise ValueError(
                f"policy {policy.name!r} placed unknown applications or accelerators: {sorted(unknown)[:5]}"
            )
        placement = dict(decision.placement)

        truth = [
            timeline.demands[i].application.model_copy(update={"rate_rps": float(timeline.demands[i].rates_rps[k])})
            for i in active
        ]
        violating = 0
        measured = {}
        if placement:
            report = simulate(
                timeline.cluster.model_copy(update={"applications": truth}),
                placement,
                duration_s=timeline.step_s,
                warmup_s=warmup_s,
                seed=seed * 1_000_003 + k,
            )
            measured = {m.application: m for m in report.applications}
            violating = len(report.violations)
        result.records.append(
            StepRecord(
                step=k,
                minute=(k + 1) * timeline.step_s / 60.0,
                active=len(active),
                hosted=len(placement),
                violating=violating,
                moves=decision.moves,
                evictions=decision.evictions,
                decision_s=decision_s,
                replanned=decision.replanned,
            )
        )
        previous = set(active)
    return result
