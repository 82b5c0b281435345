"""The configuration bound at seed scale: bound, time and gap against the best placement found.

Generates seed-like instances with :func:`optplace.generate.generate_instance` (default family
``hetero``: Jetson Nano PS GPUs and Pi + Coral edgeTPU FCFS hosts with switch overhead, 20 ms
pre-processing, 10 ms network, mean SLOs; 100 applications on 10 accelerators, as in BRIEF.md
section 4) and runs ``configuration`` under a time limit, next to the best heuristic. Reports per
instance the configuration bound, its LP value and Lagrangian bound, the best placement (the method's
or the heuristic's), the proven gap, and the time split (pricing, LP, integer master).

Run from the repository root::

    python benchmarks/configuration_bound.py
    python benchmarks/configuration_bound.py --family edgetpu --apps 100 --accelerators 10 --seeds 1 2 3 --time-limit 30
    python benchmarks/configuration_bound.py --instances instances/seed/heterogeneous.json --time-limit 10

Writes ``benchmarks/results/configuration_bound.md`` and ``.json`` (``--tag`` changes the stem).
Timings are provisional (shared 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="hetero")
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--accelerators", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--heuristic", default="local_search", help="baseline heuristic to compare with")
    parser.add_argument("--tag", default="configuration_bound")
    parser.add_argument(
        "--instances",
        nargs="*",
        default=None,
        help="instance files (from the repository root) instead of generated ones",
    )
    args = parser.parse_args(argv)

    from optplace.generate import generate_instance
    from optplace.io import load_instance
    from optplace.solve import solve

    rows = []
    if args.instances:
        instances = [load_instance(ROOT / path) for path in args.instances]
    else:
        instances = [generate_instance(args.family, args.apps, args.accelerators, seed=s) for s in args.seeds]
    for instance in instances:
        heuristic = solve(instance, args.heuristic, {"time_limit_s": min(10.0, args.time_limit), "threads": 1})
        result = solve(instance, "configuration", {"time_limit_s": args.time_limit, "threads": 1})
        best = max(v for v in (heuristic.objective, result.objective) if v is not None)
        stats = result.stats
        row = {
            "instance": instance.name,
            "objective": instance.objectives[0].value,
            "heuristic": args.heuristic,
            "heuristic_objective": heuristic.objective,
            "configuration_objective": result.objective,
            "status": result.status.value,
            "bound": result.bound,
            "lp_value": stats.get("lp_value"),
            "lagrangian_bound": stats.get("lagrangian_bound"),
            "converged": stats.get("converged"),
            "proven_gap": None if result.bound is None else (result.bound - best) / max(abs(best), 1.0),
            "runtime_s": round(result.runtime_s, 2),
            "pricing_s": stats.get("pricing_s"),
            "lp_s": stats.get("lp_s"),
            "mip_s": stats.get("mip_s"),
            "iterations": stats.get("iterations"),
            "columns": stats.get("columns"),
            "scenarios": stats.get("scenarios"),
            "exact_pricing": stats.get("exact_pricing"),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    meta = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        "time_limit_s": args.time_limit,
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.tag}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    text = render(rows, meta)
    (out / f"{args.tag}.md").write_text(text)
    print(text)
    return 0


def render(rows: list[dict], meta: dict) -> str:
    def num(x, fmt="{:.2f}"):
        return "-" if x is None else fmt.format(x)

    lines = [
        "# Configuration bound at seed scale",
        "",
        f"`{meta['command']}` — time limit {meta['time_limit_s']:g} s, 1 thread; {meta['machine']}, "
        f"Python {meta['python']}. Provisional timings (shared 2-core machine).",
        "",
        "| instance | heuristic | configuration | status | bound | LP | Lagrangian | proven gap | time s "
        "| pricing s | LP s | MIP s | iterations | columns |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['instance']} | {num(r['heuristic_objective'], '{:g}')} | {num(r['configuration_objective'], '{:g}')} "
            f"| {r['status']} | {num(r['bound'], '{:g}')} | {num(r['lp_value'])} | {num(r['lagrangian_bound'])} "
            f"| {num(None if r['proven_gap'] is None else 100 * r['proven_gap'])}% | {r['runtime_s']} "
            f"| {num(r['pricing_s'])} | {num(r['lp_s'])} | {num(r['mip_s'])} | {r['iterations']} | {r['columns']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
