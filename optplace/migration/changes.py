"""What changed in a running cluster, and the instances a re-placement works on.

A :class:`Changes` document says what happened since the instance's ``current_accelerator``
fields were true: applications added and removed, new request rates, accelerators that failed
(``unavailable``: their applications are lost and must be placed again) or must be emptied
(``draining``: their applications must move), an optional budget of moves and the cost model of
a move. Decisions (also in ``docs/replan.md``):

* The changes are in effect now: the new rates are the rates every state of a plan is checked at.
* A pin protects against voluntary moves only. An application pinned to an accelerator that
  failed is lost like any other and may be placed anywhere; draining the accelerator of a pinned
  application is a contradiction and an error.
* ``max_moves`` limits migrations of running applications. Leaving a draining accelerator is
  mandatory and does not count; a temporary move to a parking accelerator does.
* Move cost ``moves`` counts migrations; ``load_time_ms`` and ``memory_mb`` weigh each move by the
  model's profile on the destination type (the time to start its backend there, the memory its
  copy holds during the move). Evicting a running application costs ``EVICTION_WEIGHT`` times its
  dearest move: a make-before-break move keeps it running, an eviction does not, so at equal
  hosted weight the target moves rather than evicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from optplace.domain import Application, Instance, Name, Objective, PositiveFloat
from optplace.exceptions import ChangesError, InstanceError

MAX_MOVES_LIMIT = 1_000_000
EVICTION_WEIGHT = 2.0  # an eviction costs this many of the application's dearest move


class MoveCost(StrEnum):
    """What a move costs in the objective that follows ``max_hosted``."""

    MOVES = "moves"  # every migration costs 1 (the min_migrations objective)
    LOAD_TIME_MS = "load_time_ms"  # the profile's load_time_ms on the destination type
    MEMORY_MB = "memory_mb"  # the profile's memory_mb on the destination type


class Changes(BaseModel):
    """What changed since the instance's ``current_accelerator`` fields were written."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    add_applications: list[Application] = Field(
        default_factory=list, description="New applications; they run nowhere yet (no current_accelerator)."
    )
    remove_applications: list[Name] = Field(default_factory=list, description="Applications that left.")
    rates_rps: dict[Name, PositiveFloat] = Field(
        default_factory=dict, description="New request rate of existing applications, by name."
    )
    unavailable_accelerators: list[Name] = Field(
        default_factory=list, description="Failed accelerators: their applications are lost and placed again."
    )
    draining_accelerators: list[Name] = Field(
        default_factory=list, description="Accelerators to empty by moving their applications away."
    )
    max_moves: int | None = Field(
        default=None,
        ge=0,
        le=MAX_MOVES_LIMIT,
        strict=True,  # like the instance's numbers: false or "3" is a mistake, not 0 or 3
        description="Most migrations of running applications (leaving a draining accelerator is free).",
    )
    move_cost: MoveCost = Field(default=MoveCost.MOVES, description="How moves are weighed after max_hosted.")


@dataclass(frozen=True)
class Situation:
    """The running cluster after the changes, and where everything runs now.

    ``instance`` keeps every accelerator (failed ones host nothing) and holds the applications
    after the changes, at their new rates; its ``current_accelerator`` fields say where each runs
    now (``None`` for new and lost ones). ``start`` is that placement.
    """

    instance: Instance
    start: dict[str, str]
    unavailable: frozenset[str]
    draining: frozenset[str]
    lost: frozenset[str]
    new: frozenset[str]
    changes: Changes


def check_changes(instance: Instance, changes: Changes) -> None:
    """Raise :class:`ChangesError` listing every way ``changes`` does not fit ``instance``."""
    errors: list[dict[str, str]] = []

    def error(pointer: str, code: str, message: str) -> None:
        field = pointer.strip("/").replace("/", ".")
        errors.append({"field": field, "pointer": pointer, "code": code, "message": message})

    apps = {a.name: a for a in instance.applications}
    accelerators = {acc.name for _, acc in instance.accelerators()}
    models = instance.model_map()
    type_names = {t.name for t in instance.accelerator_types}

    removed = _check_names(changes.remove_applications, "remove_applications", "application", set(apps), error)
    for name in changes.rates_rps:
        if name not in apps:
            error(
                f"/rates_rps/{name}",
                "invalid_reference",
                f"unknown application {name!r}; a new application's rate goes in add_applications",
            )
        elif name in removed:
            error(f"/rates_rps/{name}", "conflict", f"application {name!r} is also removed; drop one of the two")

    remaining = set(apps) - removed
    added: set[str] = set()
    for i, app in enumerate(changes.add_applications):
        where = f"/add_applications/{i}"
        if app.name in remaining:
            error(f"{where}/name", "duplicate", f"application {app.name!r} exists already; pick a new name")
        elif app.name in added:
            error(f"{where}/name", "duplicate", f"application {app.name!r} is added twice")
        added.add(app.name)
        if app.model not in models:
            error(f"{where}/model", "invalid_reference", f"unknown model {app.model!r}; declare it in the instance")
        if app.current_accelerator is not None or app.pinned:
            error(
                f"{where}/current_accelerator",
                "not_running",
                "a new application runs nowhere yet; leave current_accelerator and pinned unset",
            )
        for type_name in app.allowed_accelerator_types or []:
            if type_name not in type_names:
                error(
                    f"{where}/allowed_accelerator_types", "invalid_reference", f"unknown accelerator type {type_name!r}"
                )
        for field in ("cost_by_accelerator", "value_by_accelerator"):
            for acc_name in getattr(app, field):
                if acc_name not in accelerators:
                    error(f"{where}/{field}/{acc_name}", "invalid_reference", f"unknown accelerator {acc_name!r}")

    unavailable = _check_names(
        changes.unavailable_accelerators, "unavailable_accelerators", "accelerator", accelerators, error
    )
    draining = _check_names(changes.draining_accelerators, "draining_accelerators", "accelerator", accelerators, error)
    for i, name in enumerate(changes.draining_accelerators):
        if name in unavailable:
            error(f"/draining_accelerators/{i}", "conflict", f"accelerator {name!r} is also unavailable; list it once")
    for app in instance.applications:
        if app.pinned and app.name in remaining and app.current_accelerator in draining - unavailable:
            index = changes.draining_accelerators.index(app.current_accelerator)
            error(
                f"/draining_accelerators/{index}",
                "pinned",
                f"application {app.name!r} is pinned to {app.current_accelerator!r}; unpin it or do not drain",
            )
    if not accelerators - unavailable - draining:
        error("/draining_accelerators", "no_accelerator_left", "the changes leave no usable accelerator")

    if changes.move_cost != MoveCost.MOVES:
        field = changes.move_cost.value
        hosted_models = {apps[n].model for n in remaining if apps[n].current_accelerator is not None}
        missing = [
            f"models.{m}.profiles.{t}.{field}"
            for m in sorted(hosted_models)
            for t, profile in models[m].profiles.items()
            if getattr(profile, field) is None
        ]
        if missing:
            error(
                "/move_cost",
                "missing_profile_field",
                f"move_cost {field!r} needs {field} in the profiles of every running model; missing: "
                + ", ".join(missing[:5])
                + (" ..." if len(missing) > 5 else ""),
            )
    if errors:
        raise ChangesError(errors)


def _check_names(names: list[str], field: str, kind: str, known: set[str], error) -> set[str]:
    """Each name must be a known ``kind`` and listed once; returns the names."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name not in known:
            error(f"/{field}/{i}", "invalid_reference", f"unknown {kind} {name!r}; name one of the instance's")
        elif name in seen:
            error(f"/{field}/{i}", "duplicate", f"{kind} {name!r} is listed twice")
        seen.add(name)
    return seen


def check_running(instance: Instance, changes: Changes) -> None:
    """Raise :class:`~optplace.io.InstanceError` for an application said to run where its model
    cannot (no profile for that accelerator's type): such a state cannot be planned from."""
    gone = set(changes.remove_applications) | set(changes.unavailable_accelerators)
    types = {acc.name: acc.type for _, acc in instance.accelerators()}
    models = instance.model_map()
    errors = [
        {
            "field": f"applications[{i}].current_accelerator",
            "pointer": f"/applications/{i}/current_accelerator",
            "code": "not_runnable",
            "message": f"model {app.model!r} has no profile for type {types[app.current_accelerator]!r}, so "
            f"{app.name!r} cannot be running on {app.current_accelerator!r}; fix the current placement",
        }
        for i, app in enumerate(instance.applications)
        if app.current_accelerator is not None
        and app.name not in gone
        and app.current_accelerator not in gone
        and types[app.current_accelerator] not in models[app.model].profiles
    ]
    if errors:
        raise InstanceError("instance", errors)


def as_changes(changes: Changes | Mapping[str, Any] | None) -> Changes:
    return changes if isinstance(changes, Changes) else Changes.model_validate(changes or {})


def situation(instance: Instance, changes: Changes | Mapping[str, Any] | None) -> Situation:
    """Apply ``changes`` to ``instance`` (after :func:`check_changes` and :func:`check_running`)."""
    changes = as_changes(changes)
    check_changes(instance, changes)
    check_running(instance, changes)
    removed = set(changes.remove_applications)
    unavailable = frozenset(changes.unavailable_accelerators)
    apps: list[Application] = []
    lost: set[str] = set()
    for app in instance.applications:
        if app.name in removed:
            continue
        update: dict = {}
        if app.name in changes.rates_rps:
            update["rate_rps"] = changes.rates_rps[app.name]
        if app.current_accelerator in unavailable:
            update.update(current_accelerator=None, pinned=False)
            lost.add(app.name)
        apps.append(app.model_copy(update=update) if update else app)
    apps.extend(changes.add_applications)
    running = instance.model_copy(update={"applications": apps})
    start = {a.name: a.current_accelerator for a in apps if a.current_accelerator is not None}
    return Situation(
        instance=running,
        start=start,
        unavailable=unavailable,
        draining=frozenset(changes.draining_accelerators),
        lost=frozenset(lost),
        new=frozenset(a.name for a in changes.add_applications),
        changes=changes,
    )


def target_instance(situation: Situation, current: Mapping[str, str], pinned: Set[str] = frozenset()) -> Instance:
    """The instance a target placement is solved on.

    Unavailable and draining accelerators are gone (and nodes left without accelerators);
    ``current`` says where each application runs now (positions on removed accelerators are
    dropped: those applications must move anyway); ``pinned`` adds pins to the instance's own.
    Objectives: ``max_hosted``, then the move cost (as ``min_cost``, see :func:`_move_costs`),
    then ``min_migrations`` and ``min_accelerators``.
    """
    gone = situation.unavailable | situation.draining
    nodes = []
    for node in situation.instance.nodes:
        kept = [acc for acc in node.accelerators if acc.name not in gone]
        if kept:
            nodes.append(node.model_copy(update={"accelerators": kept}) if len(kept) < len(node.accelerators) else node)
    usable = {acc.name: acc.type for node in nodes for acc in node.accelerators}
    mode = situation.changes.move_cost
    models = situation.instance.model_map()
    apps = []
    for app in situation.instance.applications:
        where = current.get(app.name)
        where = where if where in usable else None
        update: dict = {
            "current_accelerator": where,
            "pinned": where is not None and (app.pinned or app.name in pinned),
            "cost_by_accelerator": _move_costs(app, where, usable, models[app.model].profiles, mode),
            "value_by_accelerator": {k: v for k, v in app.value_by_accelerator.items() if k in usable},
        }
        apps.append(app.model_copy(update=update))
    # min_cost carries only the move costs (accelerator fixed costs are 0 here); min_migrations
    # breaks its ties (and keeps the heuristics' "stay where you are" first step).
    objectives = [Objective.MAX_HOSTED, Objective.MIN_COST, Objective.MIN_MIGRATIONS, Objective.MIN_ACCELERATORS]
    types = [t.model_copy(update={"cost": 0.0}) for t in situation.instance.accelerator_types]
    data = situation.instance.model_copy(
        update={"nodes": nodes, "applications": apps, "objectives": objectives, "accelerator_types": types}
    ).model_dump()
    return Instance.model_validate(data)


def move_cost(profiles: Mapping, accelerator_type: str, mode: MoveCost) -> float:
    """The cost of one move onto an accelerator of ``accelerator_type`` under ``mode``."""
    if mode == MoveCost.MOVES:
        return 1.0
    value = getattr(profiles[accelerator_type], mode.value)
    return float(value or 0.0)


def _move_costs(app: Application, where: str | None, usable: dict[str, str], profiles: Mapping, mode: MoveCost) -> dict:
    """min_cost coefficients of a running application: staying costs -E, moving to d costs
    cost(d) - E, leaving it unplaced 0, with E = EVICTION_WEIGHT x its dearest move (over every
    usable accelerator its model runs on, its own included). Relative to staying: a move costs
    cost(d), an eviction E. Applications that run nowhere cost nothing anywhere."""
    if where is None:
        return {}
    costs = {d: move_cost(profiles, t, mode) for d, t in usable.items() if t in profiles}
    evict = EVICTION_WEIGHT * max(costs.values(), default=0.0)
    return {d: (c if d != where else 0.0) - evict for d, c in costs.items()}
