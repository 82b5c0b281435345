"""EdgeTPU co-compilation: how many more applications fit when models may be compiled together?

Models compiled together share the edgeTPU's ~8 MB on-chip parameter cache, so a switch between
them reloads less. This declares co-compilation groups (``Instance.cocompilation_groups``, the rule
in ``optplace/cocompilation.py``) on edgeTPU clusters and solves each instance three ways:

* ``apart``: no groups (today's model: every switch pays the profile's overhead);
* ``cache``: a group for every set of two or three edgeTPU models whose parameters
  (``zoo.EDGETPU_PARAMETER_MB``) fit the 8 MB cache together (``parameter_cache_mb`` and
  ``parameter_mb`` are declared, so the domain checks the limit); a member's co-compiled overhead is
  its own overhead times the co-compiled/apart ratio Google's Coral reference measured for the
  MobileNet v1+v2 pair (which fits the cache) on a Raspberry Pi 4 (the seed's host): 2.30/15.19;
* ``pairs``: every pair of edgeTPU models, those that overflow the cache at the ratio Coral measured
  for the Inception v1+v4 pair (which overflows it): 10.56/23.14. An extrapolation from one
  measured pair, shown as the upper end of what co-compilation could bring.

Runs, each with a time limit: ``configuration`` (column generation, with a bound), ``local_search``
(the probe's moves, from its own construction), and a *polish*: ``local_search`` again from the best
placement so far (with groups, also the best found without them, which stays feasible: groups only
add options), so every variant gets the same search effort; the table reports the best verified hosted count per instance and
variant, the configuration bound, and the simulator's verdict on the best co-compiled placement
(applications whose simulated mean lies significantly above their SLO; the simulator runs each
device with the group the evaluator chose). Instances: the seed's heterogeneous clusters
(``instances/seed/heterogeneous*.json``, 4 + 4 and 10 + 10 devices) and the generated ``edgetpu``
family (60 applications on 10 edgeTPUs, seeds 0-2).

Run from the repository root (prints a table, writes ``benchmarks/results/cocompile.{md,json}``)::

    python benchmarks/cocompile.py
    python benchmarks/cocompile.py --time-limit 5 --seeds 0 --no-seed-200   # a quick look

Timings are provisional (shared machine); hosted counts of exact methods at a time limit can move a
little with the machine's speed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from optplace import zoo
from optplace.domain import Discipline, Instance
from optplace.evaluate import evaluate
from optplace.generate import generate_instance
from optplace.io import load_instance
from optplace.simulation import simulate
from optplace.solve import solve

ROOT = Path(__file__).resolve().parents[1]
# (column, method): in this order, so that the polish starts from the best placement so far
RUNS = (("configuration", "configuration"), ("local_search", "local_search"), ("polish", "local_search"))
VARIANTS = ("apart", "cache", "pairs")
HOST = "rp4b"  # the seed's edgeTPU host (Raspberry Pi 4): the ratios below are measured there


def _ratio(pair: str) -> float:
    figures = zoo.CORAL_SWITCH_MS[HOST][pair]
    return figures["cocompiled"].value / figures["alternating"].value


FITS_RATIO = _ratio("mobilenet_v1+v2")  # 0.151: both models fit the cache
OVERFLOW_RATIO = _ratio("inception_v1+v4")  # 0.456: the pair overflows the cache
CACHE_MB = zoo.EDGETPU_PARAMETER_CACHE_MB.value


def with_groups(instance: Instance, variant: str) -> Instance:
    """The instance with the variant's co-compilation groups on every fcfs type (unchanged for ``apart``)."""
    if variant == "apart":
        return instance
    doc = instance.model_dump(mode="json", exclude_defaults=True)
    groups: list[dict[str, Any]] = []
    for acc_type in doc["accelerator_types"]:
        if acc_type["discipline"] != Discipline.FCFS.value:
            continue
        name = acc_type["name"]
        members = [m for m in doc["models"] if name in m["profiles"] and m["name"] in zoo.EDGETPU_PARAMETER_MB]
        if variant == "cache":
            acc_type["parameter_cache_mb"] = CACHE_MB
            for model in members:
                model["profiles"][name]["parameter_mb"] = zoo.EDGETPU_PARAMETER_MB[model["name"]].value
        sizes = (2, 3) if variant == "cache" else (2,)
        for size in sizes:
            for chosen in itertools.combinations(members, size):
                total = sum(zoo.EDGETPU_PARAMETER_MB[m["name"]].value for m in chosen)
                fits = total <= CACHE_MB
                if variant == "cache" and not fits:
                    continue
                ratio = FITS_RATIO if fits else OVERFLOW_RATIO
                groups.append(
                    {
                        "name": f"{name}:{'+'.join(m['name'] for m in chosen)}",
                        "accelerator_type": name,
                        "switch_overhead_ms": {
                            m["name"]: round(m["profiles"][name].get("switch_overhead_ms", 0.0) * ratio, 3)
                            for m in chosen
                        },
                    }
                )
    doc["cocompilation_groups"] = groups
    return Instance.model_validate(doc)


def instances(args: argparse.Namespace) -> list[tuple[str, Instance]]:
    out = [("seed heterogeneous (60 apps, 4+4)", load_instance(ROOT / "instances" / "seed" / "heterogeneous.json"))]
    if args.seed_200:
        out.append(
            (
                "seed heterogeneous_200 (200, 10+10)",
                load_instance(ROOT / "instances" / "seed" / "heterogeneous_200.json"),
            )
        )
    for seed in args.seeds:
        out.append((f"edgetpu n60 a10 s{seed}", generate_instance("edgetpu", 60, 10, seed)))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for label, base in instances(args):
        apart_best: dict[str, str] | None = None
        for variant in VARIANTS:
            instance = with_groups(base, variant)
            row: dict[str, Any] = {
                "instance": label,
                "variant": variant,
                "groups": len(instance.cocompilation_groups),
                "applications": len(instance.applications),
            }
            best: dict[str, str] | None = None
            for column, method in RUNS:
                started = time.perf_counter()
                params: dict[str, Any] = {"time_limit_s": args.time_limit, "threads": 1, "seed": 0}
                if column == "polish":
                    # polish the best placement so far (with groups: also the one found without them, still
                    # feasible since groups only add options), so every variant gets the same search effort
                    start = max(
                        (p for p in (best, None if variant == "apart" else apart_best) if p), key=len, default=None
                    )
                    if start is not None:
                        params["options"] = {"initial_placement": start}
                result = solve(instance, method, params)
                row[column] = result.objectives.get("hosted") if result.status.has_solution else None
                row[f"{column}_s"] = round(time.perf_counter() - started, 2)
                if method == "configuration":
                    row["bound"] = result.bound
                if result.status.has_solution and (best is None or len(result.placement()) > len(best)):
                    best = result.placement()
            row["hosted"] = len(best) if best is not None else None
            if variant == "apart":
                apart_best = best
            if best is not None:
                evaluation = evaluate(instance, best)
                row["cocompiled_devices"] = sum(1 for a in evaluation.accelerators if a.cocompilation_group)
                if args.simulate and variant != "apart":
                    report = simulate(instance, best, requests_per_accelerator=args.requests, seed=0)
                    row["sure_violations"] = sum(1 for a in report.applications if a.violation_significant)
            rows.append(row)
            print(_line(row), flush=True)
    return {
        "rows": rows,
        "ratios": {"fits_cache": FITS_RATIO, "overflows_cache": OVERFLOW_RATIO, "host": HOST},
        "cache_mb": CACHE_MB,
        "command": "python benchmarks/cocompile.py " + " ".join(sys.argv[1:]),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "note": "shared 2-CPU VM, loaded by other work: wall times provisional",
        },
        "time_limit_s": args.time_limit,
    }


def _line(row: dict[str, Any]) -> str:
    sure = row.get("sure_violations")
    return (
        f"| {row['instance']} | {row['variant']} | {row['groups']} | {row['configuration']} | {row['local_search']} | "
        f"{row['polish']} | "
        f"{row.get('bound') if row.get('bound') is not None else '-'} | {row['hosted']} | "
        f"{row.get('cocompiled_devices', '-')} | {'-' if sure is None else sure} |"
    )


HEADER = (
    "| instance | variant | groups | configuration | local_search | polish | bound | best hosted | co-compiled devices "
    "| sure violations (simulated) |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
)


def write(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cocompile.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# EdgeTPU co-compilation: hosted applications with and without groups",
        "",
        f"Command: `{results['command']}`; {results['machine']['note']}; time limit "
        f"{results['time_limit_s']:g} s per method; co-compiled/apart switch ratios from Coral's Raspberry Pi 4 "
        f"references: {results['ratios']['fits_cache']:.3f} (a pair that fits the {results['cache_mb']:g} MB cache), "
        f"{results['ratios']['overflows_cache']:.3f} (a pair that overflows it).",
        "",
        HEADER,
        *(_line(row) for row in results["rows"]),
        "",
    ]
    (out_dir / "cocompile.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=20.0, help="per method and instance, seconds")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="generated edgetpu instances")
    parser.add_argument("--no-seed-200", dest="seed_200", action="store_false", help="skip heterogeneous_200")
    parser.add_argument("--no-simulate", dest="simulate", action="store_false", help="skip the simulation check")
    parser.add_argument("--requests", type=int, default=5000, help="simulated requests per accelerator")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    print(HEADER, flush=True)
    results = run(args)
    write(results, args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
