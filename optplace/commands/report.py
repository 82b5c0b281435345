"""``optplace report``: Markdown/HTML comparison report and plots from a batch results file."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="compare methods from a batch results file: tables, plots, summary.json",
        description="Write DIR/report.md (and report.html with --html), DIR/summary.json and PNG plots.",
    )
    parser.add_argument("results", help="results file written by 'optplace batch' (JSON Lines)")
    parser.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--html", action="store_true", help="also write report.html")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="re-check every solved placement with the discrete-event simulator (simulated vs predicted violations)",
    )
    parser.add_argument(
        "--sim-requests",
        type=int,
        default=2000,
        metavar="N",
        help="measured requests of the slowest application per simulation (default 2000)",
    )
    parser.add_argument("--sim-seed", type=int, default=0, help="simulation seed (default 0)")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from optplace.report import write_report

    try:
        files = write_report(
            args.results,
            args.out,
            html_output=args.html,
            plots=not args.no_plots,
            simulate=args.simulate,
            simulate_requests=args.sim_requests,
            simulate_seed=args.sim_seed,
        )
    except (ValueError, OSError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(files.markdown)
    if files.html is not None:
        print(files.html)
    print(files.summary)
    for path in files.plots.values():
        print(path)
    return 0
