"""Simulator throughput: simulated requests per second on one core, against simpy and ciw.

Measures (best of ``--repeat`` runs, wall clock, one process, numpy single-threaded):

* the FCFS-with-switch station alone (vectorised Lindley recursion by prefix sums);
* the processor-sharing station alone (virtual-time heap loop);
* ``optplace.simulation.simulate`` end to end on the shipped seed heterogeneous instance
  (front-end PS stages, network, PS GPUs and FCFS edgeTPUs, statistics with CIs);
* the same M/D/1 queue written in simpy (process-based) and in ciw (queueing-network library),
  when they are installed (``pip install simpy ciw``), on a smaller sample, to compare.

Writes ``benchmarks/results/simulator_throughput.{md,json}``. Run::

    .venv/bin/python benchmarks/simulator_throughput.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optplace.io import load_instance  # noqa: E402
from optplace.simulation import fcfs_departures, ps_departures, simulate  # noqa: E402
from optplace.solve import solve  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def poisson_stream(n: int, rate_per_ms: float, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / rate_per_ms, n))
    backend = rng.integers(0, classes, n)
    return arrival, backend


def bench_fcfs(n: int, repeat: int) -> dict:
    s = np.array([19.23, 62.95, 42.18])
    o = np.array([24.63, 19.39, 17.53])
    arrival, backend = poisson_stream(n, 0.7 / float(np.mean(s + o * 2 / 3)), 3, 1)
    service, switch = s[backend], o[backend]
    seconds = best_of(repeat, lambda: fcfs_departures(arrival, service, backend, switch))
    return {"what": "FCFS-with-switch station (3 models, rho ~0.7)", "requests": n, "seconds": seconds}


def bench_ps(n: int, repeat: int) -> dict:
    s = np.array([10.8, 29.4, 82.9])
    arrival, backend = poisson_stream(n, 0.7 / float(np.mean(s)), 3, 2)
    size = s[backend]
    seconds = best_of(repeat, lambda: ps_departures(arrival, size))
    return {"what": "PS station (3 models, rho ~0.7)", "requests": n, "seconds": seconds}


def bench_cluster(requests_per_app: int, repeat: int) -> dict:
    instance = load_instance(ROOT / "instances" / "seed" / "heterogeneous.json")
    placement = solve(instance, "auto").placement()
    holder: dict = {}

    def run() -> None:
        holder["report"] = simulate(instance, placement, requests_per_app=requests_per_app, seed=0)

    seconds = best_of(repeat, run)
    report = holder["report"]
    return {
        "what": f"simulate() on instances/seed/heterogeneous.json ({len(placement)} apps, "
        f"{len(report.accelerators)} accelerators, front ends, CIs)",
        "requests": report.requests_simulated,
        "seconds": seconds,
    }


def bench_simpy(n: int, repeat: int) -> dict | None:
    try:
        import simpy
    except ImportError:
        return None

    def run() -> None:
        rng = np.random.default_rng(3)
        gaps = rng.exponential(1.0 / 0.07, n).tolist()
        env = simpy.Environment()
        server = simpy.Resource(env, capacity=1)
        done: list[float] = []

        def request(arrived: float):
            with server.request() as slot:
                yield slot
                yield env.timeout(10.0)
            done.append(env.now - arrived)

        def source():
            for gap in gaps:
                yield env.timeout(gap)
                env.process(request(env.now))

        env.process(source())
        env.run()

    return {
        "what": f"simpy {simpy.__version__}: M/D/1 (rho 0.7), process per request",
        "requests": n,
        "seconds": best_of(repeat, run),
    }


def bench_ciw(n: int, repeat: int) -> dict | None:
    try:
        import ciw
    except ImportError:
        return None
    rate = 0.07
    horizon = n / rate

    def run() -> None:
        network = ciw.create_network(
            arrival_distributions=[ciw.dists.Exponential(rate=rate)],
            service_distributions=[ciw.dists.Deterministic(value=10.0)],
            number_of_servers=[1],
        )
        ciw.seed(3)
        sim = ciw.Simulation(network)
        sim.simulate_until_max_time(horizon)
        holder["served"] = len(sim.get_all_records())

    holder: dict = {}
    seconds = best_of(repeat, run)
    return {"what": f"ciw {ciw.__version__}: M/D/1 (rho 0.7)", "requests": holder["served"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000, help="requests for the station benchmarks")
    parser.add_argument("--cluster-requests", type=int, default=20_000, help="requests of the slowest app")
    parser.add_argument("--library-requests", type=int, default=100_000, help="requests for simpy / ciw")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rows = [
        bench_fcfs(args.requests, args.repeat),
        bench_ps(args.requests, args.repeat),
        bench_cluster(args.cluster_requests, args.repeat),
        bench_simpy(args.library_requests, 1),
        bench_ciw(args.library_requests, 1),
        bench_ps(args.library_requests, args.repeat),
    ]
    rows = [r for r in rows if r is not None]
    for row in rows:
        row["requests_per_second"] = row["requests"] / row["seconds"]
        row["seconds_per_million"] = 1e6 / row["requests_per_second"]
    machine = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": "one process; OMP/OpenBLAS threads 1",
        "note": "shared 2-core development machine; timings are provisional",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "simulator_throughput.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    lines = [
        "# Simulator throughput",
        "",
        f"Machine: {machine['platform']}, {machine['cpu_count']} CPUs, Python {machine['python']}, numpy "
        f"{machine['numpy']}; {machine['threads']}; {machine['note']}. Best of {args.repeat} runs (1 for simpy/ciw).",
        "",
        "| what | requests | seconds | requests/s | s per 1M requests |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['what']} | {row['requests']:,} | {row['seconds']:.3f} | {row['requests_per_second']:,.0f} "
            f"| {row['seconds_per_million']:.2f} |"
        )
    lines += ["", "Command: `.venv/bin/python benchmarks/simulator_throughput.py`", ""]
    (RESULTS / "simulator_throughput.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
