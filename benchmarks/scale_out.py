"""Jobs per second of the scale-out service: 1 and 2 API replicas, local or Dask workers, on a
SQLite file or a PostgreSQL database (issue 14, item 4).

Each configuration starts real ``optplace serve`` replicas on loopback sharing one store. With
Dask, a ``distributed.LocalCluster`` (worker processes, over TCP) stands for the cluster, with as
many threads as the replicas have slots together. Closed loop: ``--clients`` threads each submit a
small job (``first_fit`` on ``instances/tiny/ps_one_per_gpu.json``) to the replicas in turn, poll
it every 20 ms until it is finished, and submit the next. After ``--warmup`` seconds, the jobs
finished within ``--seconds`` are counted: throughput (jobs/s) and the time from submission to
the first poll that sees the job completed (mean and p95). Every job must complete; any other
ending is reported as an error.

PostgreSQL: a throwaway server on loopback (``tests/postgres.py``, as the tests use), or the one
given with ``--postgres-url``.

Run from the repository root::

    python benchmarks/scale_out.py                          # every configuration, 20 s each
    python benchmarks/scale_out.py --seconds 10 --stores sqlite --backends local

Results go to ``benchmarks/results/scale_out.md`` and ``scale_out.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from api_load import ServerUnderTest  # noqa: E402
from results_files import write_results  # noqa: E402

from tests.postgres import PostgresServer  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TINY = ROOT / "instances" / "tiny" / "ps_one_per_gpu.json"
POLL_S = 0.02
TERMINAL = {"completed", "failed", "cancelled"}


def closed_loop(urls: list[str], clients: int, warmup_s: float, seconds: float) -> dict[str, Any]:
    """``clients`` threads submitting and polling jobs round-robin over ``urls``."""
    body = json.dumps({"instance": json.loads(TINY.read_text()), "method": "first_fit"})
    headers = {"content-type": "application/json"}
    start = time.monotonic()
    window = (start + warmup_s, start + warmup_s + seconds)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    turn = itertools.count()

    def client() -> None:
        with httpx.Client(timeout=60.0) as http:
            while time.monotonic() < window[1]:
                url = urls[next(turn) % len(urls)]
                submitted = time.monotonic()
                response = http.post(f"{url}/v1/jobs", content=body, headers=headers)
                if response.status_code != 202:
                    with lock:
                        errors.append(f"POST {response.status_code}")
                    time.sleep(0.1)
                    continue
                location = url + response.headers["location"]
                while (job := http.get(location).json())["status"] not in TERMINAL:
                    time.sleep(POLL_S)
                finished = time.monotonic()
                with lock:
                    if job["status"] != "completed":
                        error = job.get("error") or {}
                        errors.append(f"job {job['status']}: {error.get('code')}: {str(error.get('message'))[:120]}")
                    elif window[0] <= finished <= window[1]:
                        latencies.append(finished - submitted)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "jobs": len(latencies),
        "jobs_per_s": round(len(latencies) / seconds, 2),
        "latency_mean_ms": round(float(np.mean(values)) * 1000, 1),
        "latency_p95_ms": round(float(np.percentile(values, 95)) * 1000, 1),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }


def run_config(
    store: str, replicas: int, backend: str, args: argparse.Namespace, folder: Path, pg: PostgresServer | None
) -> dict[str, Any]:
    if store == "sqlite":
        store_url = f"sqlite:///{folder / f'{store}-{replicas}-{backend}.sqlite3'}"
    elif args.postgres_url:
        store_url = args.postgres_url
    else:
        assert pg is not None
        store_url = pg.new_database()
    env = {
        "OPTPLACE_STORE_URL": store_url,
        "OPTPLACE_WORKERS": str(args.workers),
        "OPTPLACE_SYNC_RESERVED_WORKERS": "0",  # jobs only here: let them use every slot
        "OPTPLACE_MAX_WORKERS_PER_CLIENT": str(args.workers),  # every client is 127.0.0.1
        "OPTPLACE_MAX_ACTIVE_PER_CLIENT": "1000",
        "OPTPLACE_QUEUE_SIZE": "1000",
    }
    cluster = None
    if backend == "dask":
        import distributed

        cluster = distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=replicas * args.workers,
            processes=True,
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        )
        env["OPTPLACE_DASK_SCHEDULER"] = cluster.scheduler_address
    started: list[ServerUnderTest] = []
    try:
        for _ in range(replicas):
            started.append(ServerUnderTest(None, folder, env))
        measured = closed_loop([r.url for r in started], args.clients, args.warmup, args.seconds)
        if measured["errors"]:
            for replica in started:  # the servers' side of what went wrong
                print(Path(replica.log.name).read_text()[-3000:], file=sys.stderr)
    finally:
        for replica in started:
            replica.stop()
        if cluster is not None:
            cluster.close()
    return {"store": store, "replicas": replicas, "backend": backend, "workers_per_replica": args.workers, **measured}


def table(rows: list[dict[str, Any]]) -> str:
    head = "| store | replicas | workers | workers per replica | jobs/s | mean latency ms | p95 latency ms | errors |"
    lines = [head, "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['store']} | {r['replicas']} | {r['backend']} | {r['workers_per_replica']} | {r['jobs_per_s']} | "
            f"{r['latency_mean_ms']} | {r['latency_p95_ms']} | {r['errors']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement window per configuration")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window opens")
    parser.add_argument("--clients", type=int, default=4, help="closed-loop clients")
    parser.add_argument("--workers", type=int, default=2, help="solver slots per replica")
    parser.add_argument("--replicas", default="1,2", help="replica counts to measure")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--backends", default="local,dask")
    parser.add_argument("--postgres-url", default=None, help="use this PostgreSQL store instead of a throwaway one")
    parser.add_argument("--out", default=str(RESULTS / "scale_out"))
    args = parser.parse_args(argv)
    stores = [s for s in args.stores.split(",") if s]
    pg = PostgresServer() if "postgresql" in stores and not args.postgres_url else None
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="optplace-scale-") as tmp:
            for store in stores:
                for backend in args.backends.split(","):
                    for replicas in (int(n) for n in args.replicas.split(",")):
                        row = run_config(store, replicas, backend, args, Path(tmp), pg)
                        print(json.dumps(row), flush=True)
                        rows.append(row)
    finally:
        if pg is not None:
            pg.stop()
    meta = {
        "command": "python benchmarks/scale_out.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "note": "shared 2-CPU VM, loaded by other work: wall times provisional",
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "job": "first_fit on instances/tiny/ps_one_per_gpu.json",
    }
    text = (
        "# Scale-out service: jobs per second\n\n"
        f"`{meta['command']}` on {meta['machine']} ({meta['note']}).\n"
        f"{args.clients} closed-loop clients, {args.seconds:g} s window after {args.warmup:g} s warm-up; "
        f"job: {meta['job']}; latency: submission to the first poll (every {POLL_S * 1000:g} ms) that sees it "
        "completed.\n\n" + table(rows) + "\n"
    )
    print(table(rows))
    write_results(args.out, text, meta, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
