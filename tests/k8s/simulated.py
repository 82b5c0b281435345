"""A stand-in for the Deployment controller and the scheduler, for round-trip tests: turns the
export's Deployments into the pods ``kubectl get pods -o json`` would then list.

Each Deployment gets one pod built from its template (name ``<deployment>-<hash>-<suffix>``,
ReplicaSet owner, ``pod-template-hash`` label) bound to the node its required node affinity
names, as the default scheduler must. Resource fit is checked the way NodeResourcesFit checks
it: the requests of every pod on a node must stay within its allocatable amounts.
"""

from __future__ import annotations

import copy
import hashlib
import json
from decimal import Decimal
from typing import Any

from optplace.k8s.objects import Node, Pod
from optplace.k8s.scheme import is_application, is_backend


def pods_from_deployments(deployments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pods = []
    for deployment in deployments:
        template = deployment["spec"]["template"]
        digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
        name = f"{deployment['metadata']['name']}-{digest}-x7k2q"
        spec = copy.deepcopy(template["spec"])
        terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        (field,) = terms[0]["matchFields"]
        assert field["key"] == "metadata.name" and field["operator"] == "In"
        spec["nodeName"] = field["values"][0]
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": deployment["metadata"]["namespace"],
                    "labels": {**template["metadata"]["labels"], "pod-template-hash": digest},
                    "annotations": dict(template["metadata"]["annotations"]),
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": f"{deployment['metadata']['name']}-{digest}",
                        }
                    ],
                },
                "spec": spec,
                "status": {"phase": "Running"},
            }
        )
    return pods


def apply(pods_document: dict[str, Any], deployments: list[dict[str, Any]]) -> dict[str, Any]:
    """The pod list after applying ``deployments`` and deleting the optplace pods they replace
    (every backend, and the application pods of the exported applications)."""
    new_pods = pods_from_deployments(deployments)
    exported = {p["metadata"]["annotations"].get("optplace.io/application") for p in new_pods}
    kept = []
    for pod in pods_document["items"]:
        annotations = pod["metadata"].get("annotations", {})
        name = annotations.get("optplace.io/application", pod["metadata"]["name"])
        if is_backend(annotations) or (is_application(annotations) and name in exported):
            continue
        kept.append(pod)
    return {**pods_document, "items": kept + new_pods}


def check_fit(nodes_document: dict[str, Any], pods_document: dict[str, Any], resources: list[str]) -> None:
    """Raise AssertionError if some node's pods request more of a resource than it can allocate."""
    nodes = {n["metadata"]["name"]: Node.model_validate(n) for n in nodes_document["items"]}
    used: dict[tuple[str, str], Decimal] = {}
    for raw in pods_document["items"]:
        pod = Pod.model_validate(raw)
        if not pod.spec.nodeName or pod.terminated:
            continue
        for resource in resources:
            key = (pod.spec.nodeName, resource)
            used[key] = used.get(key, Decimal(0)) + pod.request(resource)
    for (node, resource), amount in used.items():
        assert amount <= nodes[node].allocatable(resource), f"{node}: {amount} {resource} requested"
