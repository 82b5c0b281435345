"""``optplace import k8s`` and ``optplace export k8s``: a Kubernetes cluster in, manifests out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    importer = subparsers.add_parser(
        "import",
        help="read a cluster's state into an instance file (see 'optplace import k8s --help')",
        description="Read the state of a cluster into an optplace instance file.",
    )
    sources = importer.add_subparsers(dest="source", metavar="SOURCE")
    k8s_import = sources.add_parser(
        "k8s",
        help="kubectl get nodes/pods -o json documents -> instance with the current placement",
        description=(
            "Reads 'kubectl get nodes -o json' and 'kubectl get pods -A -o json' (v1 NodeList/PodList or kubectl's "
            "List) into an instance: accelerators from extended resources, node memory and labels, applications from "
            "pods with optplace.io/ annotations and where they run now. Models and profiles come from --models, "
            "which the cluster does not know. Writes the instance JSON to --out or standard output; notes on what was "
            "left out go to standard error. See docs/kubernetes.md."
        ),
    )
    k8s_import.add_argument("nodes", metavar="NODES.json", help="output of 'kubectl get nodes -o json'")
    k8s_import.add_argument("pods", metavar="PODS.json", help="output of 'kubectl get pods -A -o json'")
    k8s_import.add_argument(
        "--models",
        required=True,
        metavar="CATALOG.json",
        help="accelerator_types and models with profiles (optionally settings, objectives, host_all)",
    )
    k8s_import.add_argument(
        "--config", metavar="K8S.json", default=None, help="resource -> accelerator type rules (default: docs)"
    )
    k8s_import.add_argument("--name", default="kubernetes", help="instance name (default: kubernetes)")
    k8s_import.add_argument("--out", metavar="FILE", default=None, help="write the instance here (default: stdout)")
    k8s_import.set_defaults(handler=run_import)
    importer.set_defaults(handler=_needs_source(importer))

    exporter = subparsers.add_parser(
        "export",
        help="write a placement as deployable manifests (see 'optplace export k8s --help')",
        description="Write a solve result as manifests for a cluster.",
    )
    targets = exporter.add_subparsers(dest="target", metavar="TARGET")
    k8s_export = targets.add_parser(
        "k8s",
        help="solve result -> Deployments (front end per application, backend per serving process) and Services",
        description=(
            "Writes one file per workload into --out: per hosted application a front-end Deployment carrying its "
            "optplace.io/ annotations, pinned to the chosen node; per serving process (model on a time-sliced GPU, "
            "or the whole device for an edgeTPU) a backend Deployment requesting the extended resource, and its "
            "Service. Only a placement that passes the evaluator is written. See docs/kubernetes.md."
        ),
    )
    k8s_export.add_argument("result", metavar="RESULT.json", help="a SolveResult ('optplace solve --out')")
    k8s_export.add_argument(
        "--instance", required=True, metavar="INSTANCE.json", help="the instance the result was solved from"
    )
    k8s_export.add_argument("--out", required=True, metavar="DIR", help="an empty or new folder")
    k8s_export.add_argument(
        "--config", metavar="K8S.json", default=None, help="namespace, images and port (see docs/kubernetes.md)"
    )
    k8s_export.add_argument("--format", choices=("yaml", "json"), default="yaml", help="file format (default yaml)")
    k8s_export.add_argument("--force", action="store_true", help="write into a folder that already holds files")
    k8s_export.set_defaults(handler=run_export)
    exporter.set_defaults(handler=_needs_source(exporter))


def _needs_source(parser: argparse.ArgumentParser):
    def handler(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return handler


def _read_json(path: str, what: str) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path}: cannot read the {what}: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None


def run_import(args: argparse.Namespace) -> int:
    from optplace.k8s.cluster import import_cluster
    from optplace.k8s.config import Catalog, KubernetesConfig, read_json_model

    try:
        catalog = read_json_model(args.models, Catalog, "model catalog")
        config = read_json_model(args.config, KubernetesConfig, "Kubernetes configuration") if args.config else None
        imported = import_cluster(
            _read_json(args.nodes, "node list"),
            _read_json(args.pods, "pod list"),
            catalog,
            config,
            name=args.name,
            nodes_source=args.nodes,
            pods_source=args.pods,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in imported.warnings:
        print(f"note: {warning}", file=sys.stderr)
    text = imported.instance.model_dump_json(indent=2, exclude_defaults=True) + "\n"
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as error:
            print(f"error: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
            return 2
        instance = imported.instance
        placed = sum(1 for a in instance.applications if a.current_accelerator)
        accelerators = sum(len(n.accelerators) for n in instance.nodes)
        print(
            f"{args.out}: {len(instance.nodes)} nodes, {accelerators} accelerators, "
            f"{len(instance.applications)} applications ({placed} running, {len(instance.applications) - placed} to place)"
        )
    else:
        sys.stdout.write(text)
    return 0


def run_export(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from optplace.io import InstanceError, load_instance
    from optplace.k8s.config import KubernetesConfig, read_json_model
    from optplace.k8s.manifests import build_manifests, write_manifests
    from optplace.result import SolveResult

    try:
        instance = load_instance(args.instance)
        try:
            result = SolveResult.model_validate(_read_json(args.result, "solve result"))
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{args.result}: not a solve result: {where}: {first['msg']}") from None
        config = read_json_model(args.config, KubernetesConfig, "Kubernetes configuration") if args.config else None
        export = build_manifests(instance, result, config)
        paths = write_manifests(export, Path(args.out), args.format, force=args.force)
    except (InstanceError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write to {args.out}: {error.strerror or error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    if export.unplaced:
        print(f"not hosted (no manifests): {', '.join(export.unplaced)}", file=sys.stderr)
    return 0
