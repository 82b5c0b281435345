"""Compare every registered method across scales (10 to 10,000 applications) with ``optplace batch``.

Instances come from the ``scale-N`` generator families (the seed-like heterogeneous cluster at
7.5 applications per accelerator). Methods are chosen by registry kind: baselines, heuristics and
the portfolio run on every size; exact methods run up to ``--exact-max-apps`` applications (their
models grow with applications x accelerators). Every task is an isolated process with a hard
deadline and a memory cap. Writes ``benchmarks/results/batch_comparison.md``,
``batch_comparison_summary.json``, ``batch_comparison_results.jsonl`` and ``batch_comparison_*.png``.

Run from the repository root::

    python benchmarks/method_comparison.py                      # defaults below; resumes
    python benchmarks/method_comparison.py --sizes 10,100 --count 2 --time-limit 10 --fresh

Timings are provisional: they depend on the machine and its load (recorded in the output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

from optplace.batch import latest_rows, read_results, run_batch
from optplace.generate import write_set
from optplace.registry import list_methods
from optplace.report import Document, build_document, fmt_ratio, fmt_seconds, make_plots, summarize
from optplace.result import Status

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "batch_comparison"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,10000", help="applications per instance (scale families)")
    parser.add_argument("--count", type=int, default=3, help="instances per size (one at 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default="baseline,heuristic,portfolio,exact", help="registry kinds to run")
    parser.add_argument("--exact-max-apps", type=int, default=1000, help="largest instance given to exact methods")
    parser.add_argument("--time-limit", type=float, default=30.0, help="per-task limit, seconds")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="solver threads per task")
    parser.add_argument("--memory-limit", type=float, default=6000, help="MB per task process")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--fresh", action="store_true", help="discard earlier results instead of resuming")
    args = parser.parse_args(argv)

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    registered = list_methods()
    exact = [m.name for m in registered if m.kind == "exact" and "exact" in kinds]
    others = [m.name for kind in kinds if kind != "exact" for m in registered if m.kind == kind]
    sizes = [int(s) for s in args.sizes.split(",")]
    instance_dir = Path(tempfile.gettempdir()) / "optplace-comparison-instances"
    by_size: dict[int, list[Path]] = {}
    for size in sizes:
        family = f"scale-{size}"
        count = 1 if size >= 10000 else args.count
        by_size[size] = write_set(
            instance_dir,
            family=family,
            count=count,
            seed=args.seed,
            command=f"optplace generate --family {family} --count {count} --seed {args.seed} --out {instance_dir}",
        )

    args.out_dir.mkdir(parents=True, exist_ok=True)
    results = args.out_dir / f"{PREFIX}_results.jsonl"
    if args.fresh and results.exists():
        results.unlink()
    common = dict(
        time_limit_s=args.time_limit,
        jobs=args.jobs,
        threads=args.threads,
        memory_limit_mb=args.memory_limit,
        progress=sys.stderr.isatty(),
    )
    all_paths = [p for size in sizes for p in by_size[size]]
    if others:
        run_batch(all_paths, others, results, **common)
    small = [p for size in sizes if size <= args.exact_max_apps for p in by_size[size]]
    if exact and small:
        run_batch(small, exact, results, **common)

    rows = latest_rows(read_results(results)[0])
    summary = summarize(rows)
    wall = task_seconds(rows)
    plots = make_plots(summary, args.out_dir, prefix=f"{PREFIX}_")
    command = "python benchmarks/method_comparison.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    doc = Document()
    doc.heading("Method comparison across scales", 1)
    doc.paragraph(
        f"Command: `{command}` (tasks took {wall:.0f} s in total, summed over tasks, on {platform.node()}, {os.cpu_count()} CPUs; "
        f"{args.jobs} tasks at once, {args.threads} solver thread(s) each, {args.time_limit:g} s and "
        f"{args.memory_limit:g} MB per task). Instances: the `scale-N` families (seed-like Jetson Nano + "
        f"edgeTPU clusters, 7.5 applications per accelerator) at {', '.join(map(str, sizes))} applications; "
        f"exact methods ({', '.join(exact) or 'none registered'}) up to {args.exact_max_apps} applications."
    )
    scale_table(doc, summary, sizes)
    report = build_document(summary, str(results.relative_to(ROOT) if results.is_relative_to(ROOT) else results), plots)
    doc.blocks.extend(report.blocks[1:])
    (args.out_dir / f"{PREFIX}.md").write_text(doc.markdown(), encoding="utf-8")
    (args.out_dir / f"{PREFIX}_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(doc.markdown().split("\n## Methods")[0])
    return 0


def scale_table(doc: Document, summary: dict, sizes: list[int]) -> None:
    """Per method and size: mean score / best, mean solve time, and runs solved / run."""
    headers = ["method", "kind"]
    for size in sizes:
        headers += [f"{size}: score/best", f"{size}: time s", f"{size}: solved"]
    rows = []
    for method, m in summary["per_method"].items():
        row = [method, m["kind"] or "-"]
        for size in sizes:
            instances = [i for i in summary["per_instance"] if i["n_applications"] == size and method in i["status"]]
            ratios = [i["scores"][method] / i["best_score"] for i in instances if i["best_score"] > 0]
            times = [i["runtime_s"][method] for i in instances if i["runtime_s"].get(method) is not None]
            solved = sum(1 for i in instances if Status(i["status"][method]).has_solution)
            row += [
                fmt_ratio(statistics.fmean(ratios)) if ratios else "-",
                fmt_seconds(statistics.fmean(times)) if times else "-",
                f"{solved}/{len(instances)}" if instances else "-",
            ]
        rows.append(row)
    doc.heading("By size")
    doc.paragraph(
        "score/best: mean over instances of violation-free hosted over the best of any method on that instance. "
        "time: mean solve time of solved runs. solved: runs with a verified placement / runs."
    )
    doc.table(headers, rows)


def task_seconds(rows: list[dict]) -> float:
    """Sum of the tasks' wall times, from the rows (so a resumed run reports the whole batch)."""
    return sum(r.get("task_wall_s") or r.get("wall_s") or 0.0 for r in rows)


if __name__ == "__main__":
    sys.exit(main())
