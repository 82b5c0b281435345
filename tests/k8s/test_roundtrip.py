"""Import -> solve -> export -> (the cluster runs the manifests) -> import again: the cluster
then runs exactly the plan, and the exported requests fit every node."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import yaml

from optplace.cli import main
from optplace.io import load_instance
from optplace.result import SolveResult
from tests.k8s.conftest import DATA, KUBERNETES_VERSION, document
from tests.k8s.simulated import apply, check_fit

RESOURCES = ["memory", "cpu", "nvidia.com/gpu", "coral.ai/tpu"]


def test_round_trip_through_the_cli_reimports_the_plan(tmp_path: Path, capsys) -> None:
    """The re-imported cluster has the same nodes and applications, each running where the plan put it."""
    common = ["--config", str(DATA / "k8s.json")]
    catalog = ["--models", str(DATA / "models.json"), *common]
    before, result_file, manifests = tmp_path / "before.json", tmp_path / "result.json", tmp_path / "manifests"
    assert (
        main(["import", "k8s", str(DATA / "nodes.json"), str(DATA / "pods.json"), *catalog, "--out", str(before)]) == 0
    )
    assert main(["solve", str(before), "--method", "regret_greedy", "--out", str(result_file)]) == 0
    assert main(["export", "k8s", str(result_file), "--instance", str(before), *common, "--out", str(manifests)]) == 0
    capsys.readouterr()

    deployments = []
    for path in sorted(manifests.iterdir()):
        for obj in yaml.safe_load_all(path.read_text()):
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            if obj["kind"] == "Deployment":
                deployments.append(obj)
    nodes = document("nodes.json")
    running = apply(document("pods.json"), deployments)
    check_fit(nodes, running, RESOURCES)

    after_nodes, after_pods, after = tmp_path / "nodes.json", tmp_path / "pods.json", tmp_path / "after.json"
    after_nodes.write_text((DATA / "nodes.json").read_text())
    after_pods.write_text(json.dumps(running))
    assert main(["import", "k8s", str(after_nodes), str(after_pods), *catalog, "--out", str(after)]) == 0

    planned = SolveResult.model_validate_json(result_file.read_text()).placement()
    first, second = load_instance(before), load_instance(after)
    assert second.nodes == first.nodes
    assert {a.name: a.current_accelerator for a in second.applications} == {
        a.name: planned.get(a.name) for a in first.applications
    }
    where = {"current_accelerator"}
    assert {a.name: a.model_dump(exclude=where) for a in second.applications} == {
        a.name: a.model_dump(exclude=where) for a in first.applications
    }
