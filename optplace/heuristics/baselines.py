"""Knapsack hosting: the latency-blind baselines the seed compared against.

These reproduce the seed's ``memory_first`` / ``memory_best`` / ``memory_worst`` policies
(umassos/ibis ``placement_algorithms_trt.choose_node_memory``): an accelerator is feasible when
the node (or, for a type with its own memory, the device) keeps the application's front end and,
unless the model's backend is already there, its backend within the memory cap. Among feasible
accelerators one already running the application's model wins (the backend is shared, as the
seed's "MAAS" deployments did); otherwise the first in file order, the one left with the least
free memory (best fit) or the most (worst fit). The utilisation-only variant adds
sum(lambda s) <= cap, the check a load-aware scheduler without a queueing model would make; it
ignores queueing delay and the edgeTPU's model-switch overhead.

They are faithful, not strawmen: they respect everything that is not latency (a profile for the
type, allowed types, required labels, pinned applications, the one-backend rule of dedicated
devices, memory caps), and arrival order, as the seed's online deployment did. They are the only
methods allowed to return placements that violate SLOs; ``solve`` keeps their violations in the
result (``violates_slo``, per-application violations, ``hosted_without_violation``).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from optplace.cluster_state import ClusterState
from optplace.domain import Instance
from optplace.heuristics.greedy import finish, pass_stats, start
from optplace.options import MethodOptions
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register


class UtilizationFitOptions(MethodOptions):
    """Options of ``knapsack_utilization``."""

    fit: Literal["first", "best", "worst"] = Field(
        default="first", description="Fit rule among feasible accelerators: first, best or worst (by free memory)."
    )


def free_memory_after(state: ClusterState, a: int, cands: np.ndarray) -> np.ndarray:
    """MB left on each candidate, after ``a`` joins, in the memory pool its backend draws from."""
    mi = state.app_model[a]
    backend = np.where(state.shares_backend(a)[cands], 0.0, state.v_mem[mi][cands])
    has_dev = state.v_has_dev[cands]
    node_free = np.array([state.node_limit[state.acc_node[d]] - state.node_mem[state.acc_node[d]] for d in cands])
    dev_free = np.array(
        [state.acc_dev_limit[d] - state.dev_mem[d] if state.acc_dev_limit[d] is not None else 0.0 for d in cands]
    )
    return np.where(has_dev, dev_free - backend, node_free - state.app_fe_mem[a] - backend)


def knapsack(instance: Instance, rule: str, *, utilization: bool = False) -> MethodOutput:
    started = time.perf_counter()
    state = ClusterState(instance)
    fits = state.fits_utilization_only if utilization else state.fits_memory
    for a in start(state, check=False):
        cands = state.memory_candidates(a, utilization_only=utilization)
        if cands.size == 0:
            continue
        shares = state.shares_backend(a)[cands]
        if shares.any():
            ranked = np.concatenate([cands[shares], cands[~shares]])
        elif rule == "first":
            ranked = cands
        else:
            free = free_memory_after(state, a, cands)
            ranked = cands[np.lexsort((cands, free if rule == "best" else -free))]
        for d in ranked:
            if fits(a, int(d)):
                state.place(a, int(d))
                break
    stats = {"rule": rule, "latency_blind": True, **pass_stats(state, started)}
    return finish(state, stats)


@register(
    "knapsack_first_fit",
    "Baseline (latency-blind): seed memory-only first-fit, sharing a running backend first",
    "baseline",
    may_violate_slo=True,
)
def knapsack_first_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    return knapsack(instance, "first")


@register(
    "knapsack_best_fit",
    "Baseline (latency-blind): seed memory-only best-fit (least free memory left), sharing first",
    "baseline",
    may_violate_slo=True,
)
def knapsack_best_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    return knapsack(instance, "best")


@register(
    "knapsack_worst_fit",
    "Baseline (latency-blind): seed memory-only worst-fit (most free memory left), sharing first",
    "baseline",
    may_violate_slo=True,
)
def knapsack_worst_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    return knapsack(instance, "worst")


@register(
    "knapsack_utilization",
    "Baseline (queueing-blind): first-fit on memory and sum(lambda*s) <= cap, ignoring queueing "
    "delay and switch overhead; options.fit = first|best|worst",
    "baseline",
    may_violate_slo=True,
    options=UtilizationFitOptions,
)
def knapsack_utilization(instance: Instance, params: SolveParams) -> MethodOutput:
    return knapsack(instance, UtilizationFitOptions.of(params, instance).fit, utilization=True)
