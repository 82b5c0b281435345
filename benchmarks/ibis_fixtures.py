"""Record the seed authors' placement decisions on the seed workloads, from their own code.

The seed's released control plane (umassos/ibis, MIT) decides placements in
``ibis/control_service/placement_algorithms_{edgetpu,trt}.py`` and ``control_service_{edgetpu,trt,
heter}.py``. This script drives exactly that code over the applications of ``instances/seed/*.json``
in file order, with minimal stand-ins for what it talks to (a fake Kubernetes API that lists the
instance's nodes and accepts deployments, empty gRPC and TensorRT modules, placeholder model files
for the md5 that identifies an edgeTPU model, no ssh/scp), and writes every decision -- application
-> node and device, whether it joined a running backend, or rejected with the reason each node gave
in the authors' log -- to ``tests/heuristics/data/ibis_decisions/<instance>.json``. The tests check
optplace's faithful baselines (``optplace/heuristics/ibis.py``) against those files only; nothing
here runs in the test suite and nothing downloads: fetch the repository beforehand, e.g.
``git clone https://github.com/umassos/ibis /tmp/ibis``.

Run from the repository root::

    python benchmarks/ibis_fixtures.py --ibis /path/to/ibis          # writes the fixtures
    python benchmarks/ibis_fixtures.py --ibis /path/to/ibis --check  # compares, writes nothing

How the released code is made to run, each step the least change that lets it:

* ``FRONTEND_THRESHOLD = 08`` in ``placement_algorithms_edgetpu.py`` is a syntax error in Python 3
  (a Python 2 octal literal). The module is compiled from its source with that one line read as
  ``0.8``, the value of the same constant in the GPU module; the released file's literal read as 8
  is recorded as a separate run (``frontend_threshold_8``).
* Kubernetes lists nodes in name order (etcd key order), so the services' node dictionaries are in
  name order (``nano1, nano10, nano2``); the control node the services skip is one extra node.
* Node memory is given to Kubernetes in KiB, as a node reports it; the authors' ``Node`` converts it.
* The mixed-cluster service (``control_service_heter``) checks every node for both device kinds: it
  has no device-type test. Its modules' ``INFEASIBLE_NODES`` (the authors' exclusion list) hold, for
  each application, the nodes of the other kind (unless the run is ``no_device_type_check``) and,
  where the application's model has no profile for a device kind, every node for that kind.
* Every application is a MAAS deployment (``deploy_gpu.py``'s default ``--workload-type``): an
  application joins a running backend of its model. A model marked ``shareable: false`` is a
  ``user`` deployment on GPUs and gets a model file of its own on edgeTPUs.
* Applications with the same model share an edgeTPU model by md5 of the model file; the placeholder
  files hold the model's name, so equal names mean equal md5s.
* The GPU-only service's rejected-backend retry (``control_service_trt.get_schedule_node``: when an
  application fails the check for sharing a running backend it is checked as if it had a backend of
  its own, then shares anyway) is recorded as released (``gpu_share_anyway``) and without it (the
  same service as the mixed one runs it: the mixed service with every node excluded for edgeTPUs).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import io
import json
import logging
import os
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "instances" / "seed"
OUT = ROOT / "tests" / "heuristics" / "data" / "ibis_decisions"
AUTHORS_FILES = [
    "ibis/control_service/placement_algorithms_edgetpu.py",
    "ibis/control_service/placement_algorithms_trt.py",
    "ibis/control_service/control_service_base.py",
    "ibis/control_service/control_service_edgetpu.py",
    "ibis/control_service/control_service_trt.py",
    "ibis/control_service/control_service_heter.py",
    "LICENSE",
]
PY2_LITERAL = "FRONTEND_THRESHOLD = 08\n"
CONTROL_NODE = "ibis-control"
GPU, TPU = "gpu", "tpu"


# --- stand-ins for what the control services talk to --------------------------------------------


class K8sObject:
    """Any Kubernetes client model object: keeps its keyword arguments as attributes."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.__dict__.update(kwargs)


@dataclass
class FakeNode:
    """The fields of a ``V1Node`` that the authors' ``Node`` reads."""

    name: str
    memory_kib: int

    def __post_init__(self) -> None:
        self.metadata = types.SimpleNamespace(
            labels={"kubernetes.io/hostname": self.name},
            annotations={"flannel.alpha.coreos.com/public-ip": "127.0.0.1"},
        )
        self.status = types.SimpleNamespace(capacity={"memory": f"{self.memory_kib}Ki"})


@dataclass
class FakeCluster:
    """A Kubernetes API that lists the instance's nodes and accepts every deployment."""

    nodes: list[FakeNode] = field(default_factory=list)

    def core_api(self) -> FakeCoreApi:
        return FakeCoreApi(self)


class FakeCoreApi:
    def __init__(self, cluster: FakeCluster):
        self.cluster = cluster

    def list_node(self, label_selector: str | None = None) -> types.SimpleNamespace:
        nodes = sorted(self.cluster.nodes, key=lambda n: n.name)  # Kubernetes lists in key order
        if label_selector:
            wanted = label_selector.split("=", 1)[1]
            nodes = [n for n in nodes if n.name == wanted]
        return types.SimpleNamespace(items=nodes)

    def create_namespaced_service(self, namespace: str, body: Any) -> types.SimpleNamespace:
        return types.SimpleNamespace(spec=types.SimpleNamespace(cluster_ip="10.0.0.1", ports=[K8sObject(port=8080)]))

    def delete_namespaced_service(self, *args: Any, **kwargs: Any) -> None:
        return None


class FakeAppsApi:
    def create_namespaced_deployment(self, namespace: str, body: Any) -> None:
        return None

    def patch_namespaced_deployment(self, name: str, namespace: str, body: Any) -> None:
        return None

    def delete_namespaced_deployment(self, *args: Any, **kwargs: Any) -> None:
        return None


CLUSTER = FakeCluster()


def install_stand_ins() -> None:
    """Empty Kubernetes, gRPC and TensorRT modules: the placement code never needs them."""
    kubernetes = types.ModuleType("kubernetes")
    client = types.ModuleType("kubernetes.client")
    client.__getattr__ = lambda name: K8sObject  # type: ignore[attr-defined]  # V1Container, V1Deployment, ...
    client.models = types.SimpleNamespace(v1_node=types.SimpleNamespace(V1Node=FakeNode))  # type: ignore[attr-defined]
    client.CoreV1Api = CLUSTER.core_api  # type: ignore[attr-defined]
    client.AppsV1Api = FakeAppsApi  # type: ignore[attr-defined]
    config = types.ModuleType("kubernetes.config")
    config.load_kube_config = lambda *args, **kwargs: None  # type: ignore[attr-defined]
    kubernetes.client, kubernetes.config = client, config  # type: ignore[attr-defined]
    tensorrt = types.ModuleType("tensorrt")
    tensorrt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, *a: None})  # type: ignore[attr-defined]
    stand_ins = {
        "kubernetes": kubernetes,
        "kubernetes.client": client,
        "kubernetes.config": config,
        "tensorrt": tensorrt,
        "grpc": types.ModuleType("grpc"),
        "frontend_service_edgetpu_pb2": types.ModuleType("frontend_service_edgetpu_pb2"),
        "frontend_service_edgetpu_pb2_grpc": types.ModuleType("frontend_service_edgetpu_pb2_grpc"),
    }
    sys.modules.update(stand_ins)


@dataclass
class Authors:
    """The authors' modules, imported from their repository with the stand-ins in place."""

    tpu: types.ModuleType  # placement_algorithms_edgetpu
    gpu: types.ModuleType  # placement_algorithms_trt
    service_tpu: types.ModuleType  # control_service_edgetpu
    service_gpu: types.ModuleType  # control_service_trt
    service_mixed: types.ModuleType  # control_service_heter


def import_authors(ibis: Path) -> Authors:
    control = ibis / "ibis" / "control_service"
    if not (control / "placement_algorithms_edgetpu.py").is_file():
        raise SystemExit(
            f"{ibis} does not look like a copy of umassos/ibis (no {control}/placement_algorithms_edgetpu.py)"
        )
    install_stand_ins()
    sys.path.insert(0, str(control))
    path = control / "placement_algorithms_edgetpu.py"
    source = path.read_text()
    if source.count(PY2_LITERAL) != 1:
        raise SystemExit(f"{path}: expected one line {PY2_LITERAL.strip()!r}; is this the released code?")
    tpu = types.ModuleType("placement_algorithms_edgetpu")
    tpu.__file__ = str(path)
    exec(compile(source.replace(PY2_LITERAL, "FRONTEND_THRESHOLD = 0.8\n"), str(path), "exec"), tpu.__dict__)
    sys.modules["placement_algorithms_edgetpu"] = tpu
    modules = {name: importlib.import_module(name) for name in ("placement_algorithms_trt", "control_service_base")}
    for name in ("control_service_edgetpu", "control_service_trt", "control_service_heter"):
        modules[name] = importlib.import_module(name)
    # No ssh/scp: the edgeTPU service copies model files to the chosen host.
    modules["control_service_edgetpu"].copy_to_host = lambda *args, **kwargs: None
    modules["control_service_base"].copy_to_host = lambda *args, **kwargs: None
    # Their modules configure the root logger at INFO; the reasons are collected by ReasonLog instead.
    logging.getLogger().handlers[:] = [logging.NullHandler()]
    return Authors(
        tpu=tpu,
        gpu=modules["placement_algorithms_trt"],
        service_tpu=modules["control_service_edgetpu"],
        service_gpu=modules["control_service_trt"],
        service_mixed=modules["control_service_heter"],
    )


def file_digests(ibis: Path) -> dict[str, str]:
    return {name: hashlib.sha256((ibis / name).read_bytes()).hexdigest() for name in AUTHORS_FILES}


# --- why a node was rejected: the authors' own log lines -----------------------------------------


def reason_codes(message: str) -> list[str]:
    """Map one of the authors' feasibility log lines to reason codes ([] for 'feasible')."""
    if "available memory" in message:
        return ["memory"]
    if message.startswith("System utilization"):
        return ["utilization"]
    if message.startswith("Front End utilization"):
        return ["frontend_utilization"]
    if "is NOT feasible" in message:
        codes = []
        if "load feasible: False" in message:
            codes.append("frontend_load")
        if "SLA feasible: False" in message:
            codes.append("slo")
        return codes
    return []


class ReasonLog(logging.Handler):
    """Collects, per device kind and node, the reasons the authors' checks log while probing it."""

    def __init__(self, authors: Authors):
        super().__init__(logging.INFO)
        self.current: list[tuple[str, str]] = []  # (kind, node) of the check running now, outermost first
        self.reasons: dict[str, dict[str, list[str]]] = {}
        for kind, module in ((TPU, authors.tpu), (GPU, authors.gpu)):
            module.LOGGER.handlers.clear()
            module.LOGGER.addHandler(self)
            module.LOGGER.propagate = False
            for name in ("is_node_feasible", "is_node_feasible_MaaS"):
                if hasattr(module, name):
                    setattr(module, name, self.wrap(kind, module, getattr(module, name)))

    def wrap(self, kind: str, module: types.ModuleType, check: Any) -> Any:
        def traced(frontend_service: Any, backend_service: Any, node: Any) -> bool:
            self.current.append((kind, node.node_name))
            try:
                if node.node_name in module.INFEASIBLE_NODES:
                    self.add(["excluded"])
                feasible = check(frontend_service, backend_service, node)
            finally:
                self.current.pop()
            return bool(feasible)

        return traced

    def add(self, codes: list[str]) -> None:
        if not self.current or not codes:
            return
        kind, node = self.current[0]
        seen = self.reasons.setdefault(kind, {}).setdefault(node, [])
        seen.extend(c for c in codes if c not in seen)

    def emit(self, record: logging.LogRecord) -> None:
        self.add(reason_codes(record.getMessage()))

    def take(self) -> dict[str, dict[str, list[str]]]:
        reasons, self.reasons = self.reasons, {}
        return reasons


# --- one run: a service, its policies and variant, over one instance ------------------------------


@dataclass(frozen=True)
class Run:
    """One way of running the authors' code, and the optplace method and options that mirror it."""

    service: str  # "trt" | "edgetpu" | "heter"
    tpu_method: str | None
    gpu_method: str | None
    method: str  # the optplace method that reproduces it
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def option_map(self) -> dict[str, Any]:
        return dict(self.options)

    def describe(self) -> dict[str, Any]:
        authors: dict[str, Any] = {"service": SERVICES[self.service]}
        if self.tpu_method:
            authors["tpu_method"] = self.tpu_method
        if self.gpu_method:
            authors["gpu_method"] = self.gpu_method
        if self.service == "heter":
            authors["dev_method"] = "best"
        opts = self.option_map
        authors["frontend_threshold_edgetpu"] = 8 if opts.get("frontend_threshold_8") else 0.8
        if self.service == "heter":
            authors["device_exclusions"] = not opts.get("no_device_type_check", False)
        return {"authors": authors, "optplace": {"method": self.method, "options": opts}}


SERVICES = {
    "trt": "control_service_trt.ControlServiceGPU",
    "edgetpu": "control_service_edgetpu.ControlServiceTPU",
    "heter": "control_service_heter.ControlService",
}
POLICY_METHOD = {"depth_first": "ibis_first_fit", "breadth_first": "ibis_breadth_first"}
TPU_METHOD = {"depth_first": "dfs", "breadth_first": "bfs"}
GPU_METHOD = {"depth_first": "modeling_dfs", "breadth_first": "modeling_bfs"}


def runs_for(kinds: set[str]) -> list[Run]:
    """Every policy, and each of the released code's quirks that can matter, for a cluster's device kinds."""
    runs = []
    if kinds == {GPU}:
        for policy, method in POLICY_METHOD.items():
            runs.append(Run("trt", None, GPU_METHOD[policy], method, (("gpu_share_anyway", True),)))
            runs.append(Run("heter", None, GPU_METHOD[policy], method))
    elif kinds == {TPU}:
        for policy, method in POLICY_METHOD.items():
            runs.append(Run("edgetpu", TPU_METHOD[policy], None, method))
            runs.append(Run("edgetpu", TPU_METHOD[policy], None, method, (("frontend_threshold_8", True),)))
    else:
        combos = [(policy, policy, method) for policy, method in POLICY_METHOD.items()]
        combos.append(("breadth_first", "depth_first", "ibis_heterogeneous"))
        for tpu_policy, gpu_policy, method in combos:
            for quirks in ((), (("frontend_threshold_8", True),), (("no_device_type_check", True),)):
                runs.append(Run("heter", TPU_METHOD[tpu_policy], GPU_METHOD[gpu_policy], method, quirks))
    return runs


@dataclass
class Application:
    """What the authors' model configurations need from one optplace application."""

    name: str
    model: str
    shareable: bool
    rate: float
    slo_ms: float
    frontend_mb: float
    profiles: dict[str, dict[str, float]]  # kind -> service_time_ms, switch_overhead_ms, memory_mb


def read_instance(path: Path) -> tuple[dict[str, str], dict[str, float], list[Application]]:
    """Node kinds and memory, and the applications, of a seed instance (one accelerator per node)."""
    doc = json.loads(path.read_text())
    discipline = {t["name"]: t["discipline"] for t in doc["accelerator_types"]}
    kind_of = {"ps": GPU, "fcfs": TPU}
    node_kind, node_memory = {}, {}
    for node in doc["nodes"]:
        if len(node["accelerators"]) != 1:
            raise SystemExit(f"{path}: node {node['name']} has {len(node['accelerators'])} accelerators; need one")
        node_kind[node["name"]] = kind_of[discipline[node["accelerators"][0]["type"]]]
        node_memory[node["name"]] = node["memory_mb"]
    models = {m["name"]: m for m in doc["models"]}
    apps = []
    for a in doc["applications"]:
        model = models[a["model"]]
        profiles = {}
        for type_name, p in model["profiles"].items():
            profiles[kind_of[discipline[type_name]]] = {
                "service_time_ms": p["service_time_ms"],
                "switch_overhead_ms": p.get("switch_overhead_ms", 0.0),
                "memory_mb": p.get("memory_mb", 0.0),
            }
        apps.append(
            Application(
                name=a["name"],
                model=a["model"],
                shareable=model.get("shareable", True),
                rate=a["rate_rps"],
                slo_ms=a["slo"]["latency_ms"],
                frontend_mb=a.get("frontend_memory_mb", 0.0),
                profiles=profiles,
            )
        )
    return node_kind, node_memory, apps


class Harness:
    def __init__(self, authors: Authors, model_dir: Path):
        self.authors = authors
        self.model_dir = model_dir
        self.log = ReasonLog(authors)

    def identity(self, app: Application) -> str:
        """The model file an application loads: one per model, or one per application if not shareable."""
        name = app.model if app.shareable else f"{app.model}@{app.name}"
        path = self.model_dir / f"{name}.tflite"
        if not path.exists():
            path.write_text(name)
        return name

    def gpu_config(self, app: Application) -> Any:
        p = app.profiles.get(GPU, {})
        return self.authors.service_gpu.ModelConfigGPU(
            model_name=app.model,
            model_path="/models/" + app.model,
            input_rate=app.rate,
            service_rate=1000.0 / p["service_time_ms"] if p else None,
            frontend_memory=app.frontend_mb,
            backend_memory=p.get("memory_mb"),
            frontend_image="frontend",
            backend_image="backend",
            sla=app.slo_ms,
            input_shape="1x3x224x224",
            output_bindings="output",
            wait_time=0,
            model_type="MAAS" if app.shareable else "user",
        )

    def tpu_config(self, app: Application) -> Any:
        p = app.profiles.get(TPU, {})
        return self.authors.service_tpu.ModelConfigTPU(
            model_dir=str(self.model_dir),
            model_filename=self.identity(app) + ".tflite",
            model_type="classification",
            input_rate=app.rate,
            service_rate=1000.0 / p["service_time_ms"] if p else None,
            switch_overhead=p.get("switch_overhead_ms"),
            frontend_memory=app.frontend_mb,
            backend_memory=p.get("memory_mb"),
            frontend_image="frontend",
            backend_image="backend",
            sla=app.slo_ms,
            input_shape="1x224x224x3",
        )

    def mixed_config(self, app: Application) -> Any:
        g, t = self.gpu_config(app), self.tpu_config(app)
        return self.authors.service_mixed.ModelConfig(
            model_dir_tpu=t.model_dir,
            model_filename_tpu=t.model_filename,
            model_type_tpu=t.model_type,
            input_rate=app.rate,
            service_rate_tpu=t.service_rate,
            switch_overhead=t.switch_overhead,
            frontend_memory_tpu=t.frontend_memory,
            backend_memory_tpu=t.backend_memory,
            frontend_image_tpu=t.frontend_image,
            backend_image_tpu=t.backend_image,
            sla=app.slo_ms,
            input_shape_tpu=t.input_shape,
            model_path_gpu=g.model_path,
            model_name=app.model,
            output_bindings=g.output_bindings,
            deployment_type=g.model_type,
            frontend_image_gpu=g.frontend_image,
            backend_image_gpu=g.backend_image,
            service_rate_gpu=g.service_rate,
            frontend_memory_gpu=g.frontend_memory,
            backend_memory_gpu=g.backend_memory,
            input_shape_gpu=g.input_shape,
            target_dev=None,  # neither 'gpu' nor 'tpu': the service chooses
        )

    def service(self, run: Run) -> Any:
        a = self.authors
        if run.service == "trt":
            return a.service_gpu.ControlServiceGPU(method=run.gpu_method)
        if run.service == "edgetpu":
            return a.service_tpu.ControlServiceTPU(method=run.tpu_method)
        # The GPU-only runs without the retry use the mixed service with no edgeTPU method needed.
        return a.service_mixed.ControlService(tpu_method=run.tpu_method or "bfs", gpu_method=run.gpu_method)

    def run(self, path: Path, run: Run) -> list[dict[str, Any]]:
        node_kind, node_memory, apps = read_instance(path)
        CLUSTER.nodes = [FakeNode(CONTROL_NODE, 1 << 20)]
        for name, mb in node_memory.items():
            kib = mb * 1024
            if kib != int(kib):
                raise SystemExit(f"{path}: node {name} memory {mb} MB is not a whole number of KiB")
            CLUSTER.nodes.append(FakeNode(name, int(kib)))
        os.environ["CONTROL_SERVICE_HOSTNAME"] = CONTROL_NODE
        self.authors.tpu.FRONTEND_THRESHOLD = 8 if run.option_map.get("frontend_threshold_8") else 0.8
        check_kind = not run.option_map.get("no_device_type_check", False)
        service = self.service(run)
        decisions = []
        for app in apps:
            self.set_exclusions(app, node_kind, check_kind)
            before = self.models_on_nodes(service)
            self.log.take()
            config = {"trt": self.gpu_config, "edgetpu": self.tpu_config, "heter": self.mixed_config}[run.service](app)
            with contextlib.redirect_stdout(io.StringIO()):  # their "[INFO] Deploying ..." prints
                _, backend = service.deploy(config)
            reasons = self.log.take()
            decisions.append(self.decision(app, backend, before, reasons))
        return decisions

    def set_exclusions(self, app: Application, node_kind: dict[str, str], check_kind: bool) -> None:
        for kind, module in ((TPU, self.authors.tpu), (GPU, self.authors.gpu)):
            module.INFEASIBLE_NODES.clear()
            for node, this_kind in node_kind.items():
                if kind not in app.profiles or (check_kind and this_kind != kind):
                    module.INFEASIBLE_NODES[node] = True

    def models_on_nodes(self, service: Any) -> dict[tuple[str, str], set[str]]:
        """(node, kind) -> the models whose backend a newcomer could join there."""
        seen: dict[tuple[str, str], set[str]] = {}
        for name, node in service.nodes.items():
            for backend in node.backend_services.values():
                if backend.dev_type == TPU:
                    seen.setdefault((name, TPU), set()).update(
                        f.removesuffix(".tflite") for f in backend.model_filenames
                    )
                elif backend.model_type == "MAAS":
                    seen.setdefault((name, GPU), set()).add(backend.model_name)
        return seen

    def decision(
        self, app: Application, backend: Any, before: dict[tuple[str, str], set[str]], reasons: dict
    ) -> dict[str, Any]:
        if backend is None:
            rejected: dict[str, dict[str, list[str]]] = {}
            for kind, per_node in sorted(reasons.items()):
                for node, codes in sorted(per_node.items()):
                    if codes != ["excluded"]:
                        rejected.setdefault(kind, {}).setdefault("+".join(codes), []).append(node)
            return {"application": app.name, "node": None, "rejected": rejected}
        kind = backend.dev_type
        node = backend.node.node_name
        model = self.identity(app) if kind == TPU else app.model
        shared = model in before.get((node, kind), set()) and (kind == TPU or app.shareable)
        return {"application": app.name, "node": node, "device": kind, "shared": shared}


def record(ibis: Path, instances: list[Path]) -> dict[str, dict[str, Any]]:
    authors = import_authors(ibis)
    digests = file_digests(ibis)
    outputs = {}
    with tempfile.TemporaryDirectory(prefix="ibis-models-") as model_dir:
        harness = Harness(authors, Path(model_dir))
        for path in instances:
            node_kind, _, _ = read_instance(path)
            runs = []
            for run in runs_for(set(node_kind.values())):
                decisions = harness.run(path, run)
                runs.append(
                    {**run.describe(), "hosted": sum(d["node"] is not None for d in decisions), "decisions": decisions}
                )
            outputs[path.stem] = {
                "instance": str(path.relative_to(ROOT)),
                "instance_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "source": {
                    "repository": "https://github.com/umassos/ibis",
                    "licence": "MIT (see README.md beside this file)",
                    "files_sha256": digests,
                    "recorded_by": "benchmarks/ibis_fixtures.py",
                },
                "runs": runs,
            }
    return outputs


def dump(doc: dict[str, Any]) -> str:
    """JSON with one decision per line: small diffs, readable by eye."""
    lines = ["{"]
    head = {k: v for k, v in doc.items() if k != "runs"}
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, sort_keys=True)},")
    lines.append('  "runs": [')
    for r, run in enumerate(doc["runs"]):
        lines.append("    {")
        for key in ("authors", "optplace", "hosted"):
            lines.append(f"      {json.dumps(key)}: {json.dumps(run[key], sort_keys=True)},")
        lines.append('      "decisions": [')
        decisions = run["decisions"]
        for i, d in enumerate(decisions):
            lines.append("        " + json.dumps(d, sort_keys=True) + ("," if i < len(decisions) - 1 else ""))
        lines.append("      ]")
        lines.append("    }" + ("," if r < len(doc["runs"]) - 1 else ""))
    lines.append("  ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ibis", type=Path, required=True, help="a local copy of github.com/umassos/ibis")
    parser.add_argument("--instances", type=Path, nargs="*", default=sorted(SEED.glob("*.json")))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="compare with the recorded files, write nothing")
    args = parser.parse_args(argv)
    outputs = record(args.ibis.resolve(), [p.resolve() for p in args.instances])
    changed = []
    print(f"{'instance':<22} {'method':<20} {'options':<34} {'hosted':>6}")
    for stem, doc in outputs.items():
        for run in doc["runs"]:
            opts = ",".join(k for k, v in run["optplace"]["options"].items() if v) or "-"
            print(f"{stem:<22} {run['optplace']['method']:<20} {opts:<34} {run['hosted']:>6}")
        text = dump(doc)
        target = args.out / f"{stem}.json"
        if args.check:
            if not target.exists() or target.read_text() != text:
                changed.append(str(target))
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if args.check and changed:
        print("differs from the recorded decisions:", *changed, sep="\n  ")
        return 1
    if not args.check:
        print(f"wrote {len(outputs)} files under {args.out}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
