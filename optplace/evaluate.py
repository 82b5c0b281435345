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
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from optplace import latency
from optplace.cocompilation import Compilations, SwitchOption
from optplace.domain import Accelerator, Application, Discipline, Instance, Node, Objective

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
    MAX_BACKENDS_EXCEEDED = "max_backends_exceeded"
    FRONTEND_OCCUPANCY_EXCEEDED = "frontend_occupancy_exceeded"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class Violation(_Out):
    code: ViolationCode = Field(
        description="Stable code of the broken rule, e.g. unstable, utilization_cap_exceeded, node_memory_exceeded."
    )
    message: str = Field(description="The rule and the numbers that break it, for people.")
    application: str | None = Field(default=None, description="The application concerned, when one is.")
    accelerator: str | None = Field(default=None, description="The accelerator concerned, when one is.")
    node: str | None = Field(default=None, description="The node concerned, when one is.")


class ApplicationEvaluation(_Out):
    application: str = Field(description="The application's name.")
    accelerator: str | None = Field(description="Where it is placed; null when unplaced.")
    node: str | None = Field(description="The node of that accelerator; null when unplaced.")
    latency_ms: float | None = Field(
        description="End-to-end latency in the SLO's statistic (ms); null if unplaced or unstable."
    )
    accelerator_latency_ms: float | None = Field(
        description="The accelerator stage's share of that latency (ms); null if unplaced or unstable."
    )
    frontend_latency_ms: float | None = Field(
        description="The front-end (pre-processing) stage's share (ms); null if unplaced or unstable."
    )
    slo_ms: float = Field(description="The application's latency SLO (ms).")
    statistic: str = Field(description="The SLO's statistic: mean or a percentile such as p95.")
    meets_slo: bool | None = Field(description="Whether the latency is within the SLO; null when unplaced.")
    frontend_occupancy: float | None = Field(
        default=None,
        description="With a synchronous front end (frontend_concurrency): mean requests in flight, rate x mean "
        "end-to-end latency; else null.",
    )
    frontend_occupancy_limit: float | None = Field(
        default=None,
        description="What the front end carries: frontend_occupancy_cap x frontend_concurrency; else null.",
    )


class AcceleratorEvaluation(_Out):
    accelerator: str = Field(description="The accelerator's name.")
    node: str = Field(description="The node holding it.")
    type: str = Field(description="Its accelerator type.")
    discipline: Discipline = Field(
        description="How the type shares the device between backends: ps (processor sharing), fcfs or dedicated."
    )
    applications: list[str] = Field(description="The applications placed on it.")
    backends: list[str] = Field(
        description="One entry per served class: the model name, or the application's name when its model is not shareable."
    )
    utilization: float = Field(description="Offered load as a fraction of the device's capacity.")
    utilization_cap: float = Field(description="The largest utilisation allowed there.")
    memory_used_mb: float | None = Field(
        description="Device memory used (MB), when the type has its own memory; else null."
    )
    memory_limit_mb: float | None = Field(
        description="Usable device memory (MB), when the type has its own memory; else null."
    )
    max_backends: int | None = Field(
        default=None, description="The accelerator's limit on backends; null means unlimited."
    )
    cocompilation_group: str | None = Field(
        default=None, description="The co-compiled binary the device runs; null when compiled apart."
    )


class NodeEvaluation(_Out):
    node: str = Field(description="The node's name.")
    memory_used_mb: float = Field(description="Host memory used by backends and front ends (MB).")
    memory_limit_mb: float = Field(description="Usable host memory: memory_mb times the memory cap (MB).")
    frontend_utilization: float = Field(
        description="Load of the node's pre-processing cores, as a fraction of their capacity."
    )


class Evaluation(_Out):
    """Everything the evaluator recomputed. ``feasible`` means no violation of any kind.

    ``latency_model`` names the version of :mod:`optplace.latency` the latencies come from.
    """

    feasible: bool = Field(description="True when the placement breaks no rule of any kind.")
    applications: list[ApplicationEvaluation] = Field(
        description="Every application: where it runs and its predicted latency."
    )
    accelerators: list[AcceleratorEvaluation] = Field(description="Every used accelerator: its load and memory.")
    nodes: list[NodeEvaluation] = Field(description="Every node: its memory and front-end load.")
    objectives: dict[str, float] = Field(description="Every objective's value for the placement, by objective name.")
    violations: list[Violation] = Field(description="Every rule the placement breaks.")
    latency_model: str = Field(
        default=latency.LATENCY_MODEL, description="The latency model version the latencies come from."
    )

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
    return _Referee(instance, placement, reserved or {}).run()


@dataclass
class _Backends:
    """The backends (latency classes) of one accelerator's runnable applications, plus its idle copies."""

    keys: list[str]  # one per class; idle copies' backends last
    rates: np.ndarray  # per runnable class
    class_of: np.ndarray  # per runnable application, its class
    models: list[str]  # per runnable class
    service: np.ndarray
    scv: np.ndarray
    apart: list[float]  # the switch overhead into each runnable class, compiled apart
    memory_mb: float  # every backend's, idle copies' included


class _Referee:
    """One evaluation: the shared lookups, the violations found so far, and one method per rule family
    (placement rules, backend count, device latency and stability, device memory, node memory, the
    front end's stability, hosting, SLO, front-end occupancy). Violations keep the order of the checks."""

    def __init__(self, instance: Instance, placement: Mapping[str, str], reserved: Mapping[str, str]):
        self.instance = instance
        self.placement = placement
        self.apps = {a.name: a for a in instance.applications}
        self.located = {acc.name: (node, acc) for node, acc in instance.accelerators()}
        unknown_apps = sorted(set(placement) - set(self.apps))
        if unknown_apps:
            raise ValueError(f"placement names unknown applications: {unknown_apps[:5]}")
        unknown_accs = sorted({a for a in placement.values() if a not in self.located})
        if unknown_accs:
            raise ValueError(f"placement names unknown accelerators: {unknown_accs[:5]}")
        self.types = instance.accelerator_type_map()
        self.models = instance.model_map()
        self.settings = instance.settings
        self.compilations = Compilations(instance)
        self.violations: list[Violation] = []
        self.idle = _idle_copies(instance, reserved, self.apps, self.located)
        self.by_accelerator: dict[str, list[Application]] = defaultdict(list)
        for app in instance.applications:
            if app.name in placement:
                self.by_accelerator[placement[app.name]].append(app)
        # Per-application accelerator latency (the SLO's statistic, and the mean where the front end is
        # synchronous), filled per accelerator.
        self.acc_latency: dict[str, float] = {}
        self.acc_mean: dict[str, float] = {}
        self.device_backend_mb_on_node: dict[str, float] = defaultdict(float)
        self.frontend: dict[str, float] = {}
        self.frontend_mean: dict[str, float] = {}

    def run(self) -> Evaluation:
        instance, placement, located = self.instance, self.placement, self.located
        # The front end first: it depends only on what each node hosts, and the accelerators' checks need it.
        self.frontend, self.frontend_mean, frontend_load = _frontends(instance, placement, located, self.violations)
        acc_reports = [self.accelerator(node, acc) for node, acc in instance.accelerators()]
        for copy_place, copies in self.idle.items():  # an idle copy's front end holds node memory too
            self.device_backend_mb_on_node[located[copy_place][0].name] += sum(a.frontend_memory_mb for a in copies)
        node_reports = _nodes(
            instance, placement, located, self.device_backend_mb_on_node, frontend_load, self.violations
        )
        app_reports = [self.application(app) for app in instance.applications]
        return Evaluation(
            feasible=not self.violations,
            applications=app_reports,
            accelerators=acc_reports,
            nodes=node_reports,
            objectives=objective_values(instance, placement),
            violations=self.violations,
        )

    def _violation(self, code: ViolationCode, message: str, **where: str | None) -> None:
        self.violations.append(Violation(code=code, message=message, **where))

    # --- accelerators -------------------------------------------------------------------------

    def accelerator(self, node: Node, acc: Accelerator) -> AcceleratorEvaluation:
        """Every rule of one accelerator; records its applications' accelerator latencies."""
        instance = self.instance
        hosted = self.by_accelerator.get(acc.name, [])
        acc_type = self.types[acc.type]
        cap = instance.utilization_cap(acc.type)
        max_backends = instance.max_backends(acc)
        memory_limit = acc_type.memory_mb * instance.memory_cap(node) if acc_type.memory_mb else None
        if not hosted and acc.name not in self.idle:
            return AcceleratorEvaluation(
                accelerator=acc.name,
                node=node.name,
                type=acc.type,
                discipline=acc_type.discipline,
                applications=[],
                backends=[],
                utilization=0.0,
                utilization_cap=cap,
                memory_used_mb=0.0 if acc_type.memory_mb else None,
                memory_limit_mb=memory_limit,
                max_backends=max_backends,
            )
        runnable = [app for app in hosted if self.placement_rules(app, node, acc)]
        backends = self._backends(acc, runnable)
        self.backend_count_rules(node, acc, backends.keys, max_backends)
        utilization = 0.0
        group: str | None = None
        if runnable:
            group, utilization = self.device_latency(acc, cap, runnable, backends)
            self.stability_rules(node, acc, utilization, cap)
        memory_used = self.device_memory_rule(node, acc, backends.memory_mb, memory_limit)
        return AcceleratorEvaluation(
            accelerator=acc.name,
            node=node.name,
            type=acc.type,
            discipline=acc_type.discipline,
            applications=[a.name for a in hosted],
            backends=backends.keys,
            utilization=utilization,
            utilization_cap=cap,
            memory_used_mb=memory_used,
            memory_limit_mb=memory_limit,
            max_backends=max_backends,
            cocompilation_group=group,
        )

    def placement_rules(self, app: Application, node: Node, acc: Accelerator) -> bool:
        """Profile, allowed types, required labels; False when the model cannot run here at all."""
        where = {"application": app.name, "accelerator": acc.name, "node": node.name}
        if acc.type not in self.models[app.model].profiles:
            self._violation(
                ViolationCode.NO_PROFILE,
                f"model {app.model!r} has no profile for accelerator type {acc.type!r}",
                **where,
            )
            self.acc_latency[app.name] = np.inf
            return False
        if app.allowed_accelerator_types is not None and acc.type not in app.allowed_accelerator_types:
            self._violation(
                ViolationCode.TYPE_NOT_ALLOWED, f"type {acc.type!r} is not in allowed_accelerator_types", **where
            )
        missing = {k: v for k, v in app.required_labels.items() if node.labels.get(k) != v}
        if missing:
            self._violation(
                ViolationCode.LABELS_NOT_MATCHED, f"node {node.name!r} lacks required labels {missing}", **where
            )
        return True

    def _backends(self, acc: Accelerator, runnable: list[Application]) -> _Backends:
        models = self.models
        keys = [backend_key(a, models[a.model].shareable) for a in runnable]
        class_keys, class_rates, class_of = latency.merge_classes(keys, [a.rate_rps for a in runnable])
        first_app: dict[int, Application] = {}
        for row, app in enumerate(runnable):
            first_app.setdefault(int(class_of[row]), app)
        class_models = [first_app[c].model for c in range(len(class_keys))]
        profiles = [models[m].profiles[acc.type] for m in class_models]
        idle_backends = {
            key: models[app.model].profiles[acc.type].memory_mb
            for app in self.idle.get(acc.name, [])
            if (key := backend_key(app, models[app.model].shareable)) not in class_keys
        }
        return _Backends(
            keys=[*class_keys, *idle_backends],
            rates=class_rates,
            class_of=class_of,
            models=class_models,
            service=np.array([p.service_time_ms for p in profiles]),
            scv=np.array([p.scv for p in profiles]),
            apart=[p.switch_overhead_ms for p in profiles],
            memory_mb=float(sum(p.memory_mb for p in profiles)) + float(sum(idle_backends.values())),
        )

    def backend_count_rules(self, node: Node, acc: Accelerator, keys: list[str], max_backends: int | None) -> None:
        """A dedicated device hosts one backend, any device at most max_backends. Idle copies are backend
        processes too: they count on a dedicated device and against max_backends."""
        where = {"accelerator": acc.name, "node": node.name}
        if self.types[acc.type].discipline == Discipline.DEDICATED and len(keys) > 1:
            self._violation(
                ViolationCode.DEDICATED_SHARED,
                f"dedicated accelerator hosts {len(keys)} backends {keys}; it may host one",
                **where,
            )
        if max_backends is not None and len(keys) > max_backends:
            self._violation(
                ViolationCode.MAX_BACKENDS_EXCEEDED,
                f"hosts {len(keys)} backends {keys}; it may host at most {max_backends}",
                **where,
            )

    def device_latency(
        self, acc: Accelerator, cap: float, runnable: list[Application], backends: _Backends
    ) -> tuple[str | None, float]:
        """The device's latencies under the first switch option (co-compiled group, then compiled apart)
        under which it meets every check; returns that option's group and the utilisation."""
        discipline = self.types[acc.type].discipline
        options = (
            self.compilations.options(acc.type, backends.models, backends.apart)
            if discipline == Discipline.FCFS and acc.type in self.compilations.types()
            else [SwitchOption(None, tuple(backends.apart))]
        )
        outcome = None
        for option in options:
            trial = _device_outcome(
                self.instance,
                discipline,
                cap,
                runnable,
                backends.class_of,
                backends.rates,
                backends.service,
                backends.scv,
                option,
                self.frontend,
                self.frontend_mean,
            )
            if outcome is None or not trial.problems:
                outcome = trial
            if not trial.problems:
                break
        assert outcome is not None
        self.acc_latency.update(outcome.latency)
        self.acc_mean.update(outcome.mean)
        return outcome.option.group, outcome.utilization

    def stability_rules(self, node: Node, acc: Accelerator, utilization: float, cap: float) -> None:
        """The queue is stable (utilisation < 1) and within the type's utilisation cap."""
        where = {"accelerator": acc.name, "node": node.name}
        if utilization >= 1.0:
            self._violation(
                ViolationCode.UNSTABLE, f"utilisation {utilization:.4f} >= 1: the queue is unstable", **where
            )
        elif _exceeds(utilization, cap):
            self._violation(
                ViolationCode.UTILIZATION_CAP_EXCEEDED,
                f"utilisation {utilization:.4f} exceeds the cap {cap:g}",
                **where,
            )

    def device_memory_rule(
        self, node: Node, acc: Accelerator, backend_mb: float, memory_limit: float | None
    ) -> float | None:
        """Backends fit the device's own memory; a device without its own charges the node (see _nodes)."""
        if memory_limit is None:
            self.device_backend_mb_on_node[node.name] += backend_mb
            return None
        if _exceeds(backend_mb, memory_limit):
            self._violation(
                ViolationCode.ACCELERATOR_MEMORY_EXCEEDED,
                f"backends need {backend_mb:g} MB, limit is {memory_limit:g} MB",
                accelerator=acc.name,
                node=node.name,
            )
        return backend_mb

    # --- applications -------------------------------------------------------------------------

    def application(self, app: Application) -> ApplicationEvaluation:
        """Hosting rules, the SLO and the front-end occupancy of one application."""
        acc_name = self.placement.get(app.name)
        if acc_name is None:
            self.unplaced_rules(app)
            return ApplicationEvaluation(
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
        node = self.located[acc_name][0]
        if app.pinned and acc_name != app.current_accelerator:
            self._violation(
                ViolationCode.PINNED_MOVED,
                f"pinned to {app.current_accelerator!r}",
                application=app.name,
                accelerator=acc_name,
            )
        acc_ms = self.acc_latency[app.name]
        pre_ms = self.frontend.get(app.name, 0.0)
        total, meets = self.slo_rule(app, acc_name, node, acc_ms, pre_ms)
        occupancy, occupancy_limit = self.frontend_occupancy_rule(app, acc_name, node)
        return ApplicationEvaluation(
            application=app.name,
            accelerator=acc_name,
            node=node.name,
            latency_ms=_finite(total),
            accelerator_latency_ms=_finite(acc_ms),
            frontend_latency_ms=_finite(pre_ms),
            slo_ms=app.slo.latency_ms,
            statistic=app.slo.statistic,
            meets_slo=meets,
            frontend_occupancy=_finite(occupancy) if occupancy is not None else None,
            frontend_occupancy_limit=occupancy_limit,
        )

    def unplaced_rules(self, app: Application) -> None:
        """A pinned application, or any under host_all, must be hosted."""
        if app.pinned:
            self._violation(
                ViolationCode.PINNED_MOVED,
                f"pinned to {app.current_accelerator!r} but left unplaced",
                application=app.name,
            )
        if self.instance.host_all:
            self._violation(
                ViolationCode.NOT_HOSTED, "host_all is set but this application is not hosted", application=app.name
            )

    def slo_rule(self, app: Application, acc_name: str, node: Node, acc_ms: float, pre_ms: float) -> tuple[float, bool]:
        """End-to-end latency in the SLO's statistic within the SLO; returns it and whether it holds."""
        total = latency.end_to_end_one_ms(pre_ms, self.settings.network_delay_ms, acc_ms)
        meets = _meets(total, app.slo.latency_ms)
        if not meets:
            self._violation(
                ViolationCode.SLO_VIOLATED,
                f"predicted {app.slo.statistic} latency {total:.3f} ms exceeds the SLO {app.slo.latency_ms:g} ms",
                application=app.name,
                accelerator=acc_name,
                node=node.name,
            )
        return total, meets

    def frontend_occupancy_rule(self, app: Application, acc_name: str, node: Node) -> tuple[float | None, float | None]:
        """A synchronous front end (frontend_concurrency k): rate x mean end-to-end latency <= cap x k.
        Returns the occupancy and its limit (None, None for an asynchronous front end)."""
        if app.frontend_concurrency is None:
            return None, None
        settings = self.settings
        mean_total = _mean_end_to_end(
            app, self.acc_mean.get(app.name, np.inf), self.frontend_mean, settings.network_delay_ms
        )
        limit_ms = latency.frontend_occupancy_limit_ms(
            app.rate_rps, app.frontend_concurrency, settings.frontend_occupancy_cap
        )
        occupancy = app.rate_rps * mean_total / latency.MS_PER_S
        occupancy_limit = settings.frontend_occupancy_cap * app.frontend_concurrency
        if not _meets(mean_total, limit_ms):
            self._violation(
                ViolationCode.FRONTEND_OCCUPANCY_EXCEEDED,
                f"{app.rate_rps:g} req/s x mean latency {mean_total:.3f} ms = {occupancy:.3f} requests "
                f"in flight exceeds {settings.frontend_occupancy_cap:g} x frontend_concurrency "
                f"{app.frontend_concurrency} = {occupancy_limit:g} (mean latency at most {limit_ms:.3f} ms)",
                application=app.name,
                accelerator=acc_name,
                node=node.name,
            )
        return occupancy, occupancy_limit


def _meets(total_ms: float, limit_ms: float) -> bool:
    return bool(np.isfinite(total_ms)) and not _exceeds(total_ms, limit_ms)


def _mean_end_to_end(app: Application, acc_mean_ms: float, frontend_mean: dict[str, float], network_ms: float) -> float:
    return latency.end_to_end_one_ms(frontend_mean.get(app.name, 0.0), network_ms, acc_mean_ms)


class _DeviceOutcome:
    """One accelerator under one switch option: utilisation, latencies, and whether any check fails."""

    __slots__ = ("latency", "mean", "option", "problems", "utilization")

    def __init__(self, option: SwitchOption):
        self.option = option
        self.utilization = 0.0
        self.latency: dict[str, float] = {}  # the SLO's statistic, per application
        self.mean: dict[str, float] = {}  # the mean, per application with a synchronous front end
        self.problems = False


def _device_outcome(
    instance: Instance,
    discipline: Discipline,
    cap: float,
    apps: list[Application],
    class_of: np.ndarray,
    class_rates: np.ndarray,
    service: np.ndarray,
    scv: np.ndarray,
    option: SwitchOption,
    frontend: dict[str, float],
    frontend_mean: dict[str, float],
) -> _DeviceOutcome:
    settings = instance.settings
    out = _DeviceOutcome(option)
    switch = np.array(option.switch_ms)
    statistics = {a.slo.quantile for a in apps} | ({None} if any(a.frontend_concurrency for a in apps) else set())
    per_class: dict[float | None, np.ndarray] = {}
    for q in statistics:
        result = latency.accelerator_latency(
            discipline,
            q,
            class_rates,
            service,
            scv,
            switch,
            ps_model=settings.ps_model,
            switch_variance=settings.switch_variance,
        )
        per_class[q] = result.latency_ms
        out.utilization = result.utilization
    out.problems = out.utilization >= 1.0 or _exceeds(out.utilization, cap)
    for row, app in enumerate(apps):
        value = float(per_class[app.slo.quantile][class_of[row]])
        out.latency[app.name] = value
        total = latency.end_to_end_one_ms(frontend.get(app.name, 0.0), settings.network_delay_ms, value)
        out.problems = out.problems or not _meets(total, app.slo.latency_ms)
        if app.frontend_concurrency is not None:
            mean = float(per_class[None][class_of[row]])
            out.mean[app.name] = mean
            limit = latency.frontend_occupancy_limit_ms(
                app.rate_rps, app.frontend_concurrency, settings.frontend_occupancy_cap
            )
            out.problems = out.problems or not _meets(
                _mean_end_to_end(app, mean, frontend_mean, settings.network_delay_ms), limit
            )
    return out


def _frontends(
    instance: Instance, placement: Mapping[str, str], located: dict, violations: list[Violation]
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per application its front-end latency (the SLO's statistic) and mean; per node the utilisation."""
    on_node: dict[str, list[Application]] = defaultdict(list)
    for app in instance.applications:
        if app.name in placement:
            on_node[located[placement[app.name]][0].name].append(app)
    frontend: dict[str, float] = {}
    frontend_mean: dict[str, float] = {}
    load: dict[str, float] = {}
    for node in instance.nodes:
        load[node.name] = _frontend(node, on_node.get(node.name, []), frontend, frontend_mean, violations)
    return frontend, frontend_mean, load


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
    frontend_load: dict[str, float],
    violations: list[Violation],
) -> list[NodeEvaluation]:
    on_node: dict[str, list[Application]] = defaultdict(list)
    for app in instance.applications:
        if app.name in placement:
            on_node[located[placement[app.name]][0].name].append(app)
    reports: list[NodeEvaluation] = []
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
        reports.append(
            NodeEvaluation(
                node=node.name,
                memory_used_mb=used,
                memory_limit_mb=limit,
                frontend_utilization=frontend_load.get(node.name, 0.0),
            )
        )
    return reports


def _frontend(
    node: Node, apps: list[Application], out: dict[str, float], out_mean: dict[str, float], violations: list[Violation]
) -> float:
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
    for row, app in enumerate(busy):
        out_mean[app.name] = float(mean.latency_ms[row])
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
