"""The configuration model's data: accelerator classes, their candidate applications, the master's rows.

``build(instance, params)`` groups accelerators into *classes* (same type, same node limits, and the
same eligibility and objective coefficient for every application, so a set that fits one member of
the class fits all of them with the same value) and prepares, per class, numpy arrays over the
applications that could run there alone. ``extract(model, columns, counts)`` turns chosen columns
back into a placement. The maths is in ``model.md`` beside this file.

Accelerators on a node with several accelerators share the node's memory and pre-processing CPU.
Each of them forms its own class (classes never span nodes there) and the master gets linear node
rows for memory and front-end CPU load; the per-accelerator pricing treats the node as if the
accelerator were alone on it, which is a relaxation, and integer solutions are re-checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optplace import latency
from optplace.cocompilation import Compilations
from optplace.diagnose import check_alone
from optplace.domain import Discipline, Instance, Objective
from optplace.exceptions import UnsupportedInstance
from optplace.params import SolveParams

SUPPORTED_PRIMARY = (
    Objective.MAX_HOSTED,
    Objective.MAX_VALUE,
    Objective.MIN_ACCELERATORS,
    Objective.MIN_COST,
    Objective.MIN_MIGRATIONS,
)


@dataclass
class AcceleratorClass:
    """Interchangeable accelerators and everything pricing needs about the applications they could host.

    Item arrays are indexed by the class-local item index ``i``; ``apps[i]`` is the global index.
    """

    index: int
    accelerators: list[str]
    node: str | None  # the node, when the class lies on a multi-accelerator node (node rows apply)
    type_name: str
    discipline: Discipline
    utilization_cap: float
    device_memory_limit_mb: float | None
    node_memory_limit_mb: float
    preprocess_cores: float
    network_ms: float
    ps_variant: str
    fixed_value: float  # objective coefficient of using one accelerator of the class (internal max form)
    apps: np.ndarray  # global application index per item
    value: np.ndarray  # objective coefficient per item (internal max form)
    rate_rps: np.ndarray
    service_ms: np.ndarray
    scv: np.ndarray
    second_moment_ms2: np.ndarray
    switch_ms: np.ndarray
    slo_ms: np.ndarray
    quantile: np.ndarray  # nan for mean SLOs
    preprocess_ms: np.ndarray
    frontend_memory_mb: np.ndarray
    group: np.ndarray  # backend (shared model, or the application itself) per item
    model_group: np.ndarray  # model per item (for the switch relaxation)
    group_memory_mb: np.ndarray  # backend memory per group
    group_keys: list[str] = field(default_factory=list)
    # The instance's extensions (docs/concepts.md). switch_ms above is the overhead compiled apart; a
    # relaxation must use switch_least_ms, the least under any co-compilation option (model.md).
    switch_least_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    occupancy_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))  # mean-latency limit per item (inf: none)
    max_backends: int | None = None  # most backends one accelerator of the class may host
    switch_variance: str = "dependent"
    model_names: list[str] = field(default_factory=list)  # per model_group index
    compilations: Compilations | None = None  # the instance's co-compilation groups (for the exact check)

    @property
    def count(self) -> int:
        return len(self.accelerators)

    @property
    def size(self) -> int:
        return len(self.apps)

    @property
    def backend_memory_on_node(self) -> bool:
        return self.device_memory_limit_mb is None

    def node_memory(self, items: list[int] | tuple[int, ...]) -> float:
        """Node memory a set of items uses on its node (backends too when the device has no own memory)."""
        total = float(self.frontend_memory_mb[list(items)].sum()) if items else 0.0
        if self.backend_memory_on_node and items:
            total += float(self.group_memory_mb[np.unique(self.group[list(items)])].sum())
        return total

    def frontend_load(self, items: list[int] | tuple[int, ...]) -> float:
        """Pre-processing CPU load (cores) of a set of items."""
        if not items:
            return 0.0
        index = list(items)
        return float(np.dot(self.rate_rps[index], self.preprocess_ms[index]) / 1000.0)


@dataclass
class NodeRows:
    """A multi-accelerator node: linear rows over its classes' columns (memory, pre-processing CPU)."""

    node: str
    classes: list[int]
    memory_limit_mb: float
    cores: float


@dataclass
class ConfigurationModel:
    """Everything the column generation works on, in internal *maximisation* form.

    The internal objective is ``sum(column values)``; the primary objective's value is
    ``offset + sign * internal`` (``sign = -1`` for minimised objectives).
    """

    instance: Instance
    primary: Objective
    sign: float
    offset: float
    integral: bool  # every column value is an integer, so bounds may be rounded
    app_names: list[str]
    equality: np.ndarray  # per application: must be hosted exactly once (host_all or pinned)
    classes: list[AcceleratorClass]
    node_rows: list[NodeRows]
    eligible_anywhere: np.ndarray  # per application: some class can host it
    app_types: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # type id per application

    def objective_value(self, internal: float) -> float:
        return self.offset + self.sign * internal


def _primary_objective(instance: Instance) -> Objective:
    primary = instance.objectives[0]
    if primary not in SUPPORTED_PRIMARY:
        raise UnsupportedInstance(f"objective {primary.value!r} is not supported by the configuration method")
    if primary in (Objective.MIN_ACCELERATORS, Objective.MIN_COST) and not instance.host_all:
        raise UnsupportedInstance(
            f"objective {primary.value!r} without host_all is minimised by placing nothing; the configuration "
            "method supports it only with host_all=true (or use it after max_hosted in the objective list)"
        )
    return primary


def build(instance: Instance, params: SolveParams | None = None) -> ConfigurationModel:
    """Group the accelerators into classes and prepare pricing data; raises :class:`UnsupportedInstance`."""
    del params  # nothing in the model depends on solver parameters
    primary = _primary_objective(instance)
    alone = check_alone(instance)
    apps = instance.applications
    n = len(apps)
    models = instance.model_map()
    types = instance.accelerator_type_map()
    settings = instance.settings

    eligible_on: dict[str, set[int]] = {}
    for j, app in enumerate(apps):
        for acc_name in alone[app.name].candidate_accelerators:
            eligible_on.setdefault(acc_name, set()).add(j)
    if settings.ps_model == "additive":
        # The seed's additive PS latency is not monotone: a slow application that misses its SLO alone
        # can meet it beside faster ones (the mean service time drops). Alone-feasibility is then no
        # necessary condition, so PS accelerators admit every compatible application that fits alone
        # in memory and under the utilisation cap (both monotone).
        for node, acc in instance.accelerators():
            if types[acc.type].discipline != Discipline.PS:
                continue
            for j, app in enumerate(apps):
                if _compatible_alone(instance, app, node, acc.name, acc.type):
                    eligible_on.setdefault(acc.name, set()).add(j)

    def item_value(j: int, acc_name: str, type_cost: float) -> float:
        app = apps[j]
        if primary == Objective.MAX_HOSTED:
            return app.priority
        if primary == Objective.MAX_VALUE:
            return app.value_by_accelerator.get(acc_name, app.priority)
        if primary == Objective.MIN_COST:
            return -app.cost_by_accelerator.get(acc_name, 0.0)
        if primary == Objective.MIN_MIGRATIONS:
            return 1.0 if app.current_accelerator == acc_name else 0.0
        return 0.0  # MIN_ACCELERATORS: only the fixed part counts

    def fixed_value(type_cost: float) -> float:
        if primary == Objective.MIN_ACCELERATORS:
            return -1.0
        if primary == Objective.MIN_COST:
            return -type_cost
        return 0.0

    accelerators_on_node = {node.name: len(node.accelerators) for node in instance.nodes}
    grouped: dict[tuple, list[tuple]] = {}
    for node, acc in instance.accelerators():
        items = tuple(sorted(eligible_on.get(acc.name, ())))
        if not items:
            continue
        acc_type = types[acc.type]
        multi = accelerators_on_node[node.name] > 1
        key = (
            acc.type,
            node.name if multi else None,
            node.memory_mb * instance.memory_cap(node),
            acc_type.memory_mb * instance.memory_cap(node) if acc_type.memory_mb else None,
            node.preprocess_cores,
            tuple(items),
            tuple(item_value(j, acc.name, acc_type.cost) for j in items),
            instance.max_backends(acc),
        )
        grouped.setdefault(key, []).append((node, acc))

    compilations = Compilations(instance)
    classes: list[AcceleratorClass] = []
    for key, members in grouped.items():
        type_name, multi_node, node_limit, device_limit, cores, items, values, max_backends = key
        acc_type = types[type_name]
        index = np.array(items, dtype=np.intp)
        profiles = [models[apps[j].model].profiles[type_name] for j in items]
        shareable = [models[apps[j].model].shareable for j in items]
        backend = [apps[j].model if share else f"{apps[j].model}@{apps[j].name}" for j, share in zip(items, shareable)]
        group_keys = list(dict.fromkeys(backend))
        group_of = {g: k for k, g in enumerate(group_keys)}
        model_keys = list(dict.fromkeys(apps[j].model for j in items))
        model_of = {m: k for k, m in enumerate(model_keys)}
        group_memory = np.zeros(len(group_keys))
        for b, p in zip(backend, profiles):
            group_memory[group_of[b]] = p.memory_mb
        service = np.array([p.service_time_ms for p in profiles])
        scv = np.array([p.scv for p in profiles])
        classes.append(
            AcceleratorClass(
                index=len(classes),
                accelerators=[acc.name for _, acc in members],
                node=multi_node,
                type_name=type_name,
                discipline=acc_type.discipline,
                utilization_cap=instance.utilization_cap(type_name),
                device_memory_limit_mb=device_limit,
                node_memory_limit_mb=node_limit,
                preprocess_cores=cores,
                network_ms=settings.network_delay_ms,
                ps_variant=settings.ps_model,
                fixed_value=fixed_value(acc_type.cost),
                apps=index,
                value=np.array(values, dtype=float),
                rate_rps=np.array([apps[j].rate_rps for j in items]),
                service_ms=service,
                scv=scv,
                second_moment_ms2=service * service * (1.0 + scv),
                switch_ms=np.array(
                    [p.switch_overhead_ms if acc_type.discipline == Discipline.FCFS else 0.0 for p in profiles]
                ),
                slo_ms=np.array([apps[j].slo.latency_ms for j in items]),
                quantile=np.array(
                    [apps[j].slo.quantile if apps[j].slo.quantile is not None else np.nan for j in items]
                ),
                preprocess_ms=np.array([apps[j].preprocess_ms for j in items]),
                frontend_memory_mb=np.array([apps[j].frontend_memory_mb for j in items]),
                group=np.array([group_of[b] for b in backend], dtype=np.intp),
                model_group=np.array([model_of[apps[j].model] for j in items], dtype=np.intp),
                group_memory_mb=group_memory,
                group_keys=group_keys,
                switch_least_ms=np.array(
                    [
                        compilations.least_switch_ms(type_name, apps[j].model, p.switch_overhead_ms)
                        if acc_type.discipline == Discipline.FCFS
                        else 0.0
                        for j, p in zip(items, profiles)
                    ]
                ),
                occupancy_ms=np.array(
                    [
                        latency.frontend_occupancy_limit_ms(
                            apps[j].rate_rps, apps[j].frontend_concurrency, settings.frontend_occupancy_cap
                        )
                        for j in items
                    ]
                ),
                max_backends=max_backends,
                switch_variance=settings.switch_variance,
                model_names=model_keys,
                compilations=compilations,
            )
        )

    node_rows = []
    for node in instance.nodes:
        on_node = [c.index for c in classes if c.node == node.name]
        if on_node:
            node_rows.append(
                NodeRows(node.name, on_node, node.memory_mb * instance.memory_cap(node), node.preprocess_cores)
            )

    eligible_anywhere = np.zeros(n, dtype=bool)
    for c in classes:
        eligible_anywhere[c.apps] = True
    equality = np.array([instance.host_all or app.pinned for app in apps], dtype=bool)

    sign, offset = 1.0, 0.0
    if primary in (Objective.MIN_ACCELERATORS, Objective.MIN_COST):
        sign = -1.0
    elif primary == Objective.MIN_MIGRATIONS:
        sign, offset = -1.0, float(sum(1 for a in apps if a.current_accelerator is not None))
    coefficients = [v for c in classes for v in c.value.tolist()] + [c.fixed_value for c in classes]
    integral = all(math.isfinite(v) and float(v).is_integer() for v in coefficients)
    return ConfigurationModel(
        instance=instance,
        primary=primary,
        sign=sign,
        offset=offset,
        integral=integral,
        app_names=[a.name for a in apps],
        equality=equality,
        classes=classes,
        node_rows=node_rows,
        eligible_anywhere=eligible_anywhere,
        app_types=application_types(instance, classes, equality),
    )


def application_types(instance: Instance, classes: list[AcceleratorClass], equality: np.ndarray) -> np.ndarray:
    """A type id per application: applications of one type are interchangeable everywhere.

    Two applications share a type when they agree on every field but the name (model, rate, SLO,
    priority, eligibility, current accelerator, costs and values, ...), on whether they must be
    hosted, and, in every class, on every number pricing and the exact set check read (their
    backend, rate, SLO, front end, objective coefficient). Swapping two of them then maps every
    feasible placement to a feasible placement of the same value, which is what lets the
    reduced-cost proof work on types with counts (model.md, "Reduced-cost enumeration").
    """
    keys: list[list[Any]] = [
        [bool(equality[j]), app.model_dump_json(exclude={"name"})] for j, app in enumerate(instance.applications)
    ]
    for c in classes:
        local = {int(j): i for i, j in enumerate(c.apps)}
        per_item = [
            (
                float(c.group[i]),
                float(c.value[i]),
                float(c.rate_rps[i]),
                float(c.service_ms[i]),
                float(c.second_moment_ms2[i]),
                float(c.switch_ms[i]),
                float(c.slo_ms[i]),
                repr(float(c.quantile[i])),
                float(c.preprocess_ms[i]),
                float(c.frontend_memory_mb[i]),
                float(c.occupancy_ms[i]) if len(c.occupancy_ms) else None,
                float(c.switch_least_ms[i]) if len(c.switch_least_ms) else None,
            )
            for i in range(c.size)
        ]
        for j, key in enumerate(keys):
            i = local.get(j)
            key.append(None if i is None else per_item[i])
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(repr(key), len(ids)) for key in keys], dtype=np.int64)


def _compatible_alone(instance: Instance, app, node, acc_name: str, type_name: str) -> bool:
    """Profile, allowed type, labels, pinning, memory and utilisation cap alone (no SLO test)."""
    model = instance.model_map()[app.model]
    profile = model.profiles.get(type_name)
    if profile is None:
        return False
    if app.allowed_accelerator_types is not None and type_name not in app.allowed_accelerator_types:
        return False
    if any(node.labels.get(k) != v for k, v in app.required_labels.items()):
        return False
    if app.pinned and app.current_accelerator != acc_name:
        return False
    acc_type = instance.accelerator_type_map()[type_name]
    cap = instance.memory_cap(node)
    node_mb = app.frontend_memory_mb + (0.0 if acc_type.memory_mb else profile.memory_mb)
    if node_mb > node.memory_mb * cap or (acc_type.memory_mb and profile.memory_mb > acc_type.memory_mb * cap):
        return False
    if app.preprocess_ms > 0 and app.rate_rps * app.preprocess_ms / 1000.0 >= node.preprocess_cores:
        return False
    return app.rate_rps * profile.service_time_ms / 1000.0 <= instance.utilization_cap(type_name)


def extract(model: ConfigurationModel, columns: list[tuple[int, tuple[int, ...]]], counts: list[int]) -> dict[str, str]:
    """Placement from integer column multiplicities: each copy of a column takes its own accelerator."""
    placement: dict[str, str] = {}
    free = {c.index: list(c.accelerators) for c in model.classes}
    for (class_index, items), count in zip(columns, counts):
        for _ in range(count):
            if not free[class_index]:
                raise ValueError(f"class {class_index} is used more often than it has accelerators")
            acc_name = free[class_index].pop(0)
            cls = model.classes[class_index]
            for i in items:
                placement[model.app_names[int(cls.apps[i])]] = acc_name
    return placement
