"""Shared fixtures: paths to shipped instances and a small builder for hand-made ones."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from optplace.domain import Instance

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
TINY = sorted((INSTANCES / "tiny").glob("*.json"))
SEED = sorted((INSTANCES / "seed").glob("*.json"))


def load(path: Path) -> Instance:
    return Instance.model_validate(json.loads(path.read_text()))


def make_instance(**overrides: Any) -> dict[str, Any]:
    """A valid instance document (one GPU node, one edgeTPU node, two models) to mutate in tests."""
    doc: dict[str, Any] = {
        "name": "fixture",
        "accelerator_types": [{"name": "gpu", "discipline": "ps"}, {"name": "tpu", "discipline": "fcfs"}],
        "nodes": [
            {"name": "nano", "memory_mb": 4096, "accelerators": [{"name": "gpu1", "type": "gpu"}]},
            {
                "name": "pi",
                "memory_mb": 4096,
                "labels": {"zone": "a"},
                "accelerators": [{"name": "tpu1", "type": "tpu"}],
            },
        ],
        "models": [
            {"name": "resnet50", "profiles": {"gpu": {"service_time_ms": 29.4, "memory_mb": 965}}},
            {
                "name": "mobilenet_v2",
                "profiles": {
                    "gpu": {"service_time_ms": 13.0, "memory_mb": 1130},
                    "tpu": {"service_time_ms": 4.91, "switch_overhead_ms": 10.43, "memory_mb": 100},
                },
            },
        ],
        "applications": [
            {"name": "cam1", "model": "resnet50", "rate_rps": 10, "slo": {"latency_ms": 150}},
            {"name": "cam2", "model": "mobilenet_v2", "rate_rps": 8, "slo": {"latency_ms": 100}},
        ],
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def instance_doc() -> dict[str, Any]:
    return make_instance()


@pytest.fixture
def instance() -> Instance:
    return Instance.model_validate(make_instance())


@pytest.fixture(autouse=True, scope="module")
def _forget_test_methods():
    """Methods a test module registers in this process (plugins, test-only methods) never leak into later modules.

    Module scope, because a module's app or batch fixtures may keep using them across its tests.

    ``auto``, the exact methods' warm starts and the property tests run every registered method, so
    a leaked test method that hangs or exits would take down whichever test runs them next.
    """
    from optplace import registry

    registry.list_methods()  # load the built-in methods first, so they are never "new"
    before = set(registry._METHODS)
    yield
    for name in set(registry._METHODS) - before:
        info = registry._METHODS.pop(name)
        # Forget the plugin module too, so a later test that loads it registers it again.
        if info.function.__module__.startswith("tests."):
            sys.modules.pop(info.function.__module__, None)
