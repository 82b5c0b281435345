"""``optplace export k8s``: a verified placement as Kubernetes manifests.

The mapping follows the latency model, so that what runs is what was promised:

* **One backend per serving process.** On a time-sliced GPU (``ps``) each model is its own
  process, shared by every application of that model on the GPU: one backend Deployment per
  (accelerator, model), each holding one time slice (``nvidia.com/gpu: 1``). On an edgeTPU
  (``fcfs``) and on a ``dedicated`` device one process owns the device and serves every model
  placed there (paying the switch overhead the model charges): one backend Deployment per
  accelerator, holding the device. A model with ``shareable: false`` gets a backend per
  application. Each backend has a Service of the same name.
* **One front end per application**: a Deployment carrying the application's ``optplace.io/``
  annotations (so a later ``optplace import k8s`` reads the plan back), its CPU pre-processing
  (``rate x preprocess_ms`` millicores, the mean load) and front-end memory as requests, and the
  backend's address in ``OPTPLACE_BACKEND_URL``.
* Every Deployment is pinned to the chosen node by required node affinity on ``metadata.name``
  and has one replica; backends use the ``Recreate`` strategy, because a rolling update would need
  a second device while the old pod holds the first.

A backend's memory request is its models' backend memory when the accelerator type has no
memory of its own (a Jetson's unified memory, a USB edgeTPU's host), as the model counts it.
Only placements that pass the evaluator are exported; a GPU needs at least as many time-slicing
replicas as backends the plan gives it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optplace.domain import Application, Discipline, Instance
from optplace.evaluate import backend_key
from optplace.k8s import scheme
from optplace.k8s.config import KubernetesConfig
from optplace.k8s.plan import PlanError, verified_placement
from optplace.k8s.quantity import cpu_quantity, memory_quantity
from optplace.result import SolveResult

MANAGED_BY = "app.kubernetes.io/managed-by"
COMPONENT = "app.kubernetes.io/component"
NAME_LABEL = "app.kubernetes.io/name"
FORMATS = ("yaml", "json")


class ExportError(ValueError):
    """The result cannot be exported; the message says why and what to do."""


@dataclass
class ManifestFile:
    """One output file: a workload (a Deployment, plus its Service for a backend)."""

    name: str
    objects: list[dict[str, Any]]


@dataclass
class Export:
    files: list[ManifestFile]
    unplaced: list[str] = field(default_factory=list)


@dataclass
class _Backend:
    name: str
    accelerator: str
    node: str
    acc_type: str
    resource: str
    device_index: int
    models: list[str]
    applications: list[Application]
    memory_mb: float


def build_manifests(instance: Instance, result: SolveResult, config: KubernetesConfig | None = None) -> Export:
    """Manifests for every hosted application of ``result`` (computed for ``instance``)."""
    config = config or KubernetesConfig()
    try:
        verified_placement(instance, result)
    except PlanError as error:
        raise ExportError(f"{error}; nothing is exported") from None
    k8s = instance.provenance.get("kubernetes")
    if not isinstance(k8s, dict) or not isinstance(k8s.get("accelerators"), dict):
        raise ExportError(
            "the instance has no provenance.kubernetes.accelerators; export needs the instance written by "
            "'optplace import k8s' (it maps accelerators to nodes and extended resources)"
        )
    devices: dict[str, Any] = k8s["accelerators"]
    namespaces = {app: entry.get("namespace") for app, entry in (k8s.get("applications") or {}).items()}
    placement = result.placement()
    names = _Names()
    backends = _backends(instance, placement, devices, names)
    serving: dict[str, _Backend] = {app.name: b for b in backends for app in b.applications}

    files: list[ManifestFile] = []
    for backend in backends:
        files.append(ManifestFile(backend.name, _backend_objects(backend, config)))
    apps = {a.name: a for a in instance.applications}
    for app_name, accelerator in placement.items():
        app = apps[app_name]
        namespace = namespaces.get(app_name) or config.namespace
        name = names.take(f"optplace-{app_name}")
        files.append(ManifestFile(name, [_frontend(app, accelerator, serving[app_name], namespace, name, config)]))
    unplaced = [a.name for a in instance.applications if a.name not in placement]
    return Export(files, unplaced)


class _Names:
    """DNS-1123 label names (at most 63 characters, starting with a letter), unique per export."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, wanted: str) -> str:
        name = dns_label(wanted)
        if name in self.used:
            name = dns_label(wanted, force_hash=True)
        self.used.add(name)
        return name


def dns_label(text: str, *, force_hash: bool = False) -> str:
    """``text`` as a DNS-1123 label: lower case, ``[a-z0-9-]``, at most 63 characters; a hash of
    the original keeps names that had to be changed or shortened apart."""
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-") or "x"
    if not cleaned[0].isalpha():
        cleaned = "x-" + cleaned
    if force_hash or len(cleaned) > 63:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        cleaned = f"{cleaned[:54].rstrip('-')}-{digest}"
    return cleaned


def _backends(instance: Instance, placement: dict[str, str], devices: dict[str, Any], names: _Names) -> list[_Backend]:
    types = instance.accelerator_type_map()
    models = instance.model_map()
    hosted: dict[str, list[Application]] = defaultdict(list)
    for app in instance.applications:
        if app.name in placement:
            hosted[placement[app.name]].append(app)
    out: list[_Backend] = []
    for node, acc in instance.accelerators():
        apps = hosted.get(acc.name)
        if not apps:
            continue
        device = devices.get(acc.name)
        if not isinstance(device, dict) or "resource" not in device:
            raise ExportError(
                f"provenance.kubernetes.accelerators has no entry for accelerator {acc.name!r}; re-import the cluster"
            )
        acc_type = types[acc.type]
        groups: dict[str, list[Application]] = defaultdict(list)
        for app in apps:
            key = backend_key(app, models[app.model].shareable) if acc_type.discipline == Discipline.PS else ""
            groups[key].append(app)
        slots = int(device.get("slots", 1))
        if len(groups) > slots:
            raise ExportError(
                f"accelerator {acc.name!r} needs {len(groups)} backends (one process per model under time-slicing) "
                f"but offers {slots} slot(s) of {device['resource']}; raise its time-slicing replicas or solve "
                "with fewer models per GPU"
            )
        for key, members in groups.items():
            model_names = list(dict.fromkeys(a.model for a in members))
            memory = 0.0
            if acc_type.memory_mb is None:
                per_backend = {backend_key(a, models[a.model].shareable): a.model for a in members}
                memory = sum(models[m].profiles[acc.type].memory_mb for m in per_backend.values())
            wanted = f"optplace-{acc.name}" + (f"-{key}" if key else "")
            out.append(
                _Backend(
                    name=names.take(wanted),
                    accelerator=acc.name,
                    node=node.name,
                    acc_type=acc.type,
                    resource=str(device["resource"]),
                    device_index=int(device.get("device_index", 0)),
                    models=model_names,
                    applications=members,
                    memory_mb=memory,
                )
            )
    return out


def _node_affinity(node: str) -> dict[str, Any]:
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}


def _deployment(
    name: str,
    namespace: str,
    component: str,
    annotations: dict[str, str],
    pod_spec: dict[str, Any],
    *,
    recreate: bool,
) -> dict[str, Any]:
    def labels() -> dict[str, str]:
        # Fresh copies: a YAML writer would turn shared dicts into anchors and aliases.
        return {MANAGED_BY: "optplace", COMPONENT: component, NAME_LABEL: name}

    spec: dict[str, Any] = {"replicas": 1, "selector": {"matchLabels": {NAME_LABEL: name}}}
    if recreate:
        spec["strategy"] = {"type": "Recreate"}
    spec["template"] = {"metadata": {"labels": labels(), "annotations": dict(annotations)}, "spec": pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(), "annotations": dict(annotations)},
        "spec": spec,
    }


def _backend_objects(backend: _Backend, config: KubernetesConfig) -> list[dict[str, Any]]:
    image = config.images.backends.get(backend.acc_type)
    if not image:
        raise ExportError(
            f"no model-server image for accelerator type {backend.acc_type!r}; set images.backends"
            f".{backend.acc_type} in --config"
        )
    annotations = {
        scheme.ROLE: scheme.ROLE_BACKEND,
        scheme.ACCELERATOR: backend.accelerator,
        scheme.NODE: backend.node,
        scheme.MODELS: ",".join(backend.models),
        scheme.APPLICATIONS: ",".join(a.name for a in backend.applications),
    }
    requests: dict[str, str] = {backend.resource: "1"}
    if backend.memory_mb > 0:
        requests["memory"] = memory_quantity(backend.memory_mb)
    container = {
        "name": "model-server",
        "image": image,
        "ports": [{"name": "serving", "containerPort": config.backend_port, "protocol": "TCP"}],
        "env": [
            {"name": "OPTPLACE_ACCELERATOR", "value": backend.accelerator},
            {"name": "OPTPLACE_DEVICE_INDEX", "value": str(backend.device_index)},
            {"name": "OPTPLACE_MODELS", "value": ",".join(backend.models)},
        ],
        # Extended resources cannot be overcommitted: the limit must equal the request.
        "resources": {"requests": requests, "limits": {backend.resource: "1"}},
    }
    pod_spec = {"affinity": _node_affinity(backend.node), "containers": [container]}
    deployment = _deployment(backend.name, config.namespace, "backend", annotations, pod_spec, recreate=True)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": backend.name,
            "namespace": config.namespace,
            "labels": {MANAGED_BY: "optplace", COMPONENT: "backend", NAME_LABEL: backend.name},
        },
        "spec": {
            "selector": {NAME_LABEL: backend.name},
            "ports": [{"name": "serving", "port": config.backend_port, "targetPort": "serving", "protocol": "TCP"}],
        },
    }
    return [deployment, service]


def _frontend(
    app: Application, accelerator: str, backend: _Backend, namespace: str, name: str, config: KubernetesConfig
) -> dict[str, Any]:
    if not config.images.frontend:
        raise ExportError("no front-end image; set images.frontend in --config")
    annotations = {
        scheme.ROLE: scheme.ROLE_APPLICATION,
        **scheme.application_annotations(app, accelerator),
        scheme.NODE: backend.node,
        scheme.BACKEND: backend.name,
    }
    requests: dict[str, str] = {}
    if app.preprocess_ms > 0:
        requests["cpu"] = cpu_quantity(app.rate_rps * app.preprocess_ms / 1000.0)
    if app.frontend_memory_mb > 0:
        requests["memory"] = memory_quantity(app.frontend_memory_mb)
    url = f"http://{backend.name}.{config.namespace}.svc:{config.backend_port}"
    container: dict[str, Any] = {
        "name": "frontend",
        "image": config.images.frontend,
        "env": [
            {"name": "OPTPLACE_APPLICATION", "value": app.name},
            {"name": "OPTPLACE_MODEL", "value": app.model},
            {"name": "OPTPLACE_BACKEND_URL", "value": url},
        ],
    }
    if requests:
        container["resources"] = {"requests": requests}
    pod_spec: dict[str, Any] = {"affinity": _node_affinity(backend.node), "containers": [container]}
    if app.required_labels:
        pod_spec["nodeSelector"] = dict(app.required_labels)
    return _deployment(name, namespace, "frontend", annotations, pod_spec, recreate=False)


def render(file: ManifestFile, fmt: str) -> str:
    """A file's text: YAML documents separated by ``---``, or JSON (a v1 ``List`` when several)."""
    if fmt == "json":
        body = (
            file.objects[0] if len(file.objects) == 1 else {"apiVersion": "v1", "kind": "List", "items": file.objects}
        )
        return json.dumps(body, indent=2) + "\n"
    import yaml

    return yaml.safe_dump_all(file.objects, sort_keys=False, default_flow_style=False)


def write_manifests(export: Export, out: Path, fmt: str = "yaml", *, force: bool = False) -> list[Path]:
    """Write one file per workload into ``out`` (created if missing). A folder that already holds
    files is refused unless ``force``: ``kubectl apply -f DIR`` would apply stale manifests too."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out} is not empty; pass an empty folder (or --force to write into it anyway)")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for file in export.files:
        path = out / f"{file.name}.{fmt}"
        path.write_text(render(file, fmt), encoding="utf-8")
        paths.append(path)
    return paths
