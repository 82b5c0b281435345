"""Small hand-made clusters whose re-placement is known by hand."""

from __future__ import annotations

from typing import Any

from optplace.domain import Instance


def gpu_node(name: str, accelerators: list[str], memory_mb: float = 2500, **extra: Any) -> dict[str, Any]:
    """A node with time-sliced GPUs; at the default 80% memory cap 2,500 MB leaves 2,000 MB usable."""
    return {
        "name": name,
        "memory_mb": memory_mb,
        "accelerators": [{"name": a, "type": "gpu"} for a in accelerators],
        **extra,
    }


def app(name: str, model: str, current: str | None = None, **extra: Any) -> dict[str, Any]:
    """A light application (utilisation 0.05 on any GPU), so memory alone decides where it fits."""
    doc: dict[str, Any] = {"name": name, "model": model, "rate_rps": 1.0, "slo": {"latency_ms": 500}, **extra}
    if current is not None:
        doc["current_accelerator"] = current
    return doc


def cluster(nodes: list[dict[str, Any]], apps: list[dict[str, Any]], models: int = 4, **extra: Any) -> Instance:
    """GPUs under processor sharing; models m0.. each need a 1,000 MB backend of their own."""
    return Instance.model_validate(
        {
            "name": "hand-made",
            "accelerator_types": [{"name": "gpu", "discipline": "ps"}],
            "nodes": nodes,
            "models": [
                {
                    "name": f"m{i}",
                    "shareable": False,
                    "profiles": {"gpu": {"service_time_ms": 50, "memory_mb": 1000, "load_time_ms": 100.0 * (i + 1)}},
                }
                for i in range(models)
            ],
            "applications": apps,
            **extra,
        }
    )


def swap_cluster(spare: bool) -> Instance:
    """x on g1 and y on g2, each node full (one backend fits); optionally an empty third node."""
    nodes = [gpu_node("n1", ["g1"], memory_mb=1250), gpu_node("n2", ["g2"], memory_mb=1250)]
    if spare:
        nodes.append(gpu_node("n3", ["g3"], memory_mb=1250))
    return cluster(nodes, [app("x", "m0", "g1"), app("y", "m1", "g2")])


def drain_into_full_node() -> Instance:
    """y runs on g2 (draining) and may only run on zone-a nodes; the only other zone-a GPU, g1,
    is full (x and z). x may go anywhere, and g3 (zone b) is empty. The best target moves x to
    g3 and y to g1; y first would overflow n1's memory."""
    nodes = [
        gpu_node("n1", ["g1"], labels={"zone": "a"}),
        gpu_node("n2", ["g2"], labels={"zone": "a"}),
        gpu_node("n3", ["g3"], labels={"zone": "b"}),
    ]
    apps = [
        app("y", "m1", "g2", required_labels={"zone": "a"}),
        app("x", "m0", "g1"),
        app("z", "m2", "g1", required_labels={"zone": "a"}),
    ]
    return cluster(nodes, apps)


def one_node_two_gpus() -> Instance:
    """One node with two GPUs and room for exactly two backends: a on ga, b on gb."""
    return cluster([gpu_node("n1", ["ga", "gb"])], [app("a", "m0", "ga"), app("b", "m1", "gb")])
