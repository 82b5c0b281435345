"""OR-Library GAP (and optionally Yagiura's type C) through the exact methods: optima reached, gap, time.

Converts every problem of ``../shared/data/orlib-gap`` (gap1-gap12 maximise profit, gapa-gapc
minimise cost) with :mod:`optplace.convert`, solves it with each exact method under a time limit,
and reports per set and method: problems solved to the published optimum, problems proven optimal,
mean relative gap of the placement to the published optimum and of the method's own bound, and mean
time. ``--yagiura`` adds ``../shared/data/gap-yagiura-c`` (bounds from its ``bounds.csv``).

Run from the repository root::

    python benchmarks/orlib_gap.py                                  # gap4-gap12, gapa-gapc, every exact method
    python benchmarks/orlib_gap.py --methods configuration --sets gap4 gap8 gapa --time-limit 20

Writes ``benchmarks/results/orlib_gap.md`` and ``orlib_gap.json`` (``--tag`` changes the stem).
Timings are provisional: 2-core machine, shared; the lead re-runs on a quiet one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DEFAULT_SETS = [f"gap{k}" for k in range(4, 13)] + ["gapa", "gapb", "gapc"]


def problems(sets: list[str], yagiura: bool):
    from optplace import convert

    optima = convert.read_optima(DATA / "orlib-gap" / "optima.csv")
    for name in sets:
        path = DATA / "orlib-gap" / f"{name}.txt"
        sense = convert.gap_sense(path)
        for index, problem in enumerate(convert.read_orlib_gap(path), start=1):
            yield name, problem.name, sense, problem, optima.get((name, index))
    if yagiura:
        folder = DATA / "gap-yagiura-c"
        with open(folder / "bounds.csv", newline="") as handle:
            rows = {r["instance"]: r for r in csv.DictReader(handle)}
        for stem, row in rows.items():
            known = float(row["optimum"]) if row["optimum"] else None
            yield "yagiura-c", stem, "min", convert.read_gap_single(folder / stem), known


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=DEFAULT_SETS)
    parser.add_argument("--methods", nargs="+", default=None, help="default: every registered exact method")
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--yagiura", action="store_true", help="also Yagiura's type C (large: slow)")
    parser.add_argument("--tag", default="orlib_gap")
    args = parser.parse_args(argv)

    from optplace import convert
    from optplace.registry import list_methods
    from optplace.solve import solve

    methods = args.methods or [m.name for m in list_methods() if m.kind == "exact"]
    rows = []
    for set_name, name, sense, problem, known in problems(args.sets, args.yagiura):
        started = time.perf_counter()
        instance = convert.gap_to_instance(problem, sense)
        build_s = time.perf_counter() - started
        for method in methods:
            result = solve(instance, method, {"time_limit_s": args.time_limit, "threads": args.threads})
            row = {
                "set": set_name,
                "problem": name,
                "sense": sense,
                "m": problem.m,
                "n": problem.n,
                "method": method,
                "status": result.status.value,
                "objective": result.objective,
                "bound": result.bound,
                "known_optimum": known,
                "runtime_s": round(result.runtime_s, 3),
                "convert_s": round(build_s, 3),
                "message": result.message[:200],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    summary = summarise(rows, methods)
    meta = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "time_limit_s": args.time_limit,
        "threads": args.threads,
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.tag}.json").write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=1))
    (out / f"{args.tag}.md").write_text(render(summary, meta))
    print(render(summary, meta))
    return 0


def _gap(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None:
        return None
    return abs(value - reference) / max(abs(reference), 1.0)


def summarise(rows: list[dict], methods: list[str]) -> list[dict]:
    out = []
    for set_name in dict.fromkeys(r["set"] for r in rows):
        for method in methods:
            group = [r for r in rows if r["set"] == set_name and r["method"] == method]
            if not group:
                continue
            gaps = [g for g in (_gap(r["objective"], r["known_optimum"]) for r in group) if g is not None]
            bound_gaps = [g for g in (_gap(r["bound"], r["known_optimum"]) for r in group) if g is not None]
            invalid = sum(
                1
                for r in group
                if r["bound"] is not None
                and r["known_optimum"] is not None
                and (
                    r["bound"] < r["known_optimum"] - 1e-6
                    if r["sense"] == "max"
                    else r["bound"] > r["known_optimum"] + 1e-6
                )
            )
            out.append(
                {
                    "set": set_name,
                    "method": method,
                    "problems": len(group),
                    "size": f"{group[0]['m']}x{group[0]['n']}",
                    "optimum_reached": sum(
                        1 for r in group if r["objective"] is not None and r["objective"] == r["known_optimum"]
                    ),
                    "proven_optimal": sum(1 for r in group if r["status"] == "optimal"),
                    "no_solution": sum(1 for r in group if r["objective"] is None),
                    "mean_gap_to_optimum": sum(gaps) / len(gaps) if gaps else None,
                    "mean_bound_gap": sum(bound_gaps) / len(bound_gaps) if bound_gaps else None,
                    "bounds_below_optimum": invalid,
                    "mean_time_s": sum(r["runtime_s"] for r in group) / len(group),
                    "max_time_s": max(r["runtime_s"] for r in group),
                }
            )
    return out


def render(summary: list[dict], meta: dict) -> str:
    def pct(x):
        return "-" if x is None else f"{100 * x:.2f}%"

    lines = [
        "# OR-Library GAP through the exact methods",
        "",
        f"`{meta['command']}` — time limit {meta['time_limit_s']:g} s per problem, {meta['threads']} thread(s); "
        f"{meta['machine']}, Python {meta['python']}. Timings are provisional (shared 2-core machine).",
        "",
        "*reached*: placement scores the published optimum; *proven*: status optimal; *gap*: placement vs optimum; "
        "*bound gap*: the method's bound vs optimum; *invalid bounds*: bounds on the wrong side of the optimum.",
        "",
        "| set | size | method | problems | reached | proven | no solution | mean gap | mean bound gap "
        "| invalid bounds | mean time s | max time s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summary:
        lines.append(
            f"| {s['set']} | {s['size']} | {s['method']} | {s['problems']} | {s['optimum_reached']} | "
            f"{s['proven_optimal']} | {s['no_solution']} | {pct(s['mean_gap_to_optimum'])} | "
            f"{pct(s['mean_bound_gap'])} | {s['bounds_below_optimum']} | {s['mean_time_s']:.2f} | {s['max_time_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
