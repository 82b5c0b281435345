"""Exact-triplet bin packing: is the optimum (n / 3 bins, known by construction) reached and proven?

Generates shuffled exact-triplet problems (:func:`optplace.or_instances.exact_triplets`), writes each
as a BPPLIB file, converts it with ``optplace convert --from bpp`` (the path a user takes), and solves
it with each method under a time limit. Reports per size and method: optimal (reached and proven),
reached, mean and worst bins over the optimum, mean time to the optimum (from the progress log), and
the bound. Target (issue 11): every instance of 60-240 items optimal within 60 s.

Run from the repository root::

    python benchmarks/bpp_triplets.py                                  # 60-240 items, 5 seeds, auto + configuration
    python benchmarks/bpp_triplets.py --sizes 60 120 --seeds 0 1 --methods auto --time-limit 20

Writes ``benchmarks/results/bpp_triplets.md`` and ``bpp_triplets.json`` (``--tag`` changes the stem).
Timings are provisional on a shared machine; the machine is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def convert_with_cli(path: Path, out: Path) -> Path:
    """``optplace convert --from bpp``, as a user would run it; returns the instance file."""
    subprocess.run(
        [sys.executable, "-m", "optplace", "convert", str(path), "--from", "bpp", "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
    )
    (written,) = out.glob(f"{path.stem}*.json")
    return written


def time_to(progress: list[dict], target: float) -> float | None:
    """First time in the progress log at which the incumbent reached ``target``."""
    for event in progress:
        if event.get("event") == "incumbent" and event.get("incumbent") is not None and event["incumbent"] <= target:
            return float(event["time_s"])
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[60, 120, 180, 240])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", nargs="+", default=["auto", "configuration"])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--deterministic", action="store_true", help="solve in deterministic mode")
    parser.add_argument("--tag", default="bpp_triplets")
    args = parser.parse_args(argv)

    from optplace.io import load_instance
    from optplace.or_instances import exact_triplets, write_bpp
    from optplace.solve import solve

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for size in args.sizes:
            for seed in args.seeds:
                problem = exact_triplets(size, seed)
                instance = load_instance(convert_with_cli(write_bpp(problem, work / f"{problem.name}.txt"), work))
                optimum = size // 3
                for method in args.methods:
                    params = {"time_limit_s": args.time_limit, "threads": args.threads}
                    if args.deterministic:
                        params["deterministic"] = True
                    started = time.perf_counter()
                    result = solve(instance, method, params)
                    wall = time.perf_counter() - started
                    row = {
                        "items": size,
                        "seed": seed,
                        "method": method,
                        "optimum": optimum,
                        "first_fit_decreasing": len(instance.nodes),
                        "status": result.status.value,
                        "objective": result.objective,
                        "bound": result.bound,
                        "runtime_s": round(result.runtime_s, 3),
                        "wall_s": round(wall, 3),
                        "time_to_optimum_s": time_to(result.stats.get("progress", []), optimum),
                        "source": result.stats.get("incumbent_source", ""),
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)

    summary = summarise(rows, args.methods)
    meta = {
        "command": "python benchmarks/bpp_triplets.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "time_limit_s": args.time_limit,
        "threads": args.threads,
        "deterministic": args.deterministic,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.system()} (shared VM, loaded by other work: "
        "wall times provisional)",
        "python": platform.python_version(),
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.tag}.json").write_text(json.dumps({"meta": meta, "summary": summary, "rows": rows}, indent=1))
    text = render(summary, meta)
    (out / f"{args.tag}.md").write_text(text)
    print(text)
    return 0


def summarise(rows: list[dict], methods: list[str]) -> list[dict]:
    out = []
    for size in dict.fromkeys(r["items"] for r in rows):
        for method in methods:
            group = [r for r in rows if r["items"] == size and r["method"] == method]
            if not group:
                continue
            excess = [r["objective"] - r["optimum"] for r in group if r["objective"] is not None]
            reach = [r["time_to_optimum_s"] for r in group if r["time_to_optimum_s"] is not None]
            out.append(
                {
                    "items": size,
                    "method": method,
                    "instances": len(group),
                    "optimal": sum(1 for r in group if r["status"] == "optimal" and r["objective"] == r["optimum"]),
                    "reached": sum(1 for r in group if r["objective"] == r["optimum"]),
                    "mean_excess_bins": statistics.fmean(excess) if excess else None,
                    "worst_excess_bins": max(excess) if excess else None,
                    "mean_time_to_optimum_s": statistics.fmean(reach) if reach else None,
                    "max_time_to_optimum_s": max(reach) if reach else None,
                    "bound_is_optimum": sum(1 for r in group if r["bound"] == r["optimum"]),
                    "mean_runtime_s": statistics.fmean(r["runtime_s"] for r in group),
                }
            )
    return out


def render(summary: list[dict], meta: dict) -> str:
    def num(x, fmt="{:.2f}"):
        return "-" if x is None else fmt.format(x)

    lines = [
        "# Exact-triplet bin packing",
        "",
        f"`{meta['command']}` — {meta['time_limit_s']:g} s per instance, {meta['threads']} thread(s)"
        f"{', deterministic mode' if meta['deterministic'] else ''}; {meta['machine']}, Python {meta['python']}.",
        "",
        "*optimal*: n/3 bins reached and proven; *excess*: bins over n/3; *time to optimum*: first time the progress "
        "log shows n/3 bins; *bound = n/3*: the reported bound equals the optimum.",
        "",
        "| items | method | instances | optimal | reached | mean excess | worst excess | mean time to optimum s "
        "| max time to optimum s | bound = n/3 | mean runtime s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in summary:
        lines.append(
            f"| {s['items']} | {s['method']} | {s['instances']} | {s['optimal']} | {s['reached']} | "
            f"{num(s['mean_excess_bins'])} | {num(s['worst_excess_bins'], '{:g}')} | {num(s['mean_time_to_optimum_s'])} | "
            f"{num(s['max_time_to_optimum_s'])} | {s['bound_is_optimum']} | {s['mean_runtime_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
