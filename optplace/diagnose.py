"""Per-application diagnostics: could this application run anywhere, even alone?

Used to give every unplaced application a machine-readable reason, to prove simple
infeasibility (``host_all`` with an application that fits nowhere), to bound ``max_hosted``,
and by ``/v1/validate``. It is not the evaluator: it answers "alone on an empty device", a
necessary condition for any placement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optplace import latency
from optplace.domain import Application, Discipline, Instance, Node
from optplace.result import UnplacedReason


@dataclass
class AloneCheck:
    """Where an application could run if it were alone, and why not elsewhere.

    ``feasible_accelerators`` are those where the application alone meets everything the
    evaluator checks (profile, type, labels, memory, utilisation cap, SLO): placing it there by
    itself passes :func:`optplace.evaluate.evaluate`. ``candidate_accelerators`` is the necessary
    condition methods search over: a superset that also keeps accelerators where the application
    misses its SLO alone but the latency model does not prove that neighbours cannot help (the
    seed's additive PS formula and multi-class FCFS percentiles are not monotone in the mix).
    """

    application: str
    feasible_accelerators: list[str] = field(default_factory=list)
    candidate_accelerators: list[str] = field(default_factory=list)
    reason: UnplacedReason | None = None  # set when candidate_accelerators is empty
    detail: str = ""  # why not, with numbers; also set when only neighbours could help
    best_alone_latency_ms: float | None = None


def alone_latency_ms(instance: Instance, app: Application, node: Node, type_name: str) -> tuple[float, float]:
    """End-to-end latency (in the SLO's statistic) and accelerator utilisation of ``app`` alone."""
    profile = instance.model_map()[app.model].profiles[type_name]
    discipline = instance.accelerator_type_map()[type_name].discipline
    q = app.slo.quantile
    acc = latency.accelerator_latency(
        discipline.value,
        q,
        [app.rate_rps],
        [profile.service_time_ms],
        [profile.scv],
        [profile.switch_overhead_ms],
        ps_model=instance.settings.ps_model,
    )
    pre = 0.0
    if app.preprocess_ms > 0:
        stage = (latency.frontend_latency if q is None else lambda r, s, c: latency.frontend_quantile(q, r, s, c))(
            [app.rate_rps], [app.preprocess_ms], node.preprocess_cores
        )
        pre = float(stage.latency_ms[0])
    total = float(latency.end_to_end_ms(pre, instance.settings.network_delay_ms, acc.latency_ms)[0])
    return total, acc.utilization


def _alone_is_a_lower_bound(instance: Instance, discipline: Discipline, quantile: float | None) -> bool:
    """Whether an application's latency alone is a lower bound on its latency beside others.

    True for the exact PS model, FCFS means (every co-located class adds work and switches) and
    dedicated devices. Not for the seed's additive PS formula (a fast neighbour lowers the mean
    service time it uses) nor for multi-class FCFS percentiles (the tail approximation is not
    monotone in the mix), so there an SLO missed alone proves nothing and is not used.
    """
    if discipline == Discipline.PS:
        return instance.settings.ps_model == "exact"
    if discipline == Discipline.FCFS:
        return quantile is None
    return True


# The last instance checked and its result: solve() and the method it runs both ask for the same
# (immutable) instance, and on thousands of applications the check is not free. Identity, not
# equality, is compared. The result is shared, so callers must treat it as read-only.
_last: tuple[Instance, dict[str, AloneCheck]] | None = None


def check_alone(instance: Instance) -> dict[str, AloneCheck]:
    """For every application, the accelerators it could use alone, or the reason it can use none.

    The returned mapping is cached for the most recent instance: read it, never modify it.
    """
    global _last
    cached = _last
    if cached is None or cached[0] is not instance:
        cached = (instance, _check_alone(instance))
        _last = cached
    return cached[1]


def _check_alone(instance: Instance) -> dict[str, AloneCheck]:
    checks: dict[str, AloneCheck] = {}
    # Accelerators grouped by (node's memory, memory cap, pre-processing cores and labels; type):
    # everything below depends only on those, so identical nodes share one check (a generated
    # cluster of 1,000 nodes has a handful of groups). Accelerator lists keep the file order.
    groups: dict[tuple, list[str]] = {}
    nodes: dict[tuple, Node] = {}
    group_of: dict[str, tuple] = {}
    order = {acc.name: i for i, (_, acc) in enumerate(instance.accelerators())}
    for node, acc in instance.accelerators():
        key = (
            node.memory_mb,
            instance.memory_cap(node),
            node.preprocess_cores,
            tuple(sorted(node.labels.items())),
            acc.type,
        )
        groups.setdefault(key, []).append(acc.name)
        nodes.setdefault(key, node)
        group_of[acc.name] = key
    alone_cache: dict[tuple, tuple[float, float]] = {}
    ordered: dict[tuple, list[str]] = {}  # groups -> their accelerators in file order
    models = instance.model_map()

    def accelerators_of(keys: list[tuple]) -> list[str]:
        signature = tuple(keys)
        if signature not in ordered:
            ordered[signature] = sorted((a for k in signature for a in groups[k]), key=order.__getitem__)
        return list(ordered[signature])

    for app in instance.applications:
        model = models[app.model]
        outcomes = {key: _outcome(instance, app, model.profiles, key, nodes[key], alone_cache) for key in groups}
        check = AloneCheck(app.name)
        check.feasible_accelerators = accelerators_of([k for k, o in outcomes.items() if o.feasible])
        check.candidate_accelerators = accelerators_of([k for k, o in outcomes.items() if o.candidate])
        within_cap = [o.latency_ms for o in outcomes.values() if o.within_cap]
        check.best_alone_latency_ms = min(within_cap) if within_cap else None
        if app.pinned and app.current_accelerator is not None:
            current = app.current_accelerator
            pinned = outcomes[group_of[current]] if current in group_of else None
            check.feasible_accelerators = [current] if pinned and pinned.feasible else []
            check.candidate_accelerators = [current] if pinned and pinned.candidate else []
            if not check.candidate_accelerators:
                check.reason = UnplacedReason.PINNED_ACCELERATOR_INFEASIBLE
                why = pinned.problem if pinned else "it is not an accelerator of this cluster"
                check.detail = f"cannot run on its pinned accelerator {current!r} even alone: {why}"
        if check.reason is None and not check.candidate_accelerators:
            check.reason, check.detail = _reason(app, list(outcomes.values()))
        elif not check.feasible_accelerators and not check.detail:
            check.detail = (
                f"misses its {app.slo.statistic} SLO alone on every accelerator "
                f"({_best_slo_miss(app, list(outcomes.values()))}); the latency model does not rule out "
                "that neighbours help, so methods still consider "
                f"{len(check.candidate_accelerators)} accelerator(s)"
            )
        checks[app.name] = check
    return checks


@dataclass(frozen=True)
class _Outcome:
    """One application alone on one group of identical accelerators."""

    stage: int  # how far it got: 0 incompatible, 1 memory fails, 2 utilisation cap fails, 3 SLO checked
    problem: str = ""  # why it fails here, with numbers
    shortfall: float = 0.0  # needed / available for memory and utilisation failures
    latency_ms: float = float("inf")
    within_cap: bool = False
    feasible: bool = False  # alone it passes the evaluator
    candidate: bool = False  # methods must consider it (feasible, or the SLO miss proves nothing)


def _outcome(
    instance: Instance,
    app: Application,
    profiles: dict,
    key: tuple,
    node: Node,
    cache: dict[tuple, tuple[float, float]],
) -> _Outcome:
    type_name = key[-1]
    if type_name not in profiles:
        return _Outcome(0, f"model {app.model!r} has no profile for accelerator type {type_name!r}")
    if app.allowed_accelerator_types is not None and type_name not in app.allowed_accelerator_types:
        return _Outcome(0, f"accelerator type {type_name!r} is not in allowed_accelerator_types")
    missing = {k: v for k, v in app.required_labels.items() if node.labels.get(k) != v}
    if missing:
        return _Outcome(0, f"node {node.name!r} lacks the required labels {missing}")
    profile = profiles[type_name]
    acc_type = instance.accelerator_type_map()[type_name]
    memory_cap = instance.memory_cap(node)
    backend_on_node = 0.0 if acc_type.memory_mb else profile.memory_mb
    node_mb = app.frontend_memory_mb + backend_on_node
    node_limit = node.memory_mb * memory_cap
    if node_mb > node_limit:
        return _Outcome(
            1,
            f"needs {node_mb:g} MB of node memory (front end {app.frontend_memory_mb:g} + backend "
            f"{backend_on_node:g}) but node {node.name!r} allows {node_limit:g} MB "
            f"({node.memory_mb:g} MB x memory cap {memory_cap:g})",
            shortfall=node_mb / node_limit,
        )
    if acc_type.memory_mb and profile.memory_mb > acc_type.memory_mb * memory_cap:
        device_limit = acc_type.memory_mb * memory_cap
        return _Outcome(
            1,
            f"needs {profile.memory_mb:g} MB of device memory but a {type_name!r} allows {device_limit:g} MB "
            f"({acc_type.memory_mb:g} MB x memory cap {memory_cap:g})",
            shortfall=profile.memory_mb / device_limit,
        )
    # Alone latency depends on the app only through these; generated sets repeat them a lot.
    cache_key = (app.model, app.rate_rps, app.preprocess_ms, app.slo.statistic, key)
    if cache_key not in cache:
        cache[cache_key] = alone_latency_ms(instance, app, node, type_name)
    total, utilization = cache[cache_key]
    cap = instance.utilization_cap(type_name)
    if utilization > cap:
        return _Outcome(
            2,
            f"utilisation {utilization:.3f} alone on a {type_name!r} ({app.rate_rps:g} req/s x "
            f"{profile.service_time_ms:g} ms) against a cap of {cap:g}",
            shortfall=utilization / cap,
        )
    if total <= app.slo.latency_ms:
        return _Outcome(3, latency_ms=total, within_cap=True, feasible=True, candidate=True)
    discipline = acc_type.discipline
    return _Outcome(
        3,
        f"predicted {app.slo.statistic} latency alone on a {type_name!r} is {total:.3f} ms "
        f"against an SLO of {app.slo.latency_ms:g} ms",
        latency_ms=total,
        within_cap=True,
        candidate=not _alone_is_a_lower_bound(instance, discipline, app.slo.quantile),
    )


def _reason(app: Application, outcomes: list[_Outcome]) -> tuple[UnplacedReason, str]:
    """The reason code and its numbers for an application no accelerator can take, even alone."""
    furthest = max((o.stage for o in outcomes), default=0)
    if furthest == 0:
        return UnplacedReason.NO_COMPATIBLE_ACCELERATOR, (
            f"no accelerator has a profile for model {app.model!r} and matches the allowed types and required labels"
        )
    if furthest == 1:
        closest = min((o for o in outcomes if o.stage == 1), key=lambda o: o.shortfall)
        return UnplacedReason.EXCEEDS_MEMORY_ALONE, f"on the roomiest compatible accelerator it {closest.problem}"
    if furthest == 2:
        closest = min((o for o in outcomes if o.stage == 2), key=lambda o: o.shortfall)
        return UnplacedReason.CANNOT_MEET_SLO_ALONE, (
            f"its load alone exceeds the utilisation cap on every compatible accelerator; the lowest is {closest.problem}"
        )
    return UnplacedReason.CANNOT_MEET_SLO_ALONE, (
        f"best predicted {app.slo.statistic} latency alone is {_best_slo_miss(app, outcomes)}"
    )


def _best_slo_miss(app: Application, outcomes: list[_Outcome]) -> str:
    best = min((o.latency_ms for o in outcomes if o.within_cap), default=float("inf"))
    return f"{best:.3f} ms against an SLO of {app.slo.latency_ms:g} ms"
