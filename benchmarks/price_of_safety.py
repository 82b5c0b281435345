"""The price of safety: what latency model v2 costs in hosted applications and in speed, against v1.

v2 refuses placements that v1 accepted where v1 was optimistic (section 5 of docs/validation.md
counts the violations that bought). This measures the other side, on the same instances and
methods, once per source tree:

* **seed headline** (reduced): the two shipped seed-like clusters and generated ``hetero``
  instances of 60 applications on 8-24 accelerators (the load sweep of
  ``benchmarks/seed_headline.py``, one seed per size), the seed's policies, the best heuristics
  and the exact methods with a short time limit: hosted applications (every method here hosts
  only verified placements, so hosted = violation-free);
* **method comparison** (reduced): one instance of each standard family the hard cases touch
  (``hetero``, ``tight``, ``skewed``, ``edgetpu``, ``percentile``) and of the hard families
  (``fcfs-dominant``, ``fcfs-dominant-mean``, ``ps-scv``, ``ps-low-load``, ``edgetpu-zipf-tail``);
* **speed**: one greedy pass over 10,000 applications and 1,000 accelerators (the ``hetero``
  instance of ``benchmarks/heuristics.py``), and over a tail case (``hetero`` with 30% p95/p99
  SLOs, 10,000 x 1,333): CPU seconds of the method function, in a fresh process.

Run from the repository root (each run writes ``benchmarks/results/price_of_safety_LABEL.json``;
the report ``price_of_safety.md`` compares the labels present)::

    python benchmarks/price_of_safety.py --label v2
    git archive <commit before model v2> | tar -x -C /tmp/v1 && ln -s ../formulations /tmp/v1/optplace/formulations \\
        && ln -s ../api /tmp/v1/optplace/api
    python benchmarks/price_of_safety.py --label v1 --tree /tmp/v1
    python benchmarks/price_of_safety.py --report

Timings are provisional on a shared machine (recorded with the results).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

HEADLINE_METHODS = [
    "least_utilization_increase",
    "first_fit",
    "breadth_first",
    "ordered_best_fit",
    "regret_greedy",
    "local_search",
    "milp_highs",
    "configuration",
    "auto",
]
FAMILIES = [
    "hetero",
    "tight",
    "skewed",
    "edgetpu",
    "percentile",
    "fcfs-dominant",
    "fcfs-dominant-mean",
    "ps-scv",
    "ps-low-load",
    "edgetpu-zipf-tail",
]
FAMILY_METHODS = ["first_fit", "ordered_best_fit", "regret_greedy", "local_search", "auto"]
SPEED_METHODS = ["first_fit", "ordered_first_fit", "regret_greedy"]

_SOLVE_CHILD = r"""
import json, sys
from pathlib import Path
from optplace import SolveParams, solve
from optplace.generate import generate_instance
from optplace.io import load_instance
spec = json.loads(sys.argv[1])
if spec["kind"] == "file":
    instance = load_instance(Path(spec["path"]))
else:
    instance = generate_instance(spec["family"], spec.get("n_apps"), spec.get("n_accelerators"), seed=spec["seed"])
for method in spec["methods"]:
    result = solve(instance, method, SolveParams(time_limit_s=spec["time_limit"], seed=0, threads=1))
    print(json.dumps({"instance": instance.name, "method": method, "hosted": result.hosted,
                      "hosted_without_violation": result.hosted_without_violation,
                      "latency_model": getattr(result, "latency_model", "") or "v1"}), flush=True)
"""

_SPEED_CHILD = r"""
import json, sys, time
from optplace.generate import generate_instance
from optplace.params import SolveParams
from optplace.registry import get_method
case, method = sys.argv[1], sys.argv[2]
if case == "hetero 10,000 x 1,000":
    instance = generate_instance("hetero", 10000, 1000, seed=1)
else:
    instance = generate_instance("hetero", 10000, 1333, seed=1, percentile_share=0.3)
function = get_method(method).function
cpu = time.process_time()
output = function(instance, SolveParams())
print(json.dumps({"case": case, "method": method, "cpu_s": round(time.process_time() - cpu, 3),
                  "placed": len(output.placement)}))
"""


def child(code: str, args: list[str], tree: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env, cwd="/tmp"
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def run(label: str, tree: Path, time_limit: float) -> dict:
    started = time.perf_counter()
    headline = []
    for name in ("heterogeneous.json", "heterogeneous_200.json"):
        spec = {"kind": "file", "path": str(ROOT / "instances" / "seed" / name)}
        headline += child(
            _SOLVE_CHILD, [json.dumps({**spec, "methods": HEADLINE_METHODS, "time_limit": time_limit})], tree
        )
    for accelerators in (8, 10, 12, 16, 24):
        spec = {"kind": "generate", "family": "hetero", "n_apps": 60, "n_accelerators": accelerators, "seed": 0}
        headline += child(
            _SOLVE_CHILD, [json.dumps({**spec, "methods": HEADLINE_METHODS, "time_limit": time_limit})], tree
        )
        print(f"  {label} headline {accelerators} accelerators done", flush=True)
    families = []
    for family in FAMILIES:
        spec = {"kind": "generate", "family": family, "seed": 0}
        families += child(
            _SOLVE_CHILD, [json.dumps({**spec, "methods": FAMILY_METHODS, "time_limit": time_limit})], tree
        )
        print(f"  {label} family {family} done", flush=True)
    speed = []
    for case in ("hetero 10,000 x 1,000", "tail 10,000 x 1,333 (30% p95/p99)"):
        for method in SPEED_METHODS:
            speed += child(_SPEED_CHILD, [case, method], tree)
    return {
        "label": label,
        "tree": str(tree),
        "time_limit_s": time_limit,
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        "shared 2-CPU VM, loaded by other work: wall times provisional",
        "wall_s": round(time.perf_counter() - started, 1),
        "headline": headline,
        "families": families,
        "speed": speed,
    }


def report() -> str:
    runs = {}
    for path in sorted(RESULTS.glob("price_of_safety_*.json")):
        document = json.loads(path.read_text())
        runs[document["label"]] = document
    labels = sorted(runs)
    lines = ["# The price of safety: latency model v2 against v1", ""]
    for label in labels:
        r = runs[label]
        lines.append(
            f"- `{label}`: tree `{r['tree']}`, {r['time_limit_s']:g} s per solve, {r['wall_s']:g} s wall; {r['machine']}"
        )
    lines += ["", "Commands: see the docstring of `benchmarks/price_of_safety.py`.", ""]

    def table(key: str, title: str, group: str) -> None:
        lines.extend([f"## {title}", "", "| " + group + " | method | " + " | ".join(labels) + " |"])
        lines.append("|---|---|" + "---:|" * len(labels))
        cells: dict[tuple[str, str], dict[str, int]] = {}
        for label in labels:
            for row in runs[label][key]:
                cells.setdefault((row["instance"], row["method"]), {})[label] = row["hosted_without_violation"]
        totals: dict[str, dict[str, int]] = {}
        for (instance, method), values in cells.items():
            lines.append(f"| {instance} | {method} | " + " | ".join(str(values.get(x, "")) for x in labels) + " |")
            for x in labels:
                totals.setdefault(method, {}).setdefault(x, 0)
                totals[method][x] += values.get(x, 0)
        lines.extend(
            ["", "Totals per method:", "", "| method | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
        )
        for method, values in totals.items():
            lines.append(f"| {method} | " + " | ".join(str(values[x]) for x in labels) + " |")
        lines.append("")

    table("headline", "Seed headline (reduced): hosted without violation", "instance")
    table("families", "Families, one instance each: hosted without violation", "instance")
    lines += [
        "## One greedy pass: CPU seconds",
        "",
        "| case | method | " + " | ".join(labels) + " |",
        "|---|---|" + "---:|" * len(labels),
    ]
    speeds: dict[tuple[str, str], dict[str, str]] = {}
    for label in labels:
        for row in runs[label]["speed"]:
            speeds.setdefault((row["case"], row["method"]), {})[label] = f"{row['cpu_s']:.2f} ({row['placed']} placed)"
    for (case, method), values in speeds.items():
        lines.append(f"| {case} | {method} | " + " | ".join(values.get(x, "") for x in labels) + " |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", help="name of this run (v1, v2, ...)")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="source tree to import optplace from (default: this one)"
    )
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per solve")
    parser.add_argument("--report", action="store_true", help="only rebuild price_of_safety.md from the saved runs")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.report:
        if not args.label:
            parser.error("--label is required unless --report")
        document = run(args.label, args.tree.resolve(), args.time_limit)
        (RESULTS / f"price_of_safety_{args.label}.json").write_text(json.dumps(document, indent=1) + "\n")
    text = report()
    (RESULTS / "price_of_safety.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
