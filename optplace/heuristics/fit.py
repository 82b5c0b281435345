"""Model-driven first/best/worst-fit with offline orderings, serving the instance's objectives.

Unlike the seed's online policies these see every application before placing any. An ordering
decides who goes first; a fit rule decides where each one goes among the accelerators it can
join under the queueing model:

* orderings (``options["order"]``): ``arrival``; ``load`` (decreasing normalised load
  lambda s / cap on the application's most efficient accelerator, the bin-packing FFD order);
  ``slack`` (tightest latency budget first, in service times); ``priority`` (decreasing
  priority, then increasing load); ``density`` (decreasing priority, or value, per unit of load:
  the knapsack greedy order). ``auto`` (the default) picks ``load`` when every application must
  be hosted or the primary objective is a minimisation, else ``density``.
* fit rules: ``first`` (file order), ``best`` (least normalised headroom left on the tightest
  resource, utilisation or memory), ``worst`` (most headroom left).

Objectives come first in the choice: among feasible accelerators the one that changes the
lexicographic objectives least wins (the highest value for ``max_value``; an already used
accelerator for ``min_accelerators``; the cheapest marginal cost for ``min_cost``; the current
accelerator for ``min_migrations``), and the fit rule only breaks the ties.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from optplace.cluster_state import ClusterState
from optplace.domain import Instance, Objective
from optplace.heuristics.greedy import finish, first_feasible, pass_stats, start
from optplace.options import MethodOptions
from optplace.params import SolveParams
from optplace.registry import MethodOutput, register

ORDERS = ("arrival", "load", "slack", "priority", "density")
RULES = ("first", "best", "worst")
Order = Literal["auto", "arrival", "load", "slack", "priority", "density"]


class OrderOptions(MethodOptions):
    """Options of the ordered fit heuristics and the regret greedy."""

    order: Order = Field(
        default="auto",
        description="Offline order of the applications: arrival, load (decreasing normalised load), slack "
        "(tightest latency budget first), priority, density (priority or value per unit of load); auto picks "
        "load when every application must be hosted or the primary objective is a minimisation, else density.",
    )


# --- orderings -------------------------------------------------------------------------------


def _cached(state: ClusterState, name: str, compute) -> np.ndarray:
    """Per-application constants, computed once per state."""
    cache = state.__dict__.setdefault("_order_cache", {})
    if name not in cache:
        cache[name] = compute(state)
    return cache[name]


def sizes(state: ClusterState) -> np.ndarray:
    """Normalised load lambda s / cap of each application on its most efficient eligible accelerator."""
    return _cached(state, "sizes", _sizes)


def slacks(state: ClusterState) -> np.ndarray:
    """Latency budget (SLO minus network and pre-processing) in units of the fastest service time."""
    return _cached(state, "slacks", _slacks)


def best_values(state: ClusterState) -> np.ndarray:
    """Largest value each application can earn (its priority unless value_by_accelerator says more)."""
    return _cached(state, "values", _best_values)


def _sizes(state: ClusterState) -> np.ndarray:
    out = np.full(state.n_apps, np.inf)
    for a in range(state.n_apps):
        mask = state.eligible_mask(a)
        if mask.any():
            mi = state.app_model[a]
            out[a] = float(np.min(state.app_rate[a] * state.v_s[mi][mask] / state.v_cap[mask])) / 1000.0
    return out


def _slacks(state: ClusterState) -> np.ndarray:
    out = np.full(state.n_apps, np.inf)
    for a in range(state.n_apps):
        mask = state.eligible_mask(a)
        if mask.any():
            fastest = float(np.min(state.v_s[state.app_model[a]][mask]))
            out[a] = (state.app_slo[a] - state.network_ms - state.app_pre[a]) / fastest
    return out


def _best_values(state: ClusterState) -> np.ndarray:
    out = np.array(state.app_priority, dtype=float)
    if Objective.MAX_VALUE in state.objectives:
        for a in range(state.n_apps):
            mask = state.eligible_mask(a)
            values = [v for d, v in state.app_value[a].items() if mask[d]]
            if values:
                out[a] = max(values) if mask.sum() == len(values) else max([*values, state.app_priority[a]])
    return out


def default_order(state: ClusterState) -> str:
    primary = state.objectives[0]
    if state.instance.host_all or not primary.maximize:
        return "load"
    return "density"


def order_applications(state: ClusterState, order: str, apps: list[int] | None = None) -> list[int]:
    """``apps`` (default: all) sorted by ``order``; ties keep arrival order. Unplaceable apps go last."""
    apps = list(range(state.n_apps)) if apps is None else apps
    if order == "auto":
        order = default_order(state)
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; use one of {', '.join(('auto', *ORDERS))}")
    if order == "arrival" or not apps:
        return apps
    size = sizes(state)
    index = np.array(apps)
    s = size[index]
    hopeless = ~np.isfinite(s)
    if order == "load":
        keys: tuple = (-np.where(hopeless, 0.0, s),)
    elif order == "slack":
        keys = (slacks(state)[index],)
    elif order == "priority":
        keys = (-np.array(state.app_priority)[index], s)
    else:  # density
        keys = (-best_values(state)[index] / np.maximum(s, 1e-12),)
    ranked = np.lexsort((np.arange(len(apps)), *reversed(keys), hopeless))
    return [apps[i] for i in ranked]


# --- fit rules -------------------------------------------------------------------------------


def headroom(state: ClusterState, a: int, cands: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Normalised headroom left on the tightest resource (utilisation, node or device memory)."""
    util = (state.v_cap[cands] - rho[cands]) / state.v_cap[cands]
    mi = state.app_model[a]
    shares = state.shares_backend(a)[cands]
    backend = np.where(shares, 0.0, state.v_mem[mi][cands])
    has_dev = state.v_has_dev[cands]
    node_need = state.app_fe_mem[a] + np.where(has_dev, 0.0, backend)
    node = (state.v_node_free[cands] - node_need) / state.v_node_limit[cands]
    dev_limit = state.v_dev_limit[cands]
    dev = np.where(has_dev, (state.v_dev_free[cands] - backend) / np.where(has_dev, dev_limit, 1.0), np.inf)
    return np.minimum(np.minimum(util, node), dev)


def ranked_candidates(state: ClusterState, a: int, rule: str) -> np.ndarray:
    """Accelerators that may take ``a``, best first: objective change, then the fit rule."""
    rho = state.utilization_after(a)
    cands = state.candidates(a, utilization=rho)
    if cands.size <= 1:
        return cands
    marginals = [vec[cands] for vec in state.marginal_vectors(a)]
    marginals = [m for m in marginals if np.ptp(m) > 0]
    if rule == "first":
        if not marginals:
            return cands
        tie = cands
    elif rule == "best":
        tie = headroom(state, a, cands, rho)
    elif rule == "worst":
        tie = -headroom(state, a, cands, rho)
    else:
        raise ValueError(f"unknown fit rule {rule!r}; use one of {', '.join(RULES)}")
    return cands[np.lexsort((cands, tie, *reversed(marginals)))]


def fit_pass(state: ClusterState, apps: list[int], rule: str, deadline: float | None = None) -> bool:
    """Place ``apps`` in order by ``rule``; returns False if the deadline cut the pass short."""
    for i, a in enumerate(apps):
        if deadline is not None and i % 64 == 0 and time.perf_counter() > deadline:
            return False
        if state.assignment[a] >= 0:
            continue
        d = first_feasible(state, a, ranked_candidates(state, a, rule))
        if d >= 0:
            state.place(a, d)
    return True


def construct(
    instance: Instance,
    rule: str,
    order: str = "auto",
    state: ClusterState | None = None,
    deadline: float | None = None,
) -> ClusterState:
    """Build a placement from scratch with one fit rule and one ordering (cut short at ``deadline``)."""
    state = state if state is not None else ClusterState(instance)
    rest = start(state, order_applications(state, order))
    fit_pass(state, rest, rule, deadline)
    return state


def _run(instance: Instance, params: SolveParams, rule: str) -> MethodOutput:
    started = time.perf_counter()
    order: str = OrderOptions.of(params, instance).order
    state = ClusterState(instance)
    if order == "auto":
        order = default_order(state)
    construct(instance, rule, order, state)
    return finish(state, {"rule": rule, "order": order, **pass_stats(state, started)})


@register(
    "ordered_first_fit",
    "Model-driven first-fit over an offline order (options.order: load, slack, priority, density, "
    "arrival; default by objective), objective-aware accelerator choice",
    "heuristic",
    options=OrderOptions,
)
def ordered_first_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    return _run(instance, params, "first")


@register(
    "ordered_best_fit",
    "Model-driven best-fit (least headroom left on the tightest resource) over an offline order "
    "(options.order), objective-aware",
    "heuristic",
    options=OrderOptions,
)
def ordered_best_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    return _run(instance, params, "best")


@register(
    "ordered_worst_fit",
    "Model-driven worst-fit (most headroom left) over an offline order (options.order), objective-aware",
    "heuristic",
    options=OrderOptions,
)
def ordered_worst_fit(instance: Instance, params: SolveParams) -> MethodOutput:
    return _run(instance, params, "worst")
