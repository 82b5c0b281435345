"""/v1/health latency and server memory while hostile request bodies are being rejected (issue 9).

A real ``optplace serve`` on loopback (``ServerUnderTest`` of ``api_load.py``). For each hostile
body, one client posts it ``--repeat`` times in a row to ``POST /v1/solve`` while another polls
``GET /v1/health`` every 10 ms; a third thread samples the server process's resident memory (the
uvicorn process, where bodies are parsed; solver workers never see a rejected body). Reported per
body: its size, the answer (status, bytes), the time to reject it, health latency p50/p99/max
during the attack and before it, and the server's RSS growth (peak during the attack minus the
idle baseline). Targets: health p99 <= 100 ms, RSS growth <= 100 MB.

Bodies, each just under the 10 MB body limit (``OPTPLACE_MAX_BODY_BYTES``):

* ``labels_700k``: the issue's attack, a node with 700,000+ invalid labels (rejected by the JSON
  value limit before parsing);
* ``values_under_cap``: 450,000 labels, under ``OPTPLACE_MAX_JSON_VALUES``: parsed, then rejected
  by the labels cap (the worst case that is parsed);
* ``nested``: ten million brackets (rejected by the depth limit before parsing);
* ``long_text``: a 10 MB description (parsed, rejected by the length cap).

Run from the repository root::

    python benchmarks/hostile_body.py                 # every body, 5 times each
    python benchmarks/hostile_body.py --repeat 10 --bodies labels_700k

Results go to ``benchmarks/results/hostile_body.md`` and ``hostile_body.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_load import ROOT, ServerUnderTest
from results_files import write_results

RESULTS = ROOT / "benchmarks" / "results"
TINY = ROOT / "instances" / "tiny" / "ps_one_per_gpu.json"
LIMIT = 10_000_000  # the default OPTPLACE_MAX_BODY_BYTES
HEALTH_EVERY_S = 0.01
RSS_EVERY_S = 0.005


def _fill(labels: int) -> bytes:
    instance = json.loads(TINY.read_text())
    instance["nodes"][0]["labels"] = {f"k{i:x}": 10 for i in range(labels)}
    return json.dumps({"instance": instance, "method": "first_fit"}, separators=(",", ":")).encode()


def labels_700k() -> bytes:
    count = 700_000
    while len(_fill(count + 20_000)) < LIMIT:  # as many labels as fit under the body limit
        count += 20_000
    return _fill(count)


def values_under_cap() -> bytes:
    return _fill(450_000)


def nested() -> bytes:
    depth = (LIMIT - 100) // 2
    return b'{"instance":' + b"[" * depth + b"]" * depth + b"}"


def long_text() -> bytes:
    instance = json.loads(TINY.read_text())
    instance["description"] = "x" * (LIMIT - 2000)
    return json.dumps({"instance": instance}).encode()


BODIES: dict[str, Callable[[], bytes]] = {
    "labels_700k": labels_700k,
    "values_under_cap": values_under_cap,
    "nested": nested,
    "long_text": long_text,
}


def percentiles(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None, "n": 0}
    values = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
        "n": len(samples),
    }


def poll_health(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/v1/health").raise_for_status()
            out.append(time.perf_counter() - started)
            time.sleep(HEALTH_EVERY_S)


def sample_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    process = psutil.Process(pid)
    while not stop.is_set():
        out.append(process.memory_info().rss)
        time.sleep(RSS_EVERY_S)


def measure(server: ServerUnderTest, name: str, body: bytes, repeat: int) -> dict[str, Any]:
    baseline: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll_health, args=(server.url, stop, baseline))
    poller.start()
    time.sleep(1.0)
    stop.set()
    poller.join()
    idle_rss = psutil.Process(server.process.pid).memory_info().rss

    during: list[float] = []
    rss: list[int] = []
    stop = threading.Event()
    threads = [
        threading.Thread(target=poll_health, args=(server.url, stop, during)),
        threading.Thread(target=sample_rss, args=(server.process.pid, stop, rss)),
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    rejections, statuses, answer_bytes = [], [], []
    with httpx.Client(base_url=server.url, timeout=120) as attacker:
        for _ in range(repeat):
            started = time.perf_counter()
            response = attacker.post("/v1/solve", content=body, headers={"content-type": "application/json"})
            rejections.append(time.perf_counter() - started)
            statuses.append(response.status_code)
            answer_bytes.append(len(response.content))
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "body": name,
        "body_mb": round(len(body) / 1e6, 2),
        "status": sorted(set(statuses)),
        "answer_bytes": max(answer_bytes),
        "reject_s_median": round(float(np.median(rejections)), 3),
        "health_during": percentiles(during),
        "health_before": percentiles(baseline),
        "rss_idle_mb": round(idle_rss / 2**20, 1),
        "rss_growth_mb": round((max(rss) - idle_rss) / 2**20, 1),
    }


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Hostile request bodies: /v1/health latency and server memory",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}  ",
        "Targets: health p99 <= 100 ms during the attack, server RSS growth <= 100 MB.",
        "",
        "| body | MB | answer | answer bytes | reject (median s) | health p50 / p99 / max ms during | "
        "health p99 ms before | RSS idle MB | RSS growth MB |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        d, b = r["health_during"], r["health_before"]
        lines.append(
            f"| {r['body']} | {r['body_mb']} | {'/'.join(map(str, r['status']))} | {r['answer_bytes']} | "
            f"{r['reject_s_median']} | {d['p50_ms']} / {d['p99_ms']} / {d['max_ms']} | {b['p99_ms']} | "
            f"{r['rss_idle_mb']} | {r['rss_growth_mb']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="posts of each body (default 5)")
    parser.add_argument("--bodies", default=",".join(BODIES), help=f"comma-separated, from {', '.join(BODIES)}")
    parser.add_argument("--out", default=str(RESULTS / "hostile_body"), help="results path without extension")
    parser.add_argument("--machine", default=f"{platform.node()}, {psutil.cpu_count()} CPUs", help="machine note")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.bodies.split(",") if n.strip()]
    unknown = [n for n in names if n not in BODIES]
    if unknown or not 1 <= args.repeat <= 100:
        parser.error(f"unknown bodies {unknown}" if unknown else "--repeat must be 1..100")
    rows = []
    with tempfile.TemporaryDirectory(prefix="optplace-hostile-") as folder:
        server = ServerUnderTest(1, Path(folder))
        try:
            for name in names:
                rows.append(measure(server, name, BODIES[name](), args.repeat))
                print(json.dumps(rows[-1]), flush=True)
        finally:
            server.stop()
    meta = {
        "command": shlex.join(["python", "benchmarks/hostile_body.py", *(argv or sys.argv[1:])]),
        "machine": args.machine,
    }
    text = markdown(rows, meta)
    print(text)
    write_results(args.out, text, meta, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
