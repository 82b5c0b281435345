"""The independent evaluator: recompute everything about a placement from first principles.

Given an instance and a placement (application -> accelerator) it recomputes per-application
predicted latency (mean or the SLO's percentile), per-accelerator utilisation and memory,
per-node memory and front-end load, every objective's value, and the list of violations with
machine-readable reason codes. It uses only the domain model and :mod:`optplace.latency`, and
shares no code with any formulation or heuristic: it is the referee every method is checked by.
The latency formulas themselves live once, in :mod:`optplace.latency` (model v2), which the
heuristics' probe, the formulations and the pricing call too; what stays independent of them is
the search, never the arithmetic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict

from optplace import latency
from optplace.domain import Application, Discipline, Instance, Node, Objective

# Relative tolerance when comparing a latency or a load to its limit: tight enough that nothing
# meaningfully infeasible passes, loose enough that a formulation's exact equality is accepted.
RELATIVE_TOLERANCE = 1e-9


class ViolationCode(StrEnum):
    """Why a placement breaks a rule; stable strings for machines."""

    NO_PROFILE = "no_profile"
    TYPE_NOT_ALLOWED = "type_not_allowed"
    LABELS_NOT_MATCHED = "labels_not_matched"
    PINNED_MOVED = "pinned_moved"
    DEDICATED_SHARED = "dedicated_shared"
    UNSTABLE = "unstable"
    UTILIZATION_CAP_EXCEEDED = "utilization_cap_exceeded"
    ACCELERATOR_MEMORY_EXCEEDED = "accelerator_memory_exceeded"
    NODE_MEMORY_EXCEEDED = "node_memory_exceeded"
    FRONTEND_UNSTABLE = "frontend_unstable"
    SLO_VIOLATED = "slo_violated"
    NOT_HOSTED = "not_hosted"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class Violation(_Out):
    code: ViolationCode
    message: str
    application: str | None = None
    accelerator: str | None = None
    node: str | None = None


class ApplicationEvaluation(_Out):
    application: str
    accelerator: str | None
    node: str | None
    latency_ms: float | None  # end to end, in the SLO's statistic; None if unplaced or unstable
    accelerator_latency_ms: float | None
    frontend_latency_ms: float | None
    slo_ms: float
    statistic: str
    meets_slo: bool | None  # None when unplaced


class AcceleratorEvaluation(_Out):
    accelerator: str
    node: str
    type: str
    discipline: Discipline
    applications: list[str]
    backends: list[str]  # one entry per class: the model name, or the application for unshared
    utilization: float
    utilization_cap: float
    memory_used_mb: float | None  # device memory, when the type has its own
    memory_limit_mb: float | None


class NodeEvaluation(_Out):
    node: str
    memory_used_mb: float
    memory_limit_mb: float
    frontend_utilization: float


class Evaluation(_Out):
    """Everything the evaluator recomputed. ``feasible`` means no violation of any kind.

    ``latency_model`` names the version of :mod:`optplace.latency` the latencies come from.
    """

    feasible: bool
    applications: list[ApplicationEvaluation]
    accelerators: list[AcceleratorEvaluation]
    nodes: list[NodeEvaluation]
    objectives: dict[str, float]
    violations: list[Violation]
    latency_model: str = latency.LATENCY_MODEL

    def violating_applications(self) -> set[str]:
        return {v.application for v in self.violations if v.application is not None}

    def hosted_without_violation(self) -> int:
        bad = self.violating_applications()
        bad_accelerators = {v.accelerator for v in self.violations if v.application is None and v.accelerator}
        bad_nodes = {v.node for v in self.violations if v.application is None and v.node}
        return sum(
            1
            for a in self.applications
            if a.accelerator is not None
            and a.application not in bad
            and a.accelerator not in bad_accelerators
            and a.node not in bad_nodes
        )


def _exceeds(value: float, limit: float) -> bool:
    return value > limit * (1.0 + RELATIVE_TOLERANCE) + 1e-12


def backend_key(app: Application, shareable: bool) -> str:
    """Applications of a shareable model share one backend per accelerator; others get their own."""
    return app.model if shareable else f"{app.model}@{app.name}"


def evaluate(
    instance: Instance, placement: Mapping[str, str], *, reserved: Mapping[str, str] | None = None
) -> Evaluation:
    """Recompute latencies, loads, memory, objectives and violations of ``placement``.

    ``reserved`` (application -> accelerator) lists idle copies, as during a make-before-break
    move: a copy holds its backend's memory (once per shared backend, like any backend) and its
    front end's, and counts as a backend on a dedicated accelerator, but carries no traffic.

    Raises ``ValueError`` when the placement names an application or accelerator that the
    instance does not have: that is misuse, not a violation.
    """
    apps = {a.name: a for a in instance.applications}
    located = {acc.name: (node, acc) for node, acc in instance.accelerators()}
    unknown_apps = sorted(set(placement) - set(apps))
    if unknown_apps:
        raise ValueError(f"placement names unknown applications: {unknown_apps[:5]}")
    unknown_accs = sorted({a for a in placement.values() if a not in located})
    if unknown_accs:
        raise ValueError(f"placement names unknown accelerators: {unknown_accs[:5]}")

    types = instance.accelerator_type_map()
    models = instance.model_map()
    settings = instance.settings
    violations: list[Violation] = []
    idle = _idle_copies(instance, reserved or {}, apps, located)

    by_accelerator: dict[str, list[Application]] = defaultdict(list)
    for app in instance.applications:
        if app.name in placement:
            by_accelerator[placement[app.name]].append(app)

    # Per-application accelerator latency, filled per accelerator below.
    acc_latency: dict[str, float] = {}
    acc_reports: list[AcceleratorEvaluation] = []
    device_backend_mb_on_node: dict[str, float] = defaultdict(float)

    for node, acc in instance.accelerators():
        hosted = by_accelerator.get(acc.name, [])
        acc_type = types[acc.type]
        cap = instance.utilization_cap(acc.type)
        if not hosted and acc.name not in idle:
            acc_reports.append(
                AcceleratorEvaluation(
                    accelerator=acc.name,
                    node=node.name,
                    type=acc.type,
                    discipline=acc_type.discipline,
                    applications=[],
                    backends=[],
                    utilization=0.0,
                    utilization_cap=cap,
                    memory_used_mb=0.0 if acc_type.memory_mb else None,
                    memory_limit_mb=acc_type.memory_mb * instance.memory_cap(node) if acc_type.memory_mb else None,
                )
            )
            continue
        runnable: list[Application] = []
        for app in hosted:
            where = {"application": app.name, "accelerator": acc.name, "node": node.name}
            if acc.type not in models[app.model].profiles:
                violations.append(
                    Violation(
                        code=ViolationCode.NO_PROFILE,
                        message=(f"model {app.model!r} has no profile for accelerator type {acc.type!r}"),
                        **where,
                    )
                )
                acc_latency[app.name] = np.inf
                continue
            runnable.append(app)
            if app.allowed_accelerator_types is not None and acc.type not in app.allowed_accelerator_types:
                violations.append(
                    Violation(
                        code=ViolationCode.TYPE_NOT_ALLOWED,
                        message=(f"type {acc.type!r} is not in allowed_accelerator_types"),
                        **where,
                    )
                )
            missing = {k: v for k, v in app.required_labels.items() if node.labels.get(k) != v}
            if missing:
                violations.append(
                    Violation(
                        code=ViolationCode.LABELS_NOT_MATCHED,
                        message=(f"node {node.name!r} lacks required labels {missing}"),
                        **where,
                    )
                )

        keys = [backend_key(a, models[a.model].shareable) for a in runnable]
        class_keys, class_rates, class_of = latency.merge_classes(keys, [a.rate_rps for a in runnable])
        first_app: dict[int, Application] = {}
        for row, app in enumerate(runnable):
            first_app.setdefault(int(class_of[row]), app)
        profiles = [models[first_app[c].model].profiles[acc.type] for c in range(len(class_keys))]
        service = np.array([p.service_time_ms for p in profiles])
        scv = np.array([p.scv for p in profiles])
        switch = np.array([p.switch_overhead_ms for p in profiles])
        backend_mb = float(sum(p.memory_mb for p in profiles))
        idle_backends = {
            key: models[app.model].profiles[acc.type].memory_mb
            for app in idle.get(acc.name, [])
            if (key := backend_key(app, models[app.model].shareable)) not in class_keys
        }
        backend_mb += float(sum(idle_backends.values()))
        class_keys = [*class_keys, *idle_backends]

        utilization = 0.0
        per_class_latency: dict[float | None, np.ndarray] = {}
        if acc_type.discipline == Discipline.DEDICATED and len(class_keys) > 1:
            violations.append(
                Violation(
                    code=ViolationCode.DEDICATED_SHARED,
                    accelerator=acc.name,
                    node=node.name,
                    message=f"dedicated accelerator hosts {len(class_keys)} backends {class_keys}; it may host one",
                )
            )
        if runnable:
            for q in {a.slo.quantile for a in runnable}:
                result = latency.accelerator_latency(
                    acc_type.discipline, q, class_rates, service, scv, switch, ps_model=settings.ps_model
                )
                per_class_latency[q] = result.latency_ms
                utilization = result.utilization
            if utilization >= 1.0:
                violations.append(
                    Violation(
                        code=ViolationCode.UNSTABLE,
                        accelerator=acc.name,
                        node=node.name,
                        message=f"utilisation {utilization:.4f} >= 1: the queue is unstable",
                    )
                )
            elif _exceeds(utilization, cap):
                violations.append(
                    Violation(
                        code=ViolationCode.UTILIZATION_CAP_EXCEEDED,
                        accelerator=acc.name,
                        node=node.name,
                        message=f"utilisation {utilization:.4f} exceeds the cap {cap:g}",
                    )
                )
            for row, app in enumerate(runnable):
                acc_latency[app.name] = float(per_class_latency[app.slo.quantile][class_of[row]])

        memory_used: float | None = None
        memory_limit: float | None = None
        if acc_type.memory_mb:
            memory_used = backend_mb
            memory_limit = acc_type.memory_mb * instance.memory_cap(node)
            if _exceeds(memory_used, memory_limit):
                violations.append(
                    Violation(
                        code=ViolationCode.ACCELERATOR_MEMORY_EXCEEDED,
                        accelerator=acc.name,
                        node=node.name,
                        message=f"backends need {memory_used:g} MB, limit is {memory_limit:g} MB",
                    )
                )
        else:
            device_backend_mb_on_node[node.name] += backend_mb
        acc_reports.append(
            AcceleratorEvaluation(
                accelerator=acc.name,
                node=node.name,
                type=acc.type,
                discipline=acc_type.discipline,
                applications=[a.name for a in hosted],
                backends=class_keys,
                utilization=utilization,
                utilization_cap=cap,
                memory_used_mb=memory_used,
                memory_limit_mb=memory_limit,
            )
        )

    for copy_place, copies in idle.items():  # an idle copy's front end holds node memory too
        device_backend_mb_on_node[located[copy_place][0].name] += sum(a.frontend_memory_mb for a in copies)
    node_reports, frontend = _nodes(instance, placement, located, device_backend_mb_on_node, violations)

    app_reports: list[ApplicationEvaluation] = []
    for app in instance.applications:
        acc_name = placement.get(app.name)
        if acc_name is None:
            if app.pinned:
                violations.append(
                    Violation(
                        code=ViolationCode.PINNED_MOVED,
                        application=app.name,
                        message=f"pinned to {app.current_accelerator!r} but left unplaced",
                    )
                )
            if instance.host_all:
                violations.append(
                    Violation(
                        code=ViolationCode.NOT_HOSTED,
                        application=app.name,
                        message="host_all is set but this application is not hosted",
                    )
                )
            app_reports.append(
                ApplicationEvaluation(
                    application=app.name,
                    accelerator=None,
                    node=None,
                    latency_ms=None,
                    accelerator_latency_ms=None,
                    frontend_latency_ms=None,
                    slo_ms=app.slo.latency_ms,
                    statistic=app.slo.statistic,
                    meets_slo=None,
                )
            )
            continue
        node = located[acc_name][0]
        if app.pinned and acc_name != app.current_accelerator:
            violations.append(
                Violation(
                    code=ViolationCode.PINNED_MOVED,
                    application=app.name,
                    accelerator=acc_name,
                    message=f"pinned to {app.current_accelerator!r}",
                )
            )
        acc_ms = acc_latency[app.name]
        pre_ms = frontend.get(app.name, 0.0)
        total = float(latency.end_to_end_ms(pre_ms, settings.network_delay_ms, acc_ms)[0])
        meets = bool(np.isfinite(total)) and not _exceeds(total, app.slo.latency_ms)
        if not meets:
            violations.append(
                Violation(
                    code=ViolationCode.SLO_VIOLATED,
                    application=app.name,
                    accelerator=acc_name,
                    node=node.name,
                    message=f"predicted {app.slo.statistic} latency {total:.3f} ms exceeds the SLO "
                    f"{app.slo.latency_ms:g} ms",
                )
            )
        app_reports.append(
            ApplicationEvaluation(
                application=app.name,
                accelerator=acc_name,
                node=node.name,
                latency_ms=_finite(total),
                accelerator_latency_ms=_finite(acc_ms),
                frontend_latency_ms=_finite(pre_ms),
                slo_ms=app.slo.latency_ms,
                statistic=app.slo.statistic,
                meets_slo=meets,
            )
        )

    return Evaluation(
        feasible=not violations,
        applications=app_reports,
        accelerators=acc_reports,
        nodes=node_reports,
        objectives=objective_values(instance, placement),
        violations=violations,
    )


def _idle_copies(
    instance: Instance, reserved: Mapping[str, str], apps: dict[str, Application], located: dict
) -> dict[str, list[Application]]:
    """Accelerator -> applications with an idle copy there; a copy needs a profile to exist at all."""
    models = instance.model_map()
    out: dict[str, list[Application]] = defaultdict(list)
    for app_name, acc_name in reserved.items():
        if app_name not in apps:
            raise ValueError(f"reserved names an unknown application: {app_name!r}")
        if acc_name not in located:
            raise ValueError(f"reserved names an unknown accelerator: {acc_name!r}")
        app = apps[app_name]
        if located[acc_name][1].type not in models[app.model].profiles:
            raise ValueError(f"reserved copy of {app_name!r} on {acc_name!r}: model {app.model!r} has no profile there")
        out[acc_name].append(app)
    return out


def _nodes(
    instance: Instance,
    placement: Mapping[str, str],
    located: dict,
    backend_mb: dict[str, float],
    violations: list[Violation],
) -> tuple[list[NodeEvaluation], dict[str, float]]:
    on_node: dict[str, list[Application]] = defaultdict(list)
    for app in instance.applications:
        if app.name in placement:
            on_node[located[placement[app.name]][0].name].append(app)
    reports: list[NodeEvaluation] = []
    frontend: dict[str, float] = {}
    for node in instance.nodes:
        apps = on_node.get(node.name, [])
        used = backend_mb.get(node.name, 0.0) + sum(a.frontend_memory_mb for a in apps)
        limit = node.memory_mb * instance.memory_cap(node)
        if _exceeds(used, limit):
            violations.append(
                Violation(
                    code=ViolationCode.NODE_MEMORY_EXCEEDED,
                    node=node.name,
                    message=f"node needs {used:g} MB, limit is {limit:g} MB",
                )
            )
        utilization = _frontend(node, apps, frontend, violations)
        reports.append(
            NodeEvaluation(node=node.name, memory_used_mb=used, memory_limit_mb=limit, frontend_utilization=utilization)
        )
    return reports, frontend


def _frontend(node: Node, apps: list[Application], out: dict[str, float], violations: list[Violation]) -> float:
    busy = [a for a in apps if a.preprocess_ms > 0]
    if not busy:
        return 0.0
    rates = np.array([a.rate_rps for a in busy])
    pre = np.array([a.preprocess_ms for a in busy])
    mean = latency.frontend_latency(rates, pre, node.preprocess_cores)
    if not mean.stable:
        violations.append(
            Violation(
                code=ViolationCode.FRONTEND_UNSTABLE,
                node=node.name,
                message=f"pre-processing utilisation {mean.utilization:.4f} >= 1 on {node.preprocess_cores:g} cores",
            )
        )
    for q in {a.slo.quantile for a in busy}:
        values = mean if q is None else latency.frontend_quantile(q, rates, pre, node.preprocess_cores)
        for row, app in enumerate(busy):
            if app.slo.quantile == q:
                out[app.name] = float(values.latency_ms[row])
    return mean.utilization


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def objective_values(instance: Instance, placement: Mapping[str, str]) -> dict[str, float]:
    """Every objective's value for ``placement`` (whatever the instance optimises)."""
    types = {acc.name: acc.type for _, acc in instance.accelerators()}
    type_cost = {t.name: t.cost for t in instance.accelerator_types}
    used = set(placement.values())
    hosted = [a for a in instance.applications if a.name in placement]
    return {
        Objective.MAX_HOSTED.value: float(sum(a.priority for a in hosted)),
        Objective.MAX_VALUE.value: float(
            sum(a.value_by_accelerator.get(placement[a.name], a.priority) for a in hosted)
        ),
        Objective.MIN_ACCELERATORS.value: float(len(used)),
        Objective.MIN_COST.value: float(
            sum(type_cost[types[name]] for name in used)
            + sum(a.cost_by_accelerator.get(placement[a.name], 0.0) for a in hosted)
        ),
        Objective.MIN_MIGRATIONS.value: float(
            sum(
                1
                for a in instance.applications
                if a.current_accelerator is not None and placement.get(a.name) != a.current_accelerator
            )
        ),
        "hosted": float(len(hosted)),
    }
