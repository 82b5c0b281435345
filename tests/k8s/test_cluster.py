"""``optplace import k8s`` on the recorded mixed cluster, and its errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from optplace.cli import main
from optplace.domain import Instance
from optplace.io import load_instance
from optplace.k8s.cluster import ClusterImportError, import_cluster
from optplace.k8s.config import Catalog, ConfigError, KubernetesConfig, parse_json_model
from tests.k8s.conftest import DATA, document


def nodes_named(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in doc["items"] if item["metadata"]["name"] == name)


def pod_of(doc: dict[str, Any], application: str) -> dict[str, Any]:
    return next(
        item
        for item in doc["items"]
        if item["metadata"].get("annotations", {}).get("optplace.io/application") == application
    )


def test_accelerators_come_from_extended_resources(cluster: Instance) -> None:
    """Time-sliced GPUs (4 replicas) are one accelerator each; pi3's two Corals are two; the
    control plane (no accelerator) and the cordoned pi4 are left out."""
    accelerators = {acc.name: acc.type for _, acc in cluster.accelerators()}
    assert accelerators == {
        "nano1-gpu0": "jetson-nano-gpu",
        "nano2-gpu0": "jetson-nano-gpu",
        "xavier1-gpu0": "jetson-xavier-gpu",
        "pi1-tpu0": "coral-edgetpu",
        "pi2-tpu0": "coral-edgetpu",
        "pi3-tpu0": "coral-edgetpu",
        "pi3-tpu1": "coral-edgetpu",
    }
    devices = cluster.provenance["kubernetes"]["accelerators"]
    assert devices["nano1-gpu0"] == {"node": "nano1", "resource": "nvidia.com/gpu", "device_index": 0, "slots": 4}
    assert devices["pi3-tpu1"]["device_index"] == 1 and devices["pi3-tpu1"]["slots"] == 1


def test_node_memory_is_allocatable_less_foreign_requests(cluster: Instance) -> None:
    """nano1: 3957480Ki allocatable less flannel (50Mi) and node-exporter (180Mi + 20Mi); pi3 also
    loses the log shipper's init container (256Mi, larger than its 64Mi container); the finished
    job on xavier1 and the optplace pods count for nothing."""
    memory = {n.name: n.memory_mb for n in cluster.nodes}
    assert memory["nano1"] == pytest.approx(3957480 / 1024 - 250)
    assert memory["pi3"] == pytest.approx(3779348 / 1024 - 250 - 256)
    assert memory["xavier1"] == pytest.approx(7671004 / 1024 - 250)
    assert memory["pi1"] == pytest.approx(3779348 / 1024 - 250)  # the optplace backend there is modelled
    cores = {n.name: n.preprocess_cores for n in cluster.nodes}
    assert cores["nano1"] == pytest.approx(4 - 0.1 - 0.112)
    assert {n.name: n.labels.get("zone") for n in cluster.nodes}["pi2"] == "dock-b"


def test_applications_and_their_current_accelerators(cluster: Instance) -> None:
    """Annotated accelerators are kept, a single compatible device is inferred, pending pods are new,
    and the node selector becomes required labels."""
    apps = {a.name: a for a in cluster.applications}
    assert len(apps) == 13
    assert apps["cam-entrance"].current_accelerator == "pi1-tpu0"
    assert apps["cam-parking"].current_accelerator == "nano1-gpu0"  # inferred: nano1's only GPU
    assert apps["shelf-monitor"].current_accelerator == "pi3-tpu1"
    assert apps["forklift-detect"].current_accelerator is None
    assert apps["anpr"].required_labels == {"zone": "dock-b"}
    assert apps["retail-shelf"].allowed_accelerator_types == ["coral-edgetpu"]
    assert apps["door-ar"].priority == 2.0
    assert apps["forklift-detect"].slo.statistic == "p99"
    namespaces = cluster.provenance["kubernetes"]["applications"]
    assert namespaces["cam-entrance"]["namespace"] == "edge-ai"


def test_import_notes_what_it_left_out(catalog: Catalog, config: KubernetesConfig) -> None:
    """The cordoned node is reported, not silently dropped."""
    imported = import_cluster(document("nodes.json"), document("pods.json"), catalog, config)
    assert any("pi4" in w and "cordoned" in w for w in imported.warnings)


def test_ambiguous_device_without_annotation_is_not_guessed(catalog: Catalog, config: KubernetesConfig) -> None:
    """On pi3 (two edgeTPUs) a pod without optplace.io/accelerator is not assigned a device."""
    pods = document("pods.json")
    pod = pod_of(pods, "shelf-monitor")
    del pod["metadata"]["annotations"]["optplace.io/accelerator"]
    imported = import_cluster(document("nodes.json"), pods, catalog, config)
    app = next(a for a in imported.instance.applications if a.name == "shelf-monitor")
    assert app.current_accelerator is None
    assert any("pi3-tpu0, pi3-tpu1" in w for w in imported.warnings)


def test_devices_held_by_foreign_pods_are_left_out(catalog: Catalog, config: KubernetesConfig) -> None:
    """A pod optplace does not model holding a GPU slice makes that GPU unusable for promises."""
    pods = document("pods.json")
    holder = copy.deepcopy(next(p for p in pods["items"] if p["metadata"]["namespace"] == "kube-system"))
    holder["metadata"] = {"name": "cuda-burn", "namespace": "lab"}
    holder["spec"]["nodeName"] = "nano2"
    holder["spec"]["containers"] = [{"name": "burn", "image": "burn", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]
    pods["items"].append(holder)
    imported = import_cluster(document("nodes.json"), pods, catalog, config)
    assert "nano2" not in {n.name for n in imported.instance.nodes}
    assert any("lab/cuda-burn" in w for w in imported.warnings)


def test_default_rules_name_types_the_catalog_must_have(catalog: Catalog) -> None:
    """Without --config, nvidia.com/gpu maps to 'nvidia-gpu'; a catalog without it is told what to add."""
    with pytest.raises(ClusterImportError, match="'nvidia-gpu', which the catalog does not declare"):
        import_cluster(document("nodes.json"), document("pods.json"), catalog)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda n, p: nodes_named(n, "nano1")["status"]["allocatable"].update(memory="4 Gi"), r"node 'nano1'.*memory"),
        (
            lambda n, p: nodes_named(n, "nano1")["status"]["allocatable"].update({"nvidia.com/gpu": "3"}),
            r"not a whole multiple of the 4 time-slicing replicas",
        ),
        (
            lambda n, p: nodes_named(n, "nano1")["metadata"]["labels"].update({"nvidia.com/gpu.replicas": "many"}),
            r"nvidia.com/gpu.replicas.*positive whole number",
        ),
        (
            lambda n, p: [nodes_named(n, "pi1")["status"][key].pop("memory") for key in ("allocatable", "capacity")],
            r"pi1.*memory.*missing",
        ),
        (
            lambda n, p: pod_of(p, "anpr")["metadata"]["annotations"].update({"optplace.io/slo-ms": "soon"}),
            r"pod edge-ai/anpr-.*optplace.io/slo-ms.*not a number",
        ),
        (
            lambda n, p: pod_of(p, "pose")["metadata"]["annotations"].update({"optplace.io/application": "anpr"}),
            r"application 'anpr' is also pod",
        ),
        (
            lambda n, p: pod_of(p, "qa-vision")["metadata"]["annotations"].update({"optplace.io/pinned": "true"}),
            r"pod edge-ai/qa-vision-.*pinned",
        ),
        (
            lambda n, p: pod_of(p, "pose")["metadata"]["annotations"].update({"optplace.io/model": "yolo"}),
            r"unknown model 'yolo'",
        ),
        (lambda n, p: n.update(kind="PodList"), r"kind is 'PodList'; expected NodeList or List"),
        (lambda n, p: p["items"].append({"kind": "Node"}), r"items\[\d+\] is a 'Node'; expected Pod"),
        (lambda n, p: n["items"].append(copy.deepcopy(n["items"][1])), r"node 'nano1' appears twice"),
        (lambda n, p: n["items"][1]["metadata"].update(labels=["x"]), r"items\[1\]\.metadata\.labels"),
    ],
)
def test_bad_documents_name_the_object_and_field(catalog, config, mutate, message) -> None:
    """Each input error names the node or pod and the field, with what to do."""
    nodes, pods = document("nodes.json"), document("pods.json")
    mutate(nodes, pods)
    with pytest.raises(ClusterImportError, match=message):
        import_cluster(nodes, pods, catalog, config)


def test_config_errors_name_file_and_field() -> None:
    """A rule with a bad resource name or an unknown field is reported with its place in the file."""
    with pytest.raises(ConfigError) as caught:
        parse_json_model(
            {"accelerators": [{"resource": "nvidia com/gpu", "accelerator_type": "gpu", "colour": 1}]},
            KubernetesConfig,
            "k8s.json",
            "Kubernetes configuration",
        )
    text = str(caught.value)
    assert "accelerators[0].resource" in text and "accelerators[0].colour: unknown field" in text


def test_cli_import_writes_a_loadable_instance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """optplace import k8s writes an instance file that loads and equals the library's import."""
    out = tmp_path / "cluster.json"
    code = main(
        [
            "import",
            "k8s",
            str(DATA / "nodes.json"),
            str(DATA / "pods.json"),
            "--models",
            str(DATA / "models.json"),
            "--config",
            str(DATA / "k8s.json"),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "6 nodes, 7 accelerators, 13 applications (6 running, 7 to place)" in captured.out
    assert "note:" in captured.err and "pi4" in captured.err
    loaded = load_instance(out)
    assert len(loaded.applications) == 13


def test_cli_import_reports_errors_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing catalog or a broken document exits 2 with a one-line reason."""
    broken = tmp_path / "nodes.json"
    broken.write_text(json.dumps({"kind": "NodeList", "items": [{"metadata": {"name": "n"}, "status": 3}]}))
    code = main(["import", "k8s", str(broken), str(DATA / "pods.json"), "--models", str(DATA / "models.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "items[0].status" in err
    code = main(["import", "k8s", str(broken), str(DATA / "pods.json"), "--models", str(tmp_path / "none.json")])
    assert code == 2 and "cannot read the model catalog" in capsys.readouterr().err


def test_time_sliced_gpus_carry_their_replicas_as_max_backends(cluster: Instance) -> None:
    """A GPU with 4 time-slicing replicas may host 4 backends; an edgeTPU (one process owns it) has no limit."""
    limits = {acc.name: cluster.max_backends(acc) for _, acc in cluster.accelerators()}
    assert limits["nano1-gpu0"] == 4 and limits["xavier1-gpu0"] == 4
    assert limits["pi3-tpu1"] is None


def test_a_gpu_without_time_slicing_gets_plans_the_export_can_run(catalog: Catalog, config: KubernetesConfig) -> None:
    """Without time-slicing (one slot) a GPU hosts one backend, so the solved plan exports without refusal."""
    from optplace.evaluate import evaluate
    from optplace.k8s.manifests import build_manifests
    from optplace.solve import solve

    nodes = document("nodes.json")
    for node in nodes["items"]:
        labels = node["metadata"]["labels"]
        if labels.pop("nvidia.com/gpu.replicas", None) is not None:
            for field in ("capacity", "allocatable"):
                node["status"][field]["nvidia.com/gpu"] = "1"
    imported = import_cluster(nodes, document("pods.json"), catalog, config).instance
    gpus = [acc for _, acc in imported.accelerators() if "gpu" in acc.name]
    assert gpus and all(imported.max_backends(acc) == 1 for acc in gpus)
    result = solve(imported, "regret_greedy")
    reports = {r.accelerator: r for r in evaluate(imported, result.placement()).accelerators}
    assert all(len(reports[g.name].backends) <= 1 for g in gpus)
    assert any(reports[g.name].backends for g in gpus)  # the GPUs are used, one backend each
    build_manifests(imported, result, config)  # raises ExportError on a GPU with more backends than slots
