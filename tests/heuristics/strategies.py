"""Hypothesis strategies: small random instances that exercise every feature the probe models."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from optplace.domain import Instance

DISCIPLINES = ["ps", "fcfs", "dedicated"]
STATISTICS = ["mean", "mean", "mean", "p90", "p95", "p99"]
OBJECTIVE_LISTS = [
    ["max_hosted"],
    ["max_hosted", "min_accelerators"],
    ["max_hosted", "min_cost"],
    ["max_hosted", "min_migrations"],
    ["max_value", "min_accelerators"],
    ["min_accelerators"],
    ["min_cost"],
    ["min_migrations", "max_hosted"],
    ["max_hosted", "min_migrations", "min_accelerators"],
]


def _num(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats on a 0.01 grid: readable shrunk examples, and exact ties hypothesis likes to find."""
    return st.integers(round(low * 100), round(high * 100)).map(lambda i: i / 100)


@st.composite
def instance_docs(draw: st.DrawFn, max_apps: int = 8, max_nodes: int = 3) -> dict[str, Any]:
    """A valid instance document: ps/fcfs/dedicated, sharing, percentiles, pre-processing, memory, labels, pins,
    max_backends, synchronous front ends, switch variants and co-compilation groups."""
    n_types = draw(st.integers(1, 3))
    types = []
    for t in range(n_types):
        acc_type: dict[str, Any] = {"name": f"t{t}", "discipline": draw(st.sampled_from(DISCIPLINES))}
        if draw(st.booleans()):
            acc_type["utilization_cap"] = draw(_num(0.5, 0.95))
        if draw(st.integers(0, 3)) == 0:
            acc_type["memory_mb"] = draw(_num(300, 3000))
        acc_type["cost"] = draw(_num(0.5, 5))
        if draw(st.integers(0, 3)) == 0:
            acc_type["max_backends"] = draw(st.integers(1, 3))
        types.append(acc_type)
    nodes = []
    acc_names = []
    for v in range(draw(st.integers(1, max_nodes))):
        accs = []
        for _ in range(draw(st.integers(1, 2))):
            name = f"d{len(acc_names)}"
            acc_names.append(name)
            acc: dict[str, Any] = {"name": name, "type": f"t{draw(st.integers(0, n_types - 1))}"}
            if draw(st.integers(0, 4)) == 0:
                acc["max_backends"] = draw(st.integers(1, 2))
            accs.append(acc)
        node: dict[str, Any] = {
            "name": f"n{v}",
            "memory_mb": draw(_num(500, 6000)),
            "preprocess_cores": draw(st.sampled_from([1, 2, 4])),
            "accelerators": accs,
        }
        if draw(st.booleans()):
            node["labels"] = {"zone": draw(st.sampled_from(["a", "b"]))}
        if draw(st.integers(0, 3)) == 0:
            node["memory_cap"] = draw(_num(0.5, 1.0))
        nodes.append(node)
    models = []
    for mi in range(draw(st.integers(1, 4))):
        profiles = {}
        for t in range(n_types):
            if draw(st.integers(0, 3)) > 0 or (t == n_types - 1 and not profiles):
                profile: dict[str, Any] = {
                    "service_time_ms": draw(_num(1, 60)),
                    "switch_overhead_ms": draw(st.sampled_from([0.0, draw(_num(0, 25))])),
                    "memory_mb": draw(_num(0, 1500)),
                }
                variability = draw(st.integers(0, 3))
                if variability == 1:
                    profile["service_time_scv"] = draw(_num(0, 0.8))
                elif variability == 2:
                    profile["service_time_second_moment_ms2"] = profile["service_time_ms"] ** 2 * draw(_num(1, 1.6))
                profiles[f"t{t}"] = profile
        models.append({"name": f"m{mi}", "shareable": draw(st.booleans()), "profiles": profiles})
    apps = []
    for i in range(draw(st.integers(1, max_apps))):
        model = draw(st.sampled_from(models))
        app: dict[str, Any] = {
            "name": f"a{i}",
            "model": model["name"],
            "rate_rps": draw(_num(0.5, 15)),
            "slo": {"latency_ms": draw(_num(15, 800)), "statistic": draw(st.sampled_from(STATISTICS))},
            "priority": draw(st.sampled_from([1.0, 1.0, 2.0, 5.0])),
        }
        if draw(st.booleans()):
            app["preprocess_ms"] = draw(_num(0.5, 25))
        if draw(st.booleans()):
            app["frontend_memory_mb"] = draw(_num(0, 300))
        if draw(st.integers(0, 3)) == 0:
            profiled = sorted(model["profiles"])
            allowed = draw(st.lists(st.sampled_from(profiled), min_size=1, unique=True))
            app["allowed_accelerator_types"] = allowed
        if draw(st.integers(0, 3)) == 0:
            app["required_labels"] = {"zone": draw(st.sampled_from(["a", "b"]))}
        if draw(st.integers(0, 2)) == 0:
            app["current_accelerator"] = draw(st.sampled_from(acc_names))
            app["pinned"] = draw(st.integers(0, 4)) == 0
        if draw(st.integers(0, 4)) == 0:
            app["value_by_accelerator"] = {draw(st.sampled_from(acc_names)): draw(_num(0, 10))}
        if draw(st.integers(0, 4)) == 0:
            app["cost_by_accelerator"] = {draw(st.sampled_from(acc_names)): draw(_num(0, 5))}
        if draw(st.integers(0, 3)) == 0:
            app["frontend_concurrency"] = draw(st.integers(1, 3))
        apps.append(app)
    groups = []
    for acc_type in types:
        if acc_type["discipline"] != "fcfs":
            continue
        members = [m for m in models if acc_type["name"] in m["profiles"]]
        for _ in range(draw(st.integers(0, 2)) if len(members) >= 2 else 0):
            chosen = draw(st.lists(st.sampled_from(members), min_size=2, max_size=3, unique_by=lambda m: m["name"]))
            overheads = {
                m["name"]: round(m["profiles"][acc_type["name"]]["switch_overhead_ms"] * draw(_num(0, 1)), 2)
                for m in chosen
            }
            groups.append(
                {"name": f"g{len(groups)}", "accelerator_type": acc_type["name"], "switch_overhead_ms": overheads}
            )
    return {
        "name": "random",
        "settings": {
            "network_delay_ms": draw(_num(0, 10)),
            "utilization_cap": draw(_num(0.6, 0.95)),
            "memory_cap": draw(_num(0.6, 1.0)),
            "ps_model": draw(st.sampled_from(["exact", "additive"])),
            "switch_variance": draw(st.sampled_from(["dependent", "dependent", "bernoulli", "seed"])),
            "frontend_occupancy_cap": draw(_num(0.5, 1.0)),
        },
        "cocompilation_groups": groups,
        "accelerator_types": types,
        "nodes": nodes,
        "models": models,
        "applications": apps,
        "objectives": draw(st.sampled_from(OBJECTIVE_LISTS)),
        "host_all": draw(st.integers(0, 5)) == 0,
    }


def instances(max_apps: int = 8, max_nodes: int = 3) -> st.SearchStrategy[Instance]:
    return instance_docs(max_apps, max_nodes).map(Instance.model_validate)
