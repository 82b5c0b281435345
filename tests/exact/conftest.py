"""Helpers for the exact-method tests: small random instances and a brute-force optimum."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np

from optplace.diagnose import check_alone
from optplace.domain import Instance
from optplace.evaluate import evaluate
from optplace.objectives import lexicographic_key

DATA = Path(__file__).parent / "data"


def load_json(path: Path) -> Instance:
    return Instance.model_validate(json.loads(path.read_text()))


def random_instance(
    seed: int, *, n_apps: int = 4, shared_node: bool = False, extensions: bool = False, **overrides: Any
) -> Instance:
    """A tiny instance mixing every discipline and latency term, drawn from ``seed``.

    Two to three accelerators (processor sharing, FCFS with switch overhead, dedicated), two or
    three models, three to five applications with mean or p95 SLOs, optional front-end
    pre-processing and a random PS model. ``shared_node`` puts two accelerators on one node so
    that node memory and the front-end stage couple them. ``extensions`` adds (from its own random
    stream, so the base instance stays the same) synchronous front ends, max_backends, a switch
    variant and a co-compilation group of the edgeTPU's models.
    """
    rng = np.random.default_rng(seed)
    types = [
        {"name": "gpu", "discipline": "ps"},
        {"name": "tpu", "discipline": "fcfs"},
        {"name": "ded", "discipline": "dedicated"},
    ]
    chosen = ["gpu", "tpu", "ded"][: int(rng.integers(2, 4))]
    nodes = []
    if shared_node:
        nodes.append(
            {
                "name": "n0",
                "memory_mb": float(rng.choice([1500, 2500, 4000])),
                "preprocess_cores": 1.0,
                "accelerators": [{"name": f"{t}0", "type": t} for t in chosen[:2]],
            }
        )
        rest = chosen[2:]
    else:
        rest = chosen
    for k, t in enumerate(rest):
        nodes.append(
            {
                "name": f"n{k + 1}",
                "memory_mb": float(rng.choice([1500, 2500, 4000])),
                "preprocess_cores": float(rng.choice([1.0, 2.0])),
                "accelerators": [{"name": f"{t}{k + 1}", "type": t}],
            }
        )
    models = []
    for m in range(int(rng.integers(2, 4))):
        profiles = {}
        for t in chosen:
            if rng.random() < 0.85 or not profiles:
                profiles[t] = {
                    "service_time_ms": float(np.round(rng.uniform(5, 40), 2)),
                    "switch_overhead_ms": float(np.round(rng.uniform(0, 20), 2)) if t == "tpu" else 0.0,
                    "memory_mb": float(rng.choice([200, 500, 900])),
                    "service_time_scv": float(rng.choice([0.0, 0.0, 0.2])),
                }
        models.append({"name": f"m{m}", "profiles": profiles, "shareable": bool(rng.random() < 0.7)})
    apps = []
    for a in range(n_apps):
        apps.append(
            {
                "name": f"a{a}",
                "model": f"m{int(rng.integers(0, len(models)))}",
                "rate_rps": float(rng.choice([2, 5, 8, 12, 15])),
                "slo": {
                    "latency_ms": float(rng.choice([40, 60, 90, 150])),
                    "statistic": str(rng.choice(["mean", "mean", "p95"])),
                },
                "priority": float(rng.integers(1, 4)),
                "preprocess_ms": float(rng.choice([0.0, 0.0, 8.0])),
                "frontend_memory_mb": float(rng.choice([0, 100])),
            }
        )
    doc: dict[str, Any] = {
        "name": f"random-{seed}",
        "settings": {
            "network_delay_ms": float(rng.choice([0, 5])),
            "ps_model": str(rng.choice(["exact", "additive"])),
        },
        "accelerator_types": [t for t in types if t["name"] in chosen],
        "nodes": nodes,
        "models": models,
        "applications": apps,
        "objectives": ["max_hosted", "min_accelerators"],
    }
    if extensions:
        _extend(doc, np.random.default_rng(10_000 + seed))
    doc.update(overrides)
    return Instance.model_validate(doc)


def _extend(doc: dict[str, Any], rng: np.random.Generator) -> None:
    for app in doc["applications"]:
        if rng.random() < 0.5:
            app["frontend_concurrency"] = int(rng.integers(1, 3))
    doc["settings"]["frontend_occupancy_cap"] = float(rng.choice([0.5, 0.8]))
    doc["settings"]["switch_variance"] = str(rng.choice(["dependent", "bernoulli", "seed"]))
    for acc_type in doc["accelerator_types"]:
        if acc_type["discipline"] != "dedicated" and rng.random() < 0.5:
            acc_type["max_backends"] = int(rng.integers(1, 3))
    members = [m for m in doc["models"] if "tpu" in m["profiles"]]
    if len(members) >= 2 and any(t["name"] == "tpu" for t in doc["accelerator_types"]):
        factor = float(rng.choice([0.0, 0.15, 0.5]))
        doc["cocompilation_groups"] = [
            {
                "name": "co",
                "accelerator_type": "tpu",
                "switch_overhead_ms": {
                    m["name"]: round(m["profiles"]["tpu"]["switch_overhead_ms"] * factor, 2) for m in members
                },
            }
        ]


def brute_force(instance: Instance) -> tuple[dict[str, str] | None, tuple[float, ...] | None]:
    """The lexicographically best feasible placement, by enumerating every candidate accelerator."""
    alone = check_alone(instance)
    names = [a.name for a in instance.applications]
    choices = [[None, *alone[n].candidate_accelerators] for n in names]
    best, best_key = None, None
    for combo in itertools.product(*choices):
        placement = {n: acc for n, acc in zip(names, combo) if acc is not None}
        evaluation = evaluate(instance, placement)
        if not evaluation.feasible:
            continue
        key = lexicographic_key(instance.objectives, evaluation.objectives)
        if best_key is None or key > best_key:
            best, best_key = placement, key
    return best, best_key


def primary_of(instance: Instance, key: tuple[float, ...]) -> float:
    return key[0] if instance.objectives[0].maximize else -key[0]
