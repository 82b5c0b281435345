"""Policies of the online experiment: what each does at a step boundary.

Every policy sees the same :class:`View` (the active applications at their *observed* rates,
i.e. last step's, or the declared rate of an arrival; the current placement; what arrived and
left; last step's simulated latencies) and answers a :class:`Decision`. Applications that are
active but not hosted wait and are tried again by every policy, so that "hosted" compares like
with like.

* :class:`GreedyArrivals` — the seed's online greedy: waiting applications in arrival order,
  each on the accelerator the seed's mixed-cluster rule picks (``least_utilization_increase``,
  model-driven: every class on the device must still meet its SLO). Nothing ever moves.
* :class:`SeedLoop` — the same greedy, plus the seed's migration loop: every step (10 s), of the
  hosted applications whose *measured* mean latency exceeded their SLO in the last step, the worst
  (measured / SLO) moves to the accelerator the same rule picks among the others, if any.
* :class:`Replanning` — :func:`optplace.replan` with a move budget, on every event (an arrival, a
  departure, or observed rates under which the current placement is predicted to break an SLO or a
  cap) or every ``period_steps`` steps, optionally planning with rate ``headroom``; the plan's
  moves and evictions are what it costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from optplace.cluster_state import ClusterState
from optplace.domain import Application, Instance
from optplace.evaluate import evaluate
from optplace.heuristics.greedy import choose_least_utilization_increase
from optplace.params import SolveParams
from optplace.simulation import ApplicationSimulation


@dataclass(frozen=True)
class View:
    """What a policy knows at the start of a step."""

    step: int
    instance: Instance  # the cluster with the active applications at observed rates, in arrival order
    placement: dict[str, str]  # where active applications run now (departed ones already gone)
    arrivals: list[str]
    departures: list[str]
    measured: Mapping[str, ApplicationSimulation]  # last step's simulation, by application


@dataclass
class Decision:
    placement: dict[str, str]
    moves: int = 0  # migrations of running applications
    evictions: int = 0
    replanned: bool = False
    detail: dict = field(default_factory=dict)


class Policy(Protocol):
    name: str

    def decide(self, view: View) -> Decision: ...


def _state(view: View) -> ClusterState:
    state = ClusterState(view.instance)
    state.load(view.placement, check=False)  # as it runs now, even if a rate rise broke it
    return state


def admit_waiting(state: ClusterState) -> None:
    """The seed's online greedy over the applications not placed yet, in instance (arrival) order."""
    for a in state.unplaced():
        d = choose_least_utilization_increase(state, a)
        if d >= 0:
            state.place(a, d)


class GreedyArrivals:
    name = "greedy"

    def decide(self, view: View) -> Decision:
        state = _state(view)
        admit_waiting(state)
        return Decision(state.placement())


class SeedLoop:
    name = "seed_loop"

    def decide(self, view: View) -> Decision:
        state = _state(view)
        moves = 0
        late = [
            m
            for name, m in view.measured.items()
            if name in view.placement and m.mean_ms.value > m.slo_ms  # the seed measures the mean
        ]
        if late:
            worst = max(late, key=lambda m: m.mean_ms.value / m.slo_ms)
            a = state.app_index[worst.application]
            source = state.remove(a)
            d = choose_least_utilization_increase(state, a, exclude=source)
            state.place(a, d if d >= 0 else source)
            moves = int(d >= 0)
        admit_waiting(state)
        return Decision(state.placement(), moves=moves)


class Replanning:
    """optplace.replan on events (or periodically) with at most ``max_moves`` moves each time.

    Events: an arrival, a departure, or observed rates under which the current placement is
    predicted to violate something (the evaluator). ``headroom`` plans with every observed rate
    raised by that fraction, so that what is admitted survives some growth before the next step.
    ``incumbent_weight`` multiplies the priority of running applications in the plan's
    ``max_hosted``: at 2, a running application is never evicted to admit two waiting ones.
    """

    def __init__(
        self,
        *,
        max_moves: int | None = 2,
        period_steps: int | None = None,
        headroom: float = 0.0,
        incumbent_weight: float = 1.0,
        method: str = "local_search",
        params: SolveParams | None = None,
        name: str | None = None,
    ):
        self.max_moves = max_moves
        self.period_steps = period_steps
        self.headroom = headroom
        self.incumbent_weight = incumbent_weight
        self.method = method
        self.params = params or SolveParams()
        self.known: dict[str, Application] = {}  # applications as of the last plan, at planning rates
        budget = "unlimited" if max_moves is None else f"{max_moves}"
        when = "event" if period_steps is None else f"every {period_steps} steps"
        self.name = (
            name or f"replan ({when}, max_moves {budget}, headroom {headroom:g}, incumbents x{incumbent_weight:g})"
        )

    def _due(self, view: View, planning: Instance) -> bool:
        if self.period_steps is not None:
            return view.step % self.period_steps == 0
        if view.arrivals or view.departures:
            return True
        return bool(evaluate(planning, view.placement).violations)

    def decide(self, view: View) -> Decision:
        from optplace.migration import replan

        planning = view.instance.model_copy(
            update={
                "applications": [
                    a.model_copy(update={"rate_rps": round(a.rate_rps * (1.0 + self.headroom), 6)})
                    for a in view.instance.applications
                ]
            }
        )
        if not self._due(view, planning):
            return Decision(dict(view.placement))
        active = {a.name: a for a in planning.applications}
        # The cluster as this policy last saw it (its rates), where things run now, then the changes.
        before = [
            app.model_copy(
                update={
                    "current_accelerator": view.placement.get(name),
                    "priority": app.priority * (self.incumbent_weight if name in view.placement else 1.0),
                }
            )
            for name, app in self.known.items()
        ]
        previous = view.instance.model_copy(update={"applications": before})
        changes = {
            "add_applications": [active[n] for n in active if n not in self.known],
            "remove_applications": [n for n in self.known if n not in active],
            "rates_rps": {
                n: active[n].rate_rps
                for n, app in self.known.items()
                if n in active and active[n].rate_rps != app.rate_rps
            },
            "max_moves": self.max_moves,
        }
        result = replan(previous, changes, self.method, self.params)
        placement = result.placement() if result.outcome.value != "none" else dict(view.placement)
        self.known = active
        return Decision(
            placement,
            moves=result.moves,
            evictions=result.evictions,
            replanned=True,
            detail={"outcome": result.outcome.value, "plan_steps": len(result.plan), "blocked": len(result.blocked)},
        )
