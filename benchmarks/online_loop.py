"""The online loop as an experiment: the seed's loop versus greedy arrivals versus re-planning.

Replays three timelines on the seed's heterogeneous cluster (``instances/seed/heterogeneous.json``:
4 Jetson Nano GPUs, 4 Coral edgeTPUs) through the simulator, one policy at a time on the same
timeline and the same random numbers (``optplace.online``):

* ``seed``    — the seed's workload with synthetic arrivals, lifetimes and 5–10 req/s rate changes;
* ``azure``   — rate changes from the Azure LLM inference trace (``../shared/data``);
* ``alibaba`` — arrivals, departures and rate changes from the Alibaba GenAI serving trace.

Policies: ``greedy`` (the seed's online greedy, arrivals only), ``seed_loop`` (the same plus the
seed's migration loop: every 10 s move the worst application whose measured mean latency exceeds its
SLO), and re-planning with a move budget (``optplace.replan``), event-driven and periodic. Metrics:
application-minutes hosted and in violation (simulated), moves, evictions, decision time per event.
Writes ``benchmarks/results/online_loop.md``, ``online_loop.json`` and one timeline plot per trace
(``online_<trace>.png``, a panel per policy).

Run from the repository root::

    python benchmarks/online_loop.py                      # 60 simulated minutes per trace
    python benchmarks/online_loop.py --minutes 10 --traces seed

Timings are provisional: they depend on the machine and its load (recorded in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from optplace.domain import Instance
from optplace.online import GreedyArrivals, Replanning, RunResult, SeedLoop, run
from optplace.online.timeline import Timeline, alibaba_timeline, azure_timeline, seed_timeline

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BASELINE = "seed_loop"


def timelines(names: list[str], instance: Instance, data: Path, minutes: float, seed: int) -> list[Timeline]:
    out = []
    for name in names:
        if name == "seed":
            out.append(seed_timeline(instance, minutes=minutes, seed=seed))
        elif name == "azure":
            folder = data / "azure-llm-inference-2023"
            traces = [folder / "AzureLLMInferenceTrace_code.csv", folder / "AzureLLMInferenceTrace_conv.csv"]
            out.append(azure_timeline(instance, traces, minutes=minutes, seed=seed))
        elif name == "alibaba":
            trace = data / "alibaba-genai-v2026" / "lora_request_trace.csv"
            out.append(alibaba_timeline(instance, trace, minutes=minutes))
        else:
            raise SystemExit(f"unknown trace {name!r}; use seed, azure, alibaba")
    return out


def policies(event_budget: int, period_steps: int, period_budget: int, incumbent_weight: float):
    """The seed's two policies and three re-planning ones (event-driven with and without moves, periodic)."""
    return [
        GreedyArrivals(),
        SeedLoop(),
        Replanning(
            max_moves=event_budget,
            incumbent_weight=incumbent_weight,
            name=f"replan_event (max_moves {event_budget})",
        ),
        Replanning(max_moves=0, incumbent_weight=incumbent_weight, name="replan_event (max_moves 0)"),
        Replanning(
            max_moves=period_budget,
            period_steps=period_steps,
            incumbent_weight=incumbent_weight,
            name=f"replan_periodic (every {period_steps} steps, max_moves {period_budget})",
        ),
    ]


def plot(trace: str, runs: list[RunResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(runs), 1, figsize=(10, 2.4 * len(runs)), sharex=True, squeeze=False)
    for ax, result in zip(axes[:, 0], runs):
        minutes = [r.minute for r in result.records]
        ax.plot(minutes, [r.active for r in result.records], color="0.6", lw=1, label="active (demand)")
        ax.plot(minutes, [r.hosted for r in result.records], color="tab:blue", lw=1.2, label="hosted")
        ax.fill_between(
            minutes, 0, [r.violating for r in result.records], color="tab:red", alpha=0.6, label="violating"
        )
        moved = [(r.minute, r.moves) for r in result.records if r.moves]
        if moved:
            ax.vlines([m for m, _ in moved], 0, [n for _, n in moved], color="black", lw=1, label="moves")
        totals = result.totals()
        ax.set_title(
            f"{result.policy}: hosted {totals['app_minutes_hosted']:.0f} app-min, violating "
            f"{totals['app_minutes_violating']:.1f}, moves {totals['moves']:.0f}",
            fontsize=9,
            loc="left",
        )
        ax.set_ylabel("applications")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, ncol=4, loc="upper right")
    axes[-1, 0].set_xlabel("minute")
    figure.suptitle(f"online loop, {trace} timeline", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def ratio(value: float, base: float) -> str:
    return "-" if base == 0 else f"{value / base:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", default="seed,azure,alibaba")
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes per timeline")
    parser.add_argument("--instance", type=Path, default=ROOT / "instances" / "seed" / "heterogeneous.json")
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder with the traces")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--event-budget", type=int, default=2, help="max_moves per event-driven re-plan")
    parser.add_argument("--period-steps", type=int, default=6, help="steps between periodic re-plans")
    parser.add_argument("--period-budget", type=int, default=4, help="max_moves per periodic re-plan")
    parser.add_argument(
        "--incumbent-weight",
        type=float,
        default=1.0,
        help="priority factor of running applications when re-planning (1: optplace.replan's own "
        "max_hosted; 2: never evict one running application to admit two waiting ones)",
    )
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    instance = Instance.model_validate_json(args.instance.read_text())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows: list[dict] = []
    sources: dict[str, str] = {}
    for timeline in timelines(args.traces.split(","), instance, args.data, args.minutes, args.seed):
        sources[timeline.name] = timeline.source
        runs = []
        for policy in policies(args.event_budget, args.period_steps, args.period_budget, args.incumbent_weight):
            t = time.perf_counter()
            result = run(timeline, policy, seed=args.seed)
            runs.append(result)
            rows.append(
                {"trace": timeline.name, "policy": policy.name, **result.totals(), "wall_s": time.perf_counter() - t}
            )
            print(
                f"{timeline.name:8s} {policy.name:55s} {rows[-1]['app_minutes_hosted']:8.1f} app-min hosted, "
                f"{rows[-1]['app_minutes_violating']:6.1f} violating, {rows[-1]['moves']:4.0f} moves "
                f"({rows[-1]['wall_s']:.0f} s)",
                flush=True,
            )
        plot(timeline.name, runs, args.out_dir / f"online_{timeline.name}.png")
        (args.out_dir / f"online_{timeline.name}_steps.json").write_text(
            json.dumps({r.policy: [vars(s) for s in r.records] for r in runs}) + "\n"
        )

    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    lines = [
        "# Online loop: seed loop vs greedy arrivals vs re-planning",
        "",
        f"`python benchmarks/online_loop.py {' '.join(argv if argv is not None else sys.argv[1:])}`".replace(" `", "`"),
        f"on {machine}; shared 2-CPU VM, loaded by other work: wall times provisional. "
        f"{args.minutes:g} simulated minutes per trace, 10-s steps, seed {args.seed}; total {time.time() - started:.0f} s.",
        "",
        "Timelines:",
        *[f"* **{name}**: {text}" for name, text in sources.items()],
        "",
        "| trace | policy | app-min demanded | app-min hosted | app-min violating | app-min hosted without"
        " violation | moves | evictions | decisions | decision mean / p95 / max s | hosted × seed loop |"
        " violating × seed loop | without violation × seed loop | moves × seed loop |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        base = next(r for r in rows if r["trace"] == row["trace"] and r["policy"] == BASELINE)
        lines.append(
            f"| {row['trace']} | {row['policy']} | {row['app_minutes_demanded']:.1f} | {row['app_minutes_hosted']:.1f} | "
            f"{row['app_minutes_violating']:.1f} | {row['app_minutes_clean']:.1f} | {row['moves']:.0f} | "
            f"{row['evictions']:.0f} | {row['decisions']:.0f} | "
            f"{row['decision_mean_s']:.3f} / {row['decision_p95_s']:.3f} / {row['decision_max_s']:.3f} | "
            f"{ratio(row['app_minutes_hosted'], base['app_minutes_hosted'])} | "
            f"{ratio(row['app_minutes_violating'], base['app_minutes_violating'])} | "
            f"{ratio(row['app_minutes_clean'], base['app_minutes_clean'])} | {ratio(row['moves'], base['moves'])} |"
        )
    lines += ["", *[f"![{name}](online_{name}.png)" for name in sources], ""]
    (args.out_dir / "online_loop.md").write_text("\n".join(lines))
    (args.out_dir / "online_loop.json").write_text(
        json.dumps(
            {
                "machine": machine,
                "args": vars(args)
                | {"instance": str(args.instance), "data": str(args.data), "out_dir": str(args.out_dir)},
                "sources": sources,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
