"""Comparing placements under an instance's lexicographic objectives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from optplace.domain import Instance, Objective


def lexicographic_key(objectives: Sequence[Objective], values: Mapping[str, float]) -> tuple[float, ...]:
    """A tuple that sorts better placements higher (maximised objectives as-is, minimised negated)."""
    return tuple(values[o.value] if o.maximize else -values[o.value] for o in objectives)


def hosts_nothing(instance: Instance) -> str | None:
    """Why the empty placement is the one optimum of ``instance``'s objectives, or None when it is not.

    Without ``host_all``, ``min_accelerators`` is 0 only for the empty placement, and so is
    ``min_cost`` when every accelerator type costs more than 0 and no per-application cost is
    negative: an objective list led by either hosts nothing, whatever follows. An objective that is
    the same for every placement (``min_migrations`` when no application has a current accelerator,
    ``min_cost`` when nothing costs anything) passes the decision to the next one; a maximised
    objective settles it the other way.
    """
    if instance.host_all or not instance.applications:
        return None
    for objective in instance.objectives:
        if objective.maximize:
            return None
        if objective == Objective.MIN_MIGRATIONS:
            if any(a.current_accelerator is not None for a in instance.applications):
                return None
            continue
        if objective == Objective.MIN_COST:
            app_costs = [c for a in instance.applications for c in a.cost_by_accelerator.values()]
            if all(t.cost == 0 for t in instance.accelerator_types) and all(c == 0 for c in app_costs):
                continue
            if not (all(t.cost > 0 for t in instance.accelerator_types) and all(c >= 0 for c in app_costs)):
                return None
        names = [o.value for o in instance.objectives]
        return (
            f"objectives {names} without host_all make hosting nothing optimal ({objective.value} = 0 only "
            f"when nothing is placed); put max_hosted first (e.g. ['max_hosted', '{objective.value}']) "
            "or set host_all: true"
        )
    return None
