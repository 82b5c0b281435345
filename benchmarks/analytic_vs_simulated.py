"""Analytic latency models against discrete-event simulation of the same queues.

For every discipline (processor sharing, FCFS with switch overhead, dedicated single-model FCFS,
the front-end CPU stage, shared backends end to end) and a grid of loads up to utilisation 0.8,
simulate the queue the model describes (Poisson arrivals, the same service distributions) and
compare means and the p95/p99 tail approximations with the simulated values and their 95%
batch-means confidence intervals. A last section calibrates and validates the tail margin of
``latency.fcfs_response_quantile`` on two separate grids.

Writes ``benchmarks/results/validation_analytic_vs_simulated.{md,json}``. Run::

    .venv/bin/python benchmarks/analytic_vs_simulated.py            # about 3-5 minutes on 2 cores
    .venv/bin/python benchmarks/analytic_vs_simulated.py --quick    # 10x fewer requests
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from optplace import latency  # noqa: E402
from optplace.domain import Instance  # noqa: E402
from optplace.simulation import batch_estimate, fcfs_departures, ps_departures, simulate  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
LOADS = (0.2, 0.4, 0.6, 0.8)
QUANTILES = (0.95, 0.99)


# --- simulation of single queues -----------------------------------------------------------------


def poisson(rates_rps: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    total = float(rates_rps.sum())
    arrival = np.cumsum(rng.exponential(1000.0 / total, n))
    classes = rng.choice(rates_rps.size, size=n, p=rates_rps / total)
    return arrival, classes


def service(s: np.ndarray, scv: np.ndarray, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = s[classes]
    if np.any(scv > 0):
        shape = 1.0 / np.maximum(scv, 1e-12)
        draws = rng.gamma(shape[classes], 1.0) / shape[classes]
        base = np.where(scv[classes] > 0, base * draws, base)
    return base


def by_class(response: np.ndarray, classes: np.ndarray, k: int) -> list[np.ndarray]:
    keep = slice(response.size // 10, None)  # 10% warm-up
    response, classes = response[keep], classes[keep]
    return [response[classes == i] for i in range(k)]


def sim_fcfs(rates, s, scv, o, n, seed):
    rng = np.random.default_rng(seed)
    arrival, classes = poisson(rates, n, rng)
    run = fcfs_departures(arrival, service(s, scv, classes, rng), classes, o[classes])
    return by_class(run.departure_ms - arrival, classes, rates.size)


def sim_ps(rates, s, n, seed, servers=1.0):
    rng = np.random.default_rng(seed)
    arrival, classes = poisson(rates, n, rng)
    return by_class(ps_departures(arrival, s[classes], servers) - arrival, classes, rates.size)


def summarize(samples: np.ndarray) -> dict:
    out = {}
    for stat in ("mean", "p95", "p99"):
        e = batch_estimate(samples, stat, batches=20)
        out[stat] = {"value": e.value, "half_width": e.half_width}
    return out


def row(section, case, load, cls, sim, means: dict, tails: dict) -> dict:
    """One comparison row: simulated stats, analytic means and quantiles with their ratios."""
    entry = {"section": section, "case": case, "load": load, "class": cls, "simulated": sim, "mean": {}, "tail": {}}
    m, hw = sim["mean"]["value"], sim["mean"]["half_width"] or 0.0
    for name, value in means.items():
        entry["mean"][name] = {
            "value": value,
            "error_percent": 100.0 * (value / m - 1.0),
            "inside_ci": abs(value - m) <= hw,
        }
    for name, per_q in tails.items():
        entry["tail"][name] = {}
        for q, value in per_q.items():
            key = f"p{round(q * 100)}"
            sv, shw = sim[key]["value"], sim[key]["half_width"] or 0.0
            entry["tail"][name][key] = {
                "value": value,
                "ratio": value / sv,
                "conservative": value >= sv - shw,
            }
    return entry


def target_rates(shares, s, scv, o, load):
    shares = np.asarray(shares, dtype=float)
    base = latency.fcfs_moments(shares, s, scv, o).utilization
    return shares * load / base


# --- sections ----------------------------------------------------------------------------------------


def section_ps(n: int) -> list[dict]:
    """Time-sliced Jetson GPU: resnet18 / resnet50 / efficientnet-b3, request shares 0.5 / 0.3 / 0.2."""
    s = np.array([10.8, 29.4, 82.9])
    shares = np.array([0.5, 0.3, 0.2])
    rows = []
    for i, load in enumerate(LOADS):
        rates = shares * load * 1000.0 / float(np.dot(shares, s))
        samples = sim_ps(rates, s, n * (2 if load >= 0.8 else 1), seed=100 + i)
        exact = latency.ps_latency(rates, s).latency_ms
        additive = latency.ps_latency(rates, s, variant="additive").latency_ms
        tails = {q: latency.ps_quantile(q, rates, s).latency_ms for q in QUANTILES}
        for k, name in enumerate(("resnet18", "resnet50", "efficientnet-b3")):
            rows.append(
                row(
                    "ps",
                    "jetson resnet18/resnet50/effnet-b3",
                    load,
                    name,
                    summarize(samples[k]),
                    {"ps_exact": float(exact[k]), "ps_additive": float(additive[k])},
                    {"ps_quantile": {q: float(tails[q][k]) for q in QUANTILES}},
                )
            )
    return rows


FCFS_CASES = {
    "ibis mix effnet-L/inc-v3/inc-v4": (
        ["efficientnet-L", "inception_v3", "inception_v4"],
        [42.18, 62.95, 125.13],
        [17.53, 19.39, 19.43],
        [0.5, 0.3, 0.2],
    ),
    "skewed ssd-v2 0.85 / inc-v3 0.15": (
        ["ssd_mobilenet_v2", "inception_v3"],
        [19.23, 62.95],
        [24.63, 19.39],
        [0.85, 0.15],
    ),
    "skewed mobilenet-v2 0.9 / inc-v4 0.1": (
        ["mobilenet_v2", "inception_v4"],
        [4.91, 125.13],
        [10.43, 19.43],
        [0.9, 0.1],
    ),
}


def fcfs_rows(section, case, names, s, scv, o, shares, n, seed0) -> list[dict]:
    rows = []
    for i, load in enumerate(LOADS):
        rates = target_rates(shares, s, scv, o, load)
        samples = sim_fcfs(rates, s, scv, o, n * (2 if load >= 0.8 else 1), seed=seed0 + i)
        means = {
            v: latency.fcfs_latency(rates, s, scv, o, switch_variance=v).latency_ms
            for v in ("seed", "bernoulli", "dependent")
        }
        old = {q: latency.fcfs_quantile(q, rates, s, scv, o).latency_ms for q in QUANTILES}
        new = {q: latency.fcfs_response_quantile(q, rates, s, scv, o).latency_ms for q in QUANTILES}
        for k, name in enumerate(names):
            rows.append(
                row(
                    section,
                    case,
                    load,
                    name,
                    summarize(samples[k]),
                    {f"fcfs_{v}": float(values[k]) for v, values in means.items()},
                    {
                        "fcfs_quantile": {q: float(old[q][k]) for q in QUANTILES},
                        "fcfs_response_quantile": {q: float(new[q][k]) for q in QUANTILES},
                    },
                )
            )
    return rows


def section_fcfs(n: int) -> list[dict]:
    rows = []
    for j, (case, (names, s, o, shares)) in enumerate(FCFS_CASES.items()):
        s, o = np.array(s), np.array(o)
        rows += fcfs_rows("fcfs", case, names, s, np.zeros_like(s), o, shares, n, 200 + 10 * j)
    return rows


def section_dedicated(n: int) -> list[dict]:
    rows = []
    for j, (case, scv) in enumerate((("M/D/1, s = 10 ms", 0.0), ("M/G/1, s = 10 ms, gamma SCV 0.3", 0.3))):
        rows += fcfs_rows(
            "dedicated", case, ["model"], np.array([10.0]), np.array([scv]), np.array([0.0]), [1.0], n, 300 + 10 * j
        )
    return rows


def section_frontend(n: int) -> list[dict]:
    """Node pre-processing, two apps (24 and 20 ms), on 0.5, 1, 2 and 4 cores: pooled-PS formula and exact c-core PS."""
    pre = np.array([24.0, 20.0])
    shares = np.array([0.5, 0.5])
    rows = []
    for c, cores in enumerate((0.5, 1.0, 2.0, 4.0)):
        for i, load in enumerate(LOADS):
            rates = shares * load * cores * 1000.0 / float(np.dot(shares, pre))
            samples = sim_ps(rates, pre, n, seed=400 + 10 * c + i, servers=cores)
            mean = latency.frontend_latency(rates, pre, cores).latency_ms
            exact = latency.multicore_ps_latency(rates, pre, cores).latency_ms
            tails = {q: latency.frontend_quantile(q, rates, pre, cores).latency_ms for q in QUANTILES}
            exact_tails = {q: latency.multicore_ps_quantile(q, rates, pre, cores).latency_ms for q in QUANTILES}
            for k, name in enumerate(("app 24 ms", "app 20 ms")):
                rows.append(
                    row(
                        "frontend",
                        f"{cores:g} core(s)",
                        load,
                        name,
                        summarize(samples[k]),
                        {"frontend_latency": float(mean[k]), "multicore_ps_latency": float(exact[k])},
                        {
                            "frontend_quantile": {q: float(tails[q][k]) for q in QUANTILES},
                            "multicore_ps_quantile": {q: float(exact_tails[q][k]) for q in QUANTILES},
                        },
                    )
                )
    return rows


def section_shared(requests_per_app: int) -> list[dict]:
    """End to end through simulate(): two apps share a mobilenet-v2 backend on an edgeTPU with an inception-v3 app,
    behind a one-core front end (20 ms pre-processing) and a 10 ms network. Percentiles end to end are the sum of
    the stage quantiles (the evaluator's rule)."""
    rows = []
    for i, load in enumerate((0.3, 0.5, 0.7)):
        base = np.array([12.0, 12.0, 2.0])  # cam-a, cam-b (mobilenet, shared), cam-c (inception)
        rates_class = np.array([base[0] + base[1], base[2]])
        s, o = np.array([4.91, 62.95]), np.array([10.43, 19.39])
        factor = load / latency.fcfs_moments(rates_class, s, 0.0, o).utilization
        rates = base * factor
        instance = Instance.model_validate(
            {
                "name": "shared",
                "settings": {"network_delay_ms": 10.0},
                "accelerator_types": [{"name": "tpu", "discipline": "fcfs"}],
                "nodes": [
                    {
                        "name": "pi",
                        "memory_mb": 4096,
                        "preprocess_cores": 1,
                        "accelerators": [{"name": "tpu1", "type": "tpu"}],
                    }
                ],
                "models": [
                    {
                        "name": "mobilenet_v2",
                        "profiles": {"tpu": {"service_time_ms": 4.91, "switch_overhead_ms": 10.43}},
                    },
                    {
                        "name": "inception_v3",
                        "profiles": {"tpu": {"service_time_ms": 62.95, "switch_overhead_ms": 19.39}},
                    },
                ],
                "applications": [
                    {
                        "name": name,
                        "model": model,
                        "rate_rps": float(r),
                        "slo": {"latency_ms": 1000},
                        "preprocess_ms": 2.0,
                    }
                    for name, model, r in zip(
                        ("cam-a", "cam-b", "cam-c"), ("mobilenet_v2", "mobilenet_v2", "inception_v3"), rates
                    )
                ],
            }
        )
        report = simulate(
            instance,
            {"cam-a": "tpu1", "cam-b": "tpu1", "cam-c": "tpu1"},
            requests_per_app=requests_per_app,
            seed=500 + i,
        )
        class_rates = np.array([rates[0] + rates[1], rates[2]])
        pre_rates, pre = rates, np.full(3, 2.0)
        front = latency.frontend_latency(pre_rates, pre, 1.0).latency_ms
        means = {
            v: latency.fcfs_latency(class_rates, s, 0.0, o, switch_variance=v).latency_ms
            for v in ("bernoulli", "dependent")
        }
        for k, app in enumerate(("cam-a", "cam-b", "cam-c")):
            cls = 0 if k < 2 else 1
            sim_app = report.application(app)
            sim = {
                "mean": {"value": sim_app.mean_ms.value, "half_width": sim_app.mean_ms.half_width},
                "p95": {"value": sim_app.p95_ms.value, "half_width": sim_app.p95_ms.half_width},
                "p99": {"value": sim_app.p99_ms.value, "half_width": sim_app.p99_ms.half_width},
            }
            tails = {}
            for name, fn in (
                ("evaluator (fcfs_quantile)", latency.fcfs_quantile),
                ("with fcfs_response_quantile", latency.fcfs_response_quantile),
            ):
                tails[name] = {
                    q: float(
                        latency.frontend_quantile(q, pre_rates, pre, 1.0).latency_ms[k]
                        + 10.0
                        + fn(q, class_rates, s, 0.0, o).latency_ms[cls]
                    )
                    for q in QUANTILES
                }
            rows.append(
                row(
                    "shared",
                    "2 apps share mobilenet-v2 + inception-v3, e2e",
                    load,
                    app,
                    sim,
                    {f"e2e_{v}": float(front[k] + 10.0 + values[cls]) for v, values in means.items()},
                    tails,
                )
            )
    return rows


CALIBRATION = {
    "A": [
        ("ssd/inc 85/15", [19.23, 62.95], [24.63, 19.39], [0, 0], [0.85, 0.15]),
        ("ssd/inc 50/50", [19.23, 62.95], [24.63, 19.39], [0, 0], [0.5, 0.5]),
        ("3 classes", [42.18, 62.95, 125.13], [17.53, 19.39, 19.43], [0, 0, 0], [0.5, 0.3, 0.2]),
        ("fast dominant", [4.91, 62.95], [10.43, 19.39], [0, 0], [0.9, 0.1]),
        ("mob/inc-v4 with SCV", [4.91, 125.13], [10.43, 19.43], [0.3, 0.1], [0.95, 0.05]),
        ("4 classes", [9.83, 15.85, 4.55, 18.03], [17.33, 22.63, 15.12, 23.93], [0, 0, 0, 0], [0.4, 0.3, 0.2, 0.1]),
        ("M/D/1", [10.0], [0.0], [0.0], [1.0]),
        ("M/G/1 SCV 1", [10.0], [0.0], [1.0], [1.0]),
        ("M/G/1 SCV 0.3", [10.0], [0.0], [0.3], [1.0]),
    ],
    "B": [
        ("effS/inc-v4 80/20", [9.83, 125.13], [17.33, 19.43], [0, 0], [0.8, 0.2]),
        ("mbv1/ssdv1/effM", [4.55, 18.03, 15.85], [15.12, 23.93, 22.63], [0.05, 0.05, 0.05], [0.7, 0.2, 0.1]),
        (
            "5 classes",
            [9.83, 15.85, 42.18, 62.95, 4.91],
            [17.33, 22.63, 17.53, 19.39, 10.43],
            [0] * 5,
            [0.3, 0.25, 0.2, 0.15, 0.1],
        ),
        ("rare huge", [4.55, 125.13], [15.12, 19.43], [0, 0], [0.97, 0.03]),
        ("M/G/1 SCV 2", [20.0], [0.0], [2.0], [1.0]),
        ("two equal", [15.0, 15.0], [20.0, 20.0], [0.1, 0.1], [0.6, 0.4]),
    ],
}


def section_calibration(n: int) -> dict:
    """Tail margin of fcfs_response_quantile: needed on grid A (calibration), achieved on grid B (validation)."""
    out = {}
    for grid, cases in CALIBRATION.items():
        needed, ratios, old_ratios = [], [], []
        for j, (case, s, o, scv, shares) in enumerate(cases):
            s, o, scv = np.array(s, float), np.array(o, float), np.array(scv, float)
            for i, load in enumerate((0.1, 0.2, 0.4, 0.6, 0.8)):
                rates = target_rates(shares, s, scv, o, load)
                samples = sim_fcfs(rates, s, scv, o, n, seed=(1000 if grid == "A" else 2000) + 10 * j + i)
                dist = latency.fcfs_response_distribution(rates, s, scv, o)
                for q in (0.9, 0.95, 0.99):
                    new = latency.fcfs_response_quantile(q, rates, s, scv, o).latency_ms
                    old = latency.fcfs_quantile(q, rates, s, scv, o).latency_ms
                    for k in range(s.size):
                        simulated = float(np.quantile(samples[k], q))
                        tail = 1.0 - float(np.interp(simulated, dist.grid_ms, dist.cdf[k]))
                        needed.append(
                            {"case": case, "load": load, "class": k, "q": q, "margin": (1.0 - q) / max(tail, 1e-12)}
                        )
                        ratios.append(
                            {"case": case, "load": load, "class": k, "q": q, "ratio": float(new[k]) / simulated}
                        )
                        old_ratios.append(float(old[k]) / simulated)
        r = np.array([x["ratio"] for x in ratios])
        o = np.array(old_ratios)
        out[grid] = {
            "points": len(ratios),
            "largest_needed_margin": sorted(needed, key=lambda x: -x["margin"])[:5],
            "response_quantile_ratio": {
                "min": float(r.min()),
                "median": float(np.median(r)),
                "max": float(r.max()),
                "share_below_1": float(np.mean(r < 1.0)),
            },
            "old_quantile_ratio": {
                "min": float(o.min()),
                "median": float(np.median(o)),
                "max": float(o.max()),
                "share_below_1": float(np.mean(o < 1.0)),
            },
            "smallest_ratios": sorted(ratios, key=lambda x: x["ratio"])[:5],
        }
    out["margin"] = latency.FCFS_TAIL_MARGIN
    return out


# --- report --------------------------------------------------------------------------------------


def markdown(rows: list[dict], calibration: dict, args, seconds: float) -> str:
    lines = [
        "# Analytic latency models vs simulation",
        "",
        f"Poisson arrivals; {args.requests:,} requests per point ({2 * args.requests:,} at load 0.8), 10% warm-up, "
        "95% batch-means CIs (20 batches). Ratios are analytic / simulated; a tail approximation is *conservative* "
        f"when it is at least the simulated value minus its CI half-width. Runtime {seconds:.0f} s.",
        "",
        f"Command: `.venv/bin/python benchmarks/analytic_vs_simulated.py{' --quick' if args.quick else ''}`",
        "",
    ]
    sections = list(dict.fromkeys(r["section"] for r in rows))
    for section in sections:
        part = [r for r in rows if r["section"] == section]
        mean_names = list(part[0]["mean"])
        tail_names = list(part[0]["tail"])
        lines += [f"## {section}", ""]
        header = ["case", "load", "class", "sim mean ± CI", *(f"{m} (err %)" for m in mean_names)]
        for t in tail_names:
            header += [f"sim p95 / {t}", f"sim p99 / {t}"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for r in part:
            sim = r["simulated"]
            cells = [
                r["case"],
                f"{r['load']:g}",
                r["class"],
                f"{sim['mean']['value']:.1f} ± {sim['mean']['half_width'] or 0:.1f}",
            ]
            cells += [f"{r['mean'][m]['value']:.1f} ({r['mean'][m]['error_percent']:+.1f})" for m in mean_names]
            for t in tail_names:
                for key in ("p95", "p99"):
                    entry = r["tail"][t][key]
                    flag = "" if entry["conservative"] else " **under**"
                    cells.append(f"{sim[key]['value']:.1f} / {entry['value']:.1f} ({entry['ratio']:.2f}){flag}")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        summary = ["| model | max abs mean error % | points inside CI |", "|---|---:|---:|"]
        for m in mean_names:
            errors = [abs(r["mean"][m]["error_percent"]) for r in part]
            inside = sum(r["mean"][m]["inside_ci"] for r in part)
            summary.append(f"| {m} | {max(errors):.2f} | {inside}/{len(part)} |")
        summary += [
            "",
            "| tail approximation | quantile | min ratio | median ratio | max ratio | conservative |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for t in tail_names:
            for key in ("p95", "p99"):
                ratios = [r["tail"][t][key]["ratio"] for r in part]
                cons = sum(r["tail"][t][key]["conservative"] for r in part)
                summary.append(
                    f"| {t} | {key} | {min(ratios):.3f} | {np.median(ratios):.3f} | {max(ratios):.3f} | {cons}/{len(part)} |"
                )
        lines += [*summary, ""]
    lines += [
        "## FCFS tail margin: calibration (grid A) and validation (grid B)",
        "",
        f"`fcfs_response_quantile` reads its distribution at 1 - (1 - q) / {calibration['margin']:g}. Over loads "
        "0.1-0.8 and q in {0.9, 0.95, 0.99}:",
        "",
        "| grid | points | new: min | median | max | share below 1 | old fcfs_quantile: min | median | max | share below 1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for grid in ("A", "B"):
        c = calibration[grid]
        nr, orr = c["response_quantile_ratio"], c["old_quantile_ratio"]
        lines.append(
            f"| {grid} | {c['points']} | {nr['min']:.3f} | {nr['median']:.3f} | {nr['max']:.3f} | {nr['share_below_1']:.3f} "
            f"| {orr['min']:.3f} | {orr['median']:.3f} | {orr['max']:.3f} | {orr['share_below_1']:.3f} |"
        )
    lines += [
        "",
        "Largest tail-probability margins needed (simulated tail / model tail at the simulated quantile):",
        "",
    ]
    for grid in ("A", "B"):
        for x in calibration[grid]["largest_needed_margin"][:3]:
            lines.append(
                f"- grid {grid}: {x['case']}, load {x['load']:g}, class {x['class']}, q {x['q']}: {x['margin']:.3f}"
            )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=None, help="requests per point (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="10x fewer requests (a smoke run)")
    args = parser.parse_args()
    args.requests = args.requests or (100_000 if args.quick else 1_000_000)
    started = time.perf_counter()
    rows = section_ps(args.requests) + section_fcfs(args.requests) + section_dedicated(args.requests)
    rows += section_frontend(args.requests)
    rows += section_shared(max(args.requests // 20, 5_000))
    calibration = section_calibration(max(args.requests, 200_000))
    seconds = time.perf_counter() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    document = {"requests_per_point": args.requests, "runtime_s": seconds, "rows": rows, "calibration": calibration}
    (RESULTS / "validation_analytic_vs_simulated.json").write_text(json.dumps(document, indent=1) + "\n")
    text = markdown(rows, calibration, args, seconds)
    (RESULTS / "validation_analytic_vs_simulated.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
