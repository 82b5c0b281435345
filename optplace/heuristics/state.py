"""Incremental cluster state for heuristics: can application a join accelerator d?

The probe touches only accelerator d (O(backends on d)), plus the other accelerators of d's node
when a's front-end pre-processing changes the node's CPU load. It uses the analytic models in
:mod:`optplace.latency`; the evaluator re-checks every final placement independently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optplace import latency
from optplace.diagnose import check_alone
from optplace.domain import Application, Discipline, Instance, Node

_SLACK = 1e-9  # relative safety margin so the evaluator never sees a borderline value


@dataclass
class BackendState:
    key: str
    model: str
    rate_rps: float
    service_ms: float
    scv: float
    switch_ms: float
    memory_mb: float
    apps: list[str] = field(default_factory=list)


@dataclass
class AcceleratorState:
    name: str
    type: str
    node: str
    discipline: Discipline
    utilization_cap: float
    device_memory_limit_mb: float | None
    backends: dict[str, BackendState] = field(default_factory=dict)
    device_memory_mb: float = 0.0
    utilization: float = 0.0

    @property
    def used(self) -> bool:
        return bool(self.backends)


@dataclass
class NodeState:
    node: Node
    memory_limit_mb: float
    memory_mb: float = 0.0
    frontend_load: float = 0.0  # sum of rate * preprocess_ms / 1000 over hosted apps
    apps: list[str] = field(default_factory=list)


class ClusterState:
    """A mutable partial placement with an incremental feasibility probe."""

    def __init__(self, instance: Instance, alone: dict | None = None):
        self.instance = instance
        self.apps: dict[str, Application] = {a.name: a for a in instance.applications}
        self.models = instance.model_map()
        self.types = instance.accelerator_type_map()
        self.network_ms = instance.settings.network_delay_ms
        self.ps_model = instance.settings.ps_model
        self.nodes: dict[str, NodeState] = {
            n.name: NodeState(n, n.memory_mb * instance.memory_cap(n)) for n in instance.nodes
        }
        self.accelerators: dict[str, AcceleratorState] = {}
        self.accelerators_of_node: dict[str, list[str]] = {n.name: [] for n in instance.nodes}
        for node, acc in instance.accelerators():
            acc_type = self.types[acc.type]
            device_limit = acc_type.memory_mb * instance.memory_cap(node) if acc_type.memory_mb else None
            self.accelerators[acc.name] = AcceleratorState(
                acc.name, acc.type, node.name, acc_type.discipline, instance.utilization_cap(acc.type), device_limit
            )
            self.accelerators_of_node[node.name].append(acc.name)
        alone = alone if alone is not None else check_alone(instance)
        self.eligible: dict[str, list[str]] = {name: check.feasible_accelerators for name, check in alone.items()}
        self.assignment: dict[str, str] = {}

    # --- queries ---------------------------------------------------------------------------

    def placement(self) -> dict[str, str]:
        return dict(self.assignment)

    def backend_key(self, app: Application) -> str:
        return app.model if self.models[app.model].shareable else f"{app.model}@{app.name}"

    def load_increase(self, app_name: str, acc_name: str) -> float:
        """Utilisation added to ``acc_name`` by ``app_name`` (ignoring switch-probability shifts)."""
        app = self.apps[app_name]
        acc = self.accelerators[acc_name]
        profile = self.models[app.model].profiles[acc.type]
        return (
            app.rate_rps
            * (
                profile.service_time_ms
                + (
                    profile.switch_overhead_ms
                    if acc.discipline == Discipline.FCFS and acc.backends and self.backend_key(app) not in acc.backends
                    else 0.0
                )
            )
            / 1000.0
        )

    def can_place(self, app_name: str, acc_name: str) -> bool:
        """Would the placement stay feasible (every class on the affected devices meets its SLO)?"""
        app = self.apps[app_name]
        if acc_name not in self._eligible_set(app_name):
            return False
        acc = self.accelerators[acc_name]
        node_state = self.nodes[acc.node]
        key = self.backend_key(app)
        profile = self.models[app.model].profiles[acc.type]
        new_backend = key not in acc.backends
        if acc.discipline == Discipline.DEDICATED and acc.backends and new_backend:
            return False
        backend_mb = profile.memory_mb if new_backend else 0.0
        if acc.device_memory_limit_mb is not None:
            if acc.device_memory_mb + backend_mb > acc.device_memory_limit_mb * (1 - _SLACK):
                return False
            node_extra = app.frontend_memory_mb
        else:
            node_extra = app.frontend_memory_mb + backend_mb
        if node_state.memory_mb + node_extra > node_state.memory_limit_mb * (1 - _SLACK):
            return False
        if app.preprocess_ms > 0:
            # The node's CPU load changes, so every device on the node must be re-checked.
            load = node_state.frontend_load + app.rate_rps * app.preprocess_ms / 1000.0
            if load / node_state.node.preprocess_cores >= 1.0:
                return False
            for other in self.accelerators_of_node[acc.node]:
                if (
                    other != acc_name
                    and self.accelerators[other].backends
                    and not self._accelerator_ok(self.accelerators[other], None, load)
                ):
                    return False
            return self._accelerator_ok(acc, app, load)
        return self._accelerator_ok(acc, app, node_state.frontend_load)

    def _eligible_set(self, app_name: str) -> set[str]:
        cache = self.__dict__.setdefault("_eligible_sets", {})
        if app_name not in cache:
            cache[app_name] = set(self.eligible[app_name])
        return cache[app_name]

    def _accelerator_ok(self, acc: AcceleratorState, extra: Application | None, frontend_load: float) -> bool:
        """Check every class on ``acc`` (with ``extra`` added) against its tightest SLO."""
        backends = list(acc.backends.values())
        members: list[list[Application]] = [[self.apps[n] for n in b.apps] for b in backends]
        rates = [b.rate_rps for b in backends]
        service = [b.service_ms for b in backends]
        scv = [b.scv for b in backends]
        switch = [b.switch_ms for b in backends]
        if extra is not None:
            key = self.backend_key(extra)
            keys = [b.key for b in backends]
            if key in keys:
                index = keys.index(key)
                rates[index] += extra.rate_rps
                members[index] = members[index] + [extra]
            else:
                profile = self.models[extra.model].profiles[acc.type]
                rates.append(extra.rate_rps)
                service.append(profile.service_time_ms)
                scv.append(profile.scv)
                switch.append(profile.switch_overhead_ms)
                members.append([extra])
        node = self.nodes[acc.node].node
        cores = node.preprocess_cores
        frontend_rho = frontend_load / cores
        quantiles = {a.slo.quantile for group in members for a in group}
        utilization = None
        for q in quantiles:
            result = _queue(
                acc.discipline, q, np.array(rates), np.array(service), np.array(scv), np.array(switch), self.ps_model
            )
            utilization = result.utilization
            if not result.stable or utilization > acc.utilization_cap * (1 - _SLACK):
                return False
            for index, group in enumerate(members):
                for app in group:
                    if app.slo.quantile != q:
                        continue
                    total = self.network_ms + float(result.latency_ms[index]) + _frontend_ms(app, frontend_rho, q)
                    if total > app.slo.latency_ms * (1 - _SLACK):
                        return False
        return True

    # --- updates ---------------------------------------------------------------------------

    def place(self, app_name: str, acc_name: str) -> None:
        app = self.apps[app_name]
        acc = self.accelerators[acc_name]
        node_state = self.nodes[acc.node]
        key = self.backend_key(app)
        profile = self.models[app.model].profiles[acc.type]
        backend = acc.backends.get(key)
        if backend is None:
            backend = BackendState(
                key, app.model, 0.0, profile.service_time_ms, profile.scv, profile.switch_overhead_ms, profile.memory_mb
            )
            acc.backends[key] = backend
            if acc.device_memory_limit_mb is not None:
                acc.device_memory_mb += profile.memory_mb
            else:
                node_state.memory_mb += profile.memory_mb
        backend.rate_rps += app.rate_rps
        backend.apps.append(app_name)
        node_state.memory_mb += app.frontend_memory_mb
        node_state.frontend_load += app.rate_rps * app.preprocess_ms / 1000.0
        node_state.apps.append(app_name)
        self.assignment[app_name] = acc_name
        acc.utilization = self._utilization(acc)

    def remove(self, app_name: str) -> None:
        acc_name = self.assignment.pop(app_name)
        app = self.apps[app_name]
        acc = self.accelerators[acc_name]
        node_state = self.nodes[acc.node]
        key = self.backend_key(app)
        backend = acc.backends[key]
        backend.apps.remove(app_name)
        backend.rate_rps -= app.rate_rps
        if not backend.apps:
            del acc.backends[key]
            if acc.device_memory_limit_mb is not None:
                acc.device_memory_mb -= backend.memory_mb
            else:
                node_state.memory_mb -= backend.memory_mb
        node_state.memory_mb -= app.frontend_memory_mb
        node_state.frontend_load -= app.rate_rps * app.preprocess_ms / 1000.0
        node_state.apps.remove(app_name)
        acc.utilization = self._utilization(acc)

    def _utilization(self, acc: AcceleratorState) -> float:
        if not acc.backends:
            return 0.0
        b = list(acc.backends.values())
        if acc.discipline == Discipline.PS:
            return sum(x.rate_rps * x.service_ms for x in b) / 1000.0
        return latency.fcfs_moments(
            [x.rate_rps for x in b], [x.service_ms for x in b], [x.scv for x in b], [x.switch_ms for x in b]
        ).utilization


def _frontend_ms(app: Application, rho: float, q: float | None) -> float:
    if app.preprocess_ms <= 0:
        return 0.0
    if rho >= 1.0:
        return float("inf")
    mean = app.preprocess_ms / (1.0 - rho)
    if q is None:
        return mean
    if rho <= 0 or q <= 1.0 - rho:
        return app.preprocess_ms
    return app.preprocess_ms + (mean - app.preprocess_ms) / rho * float(np.log(rho / (1.0 - q)))


def _queue(discipline: Discipline, q: float | None, rates, service, scv, switch, ps_model: str) -> latency.QueueLatency:
    if discipline == Discipline.PS:
        return (
            latency.ps_latency(rates, service, variant=ps_model)
            if q is None
            else latency.ps_quantile(q, rates, service, variant=ps_model)
        )
    return (
        latency.fcfs_latency(rates, service, scv, switch)
        if q is None
        else latency.fcfs_quantile(q, rates, service, scv, switch)
    )
