"""``optplace solve`` and ``optplace methods``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from optplace.commands.table import format_table
from optplace.profiles import PROFILES_HELP

if TYPE_CHECKING:
    from optplace.progress import ProgressEvent


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "solve",
        help="place the applications of one instance file",
        description="Progress (time, incumbent, bound, gap per better placement or tighter bound) goes to stderr: "
        "from the start with -v, after the first second by default (a quick solve stays quiet), never with -q. "
        "Ctrl-C stops the search and prints the best placement found so far (stop reason interrupted).",
        epilog="exit status: 0 a verified placement (optimal or feasible); 1 none (infeasible, no solution found, "
        "error); 2 bad input or usage; 130 interrupted by Ctrl-C (the best placement found so far is printed "
        "when there is one); 141 stdout closed.",
    )
    parser.add_argument("instance", help="instance JSON file, or - for standard input")
    parser.add_argument("--method", "-m", default="auto", help="method name (see 'optplace methods'); default auto")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S", help="wall-clock limit in seconds")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the method and solver, for reproducibility")
    parser.add_argument("--threads", type=int, default=None, help="solver threads (default: the solver's own choice)")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="reproducible run: the time limit becomes a work budget (node, iteration and deterministic-time "
        "limits), one solver thread; the same input and seed give the same placement on any machine",
    )
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
    methods.add_argument(
        "--json", action="store_true", help="print the methods as JSON, each with its options' JSON Schema"
    )
    methods.set_defaults(handler=run_methods)


def run_solve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from optplace.cli import EXIT_INTERRUPTED
    from optplace.io import InstanceError, load_instance
    from optplace.options import MethodOptionsError
    from optplace.params import SolveParams
    from optplace.profiles import ProfilesError, apply_profiles_file
    from optplace.registry import check_options, get_method
    from optplace.result import StopReason
    from optplace.solve import solve

    try:
        instance = load_instance(args.instance)
        if args.profiles:
            instance = apply_profiles_file(instance, args.profiles)
        params = SolveParams(
            time_limit_s=args.time_limit,
            seed=args.seed,
            threads=args.threads,
            deterministic=args.deterministic,
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
    result = solve(instance, args.method, params, on_incumbent=progress_printer(args.verbosity))
    text = result.model_dump_json(indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if args.json:
        print(text)
    else:
        print(result.summary(instance.name))
    if result.stop_reason == StopReason.INTERRUPTED:
        return EXIT_INTERRUPTED
    return 0 if result.status.has_solution else 1


QUIET_PROGRESS_S = 1.0  # without -v, progress lines start once a solve has run this long


def progress_printer(verbosity: int) -> Callable[[ProgressEvent], None] | None:
    """Progress lines on stderr: all with -v, those after :data:`QUIET_PROGRESS_S` by default
    (each line carries the incumbent and bound so far), none with -q."""
    if verbosity < 0:
        return None
    start_s = 0.0 if verbosity > 0 else QUIET_PROGRESS_S

    def show(event: ProgressEvent) -> None:
        if event.time_s >= start_s:
            print(event.line(), file=sys.stderr, flush=True)

    return show


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
