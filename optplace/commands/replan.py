"""``optplace replan``: re-place a running cluster after changes, with a safe migration plan."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from optplace.migration.replacement import DEFAULT_METHOD

    parser = subparsers.add_parser(
        "replan",
        help="re-place a running cluster after changes, with a safe (make-before-break) migration plan",
        description=(
            "FILE is an instance whose current_accelerator fields say where applications run now; CHANGES "
            "is a JSON object of added/removed applications, new rates, unavailable or draining accelerators, "
            "max_moves and move_cost (docs/replan.md). Prints the plan, then the target placement."
        ),
        epilog="exit status: 0 a target reached by a safe plan (complete or fallback); 1 no target; "
        "2 bad input or usage; 130 interrupted; 141 stdout closed.",
    )
    parser.add_argument(
        "instance", metavar="FILE", help="instance JSON file with the current placement, or - for standard input"
    )
    parser.add_argument("--changes", "-c", metavar="CHANGES", default=None, help="changes JSON file (default: none)")
    parser.add_argument(
        "--method", "-m", default=DEFAULT_METHOD, help=f"method for the target (default {DEFAULT_METHOD})"
    )
    parser.add_argument("--time-limit", type=float, default=None, metavar="S", help="wall-clock limit per target solve")
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed of the method and solver, for reproducibility (default 0)"
    )
    parser.add_argument("--threads", type=int, default=None, help="solver threads (default: the solver's own choice)")
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="method-specific option; repeatable"
    )
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", default=None, metavar="FILE", help="also write the JSON result to FILE")
    parser.set_defaults(handler=run_replan)


def run_replan(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from optplace.commands.solve import parse_options
    from optplace.exceptions import InvalidInputError
    from optplace.io import load_instance, validation_errors
    from optplace.migration import Changes, replan
    from optplace.params import SolveParams

    try:
        instance = load_instance(args.instance)
        changes = _load_changes(args.changes) if args.changes else Changes()
        params = SolveParams(
            time_limit_s=args.time_limit, seed=args.seed, threads=args.threads, options=parse_options(args.option)
        )
        result = replan(instance, changes, args.method, params)
    except InvalidInputError as error:  # instance, changes, params, method or its options
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:
        lines = "\n".join(f"  {e['field'] or '(changes)'}: {e['message']}" for e in validation_errors(error))
        print(f"error: {args.changes or 'parameters'}: invalid\n{lines}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = result.model_dump_json(indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text if args.json else result.summary(instance.name))
    return 0 if result.outcome.value != "none" else 1


def _load_changes(path: str):
    from optplace.migration import Changes

    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}") from None
    except OSError as error:
        raise OSError(f"{path}: cannot read the file: {error.strerror or error}") from None
    return Changes.model_validate(data)
