"""In-process overhead of ``optplace.solve()`` beyond the method itself (issue 12 target: <= 0.5 ms).

The instance is the first 50 applications of ``instances/seed/heterogeneous.json`` (8 accelerators,
the same as benchmarks/api_load.py); the method defaults to ``first_fit``. Each run uses a fresh copy
of the instance (a new object, as the service deserialises one per request), so nothing cached on
the previous run's instance is reused; a second ``solve`` row reuses one object (a library user
solving the same instance again). Rows:

* ``method alone``: the registered method function, ``info.function(instance, params)``;
* ``solve``: ``optplace.solve(instance, method)`` end to end, fresh instance each run, with the
  content-keyed alone-latency cache warm (a service solving similar instances);
* ``solve, cold caches``: the same after emptying that cache (an instance never seen before);
* ``solve, same object``: one instance object solved again and again;
* ``overhead``: per run, solve minus the method alone;
* then the parts on their own: the alone check of every application, the evaluator, result
  building (evaluator and the check of the unplaced applications included), the input hash, and
  the parameters.

Both CPU time of the thread and wall time are reported: on a shared machine the CPU time is the
steadier figure; the target is about an unloaded machine, where the two agree.

Run from the repository root::

    python benchmarks/solve_overhead.py                  # 300 runs
    python benchmarks/solve_overhead.py --runs 1000 --method breadth_first

Results go to ``benchmarks/results/solve_overhead.json`` and ``.md``. Wall times on a shared or
loaded machine are provisional.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optplace import __version__, solve  # noqa: E402
from optplace.diagnose import _alone_latency_of, check_alone  # noqa: E402
from optplace.domain import Instance  # noqa: E402
from optplace.evaluate import evaluate  # noqa: E402
from optplace.params import SolveParams  # noqa: E402
from optplace.registry import get_method  # noqa: E402
from optplace.solve import build_result, input_hash  # noqa: E402

SOURCE = ROOT / "instances" / "seed" / "heterogeneous.json"
RESULTS = ROOT / "benchmarks" / "results"
TARGET_MS = 0.5


def instance_50() -> Instance:
    """The seed's heterogeneous cluster with its first 50 applications."""
    doc = json.loads(SOURCE.read_text())
    doc["applications"] = doc["applications"][:50]
    doc["name"] = "heterogeneous_50"
    return Instance.model_validate(doc)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return {"p50_ms": pick(0.5), "p95_ms": pick(0.95), "mean_ms": statistics.fmean(ordered) * 1000}


def timed(action: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread): CPU time is steadier on a shared, loaded machine."""
    wall, cpu = time.perf_counter(), time.thread_time()
    action()
    return time.perf_counter() - wall, time.thread_time() - cpu


def forget_caches() -> None:
    """Empty the content-keyed alone-latency cache (the identity caches miss on a fresh copy anyway)."""
    _alone_latency_of.cache_clear()


def measure(method: str, runs: int, warmup: int) -> dict[str, dict[str, dict[str, float]]]:
    base = instance_50()
    info = get_method(method)
    params = SolveParams()
    output = info.function(base, params)
    placement = solve(base, method).placement()
    samples: dict[str, dict[str, list[float]]] = {}

    def record(key: str, value: tuple[float, float]) -> None:
        entry = samples.setdefault(key, {"wall": [], "cpu": []})
        entry["wall"].append(value[0])
        entry["cpu"].append(value[1])

    for run in range(warmup + runs):
        copies = [base.model_copy() for _ in range(8)]  # a new object per use: no identity cache helps
        method_t = timed(lambda: info.function(copies[0], params))  # noqa: B023
        solve_t = timed(lambda: solve(copies[1], method))  # noqa: B023
        forget_caches()
        cold_t = timed(lambda: solve(copies[2], method))  # noqa: B023
        same_t = timed(lambda: solve(base, method))
        parts = {
            "check_alone (all apps)": timed(lambda: check_alone(copies[3])),  # noqa: B023
            "evaluate": timed(lambda: evaluate(copies[4], placement)),  # noqa: B023
            "build_result (evaluate included)": timed(lambda: build_result(copies[5], method, params, output, 0.0)),  # noqa: B023
            "input_hash": timed(lambda: input_hash(copies[6])),  # noqa: B023
            "params": timed(lambda: SolveParams.model_validate({})),
        }
        if run < warmup:
            continue
        record("method alone", method_t)
        record("solve", solve_t)
        record("solve, cold caches", cold_t)
        record("solve, same object", same_t)
        record("overhead = solve - method", (solve_t[0] - method_t[0], solve_t[1] - method_t[1]))
        record("overhead, cold caches", (cold_t[0] - method_t[0], cold_t[1] - method_t[1]))
        for key, value in parts.items():
            record(key, value)
    return {key: {kind: percentiles(v) for kind, v in entry.items()} for key, entry in samples.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", default="first_fit", help="method to time (default first_fit)")
    parser.add_argument("--runs", type=int, default=300, help="measured runs (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured runs first (default 20)")
    parser.add_argument("--note", default="", help="machine note recorded with the results")
    args = parser.parse_args()
    rows = measure(args.method, args.runs, args.warmup)
    machine = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "optplace": __version__,
        "note": args.note,
    }
    lines = [
        f"# solve() overhead: {args.method} on 50 applications ({args.runs} runs)",
        "",
        f"Target: overhead p50 <= {TARGET_MS} ms (in-process, beyond the method). Machine: {machine['platform']}, {machine['cpus']} CPUs, "
        f"Python {machine['python']}. {args.note}",
        "",
        "| part | CPU p50 ms | CPU p95 ms | wall p50 ms | wall p95 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {k} | {v['cpu']['p50_ms']:.3f} | {v['cpu']['p95_ms']:.3f} | {v['wall']['p50_ms']:.3f} | "
            f"{v['wall']['p95_ms']:.3f} |"
            for k, v in rows.items()
        ),
        "",
        f"Command: python benchmarks/solve_overhead.py --method {args.method} --runs {args.runs}",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "solve_overhead.md").write_text(text + "\n")
    document = {"method": args.method, "runs": args.runs, "machine": machine, "rows": rows, "target_ms": TARGET_MS}
    (RESULTS / "solve_overhead.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
