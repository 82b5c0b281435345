"""Build an instance in Python, piece by piece, in the spirit of PyVRP's ``Model``.

Each ``add_*`` method validates what it is given at once (a wrong number or an unknown name fails
on the line that added it, with the instance's JSON pointer and a did-you-mean) and returns a small
handle; handles or plain names are accepted wherever something must be referenced. ``instance()``
returns the validated :class:`~optplace.domain.Instance`; ``solve()`` solves it::

    b = InstanceBuilder(name="demo", network_delay_ms=10)
    gpu = b.add_accelerator_type("nano-gpu", discipline="ps")
    b.add_accelerator(b.add_node("nano1", memory_mb=4096), gpu)
    resnet = b.add_model("resnet50", profiles={gpu: {"service_time_ms": 29.4, "memory_mb": 965}})
    b.add_application("cam1", resnet, rate_rps=8, slo_ms=200)
    result = b.solve(time_limit_s=5)

Decisions: handles are plain frozen records (a kind and a name) rather than the pydantic models,
because nodes and models grow after they are added (accelerators, profiles); a handle from another
builder is refused (names could collide silently); ``instance()`` re-validates the whole document
through :func:`optplace.io.parse_instance`, so a built instance is exactly as valid as a loaded one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from optplace.domain import (
    Accelerator,
    AcceleratorType,
    Application,
    ClusterSettings,
    CocompilationGroup,
    Instance,
    Node,
    Objective,
    Profile,
)
from optplace.exceptions import InstanceError, did_you_mean
from optplace.io import dotted, json_pointer, parse_instance, validation_errors

if TYPE_CHECKING:
    from optplace.params import SolveParams
    from optplace.result import SolveResult

_Validated = TypeVar("_Validated", bound=BaseModel)
SOURCE = "InstanceBuilder"  # how errors name what they are about


@dataclass(frozen=True)
class _Handle:
    name: str
    builder: int = field(repr=False, compare=True)

    def __str__(self) -> str:
        return self.name


class AcceleratorTypeRef(_Handle):
    """An accelerator type added to an :class:`InstanceBuilder`."""


class NodeRef(_Handle):
    """A node added to an :class:`InstanceBuilder`."""


class AcceleratorRef(_Handle):
    """An accelerator added to an :class:`InstanceBuilder`."""


class ModelRef(_Handle):
    """A model added to an :class:`InstanceBuilder`."""


class ApplicationRef(_Handle):
    """An application added to an :class:`InstanceBuilder`."""


@dataclass
class _NodeData:
    fields: dict[str, Any]
    accelerators: list[dict[str, str]] = field(default_factory=list)


@dataclass
class _ModelData:
    shareable: bool
    profiles: dict[str, Profile] = field(default_factory=dict)


class InstanceBuilder:
    """Build an :class:`~optplace.domain.Instance` with ``add_*`` calls, then ``instance()`` or ``solve()``.

    Cluster settings and objectives are keyword arguments here (``network_delay_ms``,
    ``utilization_cap``, ``memory_cap``, ``ps_model``, ``switch_variance``, ``frontend_occupancy_cap``,
    ``objectives``, ``host_all``); invalid input raises :class:`~optplace.exceptions.InstanceError`
    naming the field.
    """

    def __init__(
        self,
        name: str = "instance",
        *,
        description: str = "",
        network_delay_ms: float = 0.0,
        utilization_cap: float = 0.8,
        memory_cap: float = 0.8,
        ps_model: str = "exact",
        switch_variance: str = "dependent",
        frontend_occupancy_cap: float = 0.8,
        objectives: Iterable[Objective | str] | None = None,
        host_all: bool = False,
        provenance: Mapping[str, Any] | None = None,
    ):
        settings = {
            "network_delay_ms": network_delay_ms,
            "utilization_cap": utilization_cap,
            "memory_cap": memory_cap,
            "ps_model": ps_model,
            "switch_variance": switch_variance,
            "frontend_occupancy_cap": frontend_occupancy_cap,
        }
        self._settings = _validated(ClusterSettings, settings, ("settings",))
        self._header: dict[str, Any] = {"name": name, "description": description, "host_all": host_all}
        self._provenance = dict(provenance or {})
        self._objectives: list[Objective] | None = None
        if objectives is not None:
            self.set_objectives(*objectives)
        self._types: dict[str, AcceleratorType] = {}
        self._nodes: dict[str, _NodeData] = {}
        self._accelerators: dict[str, str] = {}  # accelerator -> its node
        self._models: dict[str, _ModelData] = {}
        self._applications: dict[str, Application] = {}
        self._groups: dict[str, CocompilationGroup] = {}

    # --- reading back -------------------------------------------------------------------------

    @property
    def accelerator_types(self) -> list[AcceleratorTypeRef]:
        return [AcceleratorTypeRef(n, id(self)) for n in self._types]

    @property
    def nodes(self) -> list[NodeRef]:
        return [NodeRef(n, id(self)) for n in self._nodes]

    @property
    def accelerators(self) -> list[AcceleratorRef]:
        return [AcceleratorRef(n, id(self)) for n in self._accelerators]

    @property
    def models(self) -> list[ModelRef]:
        return [ModelRef(n, id(self)) for n in self._models]

    @property
    def applications(self) -> list[ApplicationRef]:
        return [ApplicationRef(n, id(self)) for n in self._applications]

    @classmethod
    def from_instance(cls, instance: Instance) -> InstanceBuilder:
        """A builder holding everything in ``instance``, to extend or change it."""
        s = instance.settings
        builder = cls(
            instance.name,
            description=instance.description,
            network_delay_ms=s.network_delay_ms,
            utilization_cap=s.utilization_cap,
            memory_cap=s.memory_cap,
            ps_model=s.ps_model,
            switch_variance=s.switch_variance,
            frontend_occupancy_cap=s.frontend_occupancy_cap,
            objectives=instance.objectives,
            host_all=instance.host_all,
            provenance=instance.provenance,
        )
        builder._types = {t.name: t for t in instance.accelerator_types}
        for node in instance.nodes:
            fields = node.model_dump(exclude={"accelerators"})
            builder._nodes[node.name] = _NodeData(fields, [a.model_dump() for a in node.accelerators])
            builder._accelerators.update({a.name: node.name for a in node.accelerators})
        builder._models = {m.name: _ModelData(m.shareable, dict(m.profiles)) for m in instance.models}
        builder._applications = {a.name: a for a in instance.applications}
        builder._groups = {g.name: g for g in instance.cocompilation_groups}
        return builder

    # --- adding -------------------------------------------------------------------------------

    def add_accelerator_type(
        self,
        name: str,
        discipline: str,
        *,
        utilization_cap: float | None = None,
        memory_mb: float | None = None,
        cost: float = 1.0,
        max_backends: int | None = None,
        parameter_cache_mb: float | None = None,
        description: str = "",
    ) -> AcceleratorTypeRef:
        """A kind of accelerator: ``discipline`` is "ps" (time-sliced GPU), "fcfs" (edgeTPU) or "dedicated"."""
        where = ("accelerator_types", len(self._types))
        self._new_name(name, self._types, where)
        data = {
            "name": name,
            "discipline": discipline,
            "utilization_cap": utilization_cap,
            "memory_mb": memory_mb,
            "cost": cost,
            "max_backends": max_backends,
            "parameter_cache_mb": parameter_cache_mb,
            "description": description,
        }
        self._types[name] = _validated(AcceleratorType, data, where)
        return AcceleratorTypeRef(name, id(self))

    def add_node(
        self,
        name: str,
        memory_mb: float,
        *,
        memory_cap: float | None = None,
        preprocess_cores: float = 1.0,
        labels: Mapping[str, str] | None = None,
    ) -> NodeRef:
        """A host with ``memory_mb`` of memory; give it accelerators with :meth:`add_accelerator`."""
        where = ("nodes", len(self._nodes))
        self._new_name(name, self._nodes, where)
        fields = {
            "name": name,
            "memory_mb": memory_mb,
            "memory_cap": memory_cap,
            "preprocess_cores": preprocess_cores,
            "labels": dict(labels or {}),
        }
        # Validated with a placeholder accelerator: a node needs one, and they come later.
        probe = {**fields, "accelerators": [{"name": "placeholder", "type": "placeholder"}]}
        _validated(Node, probe, where)
        self._nodes[name] = _NodeData(fields)
        return NodeRef(name, id(self))

    def add_accelerator(
        self,
        node: NodeRef | str,
        accelerator_type: AcceleratorTypeRef | str,
        *,
        name: str | None = None,
        max_backends: int | None = None,
    ) -> AcceleratorRef:
        """An accelerator of ``accelerator_type`` on ``node``; its name defaults to "<node>-<type>" (numbered when taken).

        ``max_backends`` caps the backends it may host (e.g. time-slicing replicas); None: its type's limit.
        """
        node_name = self._ref(node, NodeRef, self._nodes, "node", ("nodes",))
        accelerators = self._nodes[node_name].accelerators
        where = ("nodes", list(self._nodes).index(node_name), "accelerators", len(accelerators))
        type_name = self._ref(accelerator_type, AcceleratorTypeRef, self._types, "accelerator type", (*where, "type"))
        if name is None:
            name, k = f"{node_name}-{type_name}", 2
            while name in self._accelerators:
                name, k = f"{node_name}-{type_name}{k}", k + 1
        self._new_name(name, self._accelerators, where, what="accelerator")
        fields: dict[str, Any] = {"name": name, "type": type_name}
        if max_backends is not None:
            fields["max_backends"] = max_backends
        accelerators.append(_validated(Accelerator, fields, where).model_dump(exclude_none=True))
        self._accelerators[name] = node_name
        return AcceleratorRef(name, id(self))

    def add_model(
        self,
        name: str,
        *,
        profiles: Mapping[AcceleratorTypeRef | str, Profile | Mapping[str, Any]] | None = None,
        shareable: bool = True,
    ) -> ModelRef:
        """A DNN model; ``profiles`` maps accelerator types to profile fields (or add them with :meth:`add_profile`)."""
        where = ("models", len(self._models))
        self._new_name(name, self._models, where)
        if not isinstance(shareable, bool):
            raise _error((*where, "shareable"), "bool_type", "shareable must be true or false")
        self._models[name] = _ModelData(shareable)
        ref = ModelRef(name, id(self))
        for accelerator_type, profile in (profiles or {}).items():
            fields = profile.model_dump(exclude_unset=True) if isinstance(profile, Profile) else dict(profile)
            self.add_profile(ref, accelerator_type, **fields)
        return ref

    def add_profile(
        self,
        model: ModelRef | str,
        accelerator_type: AcceleratorTypeRef | str,
        service_time_ms: float,
        *,
        service_time_scv: float | None = None,
        service_time_second_moment_ms2: float | None = None,
        switch_overhead_ms: float = 0.0,
        memory_mb: float = 0.0,
        parameter_mb: float | None = None,
    ) -> None:
        """How ``model`` runs alone on ``accelerator_type``: service time (ms), variability, switch overhead, memory."""
        model_name = self._ref(model, ModelRef, self._models, "model", ("models",))
        at = ("models", list(self._models).index(model_name), "profiles")
        type_name = self._ref(accelerator_type, AcceleratorTypeRef, self._types, "accelerator type", at)
        where = (*at, type_name)
        if type_name in self._models[model_name].profiles:
            raise _error(where, "duplicate", f"model {model_name!r} already has a profile for {type_name!r}")
        data = {
            "service_time_ms": service_time_ms,
            "service_time_scv": service_time_scv,
            "service_time_second_moment_ms2": service_time_second_moment_ms2,
            "switch_overhead_ms": switch_overhead_ms,
            "memory_mb": memory_mb,
            "parameter_mb": parameter_mb,
        }
        given = {k: v for k, v in data.items() if v is not None}
        self._models[model_name].profiles[type_name] = _validated(Profile, given, where)

    def add_application(
        self,
        name: str,
        model: ModelRef | str,
        rate_rps: float,
        slo_ms: float,
        *,
        statistic: str = "mean",
        priority: float = 1.0,
        current_accelerator: AcceleratorRef | str | None = None,
        pinned: bool = False,
        frontend_memory_mb: float = 0.0,
        preprocess_ms: float = 0.0,
        allowed_accelerator_types: Iterable[AcceleratorTypeRef | str] | None = None,
        required_labels: Mapping[str, str] | None = None,
        cost_by_accelerator: Mapping[AcceleratorRef | str, float] | None = None,
        value_by_accelerator: Mapping[AcceleratorRef | str, float] | None = None,
        frontend_concurrency: int | None = None,
    ) -> ApplicationRef:
        """An inference application: ``rate_rps`` requests per second to ``model``, SLO ``slo_ms`` in ``statistic``."""
        where = ("applications", len(self._applications))
        self._new_name(name, self._applications, where)
        acc, accs, types = AcceleratorRef, self._accelerators, self._types
        data = {
            "name": name,
            "model": self._ref(model, ModelRef, self._models, "model", (*where, "model")),
            "rate_rps": rate_rps,
            "slo": {"latency_ms": slo_ms, "statistic": statistic},
            "priority": priority,
            "current_accelerator": None
            if current_accelerator is None
            else self._ref(current_accelerator, acc, accs, "accelerator", (*where, "current_accelerator")),
            "pinned": pinned,
            "frontend_memory_mb": frontend_memory_mb,
            "preprocess_ms": preprocess_ms,
            "allowed_accelerator_types": None
            if allowed_accelerator_types is None
            else [
                self._ref(t, AcceleratorTypeRef, types, "accelerator type", (*where, "allowed_accelerator_types", i))
                for i, t in enumerate(allowed_accelerator_types)
            ],
            "required_labels": dict(required_labels or {}),
            "cost_by_accelerator": {
                self._ref(a, acc, accs, "accelerator", (*where, "cost_by_accelerator")): c
                for a, c in (cost_by_accelerator or {}).items()
            },
            "value_by_accelerator": {
                self._ref(a, acc, accs, "accelerator", (*where, "value_by_accelerator")): v
                for a, v in (value_by_accelerator or {}).items()
            },
            "frontend_concurrency": frontend_concurrency,
        }
        self._applications[name] = _validated(Application, data, where)
        return ApplicationRef(name, id(self))

    def add_cocompilation_group(
        self,
        name: str,
        accelerator_type: AcceleratorTypeRef | str,
        switch_overhead_ms: Mapping[ModelRef | str, float],
        *,
        description: str = "",
    ) -> None:
        """Models compiled together for an fcfs ``accelerator_type``: member -> overhead of a switch into it."""
        where = ("cocompilation_groups", len(self._groups))
        self._new_name(name, self._groups, where, what="co-compilation group")
        data = {
            "name": name,
            "accelerator_type": self._ref(
                accelerator_type, AcceleratorTypeRef, self._types, "accelerator type", (*where, "accelerator_type")
            ),
            "switch_overhead_ms": {
                self._ref(m, ModelRef, self._models, "model", (*where, "switch_overhead_ms")): o
                for m, o in switch_overhead_ms.items()
            },
            "description": description,
        }
        self._groups[name] = _validated(CocompilationGroup, data, where)

    def set_objectives(self, *objectives: Objective | str) -> None:
        """Objectives in lexicographic order (e.g. ``"max_hosted", "min_accelerators"``); the first is primary."""
        self._objectives = [_objective(o, i) for i, o in enumerate(objectives)]
        if not self._objectives:
            raise _error(("objectives",), "too_short", "give at least one objective")

    # --- results ------------------------------------------------------------------------------

    def instance(self) -> Instance:
        """The validated instance (raises :class:`~optplace.exceptions.InstanceError` listing every problem)."""
        document: dict[str, Any] = {
            **self._header,
            "settings": self._settings.model_dump(),
            "accelerator_types": [t.model_dump() for t in self._types.values()],
            "nodes": [{**n.fields, "accelerators": list(n.accelerators)} for n in self._nodes.values()],
            "models": [
                {"name": name, "shareable": m.shareable, "profiles": {t: p.model_dump() for t, p in m.profiles.items()}}
                for name, m in self._models.items()
            ],
            "applications": [a.model_dump() for a in self._applications.values()],
            "cocompilation_groups": [g.model_dump() for g in self._groups.values()],
            "provenance": self._provenance,
        }
        if self._objectives is not None:
            document["objectives"] = [o.value for o in self._objectives]
        return parse_instance(document, f"instance {self._header['name']!r}")

    def solve(
        self, method: str = "auto", params: SolveParams | Mapping[str, Any] | None = None, **param_fields: Any
    ) -> SolveResult:
        """Solve the built instance: ``optplace.solve(self.instance(), method, params)``.

        Keyword arguments are :class:`~optplace.params.SolveParams` fields (``time_limit_s=10``)
        and override those in ``params``.
        """
        from optplace.solve import solve

        if params is not None and not isinstance(params, Mapping):
            params = params.model_dump(exclude_unset=True)
        return solve(self.instance(), method, {**(params or {}), **param_fields})

    # --- helpers ------------------------------------------------------------------------------

    def _new_name(self, name: str, taken: Mapping[str, Any], where: tuple, what: str | None = None) -> None:
        if name in taken:
            what = what or where[0].rstrip("s").replace("_", " ")
            raise _error((*where, "name"), "duplicate", f"{what} {name!r} is already in this instance")

    def _ref(self, value: _Handle | str, kind: type[_Handle], known: Mapping[str, Any], what: str, loc: tuple) -> str:
        """The name ``value`` refers to; an unknown name fails here, at ``loc``, with a did-you-mean."""
        if isinstance(value, _Handle):
            if not isinstance(value, kind) or value.builder != id(self):
                raise ValueError(
                    f"{value!r} does not belong to this builder; pass a handle its add_* returned, or the {what}'s name"
                )
            return value.name
        if not isinstance(value, str):
            raise TypeError(f"expected a {what} (a name or the handle add_* returned), got {type(value).__name__}")
        if value not in known:
            raise _error(loc, "invalid_reference", f"unknown {what} {value!r}{did_you_mean(value, known)}")
        return value


def _objective(value: Objective | str, index: int) -> Objective:
    try:
        return Objective(value)
    except ValueError:
        names = [o.value for o in Objective]
        raise _error(
            ("objectives", index), "enum", f"unknown objective {value!r}{did_you_mean(str(value), names)}"
        ) from None


def _validated(model: type[_Validated], data: Mapping[str, Any], where: tuple) -> _Validated:
    """``model`` validated from ``data``, or an InstanceError whose pointers say where in the instance it sits."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InstanceError(SOURCE, validation_errors(error, where)) from None


def _error(loc: tuple, code: str, message: str) -> InstanceError:
    return InstanceError(
        SOURCE, [{"field": dotted(loc), "pointer": json_pointer(loc), "code": code, "message": message}]
    )
