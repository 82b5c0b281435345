"""The domain model: what a cluster, its models and its applications look like.

Everything here is a frozen pydantic v2 model with units in the field names. An instance file
is one JSON object of :class:`Instance`; its applications sit in the top-level ``applications``
list. Cross-field checks live in :meth:`Instance._check_references` and say what to fix.

Decisions worth knowing (also in ``docs/concepts.md``):

* A model's backend memory (``Profile.memory_mb``) counts against the accelerator's own memory
  when its type declares ``memory_mb`` (a datacenter GPU), otherwise against the node's memory
  (a Jetson's unified memory, or the host of a USB edgeTPU). Front-end memory always counts
  against the node.
* Applications of a ``shareable`` model on the same accelerator always share one backend: their
  rates add, memory counts once, and no switch happens between them. Sharing never makes any
  latency worse, so it is not a decision variable.
* EdgeTPU co-compilation (``Instance.cocompilation_groups``): models compiled together share the
  on-chip parameter cache, so a switch between them costs less. A device holding two or more
  backends of distinct models that all belong to a group declared for its type may run that
  group's binary; :mod:`optplace.cocompilation` holds the rule every component follows.
* Input is bounded and strict, so that no document can cost unbounded memory or be misread:
  numbers and booleans are strict (``true`` or ``"2"`` is not a number), every string and map has
  a length cap (:data:`MAX_NAME_CHARS`, :data:`MAX_TEXT_CHARS`, :data:`MAX_LABELS`, ...; a map
  over its cap is rejected before its entries are validated), ``provenance`` is plain JSON of at
  most :data:`MAX_PROVENANCE_BYTES` and :data:`MAX_PROVENANCE_DEPTH` levels, and no string may hold
  a lone UTF-16 surrogate (it could not be written back as UTF-8).
"""

from __future__ import annotations

import json
import math
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator, model_validator
from pydantic_core import PydanticCustomError

SCHEMA_VERSION = "1"

# Quantities are bounded by 1e9 (a billion ms, MB or req/s): far beyond any real cluster, and it
# keeps every formula (squares, products) clear of floating-point overflow.
MAX_QUANTITY = 1e9
MAX_NAME_CHARS = 200
MAX_TEXT_CHARS = 10_000  # description
MAX_LABELS = 256  # per labels / required_labels map
MAX_LABEL_CHARS = 320  # a Kubernetes label key (253 + "/" + 63) fits
MAX_MAP_ENTRIES = 100_000  # per profiles / cost_by_accelerator / value_by_accelerator map
MAX_PROVENANCE_BYTES = 65_536
MAX_PROVENANCE_DEPTH = 16
MAX_GROUP_MODELS = 64  # models per co-compilation group (the edgeTPU cache holds a handful)
MAX_BACKENDS = 1_000_000  # bound of max_backends and frontend_concurrency (far beyond any device)


def at_most(limit: int) -> BeforeValidator:
    """Reject a list or map with more than ``limit`` entries *before* its entries are validated
    (pydantic checks a map's max_length only after validating every entry)."""

    def check(value: Any) -> Any:
        if isinstance(value, dict | list) and len(value) > limit:
            raise PydanticCustomError(
                "too_long", "{count} entries; at most {limit} are allowed", {"count": len(value), "limit": limit}
            )
        return value

    return BeforeValidator(check)


PositiveFloat = Annotated[float, Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False, strict=True)]
Count = Annotated[int, Field(ge=1, le=MAX_BACKENDS, strict=True)]
NonNegativeFloat = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False, strict=True)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False, strict=True)]
UtilizationCap = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False, strict=True)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, strict=True)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"^[^\s/]+$")]
# A map key that must name something (an accelerator type, an accelerator): any string up to the
# name length, so that a wrong key is reported as an unknown name at its exact JSON pointer.
Key = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
LabelText = Annotated[str, Field(max_length=MAX_LABEL_CHARS)]
Labels = Annotated[dict[LabelText, LabelText], at_most(MAX_LABELS), Field(max_length=MAX_LABELS)]

_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d+)?)$")


Loc = tuple[str | int, ...]


class ReferenceErrors(ValueError):
    """Cross-field errors of an instance, each with its exact location (a tuple of keys and
    indices, so that a key containing ``.`` or ``/`` stays one key)."""

    def __init__(self, errors: list[tuple[Loc, str]]):
        self.errors = errors
        shown = "; ".join(f"{'.'.join(map(str, loc))}: {message}" for loc, message in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} invalid reference{'s' if len(errors) != 1 else ''}: {shown}{more}")


def check_plain_json(value: Any, max_depth: int, max_bytes: int) -> None:
    """Raise ValueError unless ``value`` is plain JSON (objects with string keys, arrays, strings,
    finite numbers, booleans, null) nested at most ``max_depth`` levels, with no lone surrogate in
    any string, and at most ``max_bytes`` long as compact JSON. Iterative, and it stops at the
    first problem or once the budget is spent, so any input costs at most about ``max_bytes``."""
    budget = max_bytes
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > max_depth:
            raise ValueError(f"nested deeper than {max_depth} levels at {where or '/'}")
        if isinstance(item, dict):
            budget -= 2 + len(item)
            for key, child in item.items():
                if not isinstance(key, str):
                    raise ValueError(f"a key at {where or '/'} is not a string")
                budget -= _json_chars(key, f"{where}/{_escape(key)}")
                stack.append((child, f"{where}/{_escape(key)}", depth + 1))
        elif isinstance(item, list):
            budget -= 2 + len(item)
            stack.extend((child, f"{where}/{index}", depth + 1) for index, child in enumerate(item))
        elif isinstance(item, str):
            budget -= _json_chars(item, where)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item} at {where or '/'} is not a JSON number")
        elif item is None or isinstance(item, bool | int | float):
            budget -= 6
        else:
            raise ValueError(f"a {type(item).__name__} at {where or '/'} is not JSON")
        if budget < 0:
            raise ValueError(f"more than {max_bytes} bytes of JSON; keep it short")
    if len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()) > max_bytes:
        raise ValueError(f"more than {max_bytes} bytes of JSON; keep it short")


def _json_chars(text: str, where: str) -> int:
    try:
        return len(text.encode()) + 2
    except UnicodeEncodeError:
        raise ValueError(f"a string at {where or '/'} holds a lone surrogate (not valid Unicode)") from None


def _escape(key: str) -> str:
    """One RFC 6901 reference token (``~`` -> ``~0``, ``/`` -> ``~1``), printable."""
    return re.sub("[\ud800-\udfff]", "\ufffd", key.replace("~", "~0").replace("/", "~1"))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Discipline(StrEnum):
    """How an accelerator shares its time between the models placed on it."""

    PS = "ps"  # time-sliced GPU, one process per model: processor sharing
    FCFS = "fcfs"  # one queue served in order, e.g. an edgeTPU; pays a switch between models
    DEDICATED = "dedicated"  # one model (backend) only


class Objective(StrEnum):
    """What a placement optimises; a list of these is read lexicographically."""

    MAX_HOSTED = "max_hosted"  # maximise priority-weighted hosted applications
    MAX_VALUE = "max_value"  # maximise per-(application, accelerator) value of hosted apps
    MIN_ACCELERATORS = "min_accelerators"  # fewest accelerators used
    MIN_COST = "min_cost"  # least accelerator fixed cost plus per-(app, accelerator) cost
    MIN_MIGRATIONS = "min_migrations"  # fewest applications moved off their current accelerator

    @property
    def maximize(self) -> bool:
        return self in (Objective.MAX_HOSTED, Objective.MAX_VALUE)


class AcceleratorType(_Frozen):
    """A kind of accelerator: its sharing discipline and limits."""

    name: Name = Field(description="Unique name of the type; profiles are keyed by it.")
    discipline: Discipline = Field(
        description="How the device is shared: ps (processor sharing between backends), fcfs (one queue served in order; "
        "switching models costs switch_overhead_ms) or dedicated (one backend only).",
    )
    utilization_cap: UtilizationCap | None = Field(
        default=None, description="Largest utilisation allowed; None means the cluster default."
    )
    memory_mb: PositiveFloat | None = Field(
        default=None,
        description="Device memory; when set, model backends count against it instead of the node.",
    )
    cost: NonNegativeFloat = Field(default=1.0, description="Fixed cost of using one accelerator.")
    max_backends: Count | None = Field(
        default=None,
        description="Most backends (model processes) one accelerator of this type may host, e.g. the "
        "time-slicing replicas of a shared GPU; None means unlimited. An accelerator's own value overrides it.",
    )
    parameter_cache_mb: PositiveFloat | None = Field(
        default=None,
        description="On-chip parameter cache (about 8 MB on an edgeTPU): the members of a co-compilation "
        "group for this type must fit in it together (their profiles' parameter_mb).",
    )
    description: Text = Field(default="", description="Free text for people.")


class Accelerator(_Frozen):
    """One physical accelerator on a node. Names are unique across the cluster."""

    name: Name = Field(description="Unique name across the cluster.")
    type: Name = Field(description="Name of its accelerator type.")
    max_backends: Count | None = Field(
        default=None,
        description="Most backends this accelerator may host (e.g. Kubernetes time-slicing replicas); "
        "None means its type's max_backends.",
    )


class Node(_Frozen):
    """A host: memory, CPU for pre-processing, and its accelerators."""

    name: Name = Field(description="Unique name of the node.")
    memory_mb: PositiveFloat = Field(
        description="Host memory (MB); backends of types without their own memory and front ends count against it."
    )
    memory_cap: Fraction | None = Field(
        default=None, description="Fraction of memory usable; None means the cluster default."
    )
    # At least one core: the front-end model pools the cores into one PS server, an upper bound on
    # the real c-core stage for c >= 1 but optimistic below one core (docs/validation.md).
    preprocess_cores: float = Field(
        default=1.0,
        ge=1,
        le=MAX_QUANTITY,
        allow_inf_nan=False,
        strict=True,
        description="CPU cores for front-end pre-processing (a PS stage); at least 1.",
    )
    accelerators: list[Accelerator] = Field(
        description="The accelerators installed in the node.", min_length=1, max_length=MAX_MAP_ENTRIES
    )
    labels: Labels = Field(
        description="Labels an application's required_labels are matched against.", default_factory=dict
    )


class Profile(_Frozen):
    """How one model runs, alone, on one accelerator type."""

    service_time_ms: PositiveFloat = Field(description="Mean service time of one request alone on the type (ms).")
    service_time_scv: NonNegativeFloat | None = Field(
        default=None,
        description="Squared coefficient of variation of service time (0 = deterministic).",
    )
    service_time_second_moment_ms2: (
        Annotated[float, Field(gt=0, le=MAX_QUANTITY**2, allow_inf_nan=False, strict=True)] | None
    ) = Field(default=None, description="E[S^2] in ms^2; give this or the SCV, not both.")
    switch_overhead_ms: NonNegativeFloat = Field(
        default=0.0, description="Reload cost when an fcfs device switches to this model."
    )
    memory_mb: NonNegativeFloat = Field(
        default=0.0, description="Memory of one backend of the model (MB), on the device or the node."
    )
    parameter_mb: NonNegativeFloat | None = Field(
        default=None,
        description="Model parameters a co-compiled binary keeps in the type's parameter cache (int8: about "
        "one MB per million parameters); needed for co-compilation groups on a type with parameter_cache_mb.",
    )
    load_time_ms: NonNegativeFloat | None = Field(
        default=None,
        description="Time to start this model's backend on this type (a re-placement's move cost); None = unknown.",
    )

    @model_validator(mode="after")
    def _one_variability_measure(self) -> Profile:
        if self.service_time_scv is not None and self.service_time_second_moment_ms2 is not None:
            raise ValueError("give either service_time_scv or service_time_second_moment_ms2, not both")
        # Compared as E[S^2] / s < s so that no input can overflow.
        if (
            self.service_time_second_moment_ms2 is not None
            and self.service_time_second_moment_ms2 / self.service_time_ms < self.service_time_ms * (1 - 1e-9)
        ):
            raise ValueError(
                "service_time_second_moment_ms2 must be at least service_time_ms squared; "
                "a second moment below the squared mean is impossible"
            )
        return self

    @property
    def scv(self) -> float:
        """Squared coefficient of variation of the service time."""
        if self.service_time_second_moment_ms2 is not None:
            return max(0.0, self.service_time_second_moment_ms2 / self.service_time_ms / self.service_time_ms - 1)
        return self.service_time_scv or 0.0


class Model(_Frozen):
    """A DNN model with a profile per accelerator type it can run on."""

    name: Name = Field(description="Unique name of the model; applications refer to it.")
    profiles: Annotated[dict[Key, Profile], at_most(MAX_MAP_ENTRIES)] = Field(
        description="Profile per accelerator type name; the model runs only on these types.",
        min_length=1,
        max_length=MAX_MAP_ENTRIES,
    )
    shareable: StrictBool = Field(default=True, description="Applications of this model may share one backend.")


class SLO(_Frozen):
    """A latency objective: the mean or a percentile of end-to-end response time."""

    latency_ms: PositiveFloat = Field(description="Latency target (ms), end to end, in the statistic below.")
    statistic: str = Field(default="mean", max_length=16, description="'mean' or a percentile such as 'p95'.")

    @field_validator("statistic")
    @classmethod
    def _known_statistic(cls, value: str) -> str:
        if value == "mean":
            return value
        match = _PERCENTILE.match(value)
        if not match or not 0 < float(match.group(1)) < 100:
            raise ValueError(
                f"statistic {value!r} is not understood; use 'mean' or a percentile "
                "such as 'p50', 'p95', 'p99' or 'p99.9'"
            )
        return value

    @property
    def quantile(self) -> float | None:
        """The percentile as a probability (0.95 for p95), or None for the mean."""
        if self.statistic == "mean":
            return None
        return float(self.statistic[1:]) / 100.0


class Application(_Frozen):
    """An inference application: a stream of requests to one model with a latency SLO."""

    name: Name = Field(description="Unique name of the application.")
    model: Name = Field(description="Name of the model it serves.")
    rate_rps: PositiveFloat = Field(description="Mean request arrival rate (requests per second), Poisson arrivals.")
    slo: SLO = Field(description="Its latency SLO.")
    priority: PositiveFloat = Field(default=1.0, description="Weight in the max_hosted objective.")
    current_accelerator: Name | None = Field(
        default=None, description="Where the application runs now, for migration objectives."
    )
    pinned: StrictBool = Field(default=False, description="Must stay on current_accelerator (requires it to be set).")
    frontend_memory_mb: NonNegativeFloat = Field(default=0.0, description="Host memory of its front end (MB).")
    preprocess_ms: NonNegativeFloat = Field(
        default=0.0, description="CPU pre-processing per request on the node (a PS stage)."
    )
    allowed_accelerator_types: list[Name] | None = Field(
        description="Only these accelerator types may host it; null allows every profiled type.",
        default=None,
        max_length=MAX_MAP_ENTRIES,
    )
    required_labels: Labels = Field(default_factory=dict, description="Node labels the host must carry.")
    cost_by_accelerator: Annotated[dict[Key, FiniteFloat], at_most(MAX_MAP_ENTRIES)] = Field(
        default_factory=dict,
        max_length=MAX_MAP_ENTRIES,
        description="Per-accelerator cost of hosting this application.",
    )
    value_by_accelerator: Annotated[dict[Key, FiniteFloat], at_most(MAX_MAP_ENTRIES)] = Field(
        default_factory=dict,
        max_length=MAX_MAP_ENTRIES,
        description="Per-accelerator value for max_value; missing entries use priority.",
    )
    frontend_concurrency: Count | None = Field(
        default=None,
        description="A synchronous front end with at most this many requests outstanding: enforces "
        "rate x mean end-to-end latency <= settings.frontend_occupancy_cap x frontend_concurrency (Little's "
        "law). None: an asynchronous front end, no such limit.",
    )

    @model_validator(mode="after")
    def _pinned_needs_current(self) -> Application:
        if self.pinned and self.current_accelerator is None:
            raise ValueError("pinned is true but current_accelerator is not set; set both or neither")
        return self


class ClusterSettings(_Frozen):
    """Cluster-wide settings and defaults."""

    network_delay_ms: NonNegativeFloat = Field(
        default=0.0, description="Constant network delay added to every request."
    )
    utilization_cap: UtilizationCap = Field(default=0.8, description="Default accelerator utilisation cap.")
    memory_cap: Fraction = Field(default=0.8, description="Default usable fraction of memory.")
    ps_model: str = Field(
        default="exact",
        max_length=16,
        pattern=r"^(exact|additive)$",
        description="Processor-sharing latency model: 'exact' (s/(1-rho)) or the seed's 'additive'.",
    )
    switch_variance: str = Field(
        default="dependent",
        max_length=16,
        pattern=r"^(dependent|bernoulli|seed)$",
        description="FCFS mean wait with switch overhead: 'dependent' (the exact queue, model v2), 'bernoulli' "
        "(model v1's Pollaczek-Khinchine) or the seed's 'seed'; percentiles always use the exact queue.",
    )
    frontend_occupancy_cap: Fraction = Field(
        default=0.8,
        description="Share of an application's frontend_concurrency its requests in flight may use on average "
        "(the seed's 0.8).",
    )


class CocompilationGroup(_Frozen):
    """Models compiled together for one accelerator type: they share its on-chip parameter cache.

    A switch into a member costs ``switch_overhead_ms[member]`` instead of its profile's overhead
    when the accelerator runs this group's binary (see :mod:`optplace.cocompilation`).
    """

    name: Name = Field(description="Unique name of the group (the co-compiled binary).")
    accelerator_type: Name = Field(description="The fcfs accelerator type the group is compiled for.")
    switch_overhead_ms: Annotated[dict[Key, NonNegativeFloat], at_most(MAX_GROUP_MODELS)] = Field(
        min_length=2,
        max_length=MAX_GROUP_MODELS,
        description="Member model -> overhead of a switch into it when co-compiled (at most its profile's).",
    )
    description: Text = Field(default="", description="Free text for people.")


class Instance(_Frozen):
    """A placement problem: cluster, models, applications and what to optimise."""

    schema_version: str = Field(
        description="Version of this schema; 1.", default=SCHEMA_VERSION, max_length=8, pattern=r"^1$"
    )
    name: str = Field(
        description="The instance's name (reports and results).", default="instance", max_length=MAX_NAME_CHARS
    )
    description: Text = Field(default="", description="Free text for people.")
    settings: ClusterSettings = Field(
        description="Cluster-wide defaults: network delay, caps, the PS model.", default_factory=ClusterSettings
    )
    accelerator_types: list[AcceleratorType] = Field(
        description="The kinds of accelerator in the cluster.", min_length=1
    )
    nodes: list[Node] = Field(description="The hosts and their accelerators.", min_length=1)
    models: list[Model] = Field(description="The DNN models with their profiles per accelerator type.", min_length=1)
    applications: list[Application] = Field(description="The applications to place.", default_factory=list)
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective.MAX_HOSTED, Objective.MIN_ACCELERATORS],
        min_length=1,
        max_length=len(Objective),
        description="Objectives in lexicographic order; the first is the primary one.",
    )
    host_all: StrictBool = Field(default=False, description="Every application must be hosted (else: infeasible).")
    cocompilation_groups: Annotated[list[CocompilationGroup], at_most(MAX_MAP_ENTRIES)] = Field(
        default_factory=list,
        max_length=MAX_MAP_ENTRIES,
        description="EdgeTPU co-compilation groups; a device may run a group containing all its models.",
    )
    provenance: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Where the instance comes from: plain JSON, at most {MAX_PROVENANCE_BYTES} bytes and "
        f"{MAX_PROVENANCE_DEPTH} levels deep.",
    )

    @field_validator("provenance")
    @classmethod
    def _bounded_provenance(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_plain_json(value, MAX_PROVENANCE_DEPTH, MAX_PROVENANCE_BYTES)
        return value

    @model_validator(mode="after")
    def _check_references(self) -> Instance:
        errors: list[tuple[Loc, str]] = []
        type_names = _unique("accelerator_types", [t.name for t in self.accelerator_types], errors)
        _unique("nodes", [n.name for n in self.nodes], errors)
        model_names = _unique("models", [m.name for m in self.models], errors)
        _unique("applications", [a.name for a in self.applications], errors)
        accelerator_names: set[str] = set()
        for n_index, node in enumerate(self.nodes):
            for a_index, acc in enumerate(node.accelerators):
                where: Loc = ("nodes", n_index, "accelerators", a_index)
                if acc.name in accelerator_names:
                    errors.append(
                        (
                            (*where, "name"),
                            f"accelerator {acc.name!r} appears twice; accelerator names must be unique across the cluster",
                        )
                    )
                accelerator_names.add(acc.name)
                if acc.type not in type_names:
                    errors.append(
                        (
                            (*where, "type"),
                            f"unknown accelerator type {acc.type!r}; declare it in accelerator_types "
                            f"(known: {_list(type_names)})",
                        )
                    )
        for m_index, declared in enumerate(self.models):
            for type_name in declared.profiles:
                if type_name not in type_names:
                    errors.append(
                        (
                            ("models", m_index, "profiles", type_name),
                            _unknown_type(type_name, type_names),
                        )
                    )
        models_by_name = {m.name: m for m in self.models}
        for index, app in enumerate(self.applications):
            at: Loc = ("applications", index)
            model = models_by_name.get(app.model)
            if model is None:
                errors.append(
                    (
                        (*at, "model"),
                        f"unknown model {app.model!r}; declare it in models (known: {_list(model_names)})",
                    )
                )
            for t_index, type_name in enumerate(app.allowed_accelerator_types or []):
                if type_name not in type_names:
                    errors.append(
                        (
                            (*at, "allowed_accelerator_types", t_index),
                            _unknown_type(type_name, type_names),
                        )
                    )
            if app.allowed_accelerator_types is not None and model is not None:
                usable = set(app.allowed_accelerator_types) & set(model.profiles)
                if not usable:
                    errors.append(
                        (
                            (*at, "allowed_accelerator_types"),
                            f"model {app.model!r} has no profile for any allowed type "
                            f"{app.allowed_accelerator_types}; add a profile or widen the allowed types",
                        )
                    )
            if app.current_accelerator is not None and app.current_accelerator not in accelerator_names:
                errors.append(
                    (
                        (*at, "current_accelerator"),
                        f"unknown accelerator {app.current_accelerator!r}; use the name of an accelerator on some node",
                    )
                )
            for field in ("cost_by_accelerator", "value_by_accelerator"):
                for acc_name in getattr(app, field):
                    if acc_name not in accelerator_names:
                        errors.append(
                            (
                                (*at, field, acc_name),
                                f"unknown accelerator {acc_name!r}; keys must name accelerators on some node",
                            )
                        )
        _check_groups(self, type_names, errors)
        if errors:
            raise ReferenceErrors(errors)
        return self

    # Lookups used everywhere; cheap to rebuild, so not cached on a frozen model.
    def accelerator_type_map(self) -> dict[str, AcceleratorType]:
        return {t.name: t for t in self.accelerator_types}

    def model_map(self) -> dict[str, Model]:
        return {m.name: m for m in self.models}

    def accelerators(self) -> list[tuple[Node, Accelerator]]:
        """Every accelerator with its node, in file order."""
        return [(node, acc) for node in self.nodes for acc in node.accelerators]

    def utilization_cap(self, type_name: str) -> float:
        acc_type = self.accelerator_type_map()[type_name]
        return acc_type.utilization_cap if acc_type.utilization_cap is not None else self.settings.utilization_cap

    def memory_cap(self, node: Node) -> float:
        return node.memory_cap if node.memory_cap is not None else self.settings.memory_cap

    def max_backends(self, acc: Accelerator) -> int | None:
        """Most backends ``acc`` may host: its own limit, else its type's, else None (unlimited)."""
        if acc.max_backends is not None:
            return acc.max_backends
        return self.accelerator_type_map()[acc.type].max_backends


def _check_groups(instance: Instance, type_names: set[str], errors: list[tuple[Loc, str]]) -> None:
    """Co-compilation groups: known fcfs type, known members with a profile there, a co-compiled overhead
    no larger than the profile's, and (when the type declares its cache) parameters that fit in it."""
    types = instance.accelerator_type_map()
    models = instance.model_map()
    _unique("cocompilation_groups", [g.name for g in instance.cocompilation_groups], errors)
    for g_index, group in enumerate(instance.cocompilation_groups):
        at: Loc = ("cocompilation_groups", g_index)
        acc_type = types.get(group.accelerator_type)
        if acc_type is None:
            errors.append(
                (
                    (*at, "accelerator_type"),
                    _unknown_type(group.accelerator_type, type_names),
                )
            )
            continue
        if acc_type.discipline != Discipline.FCFS:
            errors.append(
                (
                    (*at, "accelerator_type"),
                    f"type {acc_type.name!r} is {acc_type.discipline.value!r}; co-compilation only changes the switch "
                    "overhead of an 'fcfs' device (one queue that reloads parameters between models)",
                )
            )
            continue
        sizes: list[float | None] = []
        for model_name, overhead in group.switch_overhead_ms.items():
            where: Loc = (*at, "switch_overhead_ms", model_name)
            model = models.get(model_name)
            if model is None:
                errors.append((where, f"unknown model {model_name!r}; declare it in models"))
                continue
            profile = model.profiles.get(acc_type.name)
            if profile is None:
                errors.append((where, f"model {model_name!r} has no profile for type {acc_type.name!r}"))
                continue
            if overhead > profile.switch_overhead_ms:
                errors.append(
                    (
                        where,
                        f"co-compiled overhead {overhead:g} ms exceeds the {profile.switch_overhead_ms:g} ms the "
                        "profile pays compiled apart; co-compilation only shortens a switch: give at most that",
                    )
                )
            sizes.append(profile.parameter_mb)
        cache = acc_type.parameter_cache_mb
        if cache is None or len(sizes) < len(group.switch_overhead_ms):
            continue
        if any(size is None for size in sizes):
            errors.append(
                (
                    (*at, "switch_overhead_ms"),
                    f"type {acc_type.name!r} declares a {cache:g} MB parameter cache; give every member's profile "
                    "parameter_mb so that the group can be checked against it",
                )
            )
        elif (total := sum(s for s in sizes if s is not None)) > cache * (1.0 + 1e-12):
            errors.append(
                (
                    (*at, "switch_overhead_ms"),
                    f"the members' parameters ({total:g} MB) exceed type {acc_type.name!r}'s {cache:g} MB parameter "
                    "cache; co-compile fewer or smaller models",
                )
            )


def _unique(field: str, names: list[str], errors: list[tuple[Loc, str]]) -> set[str]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            errors.append(((field, index, "name"), f"duplicate name {name!r}; names must be unique"))
        seen.add(name)
    return seen


def _unknown_type(name: str, type_names: set[str]) -> str:
    """The message for a reference to an undeclared accelerator type."""
    return f"unknown accelerator type {name!r}; use one of {_list(type_names)}"


def _list(names: set[str]) -> str:
    shown = sorted(names)[:10]
    return ", ".join(repr(n) for n in shown) + (" ..." if len(names) > 10 else "") if shown else "none"


Placement = dict[str, str]
"""Application name -> accelerator name; an application not in the mapping is unplaced."""
