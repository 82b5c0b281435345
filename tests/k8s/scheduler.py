"""A scripted kube-scheduler for extender tests: the default filters and a default score, then
the extender's filter and prioritize over HTTP in the upstream shapes, as pkg/scheduler does.

Per pod: nodes pass the default filters (NodeUnschedulable, TaintToleration for NoSchedule,
NodeSelector, NodeResourcesFit on cpu, memory and extended resources), then the extender's
filter (names when ``node_cache_capable``, else whole node objects; the answer must be a
subset); the score is LeastAllocated (0-100, mean of free cpu and memory fractions) plus
``weight x extender score x (MaxNodeScore / MaxExtenderPriority)``; the highest wins, ties by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from optplace.k8s.objects import Node, Pod

MAX_NODE_SCORE = 100
MAX_EXTENDER_PRIORITY = 10
FIT_RESOURCES = ("cpu", "memory", "nvidia.com/gpu", "coral.ai/tpu")


@dataclass
class ScriptedScheduler:
    nodes: list[dict[str, Any]]
    bound: list[dict[str, Any]]  # pods already on nodes
    client: Any  # an httpx-like client with .post(path, json=...)
    node_cache_capable: bool = True
    weight: int = 1
    use_extender: bool = True
    calls: list[str] = field(default_factory=list)

    def _used(self, node: str, resource: str) -> Decimal:
        return sum(
            (Pod.model_validate(p).request(resource) for p in self.bound if p["spec"].get("nodeName") == node),
            Decimal(0),
        )

    def _default_filter(self, raw_node: dict[str, Any], raw_pod: dict[str, Any], pod: Pod) -> bool:
        node = Node.model_validate(raw_node)
        if node.spec.unschedulable:
            return False
        tolerated = {t.get("key") for t in raw_pod["spec"].get("tolerations", []) if t.get("operator") == "Exists"}
        for taint in raw_node["spec"].get("taints", []):
            if taint["effect"] == "NoSchedule" and taint["key"] not in tolerated:
                return False
        labels = node.metadata.labels
        if any(labels.get(k) != v for k, v in pod.spec.nodeSelector.items()):
            return False
        for resource in FIT_RESOURCES:
            wanted = pod.request(resource)
            if wanted and self._used(node.metadata.name, resource) + wanted > node.allocatable(resource):
                return False
        return True

    def _default_score(self, raw_node: dict[str, Any]) -> float:
        node = Node.model_validate(raw_node)
        name = node.metadata.name
        free = []
        for resource in ("cpu", "memory"):
            total = node.allocatable(resource)
            free.append(float((total - self._used(name, resource)) / total))
        return MAX_NODE_SCORE * sum(free) / len(free)

    def _args(self, pod: dict[str, Any], nodes: list[dict[str, Any]]) -> dict[str, Any]:
        if self.node_cache_capable:
            return {"Pod": pod, "Nodes": None, "NodeNames": [n["metadata"]["name"] for n in nodes]}
        return {"Pod": pod, "Nodes": {"metadata": {}, "items": nodes}, "NodeNames": None}

    def schedule(self, raw_pod: dict[str, Any]) -> str | None:
        """Pick a node for the pod and bind it there; None when no node passes."""
        pod = Pod.model_validate(raw_pod)
        feasible = [n for n in self.nodes if self._default_filter(n, raw_pod, pod)]
        extender_scores: dict[str, int] = {}
        if self.use_extender and feasible:
            response = self.client.post("/v1/extender/filter", json=self._args(raw_pod, feasible))
            assert response.status_code == 200, response.text
            result = response.json()
            assert set(result) == {"Nodes", "NodeNames", "FailedNodes", "FailedAndUnresolvableNodes", "Error"}
            assert result["Error"] == "", result["Error"]
            names = {n["metadata"]["name"] for n in feasible}
            if self.node_cache_capable:
                passed = result["NodeNames"]
            else:
                passed = [n["metadata"]["name"] for n in result["Nodes"]["items"]]
                assert all(n in feasible for n in result["Nodes"]["items"])  # the very objects sent
            assert set(passed) <= names, "the extender returned a node it was not asked about"
            feasible = [n for n in feasible if n["metadata"]["name"] in passed]
            if feasible:
                response = self.client.post("/v1/extender/prioritize", json=self._args(raw_pod, feasible))
                assert response.status_code == 200, response.text
                for entry in response.json():
                    assert set(entry) == {"Host", "Score"}
                    assert 0 <= entry["Score"] <= MAX_EXTENDER_PRIORITY
                    extender_scores[entry["Host"]] = entry["Score"]
        if not feasible:
            return None
        scale = MAX_NODE_SCORE // MAX_EXTENDER_PRIORITY

        def total(node: dict[str, Any]) -> tuple[float, str]:
            name = node["metadata"]["name"]
            score = self._default_score(node) + self.weight * extender_scores.get(name, 0) * scale
            return (score, "".join(chr(255 - ord(c)) for c in name))  # ties: the smaller name

        chosen = max(feasible, key=total)["metadata"]["name"]
        self.bound.append({**raw_pod, "spec": {**raw_pod["spec"], "nodeName": chosen}})
        return chosen
