"""``optplace solve`` and ``optplace methods``."""

from __future__ import annotations

import argparse
import sys

from optplace.commands.table import format_table, interval, number
from optplace.profiles import PROFILES_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("solve", help="place the applications of one instance file")
    parser.add_argument("instance", help="instance JSON file")
    parser.add_argument("--method", "-m", default="auto", help="method name (see 'optplace methods'); default auto")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S", help="wall-clock limit in seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--objective",
        action="append",
        default=None,
        metavar="NAME",
        help="override the instance's objectives (repeat for lexicographic order)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method-specific option (VALUE parsed as JSON when it is valid JSON); repeatable",
    )
    parser.add_argument(
        "--verify",
        choices=("none", "simulate"),
        default="none",
        help="simulate: also simulate the placement and give every hosted SLO a 95%% interval and a verdict",
    )
    parser.add_argument(
        "--verify-requests",
        type=int,
        default=None,
        metavar="N",
        help="with --verify simulate: measured requests on the quietest used accelerator (default 20000)",
    )
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", default=None, metavar="FILE", help="also write the JSON result to FILE")
    parser.add_argument("--profiles", default=None, metavar="FILE", help=PROFILES_HELP)
    parser.set_defaults(handler=run_solve)

    methods = subparsers.add_parser("methods", help="list the available methods")
    methods.add_argument("--json", action="store_true", help="print each method with its options' JSON Schema")
    methods.set_defaults(handler=run_methods)


def run_solve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from optplace.io import InstanceError, load_instance
    from optplace.options import MethodOptionsError
    from optplace.params import SolveParams
    from optplace.profiles import ProfilesError, apply_profiles_file
    from optplace.registry import check_options, get_method
    from optplace.solve import solve

    try:
        instance = load_instance(args.instance)
        if args.profiles:
            instance = apply_profiles_file(instance, args.profiles)
        params = SolveParams(
            time_limit_s=args.time_limit,
            seed=args.seed,
            threads=args.threads,
            objectives=args.objective,
            options=parse_options(args.option),
            verify=args.verify,
            simulation=verify_settings(args),
        )
    except (InstanceError, ProfilesError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ValidationError, ValueError) as error:
        print(f"error: invalid parameters: {error}", file=sys.stderr)
        return 2
    try:
        check_options(get_method(args.method), params.options, instance)
    except MethodOptionsError as error:
        lines = "\n".join(f"  --option {e['field'].removeprefix('options.')}: {e['message']}" for e in error.errors)
        print(f"error: invalid --option for method {args.method!r}:\n{lines}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = solve(instance, args.method, params)
    text = result.model_dump_json(indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if args.json:
        print(text)
    else:
        print(render_result(result, instance.name))
    return 0 if result.status.value in ("optimal", "feasible") else 1


def verify_settings(args: argparse.Namespace) -> dict:
    """The ``params.simulation`` bounds the flags ask for (validated by SolveParams)."""
    if args.verify_requests is None:
        return {}
    return {"requests_per_accelerator": args.verify_requests}


def parse_options(pairs: list[str]) -> dict:
    """``["order=slack", "budget_s=2"]`` -> ``{"order": "slack", "budget_s": 2}``."""
    import json

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {pair!r} must look like KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def render_result(result, instance_name: str) -> str:
    rows = [
        (
            a.application,
            a.accelerator,
            a.node,
            number(a.predicted_latency_ms),
            f"{a.slo_ms:g}",
            a.statistic,
            "yes" if a.meets_slo else "NO",
        )
        for a in result.assignments
    ]
    parts = [
        f"instance {instance_name}: method {result.method}, status {result.status.value} "
        f"({result.stop_reason.value}) in {result.runtime_s:.3f} s"
    ]
    if rows:
        parts.append(
            format_table(
                ["application", "accelerator", "node", "latency_ms", "slo_ms", "stat", "meets"],
                rows,
                align_right={3, 4},
            )
        )
    if result.simulation is not None:
        parts.append(render_simulation(result.simulation))
    if result.unplaced:
        parts.append("unplaced:")
        parts.append(
            format_table(
                ["application", "reason", "detail"],
                [(u.application, u.reason.value, u.detail) for u in result.unplaced],
            )
        )
    bound = "-" if result.bound is None else f"{result.bound:g}"
    gap = "-" if result.gap is None else f"{100 * result.gap:.2f}%"
    objective = "-" if result.objective is None else f"{result.objective:g}"
    parts.append(
        f"hosted {result.hosted}/{result.hosted + len(result.unplaced)}; "
        f"{result.objective_name} = {objective}, bound {bound}, gap {gap}; "
        f"accelerators used {result.objectives.get('min_accelerators', 0):g}"
    )
    if result.violates_slo:
        parts.append(
            f"WARNING: this placement violates SLOs ({len(result.violations)} violations; "
            f"{result.hosted_without_violation} hosted without violation)"
        )
    if result.message:
        parts.append(result.message)
    return "\n".join(parts)


def render_simulation(check) -> str:
    """The verify=simulate table: each hosted SLO predicted, simulated (95% interval) and judged."""
    rows = [
        (
            a.application,
            a.accelerator,
            a.statistic,
            number(a.predicted_ms),
            interval(a.simulated_ms),
            f"{a.slo_ms:g}",
            a.verdict.value,
        )
        for a in check.applications
    ]
    capped = " (capped by max_requests)" if check.capped else ""
    lines = [
        f"simulation check: {check.requests_simulated} requests simulated in {check.runtime_s:.2f} s, "
        f"{check.requests_per_accelerator} per quietest accelerator{capped}; seed {check.seed}; "
        f"95% intervals from {check.batches} batch means"
    ]
    if rows:
        lines.append(
            format_table(
                ["application", "accelerator", "stat", "predicted", "simulated", "slo_ms", "verdict"],
                rows,
                align_right={3, 4, 5},
            )
        )
    lines.append(
        f"simulated: {len(check.sure_violations)} sure violations, {len(check.borderline)} borderline"
        + (f" ({', '.join((check.sure_violations + check.borderline)[:10])})" if not check.ok else "")
    )
    return "\n".join(lines)


def run_methods(args: argparse.Namespace) -> int:
    import json

    from optplace.registry import list_methods

    methods = list_methods()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": m.name,
                        "kind": m.kind,
                        "description": m.description,
                        "may_violate_slo": m.may_violate_slo,
                        "options": m.options_schema(),
                    }
                    for m in methods
                ],
                indent=2,
            )
        )
    else:
        print(format_table(["method", "kind", "description"], [(m.name, m.kind, m.description) for m in methods]))
    return 0
