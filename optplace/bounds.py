"""Bounds that are always at hand: the trivial bound of every objective, and how bounds compare.

The *trivial bound* needs nothing but the candidate accelerators of
:func:`optplace.diagnose.check_alone` (where an application could run at all: a necessary
condition for any placement, ``AloneCheck.candidate_accelerators``); it costs one pass over the
applications and is valid for every instance:

* ``max_hosted``: the priorities of the applications that have a candidate (those of a verified
  placement are candidates by construction and need no check);
* ``max_value``: per application, its best value on a candidate (at least 0 unless it must be
  hosted: ``host_all`` or pinned);
* ``min_cost``: per application that must be hosted, its cheapest candidate, plus the cheapest
  accelerator type when anything must be hosted (at least one accelerator is used); an optional
  application counts only a negative cost;
* ``min_accelerators``: when something must be hosted, ``ceil(sum over those applications of
  min_d lambda s_d / (1000 cap_d))``: an accelerator's utilisation never exceeds its cap and is
  at least the sum of ``lambda s`` of what it hosts (model sharing leaves that sum unchanged, a
  switch overhead only adds to it), so the used accelerators carry at most one unit each;
* ``min_migrations``: the applications whose current accelerator is no candidate for them (they
  must move, or stay unplaced, which also counts).

For GAP this is the classic bound "every job on its cheapest agent"; for bin packing it is the
volume bound ``ceil(sum w / C)``. An LP or Lagrangian bound improves on it when one is computed;
the reported bound is always the tightest of those (:class:`optplace.progress.IncumbentLog`).
"""

from __future__ import annotations

import math

import numpy as np

from optplace.diagnose import AloneCheck, check_alone
from optplace.domain import Instance, Objective

ROUNDING = 1e-6  # slack before rounding a bound of an integral objective (LP arithmetic)
CAP_TOLERANCE = 1e-9  # the evaluator accepts a utilisation up to cap * (1 + 1e-9)


def refutes(value: float, bound: float, maximize: bool, tolerance: float = 1e-6) -> bool:
    """A verified objective value on the wrong side of a bound: the bound is wrong (a solver error)."""
    slack = tolerance * max(1.0, abs(value))
    return bound < value - slack if maximize else bound > value + slack


def tighter(current: float | None, candidate: float | None, maximize: bool) -> float | None:
    """The tighter of two bounds on a maximised (smaller is tighter) or minimised objective."""
    if current is None:
        return candidate
    if candidate is None:
        return current
    return min(current, candidate) if maximize else max(current, candidate)


def round_bound(value: float, maximize: bool, integral: bool) -> float:
    """An objective that takes integer values only admits its bound rounded towards the feasible side."""
    if not integral or not math.isfinite(value):
        return float(value)
    return float(math.floor(value + ROUNDING)) if maximize else float(math.ceil(value - ROUNDING))


def objective_coefficients(instance: Instance, objective: Objective) -> np.ndarray:
    """Every coefficient the objective can add up (to tell whether its values are integers)."""
    apps = instance.applications
    if objective == Objective.MAX_HOSTED:
        return np.array([a.priority for a in apps] or [0.0])
    if objective == Objective.MAX_VALUE:
        values = [a.priority for a in apps] + [v for a in apps for v in a.value_by_accelerator.values()]
        return np.array(values or [0.0])
    if objective == Objective.MIN_COST:
        costs = [t.cost for t in instance.accelerator_types] + [v for a in apps for v in a.cost_by_accelerator.values()]
        return np.array(costs or [0.0])
    return np.array([1.0])


def objective_is_integral(instance: Instance, objective: Objective) -> bool:
    """Does ``objective`` take integer values only on this instance (so its bounds may be rounded)?"""
    coefficients = objective_coefficients(instance, objective)
    return bool(np.all(np.isfinite(coefficients)) and np.all(np.abs(coefficients - np.round(coefficients)) < 1e-12))


def trivial_bound(
    instance: Instance, alone: dict[str, AloneCheck] | None = None, *, placement: dict[str, str] | None = None
) -> float | None:
    """The trivial bound on the instance's primary objective (see the module docstring).

    ``placement`` (a verified one) spares the alone check of its applications where the bound
    does not need it (``max_hosted``).
    """
    objective = instance.objectives[0]
    apps = instance.applications
    required = [a for a in apps if instance.host_all or a.pinned]
    if objective == Objective.MAX_HOSTED:
        placed = placement or {}
        unplaced = [a.name for a in apps if a.name not in placed]
        checks = alone if alone is not None else check_alone(instance, unplaced)
        return float(sum(a.priority for a in apps if a.name in placed or checks[a.name].candidate_accelerators))
    alone = alone if alone is not None else check_alone(instance)
    if objective == Objective.MAX_VALUE:
        value = 0.0
        for a in apps:
            where = alone[a.name].candidate_accelerators
            if not where:
                continue
            best = max(a.value_by_accelerator.get(d, a.priority) for d in where)
            value += best if (instance.host_all or a.pinned) else max(best, 0.0)
    elif objective == Objective.MIN_COST:
        type_of = {acc.name: acc.type for _, acc in instance.accelerators()}
        type_cost = {t.name: t.cost for t in instance.accelerator_types}
        value = 0.0
        usable: set[str] = set()
        must = {a.name for a in required}
        for a in apps:
            where = alone[a.name].candidate_accelerators
            if not where:
                continue
            cheapest = min(a.cost_by_accelerator.get(d, 0.0) for d in where)
            value += cheapest if (instance.host_all or a.pinned) else min(cheapest, 0.0)
            if a.name in must:
                usable.update(where)
        if required and usable:
            value += min(type_cost[type_of[d]] for d in usable)  # costs are >= 0: one is used
    elif objective == Objective.MIN_ACCELERATORS:
        value = float(_volume_bound(instance, required, alone))
    elif objective == Objective.MIN_MIGRATIONS:
        value = float(
            sum(
                1
                for a in apps
                if a.current_accelerator is not None
                and a.current_accelerator not in alone[a.name].candidate_accelerators
            )
        )
    else:  # an objective added later without a trivial bound here
        return None
    return round_bound(value, objective.maximize, objective_is_integral(instance, objective))


def _volume_bound(instance: Instance, required, alone: dict[str, AloneCheck]) -> int:
    """Accelerators needed by the load of the applications that must be hosted (at least 1 if any)."""
    if not required:
        return 0
    models = instance.model_map()
    type_of = {acc.name: acc.type for _, acc in instance.accelerators()}
    total = 0.0
    for a in required:
        where = alone[a.name].candidate_accelerators
        if not where:
            continue
        profiles = models[a.model].profiles
        total += min(
            a.rate_rps * profiles[t].service_time_ms / 1000.0 / instance.utilization_cap(t)
            for t in {type_of[d] for d in where}
        )
    return max(1, math.ceil(total / (1.0 + CAP_TOLERANCE) - ROUNDING))
