"""``optplace batch``: solve many instances with many methods, resumably, locally or on Dask."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="solve instance files with several methods; results to a resumable JSONL file",
        description=(
            "Run every (instance, method) pair as its own process with a hard deadline (time limit + grace) "
            "and append one JSON row per task to --out as soon as it finishes. Rerunning the same command "
            "resumes: tasks already in the file are skipped. Ctrl-C leaves only complete rows."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="instance files or folders of *.json")
    parser.add_argument(
        "--methods",
        "-m",
        required=True,
        help="comma-separated method names; kind:baseline / kind:heuristic / kind:exact select by kind",
    )
    parser.add_argument("--out", "-o", required=True, metavar="FILE", help="results file (JSON Lines), appended")
    parser.add_argument(
        "--time-limit", type=float, default=None, metavar="S", help="per-task solve limit in seconds (default 60)"
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=None,
        metavar="S",
        help="extra seconds before a task is killed (default max(10, 25%% of the limit))",
    )
    parser.add_argument("--jobs", "-j", type=int, default=1, help="tasks at once (default 1; Dask: in flight)")
    parser.add_argument("--seed", type=int, default=0, help="random seed passed to every task")
    parser.add_argument("--threads", type=int, default=None, help="solver threads per task (default: solver's)")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="method-specific option passed in SolveParams.options (VALUE parsed as JSON if it can be)",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="tcp://HOST:PORT", help="run the tasks on this Dask scheduler"
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE (which registers methods) in every task process (repeatable)",
    )
    parser.add_argument(
        "--launcher",
        choices=["fork", "subprocess"],
        default=None,
        help="how local tasks start: fork from a warm supervisor child with optplace imported (default where "
        "the platform can fork) or a fresh interpreter per task",
    )
    parser.add_argument(
        "--memory-limit",
        type=float,
        default=None,
        metavar="MB",
        help="address-space limit per task process; a task over it fails with MemoryError (an error row)",
    )
    parser.add_argument("--retry-errors", action="store_true", help="rerun tasks whose last row is an error")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (-q implies it)")
    parser.set_defaults(handler=run_batch_command)


def run_batch_command(args: argparse.Namespace) -> int:
    from optplace.batch import run_batch
    from optplace.commands.generate import parse_knobs

    if args.jobs < 0:
        print("error: --jobs must be at least 0", file=sys.stderr)
        return 2
    try:
        options = parse_knobs(args.option)
        summary = run_batch(
            args.paths,
            args.methods,
            args.out,
            time_limit_s=args.time_limit,
            jobs=args.jobs,
            seed=args.seed,
            threads=args.threads,
            grace_s=args.grace,
            options=options,
            scheduler=args.scheduler,
            retry_errors=args.retry_errors,
            plugins=args.plugin,
            launcher=args.launcher,
            memory_limit_mb=args.memory_limit,
            progress=not args.no_progress and args.verbosity >= 0,
        )
    except (ValueError, RuntimeError, OSError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts_by_status.items())) or "none"
    print(
        f"{summary.completed} {'task' if summary.completed == 1 else 'tasks'} run ({statuses}), "
        f"{summary.skipped} already done, "
        f"{summary.planned} planned; {summary.time_limit_kills} killed at the deadline; "
        f"{summary.wall_s:.1f} s; results in {summary.out}",
        file=sys.stderr,
    )
    if summary.interrupted:
        left = summary.planned - summary.skipped - summary.completed
        print(f"interrupted: {left} tasks left; rerun the same command to resume", file=sys.stderr)
        return 130
    return 0
