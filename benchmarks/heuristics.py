"""Benchmark the heuristics and the knapsack baselines.

Sections (each a table in ``benchmarks/results/heuristics.md``, raw rows in
``benchmarks/results/heuristics_results.json``):

1. **Shipped instances** (``instances/seed``, ``instances/tiny``): every baseline and heuristic
   through ``solve``: hosted, violation-free hosted, accelerators, objective, runtime.
2. **The seed's headline** (model-driven vs knapsack hosting at zero violations on a heterogeneous
   GPU + edgeTPU cluster) as a load sweep on generated seed-like clusters.
3. **Scale**: generated instances of 100 to 10,000 applications, every method through ``solve``.
4. **Speed**: one full greedy pass over 10,000 applications and 1,000 accelerators, each method in
   a fresh process: wall and CPU time of the method itself (state build plus pass), the pass's
   peak traced memory (tracemalloc, a separate run) and the process's peak RSS.
5. **Local search over time**: its trace (objectives after every improving move).

"Violation-free" is counted three ways for the baselines, because the seed's metric is not
spelled out: ``clean`` is the evaluator's ``hosted_without_violation`` (an application counts only
if neither it nor its accelerator or node breaks any rule: SLO, utilisation cap, memory,
stability); ``slo_met`` counts hosted applications whose predicted latency meets their SLO,
whatever the cap says; ``prefix`` is how many applications were hosted, in arrival order, before
the first violation appeared anywhere (the online reading: deploy until something breaks).
Model-driven methods score the same on all three.

Instances come from ``optplace.generate`` (family ``hetero``: Jetson Nano GPUs and Raspberry Pi +
Coral edgeTPU hosts in equal numbers, the brief's profiles, 200/400/600 ms SLO classes, Poisson
5-10 req/s, 20 ms pre-processing, 10 ms network).

Run:  .venv/bin/python benchmarks/heuristics.py            (a few minutes on 2 cores)
      .venv/bin/python benchmarks/heuristics.py --quick    (smoke run, smaller sizes)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optplace import SolveParams, solve  # noqa: E402
from optplace.domain import Instance  # noqa: E402
from optplace.evaluate import evaluate  # noqa: E402
from optplace.registry import list_methods  # noqa: E402

BASELINES = [m.name for m in list_methods() if m.kind == "baseline"]
HEURISTICS = [m.name for m in list_methods() if m.kind == "heuristic"]
SEED_POLICIES = ["first_fit", "breadth_first", "least_utilization_increase"]
MEMORY_KNAPSACKS = ["knapsack_first_fit", "knapsack_best_fit", "knapsack_worst_fit"]
PASS_METHODS = [
    "first_fit",
    "breadth_first",
    "least_utilization_increase",
    "ordered_first_fit",
    "ordered_best_fit",
    "ordered_worst_fit",
    "regret_greedy",
    "knapsack_first_fit",
    "knapsack_best_fit",
    "knapsack_worst_fit",
    "knapsack_utilization",
    "ibis_first_fit",
    "ibis_breadth_first",
    "ibis_heterogeneous",
]


def load(path: Path) -> Instance:
    return Instance.model_validate(json.loads(path.read_text()))


def prefix_clean(instance: Instance, placement: dict[str, str]) -> int:
    """Applications hosted, in arrival order, before the first violation of any kind appears."""
    clean = 0
    sub: dict[str, str] = {}
    for app in instance.applications:
        if app.name not in placement:
            continue
        sub[app.name] = placement[app.name]
        if not evaluate(instance, sub).feasible:
            break
        clean = len(sub)
    return clean


def run(instance: Instance, method: str, params: SolveParams | None = None, *, prefix: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    result = solve(instance, method, params or SolveParams())
    wall = time.perf_counter() - started
    slo_met = sum(1 for a in result.assignments if a.meets_slo)
    row = {
        "instance": instance.name,
        "method": method,
        "kind": "baseline" if method in BASELINES else "heuristic",
        "status": result.status.value,
        "hosted": result.hosted,
        "clean": result.hosted_without_violation,
        "slo_met": slo_met,
        "accelerators": result.objectives.get("min_accelerators"),
        "objective": result.objective,
        "objective_name": result.objective_name,
        "runtime_s": round(wall, 4),
        "method_runtime_s": round(result.runtime_s, 4),
    }
    if prefix and method in BASELINES and result.status.value in ("feasible", "optimal"):
        row["prefix"] = prefix_clean(instance, result.placement())
    elif method not in BASELINES:
        row["prefix"] = result.hosted
    return row


# --- 1. shipped instances -------------------------------------------------------------------


def shipped(quick: bool) -> list[dict]:
    rows = []
    paths = sorted((ROOT / "instances" / "seed").glob("*.json")) + sorted((ROOT / "instances" / "tiny").glob("*.json"))
    for path in paths:
        instance = load(path)
        for method in BASELINES + HEURISTICS:
            row = run(instance, method, prefix=not quick or len(instance.applications) <= 60)
            row["file"] = str(path.relative_to(ROOT))
            rows.append(row)
    return rows


# --- 2. the headline: model-driven vs knapsack at zero violations ------------------------------


def headline(quick: bool) -> list[dict]:
    from optplace.generate import generate_instance

    loads = [1, 2, 3, 5, 7.5] if quick else [1, 2, 3, 4, 5, 7.5, 10]
    seeds = range(2) if quick else range(5)
    rows = []
    for accelerators in (8, 20):
        for per in loads:
            for seed in seeds:
                n = round(per * accelerators)
                instance = generate_instance("hetero", n, accelerators, seed=seed)
                instance = instance.model_copy(update={"name": f"hetero-{n}x{accelerators}-s{seed}"})
                for method in [*BASELINES, *SEED_POLICIES, "regret_greedy", "local_search"]:
                    row = run(instance, method, SolveParams(seed=seed))
                    row.update(accelerators_total=accelerators, apps_per_accelerator=per, seed=seed, n_apps=n)
                    rows.append(row)
    return rows


def headline_table(rows: list[dict]) -> list[dict]:
    """Mean counts per (cluster, load) and the model-driven / knapsack ratios."""
    out = []
    keys = sorted({(r["accelerators_total"], r["apps_per_accelerator"]) for r in rows})
    for accelerators, per in keys:
        group = [r for r in rows if r["accelerators_total"] == accelerators and r["apps_per_accelerator"] == per]

        def mean(method: str, field: str, group: list[dict] = group) -> float:
            return statistics.mean(r[field] for r in group if r["method"] == method)

        def best(methods: list[str], field: str, group: list[dict] = group) -> float:
            seeds = sorted({r["seed"] for r in group})
            return statistics.mean(
                max(r[field] for r in group if r["seed"] == s and r["method"] in methods) for s in seeds
            )

        seed_model = mean("least_utilization_increase", "clean")
        ls = mean("local_search", "clean")
        entry = {
            "accelerators": accelerators,
            "apps_per_accelerator": per,
            "applications": group[0]["n_apps"],
            "seed_model_driven": seed_model,
            "best_seed_policy": best(SEED_POLICIES, "clean"),
            "local_search": ls,
        }
        for field in ("clean", "slo_met", "prefix"):
            entry[f"knapsack_memory_{field}"] = best(MEMORY_KNAPSACKS, field)
            entry[f"knapsack_utilization_{field}"] = mean("knapsack_utilization", field)
        for field in ("clean", "slo_met", "prefix"):
            denominator = entry[f"knapsack_memory_{field}"]
            entry[f"ratio_memory_{field}"] = seed_model / denominator if denominator else None
            denominator = entry[f"knapsack_utilization_{field}"]
            entry[f"ratio_utilization_{field}"] = seed_model / denominator if denominator else None
        out.append(entry)
    return out


# --- 3. scale ---------------------------------------------------------------------------------


def scale(quick: bool) -> list[dict]:
    from optplace.generate import generate_instance

    sizes = [(100, 13), (1000, 133)] if quick else [(100, 13), (1000, 133), (10000, 1333)]
    rows = []
    for n, m in sizes:
        instance = generate_instance("hetero", n, m, seed=1)
        instance = instance.model_copy(update={"name": f"hetero-{n}x{m}"})
        for method in BASELINES + HEURISTICS:
            row = run(instance, method, prefix=False)
            row.update(n_apps=n, n_accelerators=m)
            rows.append(row)
    return rows


# --- 4. speed of one greedy pass --------------------------------------------------------------

_PASS_CHILD = r"""
import json, resource, sys, time, tracemalloc
from optplace.generate import generate_instance
from optplace.params import SolveParams
from optplace.registry import get_method
n, m, method, traced = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
instance = generate_instance("hetero", n, m, seed=1)
function = get_method(method).function
if traced:
    tracemalloc.start()
wall, cpu = time.perf_counter(), time.process_time()
output = function(instance, SolveParams())
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
peak = tracemalloc.get_traced_memory()[1] if traced else None
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "placed": len(output.placement), "traced_peak_mb": peak / 2**20 if peak else None,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def speed(quick: bool, methods: list[str] | None = None) -> list[dict]:
    n, m = (2000, 200) if quick else (10000, 1000)
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for method in methods or PASS_METHODS:
        timed = json.loads(
            subprocess.run(
                [sys.executable, "-c", _PASS_CHILD, str(n), str(m), method, "0"],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
        )
        traced = json.loads(
            subprocess.run(
                [sys.executable, "-c", _PASS_CHILD, str(n), str(m), method, "1"],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
        )
        rows.append(
            {
                "method": method,
                "n_apps": n,
                "n_accelerators": m,
                "wall_s": round(timed["wall_s"], 3),
                "cpu_s": round(timed["cpu_s"], 3),
                "placed": timed["placed"],
                "traced_peak_mb": round(traced["traced_peak_mb"], 1),
                "max_rss_mb": round(timed["max_rss_mb"], 1),
            }
        )
        print(f"  speed {method}: {rows[-1]}", flush=True)
    return rows


# --- 5. local search over time ----------------------------------------------------------------


def local_search_traces(quick: bool) -> list[dict]:
    from optplace.generate import generate_instance

    cases = [load(ROOT / "instances" / "seed" / "heterogeneous_200.json")]
    if not quick:
        cases.append(generate_instance("hetero", 1000, 133, seed=1).model_copy(update={"name": "hetero-1000x133"}))
    out = []
    for instance in cases:
        for budget in (None, 20.0):
            result = solve(instance, "local_search", SolveParams(seed=0, time_limit_s=budget))
            out.append(
                {
                    "instance": instance.name,
                    "time_limit_s": budget,
                    "stop_reason": result.stop_reason.value,
                    "initial": result.stats["initial"],
                    "initial_objectives": result.stats["initial_objectives"],
                    "final_objectives": {k: result.objectives[k] for k in result.stats["initial_objectives"]},
                    "moves": result.stats["moves"],
                    "runtime_s": round(result.runtime_s, 3),
                    "trace": result.stats["trace"],
                }
            )
    return out


# --- report -----------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import numpy

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def write_markdown(results: dict[str, Any], path: Path) -> None:
    parts = [
        "# Heuristics and baselines: benchmark",
        "",
        "Produced by `.venv/bin/python benchmarks/heuristics.py`"
        + (" --quick" if results["quick"] else "")
        + f" on {results['machine']['platform']}, {results['machine']['cpus']} CPUs, Python "
        f"{results['machine']['python']}, load average at start {results['machine']['load_average_at_start']}"
        f" ({results['machine']['date']}). Runtimes are provisional: the machine was shared.",
        "",
        "`clean` = the evaluator's violation-free hosted count (no SLO, cap, memory or stability violation on "
        "the application, its accelerator or its node); `slo_met` = hosted applications whose predicted latency "
        "meets their SLO; `prefix` = applications hosted in arrival order before the first violation anywhere. "
        "Model-driven methods have no violations, so all three equal `hosted` for them.",
        "",
        "## 1. The seed's headline: model-driven vs knapsack hosting (heterogeneous cluster)",
        "",
        "Generated `hetero` clusters (half Jetson Nano GPUs, half Raspberry Pi + Coral edgeTPUs), load swept by "
        "applications per accelerator, 5 seeds each (means). Model-driven = `least_utilization_increase`, the "
        "seed's policy for mixed clusters. Knapsack (memory) = the best of the three memory-only fits per seed.",
        "",
        table(
            [
                "accelerators",
                "apps/acc",
                "apps",
                "model-driven",
                "local_search",
                "knap. mem. clean",
                "slo_met",
                "prefix",
                "knap. util. clean",
                "ratio vs mem. (clean)",
                "ratio vs mem. (slo_met)",
                "ratio vs util. (clean)",
            ],
            [
                [
                    e["accelerators"],
                    e["apps_per_accelerator"],
                    e["applications"],
                    e["seed_model_driven"],
                    e["local_search"],
                    e["knapsack_memory_clean"],
                    e["knapsack_memory_slo_met"],
                    e["knapsack_memory_prefix"],
                    e["knapsack_utilization_clean"],
                    e["ratio_memory_clean"],
                    e["ratio_memory_slo_met"],
                    e["ratio_utilization_clean"],
                ]
                for e in results["headline_table"]
            ],
        ),
        "",
        "## 2. Shipped instances",
        "",
        table(
            ["file", "method", "status", "hosted", "clean", "slo_met", "prefix", "accelerators", "objective", "time s"],
            [
                [
                    r["file"].split("instances/")[-1],
                    r["method"],
                    r["status"],
                    r["hosted"],
                    r["clean"],
                    r["slo_met"],
                    r.get("prefix"),
                    r["accelerators"],
                    r["objective"],
                    r["runtime_s"],
                ]
                for r in results["shipped"]
            ],
        ),
        "",
        "## 3. Generated instances of growing size (`hetero`, 7.5 applications per accelerator)",
        "",
        "Every method through `solve()` (wall time includes the alone-feasibility diagnosis and the evaluator's "
        "re-check); local search with its default budget.",
        "",
        table(
            ["apps", "accelerators", "method", "status", "hosted", "clean", "accelerators used", "time s"],
            [
                [
                    r["n_apps"],
                    r["n_accelerators"],
                    r["method"],
                    r["status"],
                    r["hosted"],
                    r["clean"],
                    r["accelerators"],
                    r["runtime_s"],
                ]
                for r in results["scale"]
            ],
        ),
        "",
        "## 4. One full greedy pass: speed and memory",
        "",
        "The method function alone (state construction plus the pass), each in a fresh process; peak traced "
        "memory from a second, tracemalloc-instrumented run; peak RSS includes the interpreter, numpy, pydantic and "
        "the instance. CPU time is the number to read on a shared machine.",
        "",
        table(
            ["method", "apps", "accelerators", "wall s", "CPU s", "placed", "traced peak MB", "peak RSS MB"],
            [
                [
                    r["method"],
                    r["n_apps"],
                    r["n_accelerators"],
                    r["wall_s"],
                    r["cpu_s"],
                    r["placed"],
                    r["traced_peak_mb"],
                    r["max_rss_mb"],
                ]
                for r in results["speed"]
            ],
        ),
        "",
        "## 5. Local search over time",
        "",
    ]
    for trace in results["local_search"]:
        parts.append(
            f"**{trace['instance']}**, time limit {trace['time_limit_s'] or 'default'}: start `{trace['initial']}` "
            f"{trace['initial_objectives']} -> {trace['final_objectives']} in {trace['runtime_s']} s "
            f"({trace['stop_reason']}); moves {trace['moves']}."
        )
        parts.append("")
        points = trace["trace"]
        shown = points if len(points) <= 12 else [*points[:6], *points[-6:]]
        keys = [k for k in shown[0] if k not in ("move",)]
        parts.append(table([*keys, "move"], [[p[k] for k in keys] + [p.get("move")] for p in shown]))
        parts.append("")
    path.write_text("\n".join(parts) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--sections", default="headline,shipped,scale,speed,local_search")
    parser.add_argument("--speed-methods", default=None, help="comma-separated methods for the speed section")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"quick": args.quick, "machine": machine()}
    sections = args.sections.split(",")
    if "headline" in sections:
        print("headline ...", flush=True)
        results["headline"] = headline(args.quick)
        results["headline_table"] = headline_table(results["headline"])
    if "shipped" in sections:
        print("shipped instances ...", flush=True)
        results["shipped"] = shipped(args.quick)
    if "scale" in sections:
        print("scale ...", flush=True)
        results["scale"] = scale(args.quick)
    if "speed" in sections:
        print("speed ...", flush=True)
        results["speed"] = speed(args.quick, args.speed_methods.split(",") if args.speed_methods else None)
    if "local_search" in sections:
        print("local search ...", flush=True)
        results["local_search"] = local_search_traces(args.quick)
    for key in ("headline_table", "shipped", "scale", "speed", "local_search"):
        results.setdefault(key, [])
    (out / "heuristics_results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    write_markdown(results, out / "heuristics.md")
    print(f"wrote {out / 'heuristics.md'} and {out / 'heuristics_results.json'}")


if __name__ == "__main__":
    main()
