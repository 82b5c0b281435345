"""How ``auto`` should split the exact stages' time between the configuration method and the MILP.

``AutoOptions.configuration_share`` is the configuration method's share of what the heuristics
leave (the MILP gets the rest). This runs ``auto`` at 10 s on the seed's heterogeneous workload and
on generated ``hetero`` clusters of 60-200 applications (seeds 1 and 2), once per share, and prints
hosted count, proven bound and gap per instance plus the totals. One run per point: the figures
move by one application or so with the machine's load.

Run from the repository root::

    python benchmarks/auto_configuration_share.py                    # shares 0.45 and 0.75
    python benchmarks/auto_configuration_share.py --shares 0.3 0.6 0.9 --time-limit 20

Writes ``benchmarks/results/auto_configuration_share.md`` and ``.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optplace  # noqa: E402
from optplace.generate import generate_instance  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SIZES = ((60, 8), (100, 14), (150, 20), (200, 20))


def instances() -> list[tuple[str, optplace.Instance]]:
    chosen = [("seed heterogeneous 60", optplace.load_instance(ROOT / "instances" / "seed" / "heterogeneous.json"))]
    for apps, accelerators in SIZES:
        for seed in (1, 2):
            chosen.append(
                (f"hetero {apps} x {accelerators} s{seed}", generate_instance("hetero", apps, accelerators, seed=seed))
            )
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.45, 0.75])
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    chosen = instances()
    rows = []
    for share in args.shares:
        for name, instance in chosen:
            params = {
                "time_limit_s": args.time_limit,
                "threads": args.threads,
                "options": {"configuration_share": share},
            }
            result = optplace.solve(instance, "auto", params)
            gap = (
                None
                if result.bound is None or result.objective is None
                else (result.bound - result.objective) / max(result.objective, 1)
            )
            row = {"share": share, "instance": name, "hosted": result.objective, "bound": result.bound, "gap": gap}
            rows.append(row)
            print(json.dumps(row), flush=True)

    names = [name for name, _ in chosen]
    lines = [
        "# auto: the configuration method's share of the exact stages' time",
        "",
        f"`python benchmarks/auto_configuration_share.py --shares {' '.join(map(str, args.shares))}` — auto, "
        f"{args.time_limit:g} s, {args.threads} threads, one run per point (provisional: load moves counts by about one).",
        "",
        "| instance | " + " | ".join(f"share {s:g}: hosted / bound / gap" for s in args.shares) + " |",
        "| --- |" + " ---: |" * len(args.shares),
    ]
    by_key = {(r["share"], r["instance"]): r for r in rows}
    for name in names:
        cells = []
        for share in args.shares:
            r = by_key[(share, name)]
            gap = "-" if r["gap"] is None else f"{100 * r['gap']:.1f}%"
            cells.append(f"{r['hosted']:g} / {r['bound']:g} / {gap}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = []
    for share in args.shares:
        mine = [r for r in rows if r["share"] == share]
        gaps = [r["gap"] for r in mine if r["gap"] is not None]
        totals.append(
            f"{sum(r['hosted'] or 0 for r in mine):g} hosted, median gap {100 * statistics.median(gaps):.1f}%"
        )
    lines.append("| **total** | " + " | ".join(totals) + " |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "auto_configuration_share.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "auto_configuration_share.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
