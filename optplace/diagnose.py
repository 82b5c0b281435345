"""Per-application diagnostics: could this application run anywhere, even alone?

Used to give every unplaced application a machine-readable reason, to prove simple
infeasibility (``host_all`` with an application that fits nowhere), to bound ``max_hosted``,
and by ``/v1/validate``. It is not the evaluator: it answers "alone on an empty device", a
necessary condition for any placement. Alone, one backend never switches (so co-compilation groups
and ``switch_variance`` play no part) and ``max_backends`` (at least 1) always admits it; a
synchronous front end's occupancy limit (a bound on the mean) is checked beside the SLO.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from optplace import latency
from optplace.domain import AcceleratorType, Application, Discipline, Instance, Node, Profile
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
    return _alone_latency_ms(instance, app, node, profile, discipline)


def _alone_latency_ms(
    instance: Instance,
    app: Application,
    node: Node,
    profile: Profile,
    discipline: Discipline,
    *,
    mean: bool = False,
) -> tuple[float, float]:
    """Alone: the latency in the SLO's statistic (or the mean, with ``mean``) and the utilisation.

    One class never switches, so neither co-compilation nor ``switch_variance`` plays a part here.
    """
    return _alone_latency_of(
        discipline.value,
        instance.settings.ps_model,
        None if mean else app.slo.quantile,
        app.rate_rps,
        profile.service_time_ms,
        profile.scv,
        profile.switch_overhead_ms,
        app.preprocess_ms,
        node.preprocess_cores,
        instance.settings.network_delay_ms,
    )


# A pure function of numbers, so its results are shared across instances: a service solving
# similar instances, or a library user solving one repeatedly, computes each case once. Bounded
# (about 2 MB at most).
@functools.lru_cache(maxsize=16384)
def _alone_latency_of(
    discipline: str,
    ps_model: str,
    q: float | None,
    rate_rps: float,
    service_ms: float,
    scv: float,
    switch_ms: float,
    preprocess_ms: float,
    cores: float,
    network_ms: float,
) -> tuple[float, float]:
    acc = latency.accelerator_latency(discipline, q, [rate_rps], [service_ms], [scv], [switch_ms], ps_model=ps_model)
    pre = 0.0
    if preprocess_ms > 0:
        stage = (latency.frontend_latency if q is None else lambda r, s, c: latency.frontend_quantile(q, r, s, c))(
            [rate_rps], [preprocess_ms], cores
        )
        pre = float(stage.latency_ms[0])
    total = latency.end_to_end_one_ms(pre, network_ms, float(acc.latency_ms[0]))
    return total, float(acc.utilization)


def _alone_is_a_lower_bound(instance: Instance, discipline: Discipline, quantile: float | None) -> bool:
    """Whether an application's latency alone is a lower bound on its latency beside others.

    True for the exact PS model (mean and the v2 percentile both grow with the utilisation), FCFS
    means (the exact mean wait: every co-located class adds work and switches, so waits grow along
    every sample path) and dedicated devices. Not for the seed's additive PS formula (a fast
    neighbour lowers the mean service time it uses) nor for multi-class FCFS percentiles (the
    queue's true percentiles are monotone, but the model's two Lindley steps on the asymptote are
    not proven to be), so there an SLO missed alone proves nothing and is not used.
    """
    if discipline == Discipline.PS:
        return instance.settings.ps_model == "exact"
    if discipline == Discipline.FCFS:
        return quantile is None
    return True


# The checker of the last instance asked about, with the checks made so far: solve() and the
# method it runs ask about the same (immutable) instance, and on thousands of applications the
# check is not free. Identity, not equality, is compared. Results are shared: read them, never
# modify them.
_last: tuple[Instance, _AloneChecker] | None = None


def check_alone(instance: Instance, applications: Iterable[str] | None = None) -> dict[str, AloneCheck]:
    """For every application (or only those named), the accelerators it could use alone, or why none.

    Checks are cached for the most recent instance, application by application, so asking about a
    few applications first and all of them later computes each once. Read the result; never modify it.
    """
    global _last
    cached = _last
    if cached is None or cached[0] is not instance:
        cached = (instance, _AloneChecker(instance))
        _last = cached
    checker = cached[1]
    names = [a.name for a in instance.applications] if applications is None else list(applications)
    return {name: checker.check(name) for name in names}


class _AloneChecker:
    """Everything about the cluster the checks share, computed once per instance."""

    def __init__(self, instance: Instance):
        self.instance = instance
        self.apps = {a.name: a for a in instance.applications}
        self.models = instance.model_map()
        self.checks: dict[str, AloneCheck] = {}
        # Accelerators grouped by (node's memory, memory cap, pre-processing cores and labels; type):
        # everything below depends only on those, so identical nodes share one check (a generated
        # cluster of 1,000 nodes has a handful of groups). Accelerator lists keep the file order.
        self.groups: dict[tuple, _Group] = {}
        self.group_of: dict[str, tuple] = {}
        types = instance.accelerator_type_map()
        for node, acc in instance.accelerators():
            memory_cap = instance.memory_cap(node)
            key = (node.memory_mb, memory_cap, node.preprocess_cores, tuple(sorted(node.labels.items())), acc.type)
            if key not in self.groups:
                acc_type = types[acc.type]
                self.groups[key] = _Group(node, acc_type, memory_cap, instance.utilization_cap(acc.type))
            self.groups[key].accelerators.append(acc.name)
            self.group_of[acc.name] = key
        self.order = {acc.name: i for i, (_, acc) in enumerate(instance.accelerators())}
        self.ordered: dict[tuple, list[str]] = {}  # sets of groups -> their accelerators in file order

    def accelerators_of(self, keys: list[tuple]) -> list[str]:
        signature = tuple(keys)
        if signature not in self.ordered:
            names = (a for k in signature for a in self.groups[k].accelerators)
            self.ordered[signature] = sorted(names, key=self.order.__getitem__)
        return list(self.ordered[signature])

    def check(self, name: str) -> AloneCheck:
        if name not in self.checks:
            self.checks[name] = self._check(self.apps[name])
        return self.checks[name]

    def _check(self, app: Application) -> AloneCheck:
        profiles = self.models[app.model].profiles
        outcomes = {key: self._outcome(app, profiles, key, group) for key, group in self.groups.items()}
        check = AloneCheck(app.name)
        check.feasible_accelerators = self.accelerators_of([k for k, o in outcomes.items() if o.feasible])
        check.candidate_accelerators = self.accelerators_of([k for k, o in outcomes.items() if o.candidate])
        within_cap = [o.latency_ms for o in outcomes.values() if o.within_cap]
        check.best_alone_latency_ms = min(within_cap) if within_cap else None
        if app.pinned and app.current_accelerator is not None:
            current = app.current_accelerator
            pinned = outcomes[self.group_of[current]] if current in self.group_of else None
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
                f"misses its {app.slo.statistic} SLO{' or occupancy limit' if app.frontend_concurrency else ''} "
                "alone on every accelerator "
                f"({_best_slo_miss(app, list(outcomes.values()))}); the latency model does not rule out "
                "that neighbours help, so methods still consider "
                f"{len(check.candidate_accelerators)} accelerator(s)"
            )
        return check

    def _outcome(self, app: Application, profiles: dict[str, Profile], key: tuple, group: _Group) -> _Outcome:
        instance, node, acc_type = self.instance, group.node, group.type
        type_name = acc_type.name
        if type_name not in profiles:
            return _Outcome(0, f"model {app.model!r} has no profile for accelerator type {type_name!r}")
        if app.allowed_accelerator_types is not None and type_name not in app.allowed_accelerator_types:
            return _Outcome(0, f"accelerator type {type_name!r} is not in allowed_accelerator_types")
        missing = {k: v for k, v in app.required_labels.items() if node.labels.get(k) != v}
        if missing:
            return _Outcome(0, f"node {node.name!r} lacks the required labels {missing}")
        profile = profiles[type_name]
        memory_cap = group.memory_cap
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
        total, utilization = _alone_latency_ms(instance, app, node, profile, acc_type.discipline)
        cap = group.utilization_cap
        if utilization > cap:
            return _Outcome(
                2,
                f"utilisation {utilization:.3f} alone on a {type_name!r} ({app.rate_rps:g} req/s x "
                f"{profile.service_time_ms:g} ms) against a cap of {cap:g}",
                shortfall=utilization / cap,
            )
        misses = []  # (problem, whether missing it alone proves it is missed beside others too)
        if total > app.slo.latency_ms:
            misses.append(
                (
                    f"predicted {app.slo.statistic} latency alone on a {type_name!r} is {total:.3f} ms "
                    f"against an SLO of {app.slo.latency_ms:g} ms",
                    _alone_is_a_lower_bound(instance, acc_type.discipline, app.slo.quantile),
                )
            )
        if app.frontend_concurrency is not None:
            settings = instance.settings
            mean = (
                total
                if app.slo.quantile is None
                else _alone_latency_ms(instance, app, node, profile, acc_type.discipline, mean=True)[0]
            )
            limit = latency.frontend_occupancy_limit_ms(
                app.rate_rps, app.frontend_concurrency, settings.frontend_occupancy_cap
            )
            if mean > limit:
                misses.append(
                    (
                        f"predicted mean latency alone on a {type_name!r} is {mean:.3f} ms, above the {limit:.3f} ms "
                        f"its synchronous front end allows ({settings.frontend_occupancy_cap:g} x frontend_concurrency "
                        f"{app.frontend_concurrency} requests in flight at {app.rate_rps:g} req/s)",
                        _alone_is_a_lower_bound(instance, acc_type.discipline, None),
                    )
                )
        if not misses:
            return _Outcome(3, latency_ms=total, within_cap=True, feasible=True, candidate=True)
        return _Outcome(
            3,
            "; ".join(problem for problem, _ in misses),
            latency_ms=total,
            within_cap=True,
            candidate=not any(proven for _, proven in misses),
        )


@dataclass
class _Group:
    """Accelerators interchangeable for any application alone (same type, same kind of node)."""

    node: Node
    type: AcceleratorType
    memory_cap: float
    utilization_cap: float
    accelerators: list[str] = field(default_factory=list)


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
    if app.frontend_concurrency is not None:  # the SLO, the occupancy limit or both: say which, on the best one
        best = min((o for o in outcomes if o.within_cap), key=lambda o: o.latency_ms)
        return UnplacedReason.CANNOT_MEET_SLO_ALONE, f"on the fastest compatible accelerator: {best.problem}"
    return UnplacedReason.CANNOT_MEET_SLO_ALONE, (
        f"best predicted {app.slo.statistic} latency alone is {_best_slo_miss(app, outcomes)}"
    )


def _best_slo_miss(app: Application, outcomes: list[_Outcome]) -> str:
    best = min((o.latency_ms for o in outcomes if o.within_cap), default=float("inf"))
    return f"{best:.3f} ms against an SLO of {app.slo.latency_ms:g} ms"
