"""``optplace simulate``: discrete-event simulation of a placement, against the analytic prediction."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optplace.commands.table import format_table, interval, number
from optplace.profiles import PROFILES_HELP


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a placement (given, or solved first) and compare latencies with the analytic model",
        description=(
            "Discrete-event simulation of a placement: per-application mean, p50, p95 and p99 with 95% "
            "confidence intervals, next to the analytic prediction and the SLO. Exit status 0 when every "
            "simulated SLO statistic meets its SLO, 1 when some does not, 2 on bad input. See docs/validation.md."
        ),
        epilog="exit status: 0 every simulated SLO statistic meets its SLO; 1 some does not; 2 bad input or usage.",
    )
    parser.add_argument("instance", help="instance JSON file, or - for standard input")
    parser.add_argument(
        "--placement",
        metavar="FILE",
        default=None,
        help="placement JSON: a solve result (its assignments) or {application: accelerator}; default: solve first",
    )
    parser.add_argument("--method", "-m", default="auto", help="method to solve with when no --placement is given")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--requests", type=int, default=None, metavar="N", help="requests of the slowest application")
    size.add_argument("--duration", type=float, default=None, metavar="S", help="simulated seconds after warm-up")
    parser.add_argument("--warmup", type=float, default=None, metavar="S", help="warm-up seconds (default 10%%)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulation's random streams")
    parser.add_argument(
        "--arrivals",
        choices=("poisson", "gamma", "trace"),
        default="poisson",
        help="arrival process of every application",
    )
    parser.add_argument("--arrival-scv", type=float, default=1.0, metavar="C2", help="interarrival SCV for gamma")
    parser.add_argument(
        "--trace", default=None, metavar="CSV", help="timestamp trace for --arrivals trace (default: shipped Azure)"
    )
    parser.add_argument("--batches", type=int, default=20, help="batches for the confidence intervals")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--profiles", default=None, metavar="FILE", help=PROFILES_HELP)
    parser.add_argument(
        "--log-csv",
        default=None,
        metavar="FILE",
        help="also write every measured request as a plain request log (the format optplace calibrate reads)",
    )
    parser.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from optplace.io import InstanceError, load_instance
    from optplace.profiles import apply_profiles_file
    from optplace.simulation import AcceleratorRequests, ArrivalProcess, load_trace, simulate

    try:
        instance = load_instance(args.instance)
        if args.profiles:
            instance = apply_profiles_file(instance, args.profiles)
        placement = _placement(args, instance)
        if args.arrivals == "trace":
            process = ArrivalProcess.from_trace(load_trace(args.trace))
        else:
            process = ArrivalProcess(kind=args.arrivals, scv=args.arrival_scv)
        requests: list[AcceleratorRequests] | None = [] if args.log_csv else None
        report = simulate(
            instance,
            placement,
            requests_per_app=args.requests,
            duration_s=args.duration,
            seed=args.seed,
            arrivals=process,
            warmup_s=args.warmup,
            batches=args.batches,
            request_log=requests,
        )
        if requests is not None:
            from optplace.calibration.logs import simulated_rows, write_plain

            write_plain(args.log_csv, simulated_rows(requests, load=f"seed={args.seed}"))
    except (InstanceError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(render(report, instance.name))
    return 1 if report.violations else 0


def _placement(args: argparse.Namespace, instance) -> dict[str, str]:
    if args.placement:
        data = json.loads(Path(args.placement).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("assignments"), list):
            return {a["application"]: a["accelerator"] for a in data["assignments"]}
        if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            return dict(data)
        raise ValueError(f"{args.placement}: expected a solve result or an {{application: accelerator}} object")
    from optplace.solve import solve

    result = solve(instance, args.method)
    return result.placement()


def render(report, name: str) -> str:
    rows = [
        (
            a.application,
            a.accelerator,
            a.requests,
            interval(a.mean_ms),
            interval(a.p95_ms),
            interval(a.p99_ms),
            a.statistic,
            number(a.predicted_ms),
            interval(a.simulated_ms),
            f"{a.slo_ms:g}",
            "yes" if a.meets_slo else ("NO (significant)" if a.violation_significant else "NO"),
        )
        for a in report.applications
    ]
    headers = (
        "application",
        "accelerator",
        "n",
        "mean",
        "p95",
        "p99",
        "SLO stat",
        "predicted",
        "simulated",
        "SLO",
        "meets",
    )
    lines = [
        f"{name}: {report.requests_simulated} requests simulated in {report.runtime_s:.2f} s "
        f"({report.arrivals}; horizon {report.horizon_s:g} s after {report.warmup_s:g} s warm-up; seed {report.seed}); "
        f"times in ms, ± 95% CI (batch means, {report.batches} batches)",
        format_table(headers, rows, align_right={2, 3, 4, 5, 7, 8, 9}),
        "",
        format_table(
            ("accelerator", "discipline", "utilisation", "predicted", "switches"),
            [
                (
                    a.accelerator,
                    a.discipline.value,
                    f"{a.utilization:.3f}",
                    f"{a.predicted_utilization:.3f}",
                    "-" if a.switch_fraction is None else f"{a.switch_fraction:.3f}",
                )
                for a in report.accelerators
            ],
            align_right={2, 3, 4},
        ),
    ]
    lines.append(f"observed SLO violations: {', '.join(report.violations) if report.violations else 'none'}")
    return "\n".join(lines)
