"""Fixtures for the Kubernetes integration: the recorded mixed cluster (Jetson GPU nodes and
Raspberry Pi hosts with USB edgeTPUs, see data/README.md), its catalog and configuration, the
instance imported from it and a plan solved for that instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from optplace.domain import Instance
from optplace.k8s.cluster import import_cluster
from optplace.k8s.config import Catalog, KubernetesConfig, read_json_model
from optplace.result import SolveResult
from optplace.solve import solve

DATA = Path(__file__).parent / "data"
KUBERNETES_VERSION = "1.33.0"  # the schemas every exported manifest is validated against
# The JSON strings of upstream's extender/v1 TestCompatibility: what json.Marshal writes for each type.
UPSTREAM = json.loads((DATA / "extender" / "upstream-types-test.json").read_text())


def document(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return read_json_model(DATA / "models.json", Catalog, "catalog")


@pytest.fixture(scope="session")
def config() -> KubernetesConfig:
    return read_json_model(DATA / "k8s.json", KubernetesConfig, "config")


@pytest.fixture(scope="session")
def cluster(catalog: Catalog, config: KubernetesConfig) -> Instance:
    """The recorded cluster as an instance."""
    return import_cluster(document("nodes.json"), document("pods.json"), catalog, config).instance


@pytest.fixture(scope="session")
def plan_result(cluster: Instance) -> SolveResult:
    """A verified placement of the recorded cluster (regret greedy: fast and deterministic)."""
    return solve(cluster, "regret_greedy")
