"""Which memory limit works for a solve: an address-space limit (RLIMIT_AS) or a watchdog on the
proportional set size (PSS) of the solve's process tree (the one the service uses, issue 9).

For each method and thread count, a child process runs ``optplace.solve`` on a generated instance
(in-process: ``isolate`` false) while this script samples the child's peak resident set (RSS),
virtual size (VMS), PSS and thread count every 0.1 s. Then the same solve runs under
``RLIMIT_AS = --as-limit-mb``, chosen above the measured PSS peak, and the script records how it
ended. A limit that kills a solve using less memory than the limit, or kills it without a stop
reason and without its incumbent, is not usable.

Run from the repository root::

    python benchmarks/solver_memory.py                     # hetero 2,000 x 300, 20 s per solve
    python benchmarks/solver_memory.py --apps 1000 --accelerators 150 --time-limit 10

Results go to ``benchmarks/results/solver_memory.md`` and ``solver_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_files import write_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUNS = [("cpsat", 8), ("cpsat", 1), ("milp_highs", 2)]

CHILD = """
import json, resource, sys
limit_mb = int(sys.argv[5])
if limit_mb:
    resource.setrlimit(resource.RLIMIT_AS, (limit_mb * 2**20, limit_mb * 2**20))
from optplace import solve
from optplace.io import load_instance
result = solve(load_instance(sys.argv[1]), sys.argv[2],
               {"time_limit_s": float(sys.argv[3]), "threads": int(sys.argv[4]), "options": {"isolate": False}})
print(json.dumps({"status": result.status.value, "stop_reason": result.stop_reason.value, "hosted": result.hosted}))
"""


def run(instance: Path, method: str, threads: int, time_limit: float, as_limit_mb: int) -> dict[str, Any]:
    command = [sys.executable, "-c", CHILD, str(instance), method, str(time_limit), str(threads), str(as_limit_mb)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    peak = {"rss_mb": 0.0, "vms_mb": 0.0, "pss_mb": 0.0, "threads_seen": 0}
    while process.poll() is None:
        try:
            info = watched.memory_full_info()
            sample = {
                "rss_mb": info.rss / 2**20,
                "vms_mb": info.vms / 2**20,
                "pss_mb": getattr(info, "pss", info.rss) / 2**20,
                "threads_seen": watched.num_threads(),
            }
            peak = {k: max(peak[k], v) for k, v in sample.items()}
        except psutil.Error:
            pass
        time.sleep(0.1)
    out, err = process.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return {
        "method": method,
        "threads": threads,
        "as_limit_mb": as_limit_mb or None,
        "exit_code": process.returncode,
        "outcome": json.loads(lines[-1]) if lines else None,
        "stderr_tail": err.strip().splitlines()[-1][:200] if err.strip() else "",
        **{k: round(v) for k, v in peak.items()},
    }


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# Solver memory: RSS, virtual size and PSS, and what an address-space limit does",
        "",
        f"Command: `{meta['command']}`  ",
        f"Instance: {meta['instance']}  ",
        f"Machine: {meta['machine']}",
        "",
        "| method | threads | RLIMIT_AS MB | exit | outcome | peak RSS MB | peak VMS MB | peak PSS MB | threads seen | stderr |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        outcome = r["outcome"]
        shown = f"{outcome['status']} / {outcome['stop_reason']} / {outcome['hosted']} hosted" if outcome else "none"
        lines.append(
            f"| {r['method']} | {r['threads']} | {r['as_limit_mb'] or '-'} | {r['exit_code']} | {shown} | "
            f"{r['rss_mb']} | {r['vms_mb']} | {r['pss_mb']} | {r['threads_seen']} | {r['stderr_tail'] or '-'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from optplace.generate import generate_instance
    from optplace.io import dump_instance

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=2000)
    parser.add_argument("--accelerators", type=int, default=300)
    parser.add_argument("--time-limit", type=float, default=20.0, metavar="S")
    parser.add_argument("--as-limit-mb", type=int, default=1000, help="RLIMIT_AS of the limited runs")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each limited solve (its failures vary)")
    parser.add_argument("--out", default=str(RESULTS / "solver_memory"))
    parser.add_argument("--machine", default=f"{platform.node()}, {psutil.cpu_count()} CPUs")
    args = parser.parse_args(argv)
    if not (1 <= args.apps <= 10_000 and 1 <= args.accelerators <= 2000 and 0 < args.time_limit <= 300):
        parser.error("--apps 1..10000, --accelerators 1..2000, --time-limit 0..300")
    if not 1 <= args.repeat <= 10:
        parser.error("--repeat 1..10")
    rows = []
    with tempfile.TemporaryDirectory(prefix="optplace-memory-") as folder:
        instance = Path(folder) / "instance.json"
        dump_instance(generate_instance("hetero", args.apps, args.accelerators, 0), instance)
        for limit, runs in ((0, 1), (args.as_limit_mb, args.repeat)):
            for method, threads in RUNS:
                for _ in range(runs):
                    rows.append(run(instance, method, threads, args.time_limit, limit))
                    print(json.dumps(rows[-1]), flush=True)
    meta = {
        "command": shlex.join(["python", "benchmarks/solver_memory.py", *(argv or sys.argv[1:])]),
        "instance": f"generate_instance('hetero', {args.apps}, {args.accelerators}, seed 0)",
        "machine": args.machine,
    }
    text = markdown(rows, meta)
    print(text)
    write_results(args.out, text, meta, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
