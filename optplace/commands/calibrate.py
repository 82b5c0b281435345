"""``optplace calibrate``: fit profiles (with confidence intervals) from request logs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from optplace.commands.table import format_table, number


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="fit model profiles (service time, SCV, switch and fixed overhead, memory) from request logs",
        description=(
            "Reads request logs (plain CSV, docs/calibration.md; the seed's ibis queueing logs and microbenchmarks; "
            "what 'optplace simulate --log-csv' writes), fits per (model, accelerator type) the mean and SCV of the "
            "service time, the switch overhead (per model and per ordered pair), a fixed per-request overhead and "
            "memory, each with a 95%% bootstrap confidence interval, and writes a profiles document that "
            "'--profiles' on solve, simulate and generate merges into an instance. Prints the fits and the "
            "residuals (measured vs predicted mean latency per load point, in-sample)."
        ),
    )
    parser.add_argument("logs", nargs="+", metavar="LOG", help="request log CSV files (format read from the header)")
    parser.add_argument(
        "--out", "-o", required=True, metavar="FILE", help="where to write the profiles document (JSON)"
    )
    parser.add_argument(
        "--accelerator-type",
        default=None,
        metavar="NAME",
        help="accelerator type of logs that name none (the ibis formats); default coral-edgetpu",
    )
    parser.add_argument(
        "--discipline",
        action="append",
        default=[],
        metavar="TYPE=DISCIPLINE",
        help="discipline of an accelerator type: fcfs (default; switch overhead fitted), dedicated or ps (repeatable)",
    )
    parser.add_argument("--plot", default=None, metavar="FILE.png", help="also draw measured vs predicted by load")
    parser.add_argument("--resamples", type=int, default=None, metavar="N", help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument("--json", action="store_true", help="print the profiles document instead of tables")
    parser.set_defaults(handler=run_calibrate)


def parse_disciplines(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, discipline = item.partition("=")
        if not sep or not name or discipline not in ("fcfs", "ps", "dedicated"):
            raise ValueError(f"--discipline {item!r} must look like TYPE=fcfs, TYPE=ps or TYPE=dedicated")
        out[name] = discipline
    return out


def run_calibrate(args: argparse.Namespace) -> int:
    from optplace.calibration import DEFAULT_ACCELERATOR_TYPE, LoadPointResidual, calibrate, plot_residuals
    from optplace.calibration.estimate import BOOTSTRAP_RESAMPLES
    from optplace.profiles import write_profiles

    try:
        for path in args.logs:
            if not Path(path).is_file():
                raise ValueError(f"{path}: no such file")
        document = calibrate(
            args.logs,
            accelerator_type=args.accelerator_type or DEFAULT_ACCELERATOR_TYPE,
            disciplines=parse_disciplines(args.discipline),
            resamples=BOOTSTRAP_RESAMPLES if args.resamples is None else args.resamples,
            seed=args.seed,
        )
        write_profiles(document, args.out)
    except (OSError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = document.calibration or {}
    points = [
        LoadPointResidual.model_validate({k: v for k, v in r.items() if k not in ("residual_ms", "error_percent")})
        for r in report.get("residuals", [])
    ]
    if args.plot:
        try:
            plot_residuals(points, args.plot, "measured vs predicted (profiles fitted on these logs)")
        except ImportError as error:  # matplotlib is in the batch extra
            print(f"error: {error}", file=sys.stderr)
            return 2
    if args.json:
        print(document.to_json())
    else:
        print(render(report, points))
        print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""), file=sys.stderr)
    return 0


def _interval(fit: dict | None, digits: int = 2) -> str:
    if fit is None:
        return "-"
    if fit.get("ci_low") is None:
        return f"{fit['value']:.{digits}f}"
    return f"{fit['value']:.{digits}f} [{fit['ci_low']:.{digits}f}, {fit['ci_high']:.{digits}f}]"


def render(report: dict, points: list) -> str:
    fits = report.get("fits", [])
    settings = report.get("settings", {})
    out = [
        f"Fitted profiles (95% percentile-bootstrap intervals, {settings.get('bootstrap_resamples')} resamples, "
        f"seed {settings.get('seed')}); times in ms"
    ]
    rows = [
        (
            f["model"],
            f["accelerator_type"],
            f["discipline"],
            f["requests"],
            _interval(f["service_time_ms"]),
            _interval(f["service_time_scv"], 4),
            _interval(f["switch_overhead_ms"]),
            _interval(f["fixed_overhead_ms"], 3),
            _interval(f["memory_mb"], 0),
        )
        for f in fits
    ]
    headers = ("model", "type", "discipline", "n", "service", "SCV", "switch", "fixed", "memory")
    out.append(format_table(headers, rows, align_right={3}))
    pairs = [
        (p["from_model"], p["to_model"], _interval(p["switch_overhead_ms"]), p["switch_overhead_ms"]["n"])
        for f in fits
        for p in f["switch_pairs"]
    ]
    if pairs:
        out.append("")
        out.append("Switch overhead per ordered pair (previous model -> this model)")
        out.append(format_table(("after", "model", "switch", "n"), pairs, align_right={3}))
    notes = [f"{f['model']}@{f['accelerator_type']}: {n}" for f in fits for n in f["notes"]]
    if notes:
        out.append("")
        out.extend(f"note: {n}" for n in notes)
    if points:
        out.append("")
        out.append("Residuals: measured vs predicted mean latency per load point (in-sample), ms")
        residual_rows = [
            (
                p.source,
                p.load_point or "-",
                p.model,
                p.requests,
                f"{p.rate_rps:.3g}",
                number(p.utilization, 2),
                f"{p.observed_ms:.1f} ± {number(p.observed_ci_ms)}",
                number(p.predicted_ms),
                number(p.residual_ms),
                number(p.error_percent, 2),
            )
            for p in points
        ]
        residual_headers = (
            "log",
            "load",
            "model",
            "n",
            "rate",
            "rho",
            "measured ± 95% CI",
            "predicted",
            "residual",
            "error %",
        )
        out.append(format_table(residual_headers, residual_rows, align_right=set(range(3, 10))))
        mape = report.get("mape_percent_in_sample")
        out.append(f"MAPE (in-sample): {number(mape, 2)}%")
    return "\n".join(out)
