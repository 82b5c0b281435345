"""The kube-scheduler extender's wire types and its stored plan.

**Wire types** mirror ``k8s.io/kube-scheduler/extender/v1`` exactly. Those Go structs have no
JSON tags, so the scheduler sends and expects the Go field names (``{"Pod": ..., "Nodes": ...,
"NodeNames": [...]}``); Go's decoder matches names case-insensitively, so the lower-case names of
older extender examples (``pod``, ``nodenames``, ``failedNodes``) are accepted too. Replies
always use the Go names and carry every field, ``null`` where Go would write a nil pointer, as
``json.Marshal`` of the upstream types does. Pods and nodes are upstream objects, read leniently
(:mod:`optplace.k8s.objects`); nodes are echoed back verbatim when the scheduler sent full
objects (``nodeCacheCapable: false``).

**The plan** is stored in the job store's database under one key, so a restart keeps it, and
cached per process; each request checks the stored version (one indexed read) and reloads only
when another request, or another replica on the same store, has set a new plan.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optplace.api.store.documents import DocumentStore
from optplace.domain import Instance
from optplace.k8s.plan import Plan
from optplace.result import SolveResult

PLAN_KEY = "extender-plan"


class GoStruct(BaseModel):
    """A Go struct without JSON tags: Go names on the wire, matched case-insensitively on input."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _case_insensitive(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        canonical = {(f.alias or name).lower(): (f.alias or name) for name, f in cls.model_fields.items()}
        out: dict[str, Any] = {}
        for key, value in data.items():
            name = canonical.get(key.lower(), key) if isinstance(key, str) else key
            # Go keeps the last of duplicate keys; an exact match wins over a case-folded one.
            if name not in out or key == name:
                out[name] = value
        return out


class NodeList(BaseModel):
    """A v1 NodeList; items stay raw objects so that they can be echoed back unchanged."""

    model_config = ConfigDict(extra="allow")

    items: list[dict[str, Any]] | None = Field(default=None, description="The v1 Node objects, echoed back unchanged.")


class ExtenderArgs(GoStruct):
    """What the scheduler posts to filter and prioritize."""

    pod: dict[str, Any] | None = Field(default=None, alias="Pod", description="The v1 Pod being scheduled.")
    nodes: NodeList | None = Field(
        default=None, alias="Nodes", description="Candidate nodes, when the extender is not nodeCacheCapable."
    )
    node_names: list[str] | None = Field(
        default=None, alias="NodeNames", description="Candidate node names, when the extender is nodeCacheCapable."
    )

    def candidate_names(self) -> list[str]:
        if self.node_names is not None:
            return list(self.node_names)
        return (
            [str((item.get("metadata") or {}).get("name", "")) for item in (self.nodes.items or [])]
            if self.nodes
            else []
        )


class ExtenderFilterResult(GoStruct):
    nodes: NodeList | None = Field(
        description="The candidate nodes that pass (when the scheduler sent full Node objects).",
        default=None,
        alias="Nodes",
    )
    node_names: list[str] | None = Field(
        description="The names of the candidate nodes that pass (when the scheduler sent names).",
        default=None,
        alias="NodeNames",
    )
    failed_nodes: dict[str, str] = Field(
        description="Node name -> why the pod does not go there.", default_factory=dict, alias="FailedNodes"
    )
    failed_and_unresolvable_nodes: dict[str, str] = Field(
        description="Node name -> why; preemption would not help there.",
        default_factory=dict,
        alias="FailedAndUnresolvableNodes",
    )
    error: str = Field(description="Empty, or why the extender could not decide.", default="", alias="Error")


class HostPriority(GoStruct):
    host: str = Field(description="A node name.", alias="Host")
    score: int = Field(description="Its score, 0-10: 10 where the plan puts the pod.", alias="Score")


class PlanRequest(BaseModel):
    """Set the plan: a finished job's result, or an instance with a result solved for it."""

    model_config = ConfigDict(extra="forbid")

    job_id: str | None = Field(
        default=None, max_length=100, description="A completed job whose result becomes the plan."
    )
    instance: Instance | None = Field(default=None, description="The instance the result was solved for.")
    result: SolveResult | None = Field(default=None, description="A SolveResult for the instance.")

    @model_validator(mode="after")
    def _one_source(self) -> PlanRequest:
        if (self.job_id is None) == (self.instance is None and self.result is None):
            raise ValueError("give either job_id, or instance and result")
        if self.job_id is None and (self.instance is None or self.result is None):
            raise ValueError("instance and result go together: give both")
        return self


class PlacedApplication(BaseModel):
    accelerator: str = Field(description="The accelerator the plan puts it on.")
    node: str = Field(description="That accelerator's node.")


class PlanSummary(BaseModel):
    """The stored plan, as GET /v1/extender/plan shows it."""

    version: int = Field(description="The plan's version; it grows with every PUT.")
    set_at: datetime = Field(description="When the plan was set.")
    source: dict[str, Any] = Field(
        description="Where the plan comes from: job_id (when set from a job), method and input_hash."
    )
    applications: int = Field(description="Applications in the plan's instance.")
    placement: dict[str, PlacedApplication] = Field(description="Application -> where the plan puts it.")
    unplaced: dict[str, str] = Field(description="Application -> why the plan does not host it.")


class PlanKeeper:
    """The current plan: stored under :data:`PLAN_KEY`, cached until its version changes."""

    def __init__(self, documents: DocumentStore):
        self.documents = documents
        self._lock = threading.Lock()
        self._cached: tuple[int, Plan, datetime] | None = None

    def set(self, plan: Plan, result: SolveResult) -> PlanSummary:
        body = json.dumps(
            {
                "instance": plan.instance.model_dump(mode="json"),
                "result": result.model_dump(mode="json"),
                "source": plan.source,
            }
        )
        stored = self.documents.put(PLAN_KEY, body)
        with self._lock:
            self._cached = (stored.version, plan, stored.updated_at)
        return self.summary(stored.version, plan, stored.updated_at)

    def current(self) -> tuple[int, Plan, datetime] | None:
        version = self.documents.version(PLAN_KEY)
        if version is None:
            return None
        with self._lock:
            if self._cached is not None and self._cached[0] == version:
                return self._cached
        stored = self.documents.get(PLAN_KEY)
        if stored is None:
            return None
        data = json.loads(stored.body)
        instance = Instance.model_validate(data["instance"])
        result = SolveResult.model_validate(data["result"])
        # Verified when it was set; the stored copy is ours, so it is not re-verified here.
        plan = Plan(
            instance,
            result.placement(),
            {u.application: u.reason.value for u in result.unplaced},
            data.get("source", {}),
        )
        with self._lock:
            self._cached = (stored.version, plan, stored.updated_at)
        return self._cached

    def plan(self) -> Plan | None:
        current = self.current()
        return current[1] if current else None

    @staticmethod
    def summary(version: int, plan: Plan, set_at: datetime) -> PlanSummary:
        placed = {}
        for app, accelerator in plan.placement.items():
            node = plan.node_of(accelerator)
            placed[app] = PlacedApplication(accelerator=accelerator, node=node.name if node else "")
        return PlanSummary(
            version=version,
            set_at=set_at,
            source=plan.source,
            applications=len(plan.instance.applications),
            placement=placed,
            unplaced=plan.unplaced,
        )
