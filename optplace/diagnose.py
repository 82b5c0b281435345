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
    """Where an application could run if it were alone, and why not elsewhere."""

    application: str
    feasible_accelerators: list[str] = field(default_factory=list)
    reason: UnplacedReason | None = None  # set when feasible_accelerators is empty
    detail: str = ""
    best_alone_latency_ms: float | None = None


def alone_latency_ms(instance: Instance, app: Application, node: Node, type_name: str) -> tuple[float, float]:
    """End-to-end latency (in the SLO's statistic) and accelerator utilisation of ``app`` alone."""
    profile = instance.model_map()[app.model].profiles[type_name]
    discipline = instance.accelerator_type_map()[type_name].discipline
    q = app.slo.quantile
    acc = latency.accelerator_latency(
        discipline,
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
    types = instance.accelerator_type_map()
    models = instance.model_map()
    checks: dict[str, AloneCheck] = {}
    # Accelerators grouped by (node's memory, memory cap, pre-processing cores and labels; type):
    # everything below depends only on those, so identical nodes share one check (a generated
    # cluster of 1,000 nodes has a handful of groups). Feasible lists keep the file order.
    groups: dict[tuple, list[str]] = {}
    nodes: dict[tuple, Node] = {}
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
    alone_cache: dict[tuple, tuple[float, float]] = {}
    ordered: dict[tuple, list[str]] = {}  # feasible groups -> their accelerators in file order
    for app in instance.applications:
        check = AloneCheck(app.name)
        model = models[app.model]
        compatible = memory_ok = False
        best = float("inf")  # best latency among options within the utilisation cap
        lowest_load = float("inf")  # lowest utilisation alone, with its cap, when none is within
        lowest_cap = 0.0
        feasible_groups: list[tuple] = []
        for key in groups:
            node, type_name = nodes[key], key[-1]
            if type_name not in model.profiles:
                continue
            if app.allowed_accelerator_types is not None and type_name not in app.allowed_accelerator_types:
                continue
            if any(node.labels.get(k) != v for k, v in app.required_labels.items()):
                continue
            compatible = True
            profile = model.profiles[type_name]
            acc_type = types[type_name]
            memory_cap = instance.memory_cap(node)
            node_mb = app.frontend_memory_mb + (0.0 if acc_type.memory_mb else profile.memory_mb)
            if node_mb > node.memory_mb * memory_cap or (
                acc_type.memory_mb and profile.memory_mb > acc_type.memory_mb * memory_cap
            ):
                continue
            memory_ok = True
            # Alone latency depends on the app only through these; generated sets repeat them a lot.
            cache_key = (app.model, app.rate_rps, app.preprocess_ms, app.slo.statistic, key)
            if cache_key not in alone_cache:
                alone_cache[cache_key] = alone_latency_ms(instance, app, node, type_name)
            total, utilization = alone_cache[cache_key]
            cap = instance.utilization_cap(type_name)
            if utilization <= cap:
                best = min(best, total)
            elif utilization < lowest_load:
                lowest_load, lowest_cap = utilization, cap
            slo_ok = total <= app.slo.latency_ms or not _alone_is_a_lower_bound(
                instance, types[type_name].discipline, app.slo.quantile
            )
            if utilization <= cap and slo_ok:
                feasible_groups.append(key)
        if feasible_groups:
            signature = tuple(feasible_groups)
            if signature not in ordered:
                ordered[signature] = sorted((a for k in signature for a in groups[k]), key=order.__getitem__)
            check.feasible_accelerators = list(ordered[signature])
        if app.pinned:
            allowed = set(check.feasible_accelerators)
            check.feasible_accelerators = [app.current_accelerator] if app.current_accelerator in allowed else []
            if not check.feasible_accelerators:
                check.reason = UnplacedReason.PINNED_ACCELERATOR_INFEASIBLE
                check.detail = f"cannot run on its pinned accelerator {app.current_accelerator!r} even alone"
        if check.reason is None and not check.feasible_accelerators:
            if not compatible:
                check.reason = UnplacedReason.NO_COMPATIBLE_ACCELERATOR
                check.detail = (
                    "no accelerator has a profile for model "
                    f"{app.model!r} and matches the allowed types and required labels"
                )
            elif not memory_ok:
                check.reason = UnplacedReason.EXCEEDS_MEMORY_ALONE
                check.detail = "needs more memory than any compatible node or device allows under its cap"
            else:
                check.reason = UnplacedReason.CANNOT_MEET_SLO_ALONE
                if best < float("inf"):
                    check.detail = (
                        f"best predicted {app.slo.statistic} latency alone is {best:.3f} ms "
                        f"against an SLO of {app.slo.latency_ms:g} ms"
                    )
                else:
                    check.detail = (
                        "its load alone exceeds the utilisation cap on every compatible accelerator "
                        f"(lowest utilisation {lowest_load:.3f} against a cap of {lowest_cap:g})"
                    )
        check.best_alone_latency_ms = best if best != float("inf") else None
        checks[app.name] = check
    return checks
