"""Kubernetes integration cost: cluster import, and scheduler-extender latency per call, as the
cluster grows.

The recorded mixed cluster of tests/k8s/data (3 Jetson GPU nodes, 3 Raspberry Pi + Coral hosts
with 4 edgeTPUs, system pods) is replicated ``k`` times (node and pod names suffixed), with ``k``
copies of the 20 application pods of the scheduling-cycle test. Per size it measures (wall clock,
median of ``--repeat`` calls, in-process HTTP through FastAPI's test client, so no network):

* ``optplace import k8s`` of the NodeList and PodList (library call);
* ``filter`` and ``prioritize`` for a pod the plan places, with node names (nodeCacheCapable) and
  with whole node objects; and for a pod the plan does not know (the evaluator runs per candidate
  accelerator, on its node alone).

kube-scheduler's default extender timeout is 5 s per call (``httpTimeout``). Writes
``benchmarks/results/k8s_extender.{md,json}``. Run::

    .venv/bin/python benchmarks/k8s_extender.py [--sizes 1 10 50] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from optplace.api.main import create_app  # noqa: E402
from optplace.api.settings import Settings  # noqa: E402
from optplace.domain import Objective  # noqa: E402
from optplace.k8s import scheme  # noqa: E402
from optplace.k8s.cluster import import_cluster  # noqa: E402
from optplace.k8s.config import Catalog, KubernetesConfig, read_json_model  # noqa: E402
from optplace.solve import solve  # noqa: E402

DATA = ROOT / "tests" / "k8s" / "data"
RESULTS = ROOT / "benchmarks" / "results"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def replicate(k: int) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """``k`` copies of the recorded cluster (without its optplace pods) plus ``k`` x 20 pending application pods."""
    nodes, pods, arrivals = load("nodes.json"), load("pods.json"), load("cycle-pods.json")["items"]
    system = [p for p in pods["items"] if scheme.PREFIX not in json.dumps(p["metadata"].get("annotations", {}))]
    node_items, pod_items, app_items = [], [], []
    for copy_index in range(k):
        suffix = f"-c{copy_index}"
        for node in nodes["items"]:
            node = copy.deepcopy(node)
            node["metadata"]["name"] += suffix
            node["metadata"]["labels"]["kubernetes.io/hostname"] = node["metadata"]["name"]
            node_items.append(node)
        for pod in system:
            pod = copy.deepcopy(pod)
            pod["metadata"]["name"] += suffix
            if pod["spec"].get("nodeName"):
                pod["spec"]["nodeName"] += suffix
            pod_items.append(pod)
        for pod in arrivals:
            pod = copy.deepcopy(pod)
            pod["metadata"]["name"] += suffix
            pod["metadata"]["annotations"][scheme.APPLICATION] += suffix
            app_items.append(pod)
    return {**nodes, "items": node_items}, {**pods, "items": pod_items + app_items}, app_items


def median_ms(repeat: int, call) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def measure(k: int, repeat: int, catalog: Catalog, config: KubernetesConfig) -> dict[str, Any]:
    nodes, pods, apps = replicate(k)
    instance = import_cluster(nodes, pods, catalog, config).instance
    import_ms = median_ms(repeat, lambda: import_cluster(nodes, pods, catalog, config))
    result = solve(instance, "breadth_first", {"objectives": [Objective.MAX_HOSTED]})
    planned = apps[0]
    unknown = copy.deepcopy(planned)
    unknown["metadata"]["annotations"][scheme.APPLICATION] = "newcomer"
    names = [n["metadata"]["name"] for n in nodes["items"]]
    by_names = {"Pod": planned, "Nodes": None, "NodeNames": names}
    by_nodes = {"Pod": planned, "Nodes": {"metadata": {}, "items": nodes["items"]}, "NodeNames": None}
    new_by_names = {"Pod": unknown, "Nodes": None, "NodeNames": names}
    row: dict[str, Any] = {
        "copies": k,
        "nodes": len(nodes["items"]),
        "accelerators": sum(len(n.accelerators) for n in instance.nodes),
        "applications": len(instance.applications),
        "hosted": result.hosted,
        "import_ms": import_ms,
        "full_nodes_body_kb": len(json.dumps(by_nodes)) / 1024,
    }
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(store_url=f"sqlite:///{folder}/jobs.sqlite3", workers=1, log_level="warning")
        # Host "localhost": the default allow-list of a loopback server (TestClient would send "testserver")
        with TestClient(create_app(settings), base_url="http://localhost") as client:
            put = client.put(
                "/v1/extender/plan",
                json={"instance": instance.model_dump(mode="json"), "result": result.model_dump(mode="json")},
            )
            assert put.status_code == 200, put.text
            for label, path, body in (
                ("filter_planned_names_ms", "/v1/extender/filter", by_names),
                ("filter_planned_nodes_ms", "/v1/extender/filter", by_nodes),
                ("prioritize_planned_names_ms", "/v1/extender/prioritize", by_names),
                ("filter_unknown_names_ms", "/v1/extender/filter", new_by_names),
                ("prioritize_unknown_names_ms", "/v1/extender/prioritize", new_by_names),
            ):
                assert client.post(path, json=body).status_code == 200
                row[label] = median_ms(repeat, lambda p=path, b=body: client.post(p, json=b))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50], help="copies of the recorded cluster")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--note", default="", help="a remark on the machine, written with the results")
    args = parser.parse_args()
    catalog = read_json_model(DATA / "models.json", Catalog, "catalog")
    config = read_json_model(DATA / "k8s.json", KubernetesConfig, "config")
    rows = [measure(k, args.repeat, catalog, config) for k in args.sizes]
    columns = [
        ("nodes", "nodes", "{}"),
        ("accelerators", "accelerators", "{}"),
        ("applications", "applications", "{}"),
        ("import ms", "import_ms", "{:.0f}"),
        ("filter planned, names ms", "filter_planned_names_ms", "{:.1f}"),
        ("filter planned, nodes ms", "filter_planned_nodes_ms", "{:.1f}"),
        ("nodes body KiB", "full_nodes_body_kb", "{:.0f}"),
        ("prioritize planned ms", "prioritize_planned_names_ms", "{:.1f}"),
        ("filter new app ms", "filter_unknown_names_ms", "{:.1f}"),
        ("prioritize new app ms", "prioritize_unknown_names_ms", "{:.1f}"),
    ]
    header = "| " + " | ".join(c[0] for c in columns) + " |"
    lines = [header, "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(fmt.format(row[key]) for _, key, fmt in columns) + " |")
    machine = f"{platform.node()}: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    text = "\n".join(
        [
            "# Kubernetes import and scheduler-extender latency",
            "",
            f"Median of {args.repeat} calls, in-process HTTP (no network). Machine: {machine}"
            f"{'; ' + args.note if args.note else ''}.",
            "",
            *lines,
            "",
        ]
    )
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "k8s_extender.md").write_text(text)
    (RESULTS / "k8s_extender.json").write_text(
        json.dumps({"machine": machine, "repeat": args.repeat, "rows": rows}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
