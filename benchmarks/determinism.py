"""Deterministic mode: two runs of a method with ``deterministic: true`` give byte-identical placements.

For each instance (seed-like ``hetero`` and ``scale`` families of growing size, a GAP, an
exact-triplet bin packing) the method runs twice in deterministic mode; the table gives the SHA-256
of each run's placement (canonical JSON), whether they are equal, the objective, the work charged
and the wall time of each run (which may differ: the work does not). A normal run is shown beside
for the wall-time comparison.

Run from the repository root::

    python benchmarks/determinism.py                       # auto, 10 s
    python benchmarks/determinism.py --methods auto configuration --time-limit 5

Writes ``benchmarks/results/determinism.md`` and ``determinism.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def instances():
    from optplace import convert
    from optplace.generate import generate_instance
    from optplace.or_instances import exact_triplets, gap_problem

    yield "hetero-60", generate_instance("hetero", 60, None, 1)
    yield "scale-100", generate_instance("scale-100", None, None, 0)
    yield "scale-1000", generate_instance("scale-1000", None, None, 0)
    yield "gap-d-10x100", convert.gap_to_instance(gap_problem("d", 10, 100, 0), "min")
    yield "triplets-120", convert.bpp_to_instance(exact_triplets(120, 0))


def digest(placement: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(placement.items())).encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["auto"])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--tag", default="determinism")
    args = parser.parse_args(argv)

    from optplace.solve import solve

    rows = []
    for name, instance in instances():
        for method in args.methods:
            runs = []
            for _ in range(2):
                started = time.perf_counter()
                result = solve(instance, method, {"time_limit_s": args.time_limit, "deterministic": True, "threads": 2})
                runs.append((result, time.perf_counter() - started))
            started = time.perf_counter()
            normal = solve(instance, method, {"time_limit_s": args.time_limit, "threads": 2})
            normal_s = time.perf_counter() - started
            (a, a_s), (b, b_s) = runs
            row = {
                "instance": name,
                "method": method,
                "hash_1": digest(a.placement()),
                "hash_2": digest(b.placement()),
                "identical": a.placement() == b.placement(),
                "deterministic_flags": [a.deterministic, b.deterministic],
                "objective": a.objective,
                "bound": a.bound,
                "work_s": a.stats.get("work_s"),
                "wall_s": [round(a_s, 2), round(b_s, 2)],
                "normal_objective": normal.objective,
                "normal_wall_s": round(normal_s, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    meta = {
        "command": "python benchmarks/determinism.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "time_limit_s": args.time_limit,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.system()} (shared VM, loaded by other work: "
        "wall times provisional)",
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.tag}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        "# Deterministic mode: two runs, one placement",
        "",
        f"`{meta['command']}` — limit {meta['time_limit_s']:g} s as a work budget, 2 threads requested; "
        f"{meta['machine']}.",
        "",
        "| instance | method | placement hash, run 1 | run 2 | identical | objective | bound | work s "
        "| wall s (runs 1, 2) | normal run: objective | normal run: wall s |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['instance']} | {r['method']} | `{r['hash_1']}` | `{r['hash_2']}` | "
            f"{'yes' if r['identical'] and all(r['deterministic_flags']) else 'NO'} | {r['objective']} | {r['bound']} | "
            f"{r['work_s']} | {r['wall_s'][0]}, {r['wall_s'][1]} | {r['normal_objective']} | {r['normal_wall_s']} |"
        )
    text = "\n".join(lines) + "\n"
    (out / f"{args.tag}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
