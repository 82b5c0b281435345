"""``optplace export k8s``: every manifest valid against the Kubernetes schemas, mapped as the
latency model says, and nothing exported that the evaluator rejects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from optplace.cli import main
from optplace.domain import Instance
from optplace.k8s import scheme
from optplace.k8s.config import KubernetesConfig
from optplace.k8s.manifests import ExportError, build_manifests, dns_label, write_manifests
from optplace.result import SolveResult
from optplace.solve import solve
from tests.k8s.conftest import DATA, KUBERNETES_VERSION

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def objects(instance: Instance, result: SolveResult, config: KubernetesConfig) -> list[dict]:
    return [o for f in build_manifests(instance, result, config).files for o in f.objects]


def test_every_manifest_is_valid_against_the_pinned_kubernetes_schemas(cluster, plan_result, config) -> None:
    """Strict schema validation (unknown fields are errors) of every exported object, and DNS names."""
    exported = objects(cluster, plan_result, config)
    assert {o["kind"] for o in exported} == {"Deployment", "Service"}
    for obj in exported:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        assert DNS_LABEL.match(obj["metadata"]["name"]), obj["metadata"]["name"]


def test_the_validator_rejects_a_broken_manifest(cluster, plan_result, config) -> None:
    """The schema check can fail: a string replica count and an unknown field are caught."""
    deployment = objects(cluster, plan_result, config)[0]
    deployment["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment["spec"]["replicas"] = 1
    deployment["spec"]["template"]["spec"]["nodeAfinity"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_backends_follow_the_sharing_model(cluster, plan_result, config) -> None:
    """One backend per (GPU, model) holding one time slice; one per edgeTPU holding the device and
    serving every model placed there; each with a Service of its name."""
    placement = plan_result.placement()
    models = {a.name: a.model for a in cluster.applications}
    expected = set()
    for app, acc in placement.items():
        expected.add((acc, models[app]) if "gpu" in acc else (acc, None))
    exported = objects(cluster, plan_result, config)
    backends = [
        o
        for o in exported
        if o["kind"] == "Deployment" and scheme.is_backend(o["spec"]["template"]["metadata"]["annotations"])
    ]
    found = set()
    for deployment in backends:
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        acc = annotations[scheme.ACCELERATOR]
        found.add((acc, annotations[scheme.MODELS]) if "gpu" in acc else (acc, None))
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        resource = "nvidia.com/gpu" if "gpu" in acc else "coral.ai/tpu"
        assert container["resources"]["limits"] == {resource: "1"}
        assert container["resources"]["requests"][resource] == "1"
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        if "tpu" in acc:
            served = {models[a] for a, where in placement.items() if where == acc}
            assert set(annotations[scheme.MODELS].split(",")) == served
    assert found == expected
    services = {o["metadata"]["name"] for o in exported if o["kind"] == "Service"}
    assert services == {d["metadata"]["name"] for d in backends}


def test_front_ends_carry_the_application_and_pin_its_node(cluster, plan_result, config) -> None:
    """Each hosted application's Deployment reads back as the same application, on the plan's node,
    with its CPU and memory requests and its backend's address."""
    placement = plan_result.placement()
    nodes = {a.application: a.node for a in plan_result.assignments}
    apps = {a.name: a for a in cluster.applications}
    fronts = [
        o
        for o in objects(cluster, plan_result, config)
        if o["kind"] == "Deployment" and not scheme.is_backend(o["spec"]["template"]["metadata"]["annotations"])
    ]
    assert len(fronts) == len(placement)
    for deployment in fronts:
        template = deployment["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        app = scheme.application_from_annotations(annotations, "?", template["spec"].get("nodeSelector"))
        original = apps[app.name]
        assert app == original.model_copy(update={"current_accelerator": None, "pinned": False})
        assert annotations[scheme.ACCELERATOR] == placement[app.name]
        term = template["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["nodeSelectorTerms"][0]["matchFields"][0]["values"] == [nodes[app.name]]
        container = template["spec"]["containers"][0]
        assert container["resources"]["requests"]["memory"] == "100Mi"
        assert container["resources"]["requests"]["cpu"] == f"{round(original.rate_rps * 20)}m"
        url = next(e["value"] for e in container["env"] if e["name"] == "OPTPLACE_BACKEND_URL")
        assert url.startswith(f"http://{annotations[scheme.BACKEND]}.edge-ai.svc:8500")


def test_a_gpu_without_enough_time_slices_is_refused(cluster, plan_result, config) -> None:
    """Two models on a GPU with one slot (no time-slicing) cannot both get a device: say so."""
    placement = plan_result.placement()
    models = {a.name: a.model for a in cluster.applications}
    crowded = next(
        acc
        for acc in set(placement.values())
        if len({models[a] for a, w in placement.items() if w == acc}) > 1 and "gpu" in acc
    )
    devices = {k: dict(v) for k, v in cluster.provenance["kubernetes"]["accelerators"].items()}
    devices[crowded]["slots"] = 1
    provenance = {**cluster.provenance, "kubernetes": {**cluster.provenance["kubernetes"], "accelerators": devices}}
    fewer_slots = cluster.model_copy(update={"provenance": provenance})
    result = solve(fewer_slots, "regret_greedy")
    assert result.placement() == placement
    with pytest.raises(ExportError, match=f"{crowded}.*offers 1 slot"):
        build_manifests(fewer_slots, result, config)


def test_a_placement_the_evaluator_rejects_is_not_exported(cluster, plan_result, config) -> None:
    """Everything crammed onto one edgeTPU breaks the model: no manifest is written."""
    tpu_apps = [a for a in plan_result.assignments if "tpu" in a.accelerator]
    crammed = [a.model_copy(update={"accelerator": "pi2-tpu0", "node": "pi2"}) for a in tpu_apps]
    others = [a for a in plan_result.assignments if "tpu" not in a.accelerator]
    broken = plan_result.model_copy(update={"assignments": others + crammed})
    with pytest.raises(ExportError, match="breaks the model"):
        build_manifests(cluster, broken, config)


def test_a_result_for_another_instance_is_refused(cluster, plan_result, config) -> None:
    """The result's input_hash must match the instance it is exported with."""
    other = cluster.model_copy(update={"name": "elsewhere"})
    with pytest.raises(ExportError, match="another instance"):
        build_manifests(other, plan_result, config)


def test_export_needs_the_imported_provenance_and_images(cluster, plan_result, config) -> None:
    """A hand-written instance (no provenance.kubernetes) and a config without images are explained."""

    bare = cluster.model_copy(update={"provenance": {}})
    with pytest.raises(ExportError, match="optplace import k8s"):
        build_manifests(bare, solve(bare, "regret_greedy"), config)
    with pytest.raises(ExportError, match=r"images\.backends"):
        build_manifests(cluster, plan_result, KubernetesConfig(namespace="edge-ai"))


def test_dns_label_keeps_changed_names_apart() -> None:
    """Names are lower-cased and cleaned; long ones are cut with a hash of the original."""
    assert dns_label("optplace-pi3-tpu1-efficientnet-S") == "optplace-pi3-tpu1-efficientnet-s"
    long = dns_label("optplace-" + "x" * 100)
    assert len(long) <= 63 and DNS_LABEL.match(long)
    assert dns_label("optplace-a_b", force_hash=True) != dns_label("optplace-a.b", force_hash=True)


def test_write_refuses_a_folder_with_files(cluster, plan_result, config, tmp_path: Path) -> None:
    """Stale manifests would be applied too: a non-empty folder needs --force."""
    export = build_manifests(cluster, plan_result, config)
    (tmp_path / "old.yaml").write_text("stale")
    with pytest.raises(ExportError, match="not empty"):
        write_manifests(export, tmp_path)
    assert write_manifests(export, tmp_path, force=True)


def test_cli_export_writes_yaml_and_json(cluster, plan_result, tmp_path: Path, capsys) -> None:
    """optplace export k8s writes one file per workload; YAML and JSON hold the same objects."""
    instance_file = tmp_path / "cluster.json"
    result_file = tmp_path / "result.json"
    instance_file.write_text(cluster.model_dump_json())
    result_file.write_text(plan_result.model_dump_json())
    args = ["export", "k8s", str(result_file), "--instance", str(instance_file), "--config", str(DATA / "k8s.json")]
    assert main([*args, "--out", str(tmp_path / "yaml")]) == 0
    assert main([*args, "--out", str(tmp_path / "json"), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "not hosted (no manifests): gesture-ui" in captured.err
    yaml_files = sorted((tmp_path / "yaml").iterdir())
    json_files = sorted((tmp_path / "json").iterdir())
    assert [p.stem for p in yaml_files] == [p.stem for p in json_files]
    for y, j in zip(yaml_files, json_files):
        docs = list(yaml.safe_load_all(y.read_text()))
        data = json.loads(j.read_text())
        assert docs == (data["items"] if data["kind"] == "List" else [data])
        for obj in docs:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert main([*args, "--out", str(tmp_path / "yaml")]) == 2
    assert "not empty" in capsys.readouterr().err
