"""Readers for the parts of upstream v1 ``Node``, ``Pod``, ``NodeList`` and ``PodList`` that
optplace uses. Field names are upstream's (``k8s.io/api/core/v1/types.go``); everything else an
object carries is ignored, so a full ``kubectl get -o json`` document reads as is.

``kubectl get nodes -o json`` writes ``{"kind": "List", "items": [...]}`` rather than
``NodeList``; both are accepted, and each item must be of the expected kind when it names one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from optplace.k8s.quantity import parse_quantity


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        # Go writes a nil map or slice as null; read it as the field's empty default.
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


class OwnerReference(_Lenient):
    kind: str = ""
    name: str = ""
    controller: bool | None = None


class ObjectMeta(_Lenient):
    name: str = Field(default="", max_length=253)
    namespace: str = Field(default="", max_length=253)
    uid: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    ownerReferences: list[OwnerReference] = Field(default_factory=list)


class ResourceRequirements(_Lenient):
    requests: dict[str, str | int | float] = Field(default_factory=dict)
    limits: dict[str, str | int | float] = Field(default_factory=dict)


class Container(_Lenient):
    name: str = ""
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    restartPolicy: str | None = None  # "Always" marks a sidecar init container

    def request(self, resource: str) -> Decimal:
        """The container's request; an extended resource or a request left out defaults to its limit."""
        value = self.resources.requests.get(resource, self.resources.limits.get(resource))
        return Decimal(0) if value is None else parse_quantity(value)


class PodSpec(_Lenient):
    nodeName: str = ""
    nodeSelector: dict[str, str] = Field(default_factory=dict)
    containers: list[Container] = Field(default_factory=list)
    initContainers: list[Container] = Field(default_factory=list)
    overhead: dict[str, str | int | float] = Field(default_factory=dict)


class PodStatus(_Lenient):
    phase: str = ""


class Pod(_Lenient):
    kind: str = "Pod"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus = Field(default_factory=PodStatus)

    @property
    def ref(self) -> str:
        """``namespace/name`` for messages."""
        return f"{self.metadata.namespace or 'default'}/{self.metadata.name}"

    @property
    def terminated(self) -> bool:
        """Succeeded and Failed pods hold no resources any more."""
        return self.status.phase in ("Succeeded", "Failed")

    def request(self, resource: str) -> Decimal:
        """The pod's effective request, as the scheduler computes it: the larger of the sum over
        app containers (plus sidecar init containers) and the largest plain init container, plus
        the pod overhead."""
        sidecars = [c for c in self.spec.initContainers if c.restartPolicy == "Always"]
        main = sum((c.request(resource) for c in [*self.spec.containers, *sidecars]), Decimal(0))
        init = max((c.request(resource) for c in self.spec.initContainers if c.restartPolicy != "Always"), default=0)
        overhead = self.spec.overhead.get(resource)
        return max(main, Decimal(init)) + (parse_quantity(overhead) if overhead is not None else Decimal(0))


class NodeCondition(_Lenient):
    type: str = ""
    status: str = ""


class NodeSpec(_Lenient):
    unschedulable: bool = False


class NodeStatus(_Lenient):
    allocatable: dict[str, str | int | float] = Field(default_factory=dict)
    capacity: dict[str, str | int | float] = Field(default_factory=dict)
    conditions: list[NodeCondition] = Field(default_factory=list)


class Node(_Lenient):
    kind: str = "Node"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)

    @property
    def ready(self) -> bool:
        """True unless the Ready condition is reported and is not True (kubectl's reading)."""
        for condition in self.status.conditions:
            if condition.type == "Ready":
                return condition.status == "True"
        return True

    def allocatable(self, resource: str) -> Decimal:
        """Allocatable amount of ``resource`` (capacity when allocatable is not reported)."""
        value = self.status.allocatable.get(resource, self.status.capacity.get(resource))
        return Decimal(0) if value is None else parse_quantity(value)


class ObjectError(ValueError):
    """A document or object that is not the upstream shape; the message names where."""


def read_list(document: Any, kind: str, source: str) -> list[dict[str, Any]]:
    """The items of a ``<kind>List`` (or kubectl's ``List``) document, as raw objects."""
    if not isinstance(document, dict):
        raise ObjectError(f"{source}: expected a JSON object ({kind}List, as 'kubectl get -o json' writes)")
    list_kind = document.get("kind")
    if list_kind not in (f"{kind}List", "List"):
        raise ObjectError(
            f"{source}: kind is {list_kind!r}; expected {kind}List or List "
            f"(write it with 'kubectl get {kind.lower()}s -o json')"
        )
    items = document.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise ObjectError(f"{source}: items must be a list of {kind} objects")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ObjectError(f"{source}: items[{index}] must be a {kind} object")
        if item.get("kind", kind) != kind:
            raise ObjectError(f"{source}: items[{index}] is a {item.get('kind')!r}; expected {kind}")
    return items


def read_object(raw: dict[str, Any], model: type[Node] | type[Pod], where: str) -> Any:
    """Parse one object; errors name ``where`` and the field (``items[3].spec.nodeName``)."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ObjectError(f"{where}.{field}: {first['msg']}") from None
