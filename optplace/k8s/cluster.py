"""``optplace import k8s``: a cluster's ``kubectl get nodes/pods -o json`` as an optplace instance.

What becomes what (docs/kubernetes.md has the full story):

* **Accelerators** come from extended resources on each node (``status.allocatable``), mapped to
  accelerator types by the configuration's rules. With NVIDIA time-slicing the node offers
  ``devices x replicas`` units and the label ``nvidia.com/gpu.replicas`` says ``replicas``; each
  physical device is one accelerator (time-slicing *is* the processor sharing the model
  describes). Accelerators are named ``<node>-<short name><index>`` (``nano1-gpu0``). A
  time-sliced (``ps``) device can hold one serving process per replica, so its ``max_backends``
  is the replicas count (1 without time-slicing): the solver then never plans more backends than
  the export can run.
* **Nodes** are the schedulable, Ready nodes with at least one accelerator. Memory is allocatable
  memory minus what pods that are not optplace's request there; pre-processing cores likewise
  from allocatable CPU (at least one). Labels are copied.
* **Applications** are the pods with ``optplace.io/`` annotations (:mod:`optplace.k8s.scheme`).
  Where one runs now (``current_accelerator``) is its ``optplace.io/accelerator`` annotation
  when that names an accelerator of the pod's node, else the node's only accelerator that can run
  its model; a pending pod has none.
* Devices held by pods optplace does not model (another workload holding a GPU slice or an
  edgeTPU) are left out: their load is unknown, so no SLO could be promised beside them.

The instance's ``provenance.kubernetes`` records, per accelerator, its node, resource, device
index and slots (time-slicing replicas), and per application its namespace and pod: the export
needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from optplace.domain import Application, Discipline, Instance
from optplace.io import InstanceError, parse_instance
from optplace.k8s import scheme
from optplace.k8s.config import AcceleratorRule, Catalog, KubernetesConfig
from optplace.k8s.objects import Node, ObjectError, Pod, read_list, read_object
from optplace.k8s.quantity import QuantityError, bytes_to_mb


class ClusterImportError(ValueError):
    """The cluster documents cannot become an instance; the message names object and field."""


@dataclass
class ClusterImport:
    """The imported instance and what the import left out or guessed, one line each."""

    instance: Instance
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Device:
    name: str
    node: str
    type: str
    resource: str
    index: int
    slots: int


def import_cluster(
    nodes_document: Any,
    pods_document: Any,
    catalog: Catalog,
    config: KubernetesConfig | None = None,
    *,
    name: str = "kubernetes",
    nodes_source: str = "nodes",
    pods_source: str = "pods",
) -> ClusterImport:
    """Read a NodeList and a PodList (upstream JSON shapes) into an instance with the current placement."""
    config = config or KubernetesConfig()
    warnings: list[str] = []
    try:
        nodes = [
            read_object(raw, Node, f"{nodes_source}: items[{i}]")
            for i, raw in enumerate(read_list(nodes_document, "Node", nodes_source))
        ]
        pods = [
            read_object(raw, Pod, f"{pods_source}: items[{i}]")
            for i, raw in enumerate(read_list(pods_document, "Pod", pods_source))
        ]
    except ObjectError as error:
        raise ClusterImportError(str(error)) from None
    _unique_names(nodes, nodes_source)
    live = [p for p in pods if not p.terminated]
    # Pods optplace does not model, by node: their requests are taken off what the node offers.
    foreign: dict[str, list[Pod]] = {}
    for pod in live:
        annotations = pod.metadata.annotations
        if pod.spec.nodeName and not (scheme.is_application(annotations) or scheme.is_backend(annotations)):
            foreign.setdefault(pod.spec.nodeName, []).append(pod)
    type_names = {t.name for t in catalog.accelerator_types}
    time_sliced = {t.name for t in catalog.accelerator_types if t.discipline == Discipline.PS}

    node_docs: list[dict[str, Any]] = []
    devices: dict[str, _Device] = {}
    for node in nodes:
        where = f"{nodes_source}: node {node.metadata.name!r}"
        if node.spec.unschedulable or not node.ready:
            state = "cordoned (spec.unschedulable)" if node.spec.unschedulable else "not Ready"
            warnings.append(f"{where}: skipped, it is {state}")
            continue
        on_node = foreign.get(node.metadata.name, [])
        found = _devices(node, on_node, config, type_names, where, warnings)
        if not found:
            continue
        memory = bytes_to_mb(_free(node, on_node, "memory", where))
        if memory <= 0:
            warnings.append(f"{where}: pods that optplace does not model request all its memory; it has none left")
            continue
        cores = float(_free(node, on_node, "cpu", where))
        node_docs.append(
            {
                "name": node.metadata.name,
                "memory_mb": memory,
                "preprocess_cores": max(1.0, cores),
                "labels": dict(node.metadata.labels),
                "accelerators": [
                    {"name": d.name, "type": d.type, **({"max_backends": d.slots} if d.type in time_sliced else {})}
                    for d in found
                ],
            }
        )
        devices.update({d.name: d for d in found})

    applications: list[dict[str, Any]] = []
    placed_pods: dict[str, dict[str, str]] = {}
    by_node: dict[str, list[_Device]] = {}
    for device in devices.values():
        by_node.setdefault(device.node, []).append(device)
    models = {m.name: m for m in catalog.models}
    for pod in live:
        annotations = pod.metadata.annotations
        if not scheme.is_application(annotations):
            continue
        where = f"{pods_source}: pod {pod.ref}"
        try:
            app = scheme.application_from_annotations(annotations, pod.metadata.name, pod.spec.nodeSelector)
        except scheme.AnnotationError as error:
            raise ClusterImportError("\n".join(f"{where}: {f}: {m}" for f, m in error.problems)) from None
        if app.name in placed_pods:
            first = placed_pods[app.name]["pod"]
            raise ClusterImportError(
                f"{where}: application {app.name!r} is also pod {first}; give each pod its own "
                f"{scheme.APPLICATION} annotation (one pod per application)"
            )
        current = _current_accelerator(pod, app, by_node, models, where, warnings)
        if app.pinned and current is None:
            raise ClusterImportError(
                f"{where}: {scheme.annotation_field(scheme.PINNED)}: the application is pinned but does not run "
                "on a known accelerator; run it first or drop the annotation"
            )
        placed_pods[app.name] = {"namespace": pod.metadata.namespace or "default", "pod": pod.metadata.name}
        applications.append(_app_document(app, current))

    if not node_docs:
        raise ClusterImportError(
            f"{nodes_source}: no schedulable, Ready node offers an accelerator resource "
            f"({', '.join(config.resources)}); map your device plugin's resource name in --config"
        )
    document: dict[str, Any] = {
        "name": name,
        "settings": catalog.settings.model_dump(),
        "accelerator_types": [t.model_dump() for t in catalog.accelerator_types],
        "nodes": node_docs,
        "models": [m.model_dump() for m in catalog.models],
        "applications": applications,
        "host_all": catalog.host_all,
        "provenance": {
            "source": "kubernetes",
            "kubernetes": {
                "accelerators": {
                    d.name: {"node": d.node, "resource": d.resource, "device_index": d.index, "slots": d.slots}
                    for d in devices.values()
                },
                "applications": placed_pods,
            },
        },
    }
    if catalog.objectives is not None:
        document["objectives"] = list(catalog.objectives)
    try:
        instance = parse_instance(document, "imported instance")
    except InstanceError as error:
        raise ClusterImportError(str(error)) from None
    return ClusterImport(instance, warnings)


def _unique_names(nodes: list[Node], source: str) -> None:
    seen: set[str] = set()
    for node in nodes:
        if not node.metadata.name:
            raise ClusterImportError(f"{source}: a node has no metadata.name")
        if node.metadata.name in seen:
            raise ClusterImportError(f"{source}: node {node.metadata.name!r} appears twice")
        seen.add(node.metadata.name)


def _quantity(getter: Any, where: str, field_name: str) -> Decimal:
    try:
        return getter()
    except QuantityError as error:
        raise ClusterImportError(f"{where}: {field_name}: {error}") from None


def _free(node: Node, foreign: list[Pod], resource: str, where: str) -> Decimal:
    """Allocatable ``resource`` less what the pods optplace does not model request on the node."""
    total = _quantity(lambda: node.allocatable(resource), where, f"status.allocatable[{resource!r}]")
    if total <= 0:
        raise ClusterImportError(f"{where}: status.allocatable[{resource!r}] is missing or zero")
    used = sum(
        (_quantity(lambda p=p: p.request(resource), f"pod {p.ref}", f"{resource} requests") for p in foreign),
        Decimal(0),
    )
    return total - used


def _devices(
    node: Node, foreign: list[Pod], config: KubernetesConfig, type_names: set[str], where: str, warnings: list[str]
) -> list[_Device]:
    name = node.metadata.name
    labels = node.metadata.labels
    found: list[_Device] = []
    for resource in config.resources:
        units = _quantity(lambda r=resource: node.allocatable(r), where, f"status.allocatable[{resource!r}]")
        if units <= 0:
            continue
        rule = config.rule_for(resource, labels)
        if rule is None:
            warnings.append(f"{where}: offers {resource} but no accelerator rule matches its labels; ignored")
            continue
        if rule.accelerator_type not in type_names:
            raise ClusterImportError(
                f"{where}: {resource} maps to accelerator type {rule.accelerator_type!r}, which the catalog does "
                f"not declare; add it to the catalog's accelerator_types or change the rule (known: "
                f"{', '.join(sorted(type_names))})"
            )
        replicas = _replicas(rule, labels, where)
        if units != units.to_integral_value() or int(units) % replicas:
            raise ClusterImportError(
                f"{where}: status.allocatable[{resource!r}] is {units}, not a whole multiple of the "
                f"{replicas} time-slicing replicas in label {rule.replicas_label!r}"
            )
        held = sum((p.request(resource) for p in foreign), Decimal(0))
        count = int(units) // replicas
        usable = int((units - held) // replicas) if held else count
        if held:
            holders = ", ".join(p.ref for p in foreign if p.request(resource) > 0)
            warnings.append(
                f"{where}: pods optplace does not model ({holders}) hold {held} {resource}; "
                f"{count - usable} of its {count} devices are left out"
            )
        # The devices still free are the last ones; which physical device a plugin hands out is its choice.
        for device_index in range(count - usable, count):
            found.append(
                _Device(
                    name=f"{name}-{rule.device_name}{device_index}",
                    node=name,
                    type=rule.accelerator_type,
                    resource=resource,
                    index=device_index,
                    slots=replicas,
                )
            )
    return found


def _replicas(rule: AcceleratorRule, labels: dict[str, str], where: str) -> int:
    if rule.replicas_label is None or rule.replicas_label not in labels:
        return 1
    text = labels[rule.replicas_label]
    if not text.isdigit() or int(text) < 1:
        raise ClusterImportError(
            f"{where}: metadata.labels[{rule.replicas_label!r}] is {text!r}; expected a positive whole number"
        )
    return int(text)


def _current_accelerator(
    pod: Pod,
    app: Application,
    by_node: dict[str, list[_Device]],
    models: dict[str, Any],
    where: str,
    warnings: list[str],
) -> str | None:
    node = pod.spec.nodeName
    if not node:
        return None  # pending: a new arrival for the solver to place
    local = by_node.get(node)
    if not local:
        warnings.append(f"{where}: runs on node {node!r}, which is not imported; it counts as not placed")
        return None
    named = pod.metadata.annotations.get(scheme.ACCELERATOR)
    if named is not None:
        if any(d.name == named for d in local):
            return named
        warnings.append(
            f"{where}: {scheme.annotation_field(scheme.ACCELERATOR)} is {named!r}, not an accelerator of its node "
            f"{node!r}; inferring it instead"
        )
    model = models.get(app.model)
    usable = [
        d
        for d in local
        if model is not None
        and d.type in model.profiles
        and (app.allowed_accelerator_types is None or d.type in app.allowed_accelerator_types)
    ]
    if len(usable) == 1:
        return usable[0].name
    if not usable:
        warnings.append(
            f"{where}: no accelerator of node {node!r} can run model {app.model!r}; it counts as not placed"
        )
    else:
        warnings.append(
            f"{where}: node {node!r} has {len(usable)} accelerators that could run it "
            f"({', '.join(d.name for d in usable)}); set {scheme.ACCELERATOR} to say which, until then it counts "
            "as not placed"
        )
    return None


def _app_document(app: Application, current: str | None) -> dict[str, Any]:
    document = app.model_dump(exclude_defaults=True)
    if current is not None:
        document["current_accelerator"] = current
    return document
