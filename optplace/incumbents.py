"""The incumbent toolkit every exact method shares: warm start, repair and fill.

* :func:`warm_start` runs the registered heuristics (cheapest first, the seed's first-fit before
  the rest) within a budget and offers each placement to an :class:`~optplace.progress.IncumbentLog`;
* :func:`repair` keeps what fits of a placement that violates something (a relaxed model's
  solution, an integer master over relaxed columns): applications are re-inserted, most valuable
  first, with the exact probe of :class:`~optplace.cluster_state.ClusterState`, and those that
  no longer fit are dropped;
* :func:`fill` inserts applications that a placement leaves out wherever the probe accepts them,
  most valuable first (maximised primary objectives; under ``host_all`` also to complete a
  placement, whatever the objective).

The probe mirrors the evaluator within a tighter tolerance, so what these functions return is
accepted by the evaluator; callers still offer it to a log, which checks.
"""

from __future__ import annotations

import time
from typing import Any

from optplace.domain import Instance, Objective
from optplace.params import SolveParams
from optplace.progress import IncumbentLog
from optplace.registry import list_methods

# The seed's first-fit first: it is the cheapest and always gives a start.
FIRST = "first_fit"


def heuristic_names(names: list[str] | None = None) -> list[str]:
    """Registered heuristics in warm-start order (first_fit first, then by name), optionally restricted."""
    heuristics = sorted((m.name for m in list_methods() if m.kind == "heuristic"), key=lambda n: (n != FIRST, n))
    return heuristics if names is None else [n for n in heuristics if n in names]


def warm_start(
    instance: Instance,
    params: SolveParams,
    log: IncumbentLog,
    budget_s: float,
    names: list[str] | None = None,
    *,
    source_prefix: str = "heuristic:",
) -> dict[str, Any]:
    """Run heuristics (see :func:`heuristic_names`) within ``budget_s``; ``log`` keeps the best.

    The first heuristic always runs. Under ``params.deterministic`` a heuristic is never cut by
    the clock (each gets its own work budget), and every listed heuristic runs, so the result does
    not depend on the machine's speed.
    """
    from optplace.registry import get_method

    started = time.monotonic()
    tried: list[str] = []
    failed: dict[str, str] = {}
    for name in heuristic_names(names):
        left = budget_s - (time.monotonic() - started)
        if tried and left <= 0 and not params.deterministic:
            break
        sub = params.model_copy(update={"time_limit_s": max(left, 0.05), "warm_start": False, "options": {}})
        if params.deterministic:
            sub = params.model_copy(update={"time_limit_s": None, "warm_start": False, "options": {}})
        try:
            output = get_method(name).function(instance, sub)
        except Exception as error:  # a broken heuristic must not stop an exact method
            failed[name] = f"{type(error).__name__}: {error}"
            continue
        tried.append(name)
        if output.status.has_solution:
            log.offer(dict(output.placement), f"{source_prefix}{name}")
    out: dict[str, Any] = {
        "tried": tried,
        "chosen": log.best_source,
        "seconds": round(time.monotonic() - started, 4),
    }
    if failed:
        out["failed"] = failed
    return out


def _values(instance: Instance) -> dict[str, float]:
    """How much keeping each application is worth, for the primary objective (priority by default)."""
    primary = instance.objectives[0]
    if primary == Objective.MAX_VALUE:
        return {a.name: max(a.value_by_accelerator.values(), default=a.priority) for a in instance.applications}
    return {a.name: a.priority for a in instance.applications}


def repair(instance: Instance, placement: dict[str, str]) -> dict[str, str]:
    """The largest part of ``placement`` the probe accepts, most valuable applications first.

    Pinned applications go first; then the rest by decreasing value, then increasing rate (a light
    application is the cheaper one to keep). Never raises on a bad placement: names that the
    instance does not know are dropped.
    """
    from optplace.cluster_state import ClusterState

    apps = {a.name: a for a in instance.applications}
    accelerators = {acc.name for _, acc in instance.accelerators()}
    values = _values(instance)
    known = {a: d for a, d in placement.items() if a in apps and d in accelerators}
    ordered = dict(
        sorted(known.items(), key=lambda item: (not apps[item[0]].pinned, -values[item[0]], apps[item[0]].rate_rps))
    )
    state = ClusterState(instance)
    state.load(ordered, check=True)
    return state.placement()


def fill(instance: Instance, placement: dict[str, str], *, deadline: float | None = None) -> dict[str, str]:
    """``placement`` plus every left-out application the probe accepts somewhere (most valuable first).

    Only where inserting cannot hurt the primary objective: ``max_hosted`` and ``max_value`` (an
    application of positive value on the accelerator), or ``host_all`` where an incomplete
    placement is no solution at all. ``placement`` itself must be feasible (it is returned
    unchanged if the probe disagrees with it).
    """
    from optplace.cluster_state import ClusterState

    primary = instance.objectives[0]
    if not (primary.maximize or instance.host_all):
        return dict(placement)
    state = ClusterState(instance)
    if state.load(placement, check=True):
        return dict(placement)
    apps = instance.applications
    order = sorted(state.unplaced(), key=lambda a: (-apps[a].priority, apps[a].rate_rps, a))
    for a in order:
        if deadline is not None and time.monotonic() > deadline:
            break
        for d in state.candidates(a):
            name = state.acc_names[int(d)]
            if (
                primary == Objective.MAX_VALUE
                and not instance.host_all
                and apps[a].value_by_accelerator.get(name, apps[a].priority) <= 0
            ):
                continue
            if state.can_place(a, int(d)):
                state.place(a, int(d))
                break
    return state.placement()
