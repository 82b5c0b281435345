"""The seed's model-driven online policies, one application at a time in arrival order.

A node is feasible for an application when memory and the utilisation cap hold and every class
on it, not only the new one, still meets its SLO under the queueing model
(:meth:`ClusterState.can_place`). The policies differ only in which feasible accelerator they
pick (umassos/ibis ``placement_algorithms_trt.py`` / ``placement_algorithms_edgetpu.py`` /
``control_service_heter.py``):

* ``first_fit``: the first feasible accelerator in file order.
* ``breadth_first``: an accelerator already running the application's model (so the backend is
  shared), else an idle accelerator, else the least utilised one (the seed's ``bfs``).
* ``least_utilization_increase``: for mixed clusters. Per accelerator type a candidate is chosen
  by the seed's per-device policy (breadth-first on FCFS devices such as edgeTPUs, depth-first
  with same-model preference on GPUs), and the application goes to the candidate whose
  utilisation rises least (the seed's ``dev_method="best"``).

All model-driven heuristics share two steps (:func:`start`): pinned applications go to their
accelerator first, and when ``min_migrations`` is among the objectives every application that
still fits where it runs today stays there before anything else is placed.
"""

from __future__ import annotations

import time

import numpy as np

from optplace.cluster_state import ClusterState
from optplace.domain import Discipline, Instance, Objective
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register
from optplace.result import Status, StopReason


def start(state: ClusterState, order: list[int] | None = None, *, check: bool = True) -> list[int]:
    """Place pinned applications, then (for min_migrations) keep current placements that fit.

    Returns the applications that are still unplaced, in ``order`` (default: arrival order).
    With ``check=False`` (the latency-blind baselines) pinned applications are placed where
    memory allows, without the latency check.
    """
    order = list(range(state.n_apps)) if order is None else order
    fits = state.can_place if check else state.fits_memory
    for a in order:
        if state.app_pinned[a] and fits(a, state.app_current[a]):
            state.place(a, state.app_current[a])
    if Objective.MIN_MIGRATIONS in state.objectives:
        for a in order:
            d = state.app_current[a]
            if d >= 0 and state.assignment[a] < 0 and fits(a, d):
                state.place(a, d)
    return [a for a in order if state.assignment[a] < 0 and not state.app_pinned[a]]


def finish(
    state: ClusterState, stats: dict | None = None, stop_reason: StopReason = StopReason.COMPLETED
) -> MethodOutput:
    """Wrap a heuristic's final state; under ``host_all`` a partial placement is no solution.

    A pinned application left unplaced also makes the placement no solution (the evaluator
    counts it as moved); that happens only when pinned applications cannot share their devices.
    """
    stats = dict(stats or {})
    placement = state.placement()
    missing_pinned = [
        state.app_names[a] for a in range(state.n_apps) if state.app_pinned[a] and state.assignment[a] < 0
    ]
    if missing_pinned:
        return MethodOutput(
            placement={},
            status=Status.NO_SOLUTION_FOUND,
            stop_reason=stop_reason,
            stats=stats,
            message=f"pinned applications do not fit together on their accelerators: {missing_pinned[:5]}",
        )
    if state.instance.host_all and len(placement) < len(state.instance.applications):
        missing = len(state.instance.applications) - len(placement)
        return MethodOutput(
            placement={},
            status=Status.NO_SOLUTION_FOUND,
            stop_reason=stop_reason,
            stats=stats,
            message=f"host_all is set but {missing} applications could not be placed",
        )
    return MethodOutput(placement=placement, status=Status.FEASIBLE, stop_reason=stop_reason, stats=stats)


def first_feasible(state: ClusterState, a: int, ordered: np.ndarray | list[int]) -> int:
    """The first accelerator in ``ordered`` that ``a`` can join, or -1."""
    for d in ordered:
        if state.can_place(a, int(d)):
            return int(d)
    return -1


def pass_stats(state: ClusterState, started: float) -> dict:
    return {"placed": state.n_placed, "accelerators_used": state.n_used, "runtime_s": time.perf_counter() - started}


# --- the seed's choice rules over the feasible accelerators ----------------------------------


def choose_first(state: ClusterState, a: int, cands: np.ndarray) -> int:
    return first_feasible(state, a, cands)


def choose_depth_first(state: ClusterState, a: int, cands: np.ndarray) -> int:
    """Seed GPU ``modeling_dfs``: an accelerator already running the model, else the first."""
    shares = state.shares_backend(a)[cands]
    d = first_feasible(state, a, cands[shares])
    return d if d >= 0 else first_feasible(state, a, cands[~shares])


def choose_breadth_first(state: ClusterState, a: int, cands: np.ndarray) -> int:
    """Seed ``bfs``: same model, else an idle accelerator, else the least utilised (first on ties)."""
    shares = state.shares_backend(a)[cands]
    d = first_feasible(state, a, cands[shares])
    if d >= 0:
        return d
    rest = cands[~shares]
    idle = ~state.v_used[rest]
    d = first_feasible(state, a, rest[idle])
    if d >= 0:
        return d
    busy = rest[~idle]
    return first_feasible(state, a, busy[np.argsort(state.v_util[busy], kind="stable")])


def online(instance: Instance, rule, name: str) -> MethodOutput:
    started = time.perf_counter()
    state = ClusterState(instance)
    for a in start(state):
        d = rule(state, a, state.candidates(a))
        if d >= 0:
            state.place(a, d)
    return finish(state, {"policy": name, **pass_stats(state, started)})


@register(
    "first_fit",
    "Seed model-driven first-fit: arrival order, first accelerator where every "
    "hosted class still meets its SLO under the queueing model",
    "heuristic",
)
def first_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    return online(instance, choose_first, "first_fit")


@register(
    "breadth_first",
    "Seed model-driven breadth-first: arrival order; an accelerator already running the model, "
    "else an idle one, else the least utilised feasible one",
    "heuristic",
)
def breadth_first(instance: Instance, params: SolveParams) -> MethodOutput:
    return online(instance, choose_breadth_first, "breadth_first")


def utilization_increase(state: ClusterState, a: int, d: int) -> float:
    """How much d's utilisation rises if ``a`` joins (FCFS includes the switch-probability shift)."""
    return float(state.utilization_after(a)[d]) - state.util[d]


@register(
    "least_utilization_increase",
    "Seed model-driven placement for mixed GPU/edgeTPU clusters: a candidate per accelerator "
    "type (breadth-first on FCFS devices, depth-first on GPUs), then the one whose utilisation rises least",
    "heuristic",
)
def least_utilization_increase(instance: Instance, params: SolveParams) -> MethodOutput:
    started = time.perf_counter()
    state = ClusterState(instance)
    for a in start(state):
        d = choose_least_utilization_increase(state, a)
        if d >= 0:
            state.place(a, d)
    return finish(state, {"policy": "least_utilization_increase", **pass_stats(state, started)})


def choose_least_utilization_increase(state: ClusterState, a: int, exclude: int = -1) -> int:
    """The seed's choice for ``a`` on a mixed cluster (see the module docstring), or -1.

    ``exclude`` leaves one accelerator out (the seed's migration loop moves an application away).
    """
    cands = state.candidates(a)
    if exclude >= 0:
        cands = cands[cands != exclude]
    if cands.size == 0:
        return -1
    after = state.utilization_after(a)
    best_d, best_rise = -1, np.inf
    for t, acc_type in enumerate(state.instance.accelerator_types):
        of_type = cands[state.v_type[cands] == t]
        if of_type.size == 0:
            continue
        rule = choose_breadth_first if acc_type.discipline == Discipline.FCFS else choose_depth_first
        d = rule(state, a, of_type)
        if d < 0:
            continue
        rise = float(after[d]) - state.util[d]
        if rise < best_rise:  # ties keep the earlier type, as the seed keeps the GPU on ties
            best_d, best_rise = d, rise
    return best_d
