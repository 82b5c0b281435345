"""Instance -> arrays: the eligible (application, accelerator) pairs and every number the model needs.

Pairs come from :func:`optplace.diagnose.check_alone`'s candidate accelerators (an application is
only ever considered where it could run alone, or misses its SLO alone in a way the latency model
does not prove neighbours cannot mend), so a pair already satisfies the allowed types, required
labels, pinning, memory and the utilisation cap of running alone. Everything is a numpy array
over pairs, so the model builder works per accelerator on slices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optplace import latency
from optplace.cocompilation import Compilations
from optplace.diagnose import check_alone
from optplace.domain import Discipline, Instance


@dataclass
class Accelerator:
    """One accelerator with its node and the pairs that may use it."""

    index: int
    name: str
    type: str
    discipline: Discipline
    node: int
    cap: float  # utilisation cap
    device_memory_limit_mb: float | None
    pairs: np.ndarray  # pair indices, in application order
    max_backends: int | None = None  # most backends it may host; None = unlimited


@dataclass
class Node:
    index: int
    name: str
    memory_limit_mb: float
    cores: float
    accelerators: list[int]


@dataclass
class PairData:
    """Everything about the eligible pairs, one entry per pair."""

    app: np.ndarray  # application index
    acc: np.ndarray  # accelerator index
    rate: np.ndarray  # lambda, req/s
    service: np.ndarray  # s, ms
    second: np.ndarray  # E[S^2] = s^2 (1 + scv), ms^2
    scv: np.ndarray
    switch: np.ndarray  # o, ms, compiled apart (the profile's)
    switch_least: np.ndarray  # the least o under any co-compilation option (optplace.cocompilation)
    excess: np.ndarray  # gamma quantile excess of service (0 for mean SLOs and deterministic service; v1 rows)
    backend_mb: np.ndarray
    frontend_mb: np.ndarray
    preprocess: np.ndarray  # ms per request on the node's CPU
    quantile: np.ndarray  # NaN for a mean SLO
    slo: np.ndarray  # ms; for a mean SLO already the smaller of the SLO and the front-end occupancy limit
    occupancy: (
        np.ndarray
    )  # ms: limit on the *mean* latency of a percentile-SLO pair's synchronous front end (inf: none)
    shareable: np.ndarray  # bool
    model: np.ndarray  # model index
    device_memory: np.ndarray  # bool: backend memory counts against the device, not the node

    @property
    def size(self) -> int:
        return int(self.app.size)


@dataclass
class InstanceData:
    instance: Instance
    app_names: list[str]
    model_names: list[str]
    accelerators: list[Accelerator]
    nodes: list[Node]
    pairs: PairData
    eligible: dict[str, list[str]]
    network_ms: float
    ps_model: str
    compilations: Compilations | None = None
    acc_index: dict[str, int] = field(default_factory=dict)
    app_index: dict[str, int] = field(default_factory=dict)
    _lookup: dict[tuple[int, int], int] | None = None

    def pair_lookup(self) -> dict[tuple[int, int], int]:
        """(application index, accelerator index) -> pair index (built once)."""
        if self._lookup is None:
            self._lookup = {(a, d): k for k, (a, d) in enumerate(zip(self.pairs.app.tolist(), self.pairs.acc.tolist()))}
        return self._lookup


def eligibility(instance: Instance) -> dict[str, list[str]]:
    """Application -> its candidate accelerators (``AloneCheck.candidate_accelerators``; the only pairs the model uses)."""
    return {name: list(check.candidate_accelerators) for name, check in check_alone(instance).items()}


def prepare(instance: Instance, eligible: dict[str, list[str]] | None = None) -> InstanceData:
    """Collect the eligible pairs and their numbers."""
    eligible = eligibility(instance) if eligible is None else eligible
    types = instance.accelerator_type_map()
    models = instance.model_map()
    model_names = [m.name for m in instance.models]
    model_index = {name: k for k, name in enumerate(model_names)}
    app_names = [a.name for a in instance.applications]
    nodes: list[Node] = []
    accelerators: list[Accelerator] = []
    acc_index: dict[str, int] = {}
    for n_index, node in enumerate(instance.nodes):
        members = []
        for acc in node.accelerators:
            acc_type = types[acc.type]
            limit = acc_type.memory_mb * instance.memory_cap(node) if acc_type.memory_mb else None
            acc_index[acc.name] = len(accelerators)
            members.append(len(accelerators))
            accelerators.append(
                Accelerator(
                    len(accelerators),
                    acc.name,
                    acc.type,
                    acc_type.discipline,
                    n_index,
                    instance.utilization_cap(acc.type),
                    limit,
                    np.zeros(0, dtype=np.int64),
                    instance.max_backends(acc),
                )
            )
        nodes.append(
            Node(n_index, node.name, node.memory_mb * instance.memory_cap(node), node.preprocess_cores, members)
        )

    compilations = Compilations(instance)
    settings = instance.settings
    rows: list[tuple] = []
    for a_index, app in enumerate(instance.applications):
        model = models[app.model]
        q = app.slo.quantile
        occupancy = latency.frontend_occupancy_limit_ms(
            app.rate_rps, app.frontend_concurrency, settings.frontend_occupancy_cap
        )
        # A mean SLO and the occupancy limit bound the same statistic: keep the tighter as the SLO.
        slo_ms = min(app.slo.latency_ms, occupancy) if q is None else app.slo.latency_ms
        occupancy = np.inf if q is None else occupancy
        for acc_name in eligible.get(app.name, []):
            d = acc_index[acc_name]
            target = accelerators[d]
            profile = model.profiles[target.type]
            rows.append(
                (
                    a_index,
                    d,
                    app.rate_rps,
                    profile.service_time_ms,
                    profile.scv,
                    profile.switch_overhead_ms,
                    profile.memory_mb,
                    app.frontend_memory_mb,
                    app.preprocess_ms,
                    np.nan if q is None else q,
                    slo_ms,
                    model.shareable,
                    model_index[app.model],
                    types[target.type].memory_mb is not None,
                    compilations.least_switch_ms(target.type, app.model, profile.switch_overhead_ms),
                    occupancy,
                )
            )
    columns: list[Any] = list(zip(*rows)) if rows else [[] for _ in range(16)]
    as_float = [np.asarray(c, dtype=np.float64) for c in columns[2:11]]
    rate, service, scv, switch, backend_mb, frontend_mb, preprocess, quantile, slo = as_float
    pairs = PairData(
        app=np.asarray(columns[0], dtype=np.int64),
        acc=np.asarray(columns[1], dtype=np.int64),
        rate=rate,
        service=service,
        second=service * service * (1.0 + scv),
        scv=scv,
        switch=switch,
        switch_least=np.asarray(columns[14], dtype=np.float64),
        excess=latency.gamma_quantile_excess(quantile, service, scv),
        backend_mb=backend_mb,
        frontend_mb=frontend_mb,
        preprocess=preprocess,
        quantile=quantile,
        slo=slo,
        occupancy=np.asarray(columns[15], dtype=np.float64),
        shareable=np.asarray(columns[11], dtype=bool),
        model=np.asarray(columns[12], dtype=np.int64),
        device_memory=np.asarray(columns[13], dtype=bool),
    )
    order = np.argsort(pairs.acc, kind="stable")
    bounds = np.searchsorted(pairs.acc[order], np.arange(len(accelerators) + 1))
    for d, item in enumerate(accelerators):
        item.pairs = order[bounds[d] : bounds[d + 1]]
    return InstanceData(
        instance=instance,
        app_names=app_names,
        model_names=model_names,
        accelerators=accelerators,
        nodes=nodes,
        pairs=pairs,
        eligible=eligible,
        network_ms=instance.settings.network_delay_ms,
        ps_model=instance.settings.ps_model,
        compilations=compilations,
        acc_index=acc_index,
        app_index={name: k for k, name in enumerate(app_names)},
    )
