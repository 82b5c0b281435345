"""Regret greedy: place first the application that would lose most by waiting.

For every unplaced application the two most desirable accelerators it can join under the
queueing model are found; its regret is how much worse the second is than the first (infinite
when only one is left). The application with the largest regret, then the highest priority,
goes to its best accelerator (Martello and Toth's regret heuristic for the generalized
assignment problem). Desirability follows the objectives: the primary objective's change when
it differs between accelerators (value, cost, opening an accelerator, moving an application),
otherwise the share of the accelerator's capacity the application would consume, so an
application that is cheap on one accelerator type and expensive on the other is placed early on
its cheap type.

Evaluation is lazy: a heap holds each application's last (best, second) with the versions of
those accelerators and their nodes; an entry whose accelerators changed is re-evaluated when it
reaches the top. Placing on d never improves any other accelerator, so an untouched pair stays
the best pair.
"""

from __future__ import annotations

import heapq
import time

import numpy as np

from optplace.cluster_state import ClusterState
from optplace.domain import Instance
from optplace.heuristics.fit import OrderOptions, headroom, order_applications
from optplace.heuristics.greedy import finish, first_feasible, pass_stats, start
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register
from optplace.result import StopReason


def _evaluate(state: ClusterState, a: int) -> tuple[float, int, int] | None:
    """(regret, best, second) for ``a`` now; second is -1 when only one accelerator is feasible."""
    rho = state.utilization_after(a)
    cands = state.candidates(a, utilization=rho)
    if cands.size == 0:
        return None
    marginals = [vec[cands] for vec in state.marginal_vectors(a)]
    marginals = [m for m in marginals if np.ptp(m) > 0]
    desirability = marginals[0] if marginals else (rho[cands] - state.v_util[cands]) / state.v_cap[cands]
    tie = headroom(state, a, cands, rho)
    ranked = np.lexsort((cands, tie, *reversed(marginals[1:]), desirability))
    found: list[int] = []
    for i in ranked:
        d = int(cands[i])
        if state.can_place(a, d):
            found.append(i)
            if len(found) == 2:
                break
    if not found:
        return None
    best = int(cands[found[0]])
    if len(found) == 1:
        return np.inf, best, -1
    second = int(cands[found[1]])
    return float(desirability[found[1]] - desirability[found[0]]), best, second


def _stamp(state: ClusterState, d: int) -> tuple[int, int]:
    if d < 0:
        return (0, 0)
    return (state.version[d], state.node_version[state.acc_node[d]])


def regret_pass(state: ClusterState, apps: list[int], deadline: float | None = None) -> bool:
    """Place ``apps`` by largest regret; returns False if the deadline cut it short."""
    rank = {a: i for i, a in enumerate(apps)}  # tie-break: the given order
    heap: list[tuple] = []

    def push(a: int) -> None:
        found = _evaluate(state, a)
        if found is None:
            return  # nothing can take it now; load only grows, so nothing will
        regret, best, second = found
        entry = (-regret, -state.app_priority[a], rank[a], a, best, second, _stamp(state, best), _stamp(state, second))
        heapq.heappush(heap, entry)

    for i, a in enumerate(apps):
        if deadline is not None and i % 64 == 0 and time.perf_counter() > deadline:
            return _fallback(state, apps)
        push(a)
    steps = 0
    while heap:
        steps += 1
        if deadline is not None and steps % 64 == 0 and time.perf_counter() > deadline:
            return _fallback(state, [entry[3] for entry in sorted(heap)])
        _, _, _, a, best, second, best_stamp, second_stamp = heapq.heappop(heap)
        if state.assignment[a] >= 0:
            continue
        if _stamp(state, best) != best_stamp or (second >= 0 and _stamp(state, second) != second_stamp):
            push(a)
            continue
        state.place(a, best)
    return True


def _fallback(state: ClusterState, apps: list[int]) -> bool:
    """Out of time: place the rest first-fit in their current order, without regret."""
    for a in apps:
        if state.assignment[a] < 0:
            d = first_feasible(state, a, state.candidates(a))
            if d >= 0:
                state.place(a, d)
    return False


@register(
    "regret_greedy",
    "Regret greedy: repeatedly place the application whose best accelerator is most better than "
    "its second best (lazy re-evaluation), objective-aware",
    "heuristic",
    options=OrderOptions,
)
def regret_greedy(instance: Instance, params: SolveParams) -> MethodOutput:
    started = time.perf_counter()
    # A deterministic run is never cut by the clock: the pass is bounded by itself.
    deadline = started + params.time_limit_s if params.time_limit_s is not None and not params.deterministic else None
    state = ClusterState(instance)
    rest = start(state, order_applications(state, OrderOptions.of(params, instance).order))
    completed = regret_pass(state, rest, deadline)
    return finish(state, pass_stats(state, started), StopReason.COMPLETED if completed else StopReason.TIME_LIMIT)
