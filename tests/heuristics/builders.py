"""Tiny hand-checkable instances for the heuristics' expectation tests."""

from __future__ import annotations

from typing import Any

from optplace.domain import Instance


def app(name: str, model: str, rate: float, slo: float = 1000.0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "model": model, "rate_rps": rate, "slo": {"latency_ms": slo}, **extra}


def build(
    accelerators: list[tuple[str, str]],
    models: dict[str, dict[str, dict[str, float]]],
    apps: list[dict[str, Any]],
    *,
    disciplines: dict[str, str] | None = None,
    **extra: Any,
) -> Instance:
    """One node (4 GB) per accelerator; ``accelerators`` is [(name, type)], models {name: {type: profile}}."""
    disciplines = disciplines or {"gpu": "ps", "tpu": "fcfs"}
    used_types = sorted({t for _, t in accelerators})
    doc = {
        "accelerator_types": [{"name": t, "discipline": disciplines[t]} for t in used_types],
        "nodes": [
            {"name": f"node-{name}", "memory_mb": 4000, "accelerators": [{"name": name, "type": t}]}
            for name, t in accelerators
        ],
        "models": [
            {"name": name, "profiles": {t: {"memory_mb": 100, **p} for t, p in profiles.items()}}
            for name, profiles in models.items()
        ],
        "applications": apps,
        **extra,
    }
    return Instance.model_validate(doc)
