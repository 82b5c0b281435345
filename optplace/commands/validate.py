"""``optplace validate-models``: the latency models against the seed authors' measured data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from optplace.commands.table import format_table, number
from optplace.latency import LATENCY_MODEL


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate-models",
        help="predict measured edgeTPU/Jetson load points from isolated profiles; report errors per model variant",
        description=(
            "Reads queueing logs and microbenchmarks in the released umassos/ibis CSV formats (default: the "
            "copies shipped in optplace/data/ibis), predicts every load point from the isolated profiles only, "
            "and prints observed vs predicted with the mean absolute percentage error (MAPE) per model variant."
        ),
    )
    parser.add_argument("csv", nargs="*", help="queueing logs and/or microbenchmark CSVs (kind read from the header)")
    parser.add_argument("--json", action="store_true", help='print {"points": [...], "mape": {variant: percent}, ...}')
    parser.add_argument(
        "--profiles",
        metavar="FILE",
        default=None,
        help=(
            "profiles replacing the authors' edgeTPU profiles: a profiles document (optplace calibrate --out; "
            "its one accelerator type) or JSON {model: {service_time_ms, switch_overhead_ms}}"
        ),
    )
    parser.add_argument(
        "--sim-requests",
        type=int,
        default=None,
        metavar="N",
        help="requests per load level for the simulated variant (default 400000; 0 skips simulation)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated variant")
    parser.add_argument(
        "--diagnostics", action="store_true", help="also report the service times and service order the logs imply"
    )
    parser.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from optplace import validation as v

    try:
        logs, benches = _split_inputs(args.csv, v)
        profiles = _read_profiles(args.profiles) if args.profiles else None
        requests = v.DEFAULT_SIMULATED_REQUESTS if args.sim_requests is None else args.sim_requests
        if requests < 0:
            raise ValueError("--sim-requests must be non-negative")
        points = v.validate_queueing_logs(
            logs, profiles=profiles, simulate=requests > 0, simulated_requests=max(requests, 1), seed=args.seed
        )
        batches = [v.validate_microbenchmark(path) for path in benches]
        diagnostics = v.service_time_diagnostics(logs) if args.diagnostics else None
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    mape = v.mape_table(points)
    if args.json:
        document = {
            "points": [p.to_json() for p in points],
            "mape": mape,
            "evaluator": v.EVALUATOR_VARIANT,
            "latency_model": LATENCY_MODEL,
            "mape_by_source": v.mape_by_source(points),
            "within_ci": v.within_ci_counts(points),
            "variants": {k: v.VARIANTS[k] for k in mape},
            "microbenchmarks": [b.to_json() for b in batches],
            "hypotheses": v.HYPOTHESES,
        }
        if diagnostics is not None:
            document["diagnostics"] = diagnostics
        print(json.dumps(document, indent=2, allow_nan=False, default=_none_for_nan))
        return 0
    print(render(points, batches, diagnostics, v))
    return 0


def _none_for_nan(value: object) -> object:
    return None


def _split_inputs(paths: list[str], v) -> tuple[list[Path] | None, list[Path]]:
    if not paths:
        return None, v.default_microbenchmarks()
    logs: list[Path] = []
    benches: list[Path] = []
    for path in map(Path, paths):
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        (logs if v.csv_kind(path) == "queueing" else benches).append(path)
    return logs, benches


def _read_profiles(path: str) -> dict[str, tuple[float, float]]:
    """(service_time_ms, switch_overhead_ms) per model from a profiles document or the flat form."""
    from optplace.profiles import load_model_profiles

    return {m: (p.service_time_ms, p.switch_overhead_ms) for m, p in load_model_profiles(path).items()}


def render(points, batches, diagnostics, v) -> str:
    out: list[str] = []
    if points:
        variants = list(v.mape_table(points))
        out.append("Queueing logs: mean response time (ms), observed vs predicted from isolated profiles")
        rows = [
            (
                p.source.removeprefix("queuing_tpu_").removesuffix(".csv"),
                f"{p.vary_rho:g}",
                p.model,
                p.requests,
                f"{p.utilization:.2f}",
                f"{p.observed_ms:.1f} ± {number(p.observed_ci_ms)}",
                *(f"{p.predictions[x]:.1f} ({p.error_percent(x):.1f}%)" for x in variants),
            )
            for p in points
        ]
        headers = ("log", "vary_rho", "model", "n", "rho", "observed ± 95% CI", *variants)
        out.append(format_table(headers, rows, align_right=set(range(3, len(headers)))))
        out.append("")
        by_source = v.mape_by_source(points)
        inside = v.within_ci_counts(points)
        rows = [
            (
                x,
                f"{v.mape(points, x):.2f}",
                *(f"{by_source[src][x]:.2f}" for src in by_source),
                f"{inside[x]}/{len(points)}",
                v.VARIANTS[x],
            )
            for x in variants
        ]
        headers = (
            "variant",
            "MAPE %",
            *(f"MAPE {s.removeprefix('queuing_tpu_').removesuffix('.csv')}" for s in by_source),
            "inside CI",
            "model",
        )
        out.append(format_table(headers, rows, align_right=set(range(1, len(headers) - 1))))
        out.append(f"The evaluator (latency model {LATENCY_MODEL}) uses {v.EVALUATOR_VARIANT}.")
    for batch in batches:
        out.append("")
        out.append(
            f"Microbenchmark {batch.source}: concurrent batch of {len(batch.models)} jobs, {batch.rounds} rounds"
        )
        rows = [
            (
                m,
                f"{batch.isolated_ms[m]:.1f}",
                f"{batch.concurrent_ms[m]:.1f} ± {number(batch.concurrent_ci_ms[m])}",
                *(f"{batch.predictions[h][m]:.1f}" for h in batch.predictions),
            )
            for m in batch.models
        ]
        rows.append(("MAPE %", "", "", *(f"{batch.mape(h):.2f}" for h in batch.predictions)))
        headers = ("model (submission order)", "isolated", "concurrent ± 95% CI", *batch.predictions)
        out.append(format_table(headers, rows, align_right={1, 2, 3, 4}))
        out.append(f"best hypothesis: {batch.best()} ({v.HYPOTHESES[batch.best()]})")
    if diagnostics:
        out.append("")
        out.append("Diagnostics (what the logs imply; never used for prediction)")
        rows = [
            (
                d["source"].removeprefix("queuing_tpu_").removesuffix(".csv"),
                d["model"],
                number(d["profile_service_ms"], 2),
                number(d["service_no_switch_mean_ms"], 2),
                number(d["service_no_switch_scv"], 3),
                number(
                    None if d["profile_service_ms"] is None else d["profile_service_ms"] + d["profile_switch_ms"], 2
                ),
                number(d["service_with_switch_mean_ms"], 2),
                " ".join(f"{k:g}:{100 * x:.1f}%" for k, x in d["out_of_order_fraction_by_level"].items()),
            )
            for d in diagnostics
        ]
        headers = ("log", "model", "profile s", "logged s", "logged SCV", "profile s+o", "logged s+o", "out of order")
        out.append(format_table(headers, rows, align_right={2, 3, 4, 5, 6}))
    return "\n".join(out)
