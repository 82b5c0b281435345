"""Tiny hand-checkable instances for the heuristics' expectation tests, made with the library's InstanceBuilder.

``build`` keeps each test's instance a short table: one node (4000 MB) per accelerator, and every
profile 100 MB unless it says otherwise.
"""

from __future__ import annotations

from typing import Any

from optplace.builder import InstanceBuilder
from optplace.domain import Instance


def app(name: str, model: str, rate: float, slo: float = 1000.0, **extra: Any) -> dict[str, Any]:
    """Keyword arguments of ``InstanceBuilder.add_application``: a mean SLO of 1 s unless given."""
    return {"name": name, "model": model, "rate_rps": rate, "slo_ms": slo, **extra}


def build(
    accelerators: list[tuple[str, str]],
    models: dict[str, dict[str, dict[str, float]]],
    apps: list[dict[str, Any]],
    *,
    disciplines: dict[str, str] | None = None,
    objectives: list[str] | None = None,
) -> Instance:
    """``accelerators`` is [(name, type)], ``models`` {name: {type: profile fields}}, ``apps`` from :func:`app`."""
    disciplines = disciplines or {"gpu": "ps", "tpu": "fcfs"}
    b = InstanceBuilder(objectives=objectives)
    types = {t: b.add_accelerator_type(t, disciplines[t]) for t in sorted({t for _, t in accelerators})}
    for name, type_name in accelerators:
        b.add_accelerator(b.add_node(f"node-{name}", memory_mb=4000), types[type_name], name=name)
    for name, profiles in models.items():
        b.add_model(name, profiles={types[t]: {"memory_mb": 100, **p} for t, p in profiles.items()})
    for spec in apps:
        b.add_application(**spec)
    return b.instance()
