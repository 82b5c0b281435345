"""Re-placement latency at seed scale: one change, a verified make-before-break plan, how fast.

For each shipped seed instance, the current placement is ``local_search``'s; then, ``--repeats``
times per kind, one change is drawn and re-planned with ``optplace.replan`` (default method
``local_search``): one new application (a copy of a random template), one rate change (a random
hosted application at 1.3-2x its rate), one failed accelerator, one drained accelerator (random
among those hosting something). Every plan returned has passed ``verify_plan`` (``replan`` raises
otherwise); the table says how long it took end to end, how many steps and checked states it had,
and how often the best target was reached (``complete``) or a fallback was needed.

Target (issue 13): a single change at seed scale in <= 1 s with a plan the evaluator accepts at
every step. Writes ``benchmarks/results/replan_latency.md`` and ``replan_latency.json``.

Run from the repository root::

    python benchmarks/replan_latency.py
    python benchmarks/replan_latency.py --repeats 5 --instances heterogeneous.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

from optplace import Instance, replan, solve
from optplace.migration import verify_plan
from optplace.migration.changes import situation

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("new_application", "rate_change", "failed_accelerator", "drained_accelerator")


def running(instance: Instance) -> Instance:
    placement = solve(instance, "local_search").placement()
    apps = [a.model_copy(update={"current_accelerator": placement.get(a.name)}) for a in instance.applications]
    return instance.model_copy(update={"applications": apps})


def draw(kind: str, instance: Instance, rng: random.Random) -> dict:
    hosted = [a for a in instance.applications if a.current_accelerator]
    if kind == "new_application":
        template = rng.choice(instance.applications)
        return {"add_applications": [template.model_copy(update={"name": "arrival", "current_accelerator": None})]}
    if kind == "rate_change":
        app = rng.choice(hosted)
        return {"rates_rps": {app.name: round(app.rate_rps * rng.uniform(1.3, 2.0), 3)}}
    busy = sorted({a.current_accelerator for a in hosted if a.current_accelerator})
    key = "unavailable_accelerators" if kind == "failed_accelerator" else "draining_accelerators"
    return {key: [rng.choice(busy)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", default="gpu_workload1.json,heterogeneous.json,heterogeneous_200.json")
    parser.add_argument("--repeats", type=int, default=10, help="changes drawn per instance and kind")
    parser.add_argument("--method", default="local_search")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    rows = []
    for file in args.instances.split(","):
        base = Instance.model_validate_json((ROOT / "instances" / "seed" / file).read_text())
        instance = running(base)
        rng = random.Random(args.seed)
        for kind in KINDS:
            times, steps, checked, moves, outcomes, replays = [], [], [], [], [], 0
            for _ in range(args.repeats):
                changes = draw(kind, instance, rng)
                started = time.perf_counter()
                result = replan(instance, changes, args.method, {"seed": args.seed})
                times.append(time.perf_counter() - started)
                replays += not verify_plan(situation(instance, changes), result.plan, result.placement())
                steps.append(len(result.plan))
                checked.append(result.states_checked)
                moves.append(result.moves)
                outcomes.append(result.outcome.value)
            rows.append(
                {
                    "instance": file,
                    "applications": len(base.applications),
                    "accelerators": len(base.accelerators()),
                    "kind": kind,
                    "runs": args.repeats,
                    "median_s": statistics.median(times),
                    "max_s": max(times),
                    "within_1s": sum(t <= 1.0 for t in times),
                    "complete": outcomes.count("complete"),
                    "fallback": outcomes.count("fallback"),
                    "none": outcomes.count("none"),
                    "replays_ok": replays,
                    "mean_steps": statistics.fmean(steps),
                    "mean_states_checked": statistics.fmean(checked),
                    "mean_moves": statistics.fmean(moves),
                }
            )
            r = rows[-1]
            print(
                f"{file:24s} {kind:20s} median {r['median_s']:.3f} s, max {r['max_s']:.3f} s, "
                f"{r['within_1s']}/{r['runs']} <= 1 s, {r['complete']} complete, {r['fallback']} fallback",
                flush=True,
            )

    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    command = "python benchmarks/replan_latency.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# Re-placement latency at seed scale",
        "",
        f"`{command}` on {machine}; shared 2-CPU VM, loaded by other work: wall times provisional. "
        f"Method `{args.method}`; current placement = `local_search`'s; {args.repeats} random changes per kind.",
        "",
        "| instance | apps | accelerators | change | runs | median s | max s | <= 1 s | complete | fallback | none |"
        " plans replayed OK | mean steps | mean states checked | mean moves |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {r['instance']} | {r['applications']} | {r['accelerators']} | {r['kind']} | {r['runs']} | "
            f"{r['median_s']:.3f} | {r['max_s']:.3f} | {r['within_1s']} | {r['complete']} | {r['fallback']} | "
            f"{r['none']} | {r['replays_ok']} | {r['mean_steps']:.1f} | {r['mean_states_checked']:.1f} | "
            f"{r['mean_moves']:.2f} |"
            for r in rows
        ],
        "",
    ]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "replan_latency.md").write_text("\n".join(lines))
    (args.out_dir / "replan_latency.json").write_text(
        json.dumps({"machine": machine, "command": command, "rows": rows}, indent=2) + "\n"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
