"""HiGHS vs CP-SAT vs Pyomo+HiGHS on the same instances: time to optimal and gap over time.

The three exact methods share one formulation (``formulations/assignment``) and the same search
(warm start, conservative rounds, relaxed bound, refinement, neighbourhoods); only the back-end
differs: ``milp_highs`` (highspy, matrices passed whole), ``cpsat`` (OR-Tools CP-SAT on the
conservatively scaled integer form) and ``milp_pyomo`` (the same rows built in Pyomo, solved by
appsi_highs). Instances: the tiny known-optimum set (``instances/tiny``) and generated ones
(processor-sharing only, edgeTPU only, heterogeneous, percentile SLOs). For each run the gap is read
off the verified incumbent/bound timeline at fixed checkpoints.

Run from the repository root::

    python benchmarks/backends_compare.py
    python benchmarks/backends_compare.py --time-limit 60 --skip-tiny

Writes ``benchmarks/results/exact_backends.md`` and ``.json``. Provisional timings (shared 2-core
machine); Pyomo's numbers include building the Pyomo model row by row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BACKENDS = ["milp_highs", "cpsat", "milp_pyomo"]
CHECKPOINTS_S = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0]

GENERATED = [
    # (label, family, apps, accelerators, knobs)
    ("ps-only-60", "hetero", 60, 8, {"hosts": {"nano": 1.0}, "preprocess_ms": 0.0}),
    ("edgetpu-30", "edgetpu", 30, 5, {"preprocess_ms": 0.0}),
    ("hetero-40", "hetero", 40, 6, {}),
    ("percentile-30", "percentile", 30, 6, {}),
]


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}, Python {platform.python_version()}"


def gap_at(timeline: list, maximize: bool, at_s: float) -> float | None:
    """optplace's gap from the last incumbent and bound known at ``at_s`` (None if either is missing)."""
    value = bound = None
    for t, v, b in timeline:
        if t > at_s:
            break
        value, bound = (v if v is not None else value), (b if b is not None else bound)
    if value is None or bound is None:
        return None
    return abs(bound - value) / max(abs(value), 1.0)


def run(instance, method: str, time_limit: float, threads: int) -> dict[str, Any]:
    from optplace.solve import solve

    t = time.perf_counter()
    result = solve(instance, method, {"time_limit_s": time_limit, "threads": threads})
    seconds = time.perf_counter() - t
    timeline = result.stats.get("timeline") or []
    maximize = instance.objectives[0].maximize
    best_t = None
    for t_event, v, _ in timeline:
        if v is not None and v == result.objective:
            best_t = t_event
            break
    return {
        "status": result.status.value,
        "stop_reason": result.stop_reason.value,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "seconds": round(seconds, 2),
        "time_to_optimal_s": round(seconds, 2) if result.status.value == "optimal" else None,
        "time_to_best_s": best_t,
        "gap_at": {str(c): gap_at(timeline, maximize, c) for c in CHECKPOINTS_S if c <= time_limit},
        "solver": result.solver,
        "solver_version": result.solver_version,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--skip-tiny", action="store_true")
    parser.add_argument("--backends", nargs="+", default=BACKENDS)
    args = parser.parse_args(argv)

    from optplace.generate import generate_instance
    from optplace.io import load_instance

    cases: list[tuple[str, Any]] = []
    if not args.skip_tiny:
        for path in sorted((ROOT / "instances" / "tiny").glob("*.json")):
            cases.append((f"tiny/{path.stem}", load_instance(path)))
    for label, family, apps, accelerators, knobs in GENERATED:
        for seed in args.seeds:
            cases.append((f"{label}-s{seed}", generate_instance(family, apps, accelerators, seed=seed, **knobs)))
    rows = []
    for label, instance in cases:
        row: dict[str, Any] = {"instance": label, "objective": instance.objectives[0].value}
        known = instance.provenance.get("known_optimum", {})
        row["known_optimum"] = known.get(instance.objectives[0].value, known.get("status"))
        for backend in args.backends:
            row[backend] = run(instance, backend, args.time_limit, args.threads)
            print(label, backend, json.dumps(row[backend], default=str), flush=True)
        rows.append(row)
    payload = {"machine": machine(), "args": vars(args), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "exact_backends.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (RESULTS / "exact_backends.md").write_text(markdown(args, rows))
    print("wrote benchmarks/results/exact_backends.md")
    return 0


def markdown(args, rows) -> str:
    lines = [
        "# HiGHS vs CP-SAT vs Pyomo+HiGHS",
        "",
        f"`backends_compare.py` — time limit {args.time_limit:g} s, {args.threads} threads; {machine()}. "
        "Same formulation and search for all three; provisional timings (shared 2-core machine).",
        "",
        "Per back-end: objective / bound, and *t* = seconds to proven optimality (or the run time with the "
        "stop reason when not proven).",
        "",
        "| instance | known | " + " | ".join(args.backends) + " |",
        "| --- | ---: | " + " | ".join("---" for _ in args.backends) + " |",
    ]
    for row in rows:
        cells = [row["instance"], str(row.get("known_optimum") if row.get("known_optimum") is not None else "-")]
        for backend in args.backends:
            r = row[backend]
            if r["status"] == "infeasible":
                cells.append(f"infeasible, t={r['seconds']:.1f}")
                continue
            value = "-" if r["objective"] is None else f"{r['objective']:g}"
            bound = "-" if r["bound"] is None else f"{r['bound']:g}"
            when = (
                f"t={r['seconds']:.1f} (opt)"
                if r["status"] == "optimal"
                else f"t={r['seconds']:.1f} ({r['stop_reason']})"
            )
            cells.append(f"{value} / {bound}, {when}")
        lines.append("| " + " | ".join(cells) + " |")
    checkpoints = [c for c in CHECKPOINTS_S if c <= args.time_limit]
    lines += ["", "## Gap over time (verified incumbent vs best valid bound)", ""]
    lines += [
        "| instance | back-end | " + " | ".join(f"{c:g} s" for c in checkpoints) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in checkpoints) + " |",
    ]
    for row in rows:
        if row["instance"].startswith("tiny/"):
            continue
        for backend in args.backends:
            gaps = row[backend]["gap_at"]
            cells = ["-" if gaps.get(str(c)) is None else f"{100 * gaps[str(c)]:.1f}%" for c in checkpoints]
            lines.append(f"| {row['instance']} | {backend} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
