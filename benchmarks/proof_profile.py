"""Where the configuration method's proof spends its time, stage by stage, on one instance.

Runs ``configuration`` and reports, from its progress trace, when column generation, the dive and
the enumeration started and when the bound closed; and, by wrapping the proof's pieces (no change
to what they do), per accelerator class the search steps, the candidate sets it met, the feasible
multisets of types it returned and its time, then the time HiGHS took on the type master.

Run from the repository root::

    python benchmarks/proof_profile.py                                   # instances/seed/heterogeneous.json
    python benchmarks/proof_profile.py --instance FILE --time-limit 60 --repeat 3

Writes ``benchmarks/results/proof_profile.md`` (``--tag`` changes the stem). Timings are
provisional on the shared 2-CPU VM.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def profile(instance, time_limit: float) -> dict:
    from optplace.formulations.configuration import method, pricing
    from optplace.solve import solve

    classes: list[dict] = []
    mip: list[float] = []
    knapsack_enumerate, pricer_enumerate, type_solve = (
        pricing.Knapsack.enumerate,
        pricing.Pricer.enumerate,
        method.TypeMaster.solve,
    )

    def counted_knapsack(self, floor, limit, out, deadline, types=None):
        before, nodes = len(out), self.nodes
        try:
            return knapsack_enumerate(self, floor, limit, out, deadline, types)
        finally:
            classes[-1]["steps"] += self.nodes - nodes
            classes[-1]["candidates"] += len(out) - before

    def counted_pricer(self, *args, **kwargs):
        classes.append({"class": self.cls.type_name, "steps": 0, "candidates": 0})
        started = time.perf_counter()
        found = pricer_enumerate(self, *args, **kwargs)
        classes[-1].update(returned=None if found is None else len(found), seconds=time.perf_counter() - started)
        return found

    def timed_solve(self, budget):
        started = time.perf_counter()
        try:
            return type_solve(self, budget)
        finally:
            mip.append(time.perf_counter() - started)

    pricing.Knapsack.enumerate, pricing.Pricer.enumerate, method.TypeMaster.solve = (
        counted_knapsack,
        counted_pricer,
        timed_solve,
    )
    try:
        result = solve(instance, "configuration", {"time_limit_s": time_limit, "options": {"lns": False}})
    finally:
        pricing.Knapsack.enumerate, pricing.Pricer.enumerate, method.TypeMaster.solve = (
            knapsack_enumerate,
            pricer_enumerate,
            type_solve,
        )
    stages: dict[str, float] = {}
    for event in result.stats.get("progress", []):
        if event["event"] == "stage":
            stages.setdefault(event["stage"], event["time_s"])
    return {
        "status": result.status.value,
        "objective": result.objective,
        "bound": result.bound,
        "runtime_s": result.runtime_s,
        "stages": stages,
        "classes": classes,
        "type_master_s": mip,
        "columns": result.stats.get("enumerated_columns"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instance", default="instances/seed/heterogeneous.json")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tag", default="proof_profile")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from optplace.io import load_instance

    instance = load_instance(ROOT / args.instance)
    lines = [
        "# Where the configuration method's proof spends its time",
        "",
        f"`python benchmarks/proof_profile.py --instance {args.instance} --time-limit {args.time_limit:g} "
        f"--repeat {args.repeat}` — {platform.machine()} {len(__import__('os').sched_getaffinity(0))} cores, "
        f"Python {platform.python_version()}. Provisional timings (shared machine).",
        "",
        "| run | status | hosted | bound | total s | stage starts (s) | per class: steps / candidates / multisets / s "
        "| type master s |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for run in range(1, args.repeat + 1):
        row = profile(instance, args.time_limit)
        stages = ", ".join(f"{name.split(':')[-1]} {t:.2f}" for name, t in row["stages"].items())
        per_class = "; ".join(
            f"{c['class']}: {c['steps']:,} / {c['candidates']:,} / {c['returned']} / {c['seconds']:.2f}"
            for c in row["classes"]
        )
        mip = ", ".join(f"{t:.2f}" for t in row["type_master_s"]) or "-"
        lines.append(
            f"| {run} | {row['status']} | {row['objective']:g} | {row['bound']:g} | {row['runtime_s']:.2f} | "
            f"{stages} | {per_class} | {mip} |"
        )
        print(lines[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.tag}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote benchmarks/results/{args.tag}.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
