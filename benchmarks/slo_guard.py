"""The violation hunt: simulate every method's placements and count the SLOs simulation breaks.

For every generator family (the hard cases of issue 10 and the standard ones) at several seeds,
plus the shipped instances (``instances/seed``, ``instances/tiny``, ``instances/generated``),
every non-baseline method solves with a short time limit; each returned placement is simulated
(:func:`optplace.simulation.check_by_simulation`: Poisson arrivals, node by node, at least
``--requests`` measured requests on every used accelerator, batch-means 95% intervals) and each
hosted application gets a verdict on its SLO statistic:

* ``sure`` — the interval lies entirely above the SLO (a violation simulation is sure of);
* ``borderline`` — the interval straddles the SLO.

Per method x family the table counts placements, hosted applications, sure and borderline
verdicts, the worst simulated/SLO and simulated/predicted ratios; a second table breaks the sure
violations down by discipline and SLO statistic, with the mix of the accelerator they sit on
(models sharing it, the largest model's share of its requests, its predicted utilisation).
Raw per-application rows go to the JSON file. The analytic model promises simulated/SLO <= 1;
simulated/predicted > 1 on a percentile says the model is optimistic there.

Run:  .venv/bin/python benchmarks/slo_guard.py --quick   (a few minutes on 2 CPUs; fewer requests)
      .venv/bin/python benchmarks/slo_guard.py --full    (final figures: 3 seeds, 200k requests)
Options: --jobs N (processes, default 1), --families, --methods, --seeds, --time-limit,
--requests, --apps, --set KNOB=VALUE (generator knobs), --no-shipped, --out NAME (results/NAME.md + .json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optplace import solve  # noqa: E402
from optplace.commands.generate import parse_knobs  # noqa: E402
from optplace.domain import Discipline, Instance  # noqa: E402
from optplace.evaluate import backend_key, evaluate  # noqa: E402
from optplace.generate import generate_instance  # noqa: E402
from optplace.io import load_instance  # noqa: E402
from optplace.simulation import Verdict, check_by_simulation  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
HARD_FAMILIES = ["edgetpu-zipf-tail", "fcfs-dominant", "fcfs-dominant-mean", "ps-scv", "ps-low-load"]
STANDARD_FAMILIES = [
    "hetero",
    "loose",
    "tight",
    "very-tight",
    "edgetpu",
    "switch-heavy",
    "switch-light",
    "skewed",
    "percentile",
    "edge-mixed",
    "datacenter",
]
# Every non-baseline method; milp_pyomo is milp_highs's model through Pyomo (same placements).
ALL_METHODS = [
    "auto",
    "configuration",
    "cpsat",
    "milp_highs",
    "local_search",
    "regret_greedy",
    "first_fit",
    "ordered_best_fit",
    "ordered_first_fit",
    "ordered_worst_fit",
    "breadth_first",
    "least_utilization_increase",
]
QUICK_METHODS = ALL_METHODS[:8]
SHIPPED = ["instances/seed", "instances/tiny", "instances/generated"]
SIMULATION_SEED = 20_240_610  # fixed: every run of the hunt simulates the same streams
MAX_REQUESTS = 50_000_000  # per placement; a safety net, far above what --full needs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="1 seed, 30 applications, 8 methods, 20k requests")
    mode.add_argument("--full", action="store_true", help="3 seeds, family sizes, every method, 200k requests")
    parser.add_argument("--families", nargs="*", default=None, help="families (default: hard + standard)")
    parser.add_argument("--methods", nargs="*", default=None)
    parser.add_argument("--seeds", type=int, default=None, help="seeds per family")
    parser.add_argument("--apps", type=int, default=None, help="applications per generated instance")
    parser.add_argument("--time-limit", type=float, default=None, metavar="S")
    parser.add_argument("--requests", type=int, default=None, help="measured requests per accelerator (at least)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KNOB=VALUE", help="override a generator knob (repeatable)"
    )
    parser.add_argument("--no-shipped", action="store_true", help="skip the shipped instances")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", default=None, help="result name under benchmarks/results (no suffix)")
    args = parser.parse_args(argv)

    quick = not args.full  # the default is the quick configuration unless --full is asked for
    seeds = args.seeds if args.seeds is not None else (1 if quick else 3)
    apps = args.apps if args.apps is not None else (30 if quick else None)
    time_limit = args.time_limit if args.time_limit is not None else (2.0 if quick else 10.0)
    requests = args.requests if args.requests is not None else (20_000 if quick else 200_000)
    methods = args.methods or (QUICK_METHODS if quick else ALL_METHODS)
    families = args.families if args.families is not None else HARD_FAMILIES + STANDARD_FAMILIES
    out = args.out or ("slo_guard_quick" if quick else "slo_guard")

    knobs = parse_knobs(args.set)
    sources = [("family", f, s, apps, knobs) for f in families for s in range(seeds)]
    if not args.no_shipped:
        sources += [("file", str(p.relative_to(ROOT)), None, None, {}) for p in shipped_files()]
    tasks = [(source, method, time_limit, requests) for source in sources for method in methods]
    print(
        f"{len(tasks)} solves ({len(sources)} instances x {len(methods)} methods), {args.jobs} process(es)", flush=True
    )

    started = time.perf_counter()
    outcomes: list[dict[str, Any]] = []
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            for outcome in pool.map(run_task, tasks, chunksize=1):
                outcomes.append(progress(outcome))
    else:
        for task in tasks:
            outcomes.append(progress(run_task(task)))
    wall = time.perf_counter() - started

    settings = {
        "seeds": seeds,
        "apps": apps,
        "time_limit_s": time_limit,
        "requests_per_accelerator": requests,
        "methods": methods,
        "families": families,
        "knobs": knobs,
        "shipped": not args.no_shipped,
        "simulation_seed": SIMULATION_SEED,
        "jobs": args.jobs,
    }
    command = ".venv/bin/python benchmarks/slo_guard.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    report = summarise(outcomes)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = render(report, settings, command, wall)
    (RESULTS / f"{out}.md").write_text(text, encoding="utf-8")
    (RESULTS / f"{out}.json").write_text(
        json.dumps({"settings": settings, "command": command, "wall_s": wall, **report, "runs": outcomes}, indent=1)
        + "\n",
        encoding="utf-8",
    )
    print(text)
    print(f"wrote {RESULTS / out}.md and .json")
    return 0


def shipped_files() -> list[Path]:
    return sorted(p for folder in SHIPPED for p in (ROOT / folder).glob("*.json") if p.name != "manifest.json")


def load_source(source: tuple) -> tuple[str, str, Instance]:
    """(group, name, instance) of a generated family member or a shipped file."""
    kind, name, seed, apps, knobs = source
    if kind == "family":
        instance = generate_instance(name, n_apps=apps, seed=seed, **knobs)
        return name, instance.name, instance
    return str(Path(name).parent), Path(name).stem, load_instance(ROOT / name)


def run_task(task: tuple) -> dict[str, Any]:
    """Solve one instance with one method, simulate the placement, and describe every hosted SLO."""
    source, method, time_limit, requests = task
    group, name, instance = load_source(source)
    row: dict[str, Any] = {"group": group, "instance": name, "method": method}
    started = time.perf_counter()
    try:
        result = solve(instance, method, {"time_limit_s": time_limit, "threads": 1, "seed": 0})
    except Exception as error:  # a verification error is itself a finding: record it, keep hunting
        row.update(status="exception", message=f"{type(error).__name__}: {error}", applications=[])
        return row
    row.update(status=result.status.value, hosted=result.hosted, solve_s=round(time.perf_counter() - started, 3))
    placement = result.placement()
    if not placement:
        row["applications"] = []
        return row
    check = check_by_simulation(
        instance, placement, requests_per_accelerator=requests, max_requests=MAX_REQUESTS, seed=SIMULATION_SEED
    )
    row.update(
        simulate_s=round(check.runtime_s, 3),
        requests_simulated=check.requests_simulated,
        capped=check.capped,
    )
    mixes = accelerator_mixes(instance, placement)
    apps = {a.name: a for a in instance.applications}
    rows = []
    for a in check.applications:
        mix = mixes[a.accelerator]
        estimate = a.simulated_ms
        rows.append(
            {
                "application": a.application,
                "accelerator": a.accelerator,
                "discipline": mix["discipline"],
                "statistic": a.statistic,
                "slo_ms": a.slo_ms,
                "predicted_ms": a.predicted_ms,
                "simulated_ms": estimate.value,
                "ci_low": estimate.ci_low,
                "ci_high": estimate.ci_high,
                "requests": a.requests,
                "verdict": a.verdict.value,
                "backends": mix["backends"],
                "dominant_share": mix["dominant_share"],
                "own_share": mix["share"][backend_key(apps[a.application], mix["shareable"][a.application])],
                "utilization": mix["utilization"],
            }
        )
    row["applications"] = rows
    return row


def accelerator_mixes(instance: Instance, placement: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per used accelerator: discipline, backends (models) sharing it, request shares, utilisation."""
    models = instance.model_map()
    types = instance.accelerator_type_map()
    utilization = {a.accelerator: a.utilization for a in evaluate(instance, placement).accelerators}
    accelerator_type = {acc.name: acc.type for _, acc in instance.accelerators()}
    rate: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    shareable: dict[str, dict[str, bool]] = defaultdict(dict)
    for app in instance.applications:
        acc = placement.get(app.name)
        if acc is None:
            continue
        share = models[app.model].shareable
        rate[acc][backend_key(app, share)] += app.rate_rps
        shareable[acc][app.name] = share
    out = {}
    for acc, backends in rate.items():
        total = sum(backends.values())
        shares = {k: v / total for k, v in backends.items()}
        out[acc] = {
            "discipline": Discipline(types[accelerator_type[acc]].discipline).value,
            "backends": len(backends),
            "dominant_share": round(max(shares.values()), 4),
            "share": shares,
            "shareable": shareable[acc],
            "utilization": round(utilization.get(acc, 0.0), 4),
        }
    return out


def progress(outcome: dict[str, Any]) -> dict[str, Any]:
    verdicts = [a["verdict"] for a in outcome["applications"]]
    sure = verdicts.count(Verdict.SURE_VIOLATION.value)
    flag = f"  SURE {sure}" if sure else ""
    print(
        f"  {outcome['instance']:<34} {outcome['method']:<18} {outcome['status']:<17} "
        f"hosted {outcome.get('hosted', 0):>4}  sim {outcome.get('simulate_s', 0):6.1f} s{flag}",
        flush=True,
    )
    return outcome


def summarise(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per method x group, and every sure or borderline verdict with its context."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    findings = []
    for run in outcomes:
        key = (run["group"], run["method"])
        cell = cells.setdefault(
            key,
            {
                "group": run["group"],
                "method": run["method"],
                "placements": 0,
                "exceptions": 0,
                "hosted": 0,
                "sure": 0,
                "borderline": 0,
                "placements_with_sure": 0,
                "worst_sim_over_slo": None,
                "worst_sim_over_predicted": None,
            },
        )
        if run["status"] == "exception":
            cell["exceptions"] += 1
            continue
        if not run["applications"]:
            continue
        cell["placements"] += 1
        cell["hosted"] += len(run["applications"])
        sure_here = 0
        for a in run["applications"]:
            over_slo = a["simulated_ms"] / a["slo_ms"]
            over_predicted = a["simulated_ms"] / a["predicted_ms"] if a["predicted_ms"] else None
            cell["worst_sim_over_slo"] = _max(cell["worst_sim_over_slo"], over_slo)
            cell["worst_sim_over_predicted"] = _max(cell["worst_sim_over_predicted"], over_predicted)
            if a["verdict"] in (Verdict.SURE_VIOLATION.value, Verdict.BORDERLINE.value):
                cell["sure" if a["verdict"] == Verdict.SURE_VIOLATION.value else "borderline"] += 1
                sure_here += a["verdict"] == Verdict.SURE_VIOLATION.value
                findings.append(
                    {"group": run["group"], "instance": run["instance"], "method": run["method"], **a}
                    | {"sim_over_slo": over_slo, "sim_over_predicted": over_predicted}
                )
        cell["placements_with_sure"] += sure_here > 0
    kinds: dict[tuple[str, str], dict[str, Any]] = {}
    for f in findings:
        if f["verdict"] != Verdict.SURE_VIOLATION.value:
            continue
        kind = kinds.setdefault(
            (f["discipline"], f["statistic"]),
            {"discipline": f["discipline"], "statistic": f["statistic"], "sure": 0, "worst": None, "mixes": []},
        )
        kind["sure"] += 1
        if kind["worst"] is None or f["sim_over_slo"] > kind["worst"]["sim_over_slo"]:
            kind["worst"] = f
        kind["mixes"].append((f["backends"], f["dominant_share"], f["utilization"], f["own_share"]))
    return {
        "cells": sorted(cells.values(), key=lambda c: (c["group"], c["method"])),
        "kinds": sorted(kinds.values(), key=lambda k: -k["sure"]),
        "findings": findings,
        "totals": {
            "placements": sum(c["placements"] for c in cells.values()),
            "hosted": sum(c["hosted"] for c in cells.values()),
            "sure": sum(c["sure"] for c in cells.values()),
            "borderline": sum(c["borderline"] for c in cells.values()),
            "placements_with_sure": sum(c["placements_with_sure"] for c in cells.values()),
            "exceptions": sum(c["exceptions"] for c in cells.values()),
        },
    }


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def render(report: dict[str, Any], settings: dict[str, Any], command: str, wall: float) -> str:
    t = report["totals"]
    lines = [
        "# SLO guard: every method's placements, simulated",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        "shared 2-CPU VM, loaded by other work: wall times provisional. "
        f"Total wall {wall:.0f} s.",
        "",
        f"Settings: {settings['seeds']} seed(s) per family, applications "
        f"{settings['apps'] or 'family default'}, time limit {settings['time_limit_s']:g} s per solve (1 thread), "
        f">= {settings['requests_per_accelerator']:,} measured requests per used accelerator (Poisson, node by "
        f"node, batch means, 20 batches, 95% intervals), simulation seed {settings['simulation_seed']}.",
        "",
        f"**Totals: {t['placements']} placements, {t['hosted']} hosted applications simulated; "
        f"{t['sure']} sure violations in {t['placements_with_sure']} placements, {t['borderline']} borderline; "
        f"{t['exceptions']} solves raised.**",
        "",
        "sure = 95% interval entirely above the SLO; borderline = interval straddles it; ratios are simulated "
        "point estimates over the SLO and over the evaluator's prediction (of the SLO's statistic).",
        "",
        "| group | method | placements | hosted | sure | borderline | placements with sure | worst sim/SLO | "
        "worst sim/predicted |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in report["cells"]:
        lines.append(
            f"| {c['group']} | {c['method']} | {c['placements']} | {c['hosted']} | {c['sure']} | {c['borderline']} | "
            f"{c['placements_with_sure']} | {_ratio(c['worst_sim_over_slo'])} | "
            f"{_ratio(c['worst_sim_over_predicted'])} |"
        )
    lines += [
        "",
        "## Sure violations by kind",
        "",
        "Mix = the accelerator the violating application sits on: models sharing it, the largest model's "
        "share of its requests, predicted utilisation, and the violating application's own model's share.",
        "",
        "| discipline | statistic | sure | worst: instance / method / application | SLO | predicted | "
        "simulated (95% CI) | sim/pred | mixes (models, dominant share, utilisation, own share) |",
        "| --- | --- | ---: | --- | ---: | ---: | --- | ---: | --- |",
    ]
    for k in report["kinds"]:
        w = k["worst"]
        mixes = sorted(set(k["mixes"]))
        shown = "; ".join(f"{b}, {d:.2f}, {u:.2f}, {o:.2f}" for b, d, u, o in mixes[:6])
        if len(mixes) > 6:
            shown += f"; ... ({len(mixes)} mixes)"
        lines.append(
            f"| {k['discipline']} | {k['statistic']} | {k['sure']} | {w['instance']} / {w['method']} / "
            f"{w['application']} | {w['slo_ms']:g} | {w['predicted_ms']:.1f} | {w['simulated_ms']:.1f} "
            f"({w['ci_low']:.1f}-{w['ci_high']:.1f}) | {_ratio(w['sim_over_predicted'])} | {shown} |"
        )
    if not report["kinds"]:
        lines.append("| - | - | 0 | none | | | | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
