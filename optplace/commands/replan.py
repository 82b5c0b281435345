"""``optplace replan``: re-place a running cluster after changes, with a safe migration plan."""

from __future__ import annotations

import argparse
import json
import sys

from optplace.commands.table import format_table, number


def register(subparsers: argparse._SubParsersAction) -> None:
    from optplace.migration.replacement import DEFAULT_METHOD

    parser = subparsers.add_parser(
        "replan",
        help="re-place a running cluster after changes, with a safe (make-before-break) migration plan",
        description=(
            "FILE is an instance whose current_accelerator fields say where applications run now; CHANGES "
            "is a JSON object of added/removed applications, new rates, unavailable or draining accelerators, "
            "max_moves and move_cost (docs/replan.md). Prints the plan; exit 0 when a target was reached, "
            "1 when none was found, 2 on bad input."
        ),
    )
    parser.add_argument("instance", metavar="FILE", help="instance JSON file with the current placement")
    parser.add_argument("--changes", "-c", metavar="CHANGES", default=None, help="changes JSON file (default: none)")
    parser.add_argument(
        "--method", "-m", default=DEFAULT_METHOD, help=f"method for the target (default {DEFAULT_METHOD})"
    )
    parser.add_argument("--time-limit", type=float, default=None, metavar="S", help="wall-clock limit per target solve")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="method-specific option; repeatable"
    )
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", default=None, metavar="FILE", help="also write the JSON result to FILE")
    parser.set_defaults(handler=run_replan)


def run_replan(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from optplace.commands.solve import parse_options
    from optplace.io import InstanceError, load_instance, validation_errors
    from optplace.migration import Changes, ChangesError, replan
    from optplace.params import SolveParams

    try:
        instance = load_instance(args.instance)
        changes = _load_changes(args.changes) if args.changes else Changes()
        params = SolveParams(
            time_limit_s=args.time_limit, seed=args.seed, threads=args.threads, options=parse_options(args.option)
        )
        result = replan(instance, changes, args.method, params)
    except (InstanceError, ChangesError) as error:
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
    print(text if args.json else render_replan(result, instance.name))
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


def render_replan(result, instance_name: str) -> str:
    """The plan as a table, then the target's summary and anything that blocked the best target."""
    from optplace.commands.solve import render_result

    target = result.target
    parts = [
        f"instance {instance_name}: re-placement {result.outcome.value} in {result.runtime_s:.3f} s "
        f"(solve {result.solve_runtime_s:.3f} s, plan {result.plan_runtime_s:.3f} s, "
        f"{result.states_checked} states checked)"
    ]
    if result.initial_violations:
        parts.append(f"after the changes, before any step: {len(result.initial_violations)} violations")
    if result.lost:
        parts.append("lost with their accelerator: " + ", ".join(result.lost))
    if result.plan:
        rows = [
            (
                s.index,
                s.action.value,
                s.application,
                s.accelerator,
                s.source or "",
                s.purpose.value,
                f"{s.memory_mb:+g}" if s.memory_mb else "",
                number(s.utilization, 3),
                f"{s.memory_used_mb:g}/{s.memory_limit_mb:g}",
            )
            for s in result.plan
        ]
        parts.append(
            format_table(
                ["step", "action", "application", "accelerator", "from", "purpose", "memory_mb", "util", "mem_after"],
                rows,
                align_right={0, 6, 7},
            )
        )
    else:
        parts.append("no steps: the cluster is already where it should be")
    budget = "" if result.max_moves is None else f" of max {result.max_moves}"
    parts.append(
        f"moves {result.moves} ({result.parking_moves} parking; {result.budgeted_moves} counted{budget}), "
        f"evictions {result.evictions}, admissions {result.admissions}, "
        f"move cost {result.move_cost:g} {result.move_cost_unit}"
    )
    if result.blocked:
        parts.append(f"the best target (hosting {result.best_hosted}) was not reachable; blocked:")
        parts.append(
            format_table(
                ["application", "step", "accelerator", "node", "memory_mb_short", "utilization_over", "why"],
                [
                    (
                        m.application,
                        m.step.value,
                        m.accelerator,
                        m.node,
                        f"{m.memory_mb:g}",
                        f"{m.utilization:.3f}",
                        "max_moves" if m.budget else m.detail,
                    )
                    for m in result.blocked
                ],
                align_right={4, 5},
            )
        )
    parts.append("target:")
    parts.append(render_result(target, instance_name))
    if result.message and result.message not in target.message:
        parts.append(result.message)
    return "\n".join(parts)
