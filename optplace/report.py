"""Comparison reports from a batch results file: Markdown (and HTML) tables, PNG plots, summary.json.

Numbers are computed once, in :func:`summarize`, from the last row of every task (see
:func:`optplace.batch.latest_rows`); the Markdown, the HTML and ``summary.json`` all print those
same numbers. Definitions (also printed in the report):

* a run is *solved* when its status is ``optimal`` or ``feasible``;
* the *score* of a method on an instance is its violation-free hosted count
  (``hosted_without_violation``, the seed's metric) when solved, else 0;
* the *best known* score of an instance is the largest score of any method on it;
* *ratio to best* is the mean over instances with a positive best of score / best;
* *ratio to a baseline* B is the sum of the method's scores over the sum of B's scores, over the
  instances both ran (the seed's "2.3x more applications hosted without violation");
* *objective / best* compares the primary objective with the best value reached by any solved,
  violation-free run on the same instance (best / value for minimised objectives);
* runtime is ``runtime_s`` from ``solve`` (solve time, without process start and file loading).
"""

from __future__ import annotations

import html
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from optplace.batch import latest_rows, read_results
from optplace.result import Status

SOLVED = tuple(status.value for status in Status if status.has_solution)  # statuses as stored in rows
MAXIMISED = ("max_hosted", "max_value")
PLOTS = {
    "performance_profile": "performance_profile.png",
    "hosted_vs_load": "hosted_vs_load.png",
    "runtime_vs_size": "runtime_vs_size.png",
}


def instance_key(row: dict[str, Any]) -> str:
    """Rows of the same instance file (same path and content) compare with each other."""
    return f"{row.get('instance_path')}#{(row.get('file_sha256') or '')[:12]}"


def score(row: dict[str, Any]) -> int:
    return int(row.get("hosted_without_violation") or 0) if row.get("status") in SOLVED else 0


def _mean(values: Sequence[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Every number the report prints, as plain JSON-ready data."""
    rows = latest_rows(rows)
    methods = list(dict.fromkeys(r["method"] for r in rows if "method" in r))
    kinds = {r["method"]: r.get("method_kind") for r in rows if r.get("method_kind")}
    baselines = [m for m in methods if kinds.get(m) == "baseline"]
    by_instance: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        by_instance[instance_key(row)][row["method"]] = row

    best_score = {key: max(score(r) for r in runs.values()) for key, runs in by_instance.items()}
    best_objective: dict[str, float | None] = {}
    for key, runs in by_instance.items():
        clean = [r for r in runs.values() if r.get("status") in SOLVED and not r.get("violates_slo")]
        values = [r["objective"] for r in clean if r.get("objective") is not None]
        name = clean[0].get("objective_name") if clean else None
        best_objective[key] = (max(values) if name in MAXIMISED else min(values)) if values else None

    per_method = {}
    for method in methods:
        method_runs = [(key, rs[method]) for key, rs in by_instance.items() if method in rs]
        solved = [r for _, r in method_runs if r.get("status") in SOLVED]
        ratios = [score(r) / best_score[key] for key, r in method_runs if best_score[key] > 0]
        objective_ratios = []
        for key, r in method_runs:
            best, value = best_objective[key], r.get("objective")
            if r.get("status") not in SOLVED or r.get("violates_slo") or best is None or value is None:
                continue
            if r.get("objective_name") in MAXIMISED:
                objective_ratios.append(value / best if best > 0 else 1.0)
            else:
                objective_ratios.append(best / value if value > 0 else 1.0)
        vs_baseline = {}
        for base in baselines:
            common = [key for key, _ in method_runs if base in by_instance[key]]
            mine = sum(score(by_instance[k][method]) for k in common)
            theirs = sum(score(by_instance[k][base]) for k in common)
            vs_baseline[base] = (mine / theirs) if theirs > 0 else None
        gaps = [r["gap"] for r in solved if r.get("gap") is not None]
        runtimes = [r["runtime_s"] for r in solved if r.get("runtime_s") is not None]
        per_method[method] = {
            "kind": kinds.get(method),
            "tasks": len(method_runs),
            "solved": len(solved),
            "optimal": sum(1 for r in solved if r.get("status") == "optimal"),
            "errors": sum(1 for _, r in method_runs if r.get("status") == "error"),
            "killed_at_deadline": sum(1 for _, r in method_runs if r.get("error_code") == "killed_at_deadline"),
            "other_status": sum(1 for _, r in method_runs if r.get("status") not in (*SOLVED, "error")),
            "hosted": sum(int(r.get("hosted") or 0) for r in solved),
            "violation_free_hosted": sum(score(r) for _, r in method_runs),
            "runs_with_violations": sum(1 for r in solved if r.get("violates_slo")),
            "ratio_to_best": _mean(ratios),
            "objective_ratio_to_best": _mean(objective_ratios),
            "vs_baseline": vs_baseline,
            "accelerators_used_mean": _mean([float(r.get("accelerators_used") or 0) for r in solved]),
            "runtime_s_mean": _mean(runtimes),
            "runtime_s_max": max(runtimes) if runtimes else None,
            "gap_mean": _mean(gaps),
            "runs_with_gap": len(gaps),
        }

    families: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        families[str(row.get("family") or "-")][row["method"]] += score(row)

    instances = []
    for key, runs in by_instance.items():
        any_row = next(iter(runs.values()))
        info = next((r for r in runs.values() if r.get("n_applications") is not None), any_row)
        instances.append(
            {
                "key": key,
                "instance": info.get("instance_name") or Path(str(any_row.get("instance_path"))).name,
                "path": any_row.get("instance_path"),
                "family": info.get("family"),
                "n_applications": info.get("n_applications"),
                "n_accelerators": info.get("n_accelerators"),
                "offered_load": info.get("offered_load"),
                "best_score": best_score[key],
                "best_objective": best_objective[key],
                "scores": {m: score(r) for m, r in runs.items()},
                "hosted": {m: int(r.get("hosted") or 0) for m, r in runs.items() if r.get("status") in SOLVED},
                "status": {m: r.get("status") for m, r in runs.items()},
                "runtime_s": {m: r.get("runtime_s") for m, r in runs.items() if r.get("status") in SOLVED},
            }
        )
    instances.sort(key=lambda i: (str(i["family"]), i["n_applications"] or 0, str(i["path"])))

    errors = [
        {
            "instance": r.get("instance_path"),
            "method": r.get("method"),
            "error_code": r.get("error_code"),
            "stop_reason": r.get("stop_reason"),
            "message": str(r.get("message") or "").splitlines()[0][:200] if r.get("message") else "",
            "fields": [e.get("field") for e in r.get("errors", [])],
        }
        for r in rows
        if r.get("status") == "error"
    ]
    versions: dict[str, set[str]] = defaultdict(set)
    hosts = set()
    for row in rows:
        env = row.get("environment") or {}
        hosts.add(str(row.get("host") or env.get("host") or "?"))
        for package, version in (env.get("versions") or {}).items():
            if version:
                versions[package].add(version)
    return {
        "rows": len(rows),
        "instances": len(by_instance),
        "methods": methods,
        "baselines": baselines,
        "per_method": per_method,
        "per_family": {f: dict(v) for f, v in sorted(families.items())},
        "per_instance": instances,
        "errors": errors,
        "hosts": sorted(hosts),
        "versions": {k: sorted(v) for k, v in sorted(versions.items())},
        "time_limits_s": sorted({r.get("time_limit_s") for r in rows if r.get("time_limit_s") is not None}),
        "seeds": sorted({r.get("seed") for r in rows if r.get("seed") is not None}),
        "threads": sorted({str(r.get("threads")) for r in rows}),
    }


# --- a tiny document model rendered to Markdown and HTML ------------------------------------------


@dataclass
class Document:
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("heading", (level, text)))

    def paragraph(self, text: str) -> None:
        self.blocks.append(("paragraph", text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.blocks.append(("table", (list(headers), [[_cell(c) for c in row] for row in rows])))

    def image(self, path: str, alt: str) -> None:
        self.blocks.append(("image", (path, alt)))

    def markdown(self) -> str:
        out = []
        for kind, value in self.blocks:
            if kind == "heading":
                out.append("#" * value[0] + " " + value[1])
            elif kind == "paragraph":
                out.append(value)
            elif kind == "table":
                headers, rows = value
                out.append("| " + " | ".join(h.replace("|", "\\|") for h in headers) + " |")
                out.append("|" + "|".join("---" for _ in headers) + "|")
                out.extend("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows)
            elif kind == "image":
                out.append(f"![{value[1]}]({value[0]})")
            out.append("")
        return "\n".join(out)

    def html(self, title: str) -> str:
        out = [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}"
            "td:first-child{text-align:left}img{max-width:100%}</style></head><body>",
        ]
        for kind, value in self.blocks:
            if kind == "heading":
                out.append(f"<h{value[0]}>{html.escape(value[1])}</h{value[0]}>")
            elif kind == "paragraph":
                out.append(f"<p>{_inline_html(value)}</p>")
            elif kind == "table":
                headers, rows = value
                out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in headers) + "</tr>")
                out.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
                out.append("</table>")
            elif kind == "image":
                out.append(f'<p><img src="{html.escape(value[0])}" alt="{html.escape(value[1])}"></p>')
        out.append("</body></html>")
        return "\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "-"
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


# --- the report -------------------------------------------------------------------------------------


def build_document(summary: dict[str, Any], results_path: str, plots: dict[str, str]) -> Document:
    doc = Document()
    doc.heading("optplace batch report", 1)
    doc.paragraph(
        f"Results file `{results_path}`: {summary['rows']} runs of {len(summary['methods'])} methods on "
        f"{summary['instances']} instances. Time limit(s) {', '.join(f'{t:g} s' for t in summary['time_limits_s'])}; "
        f"seed(s) {', '.join(map(str, summary['seeds']))}; "
        f"threads {', '.join(t if t != 'None' else 'solver default' for t in summary['threads'])}; "
        f"host(s) {', '.join(summary['hosts'])}."
    )
    if summary["versions"]:
        doc.paragraph("Versions: " + "; ".join(f"{k} {', '.join(v)}" for k, v in summary["versions"].items()) + ".")
    baselines = summary["baselines"]
    doc.heading("Methods")
    doc.paragraph(
        "Score = applications hosted without any SLO violation under the analytic model (the seed's metric); "
        "an unsolved run scores 0. *ratio to best*: mean over instances of score / best score of any method. "
        "*x B*: total score over the total score of baseline B on the same instances. *obj/best*: primary "
        "objective against the best value of any solved violation-free run. Runtime: solve time of solved runs."
    )
    headers = [
        "method",
        "kind",
        "runs",
        "solved",
        "optimal",
        "errors (killed)",
        "hosted",
        "violation-free hosted",
        "runs with violations",
        "ratio to best",
        *[f"x {b}" for b in baselines],
        "obj/best",
        "accelerators used (mean)",
        "runtime mean s",
        "runtime max s",
        "gap mean (runs)",
    ]
    rows = []
    for method, m in summary["per_method"].items():
        rows.append(
            [
                method,
                m["kind"] or "-",
                m["tasks"],
                m["solved"],
                m["optimal"],
                f"{m['errors']} ({m['killed_at_deadline']})",
                m["hosted"],
                m["violation_free_hosted"],
                m["runs_with_violations"],
                fmt_ratio(m["ratio_to_best"]),
                *[fmt_ratio(m["vs_baseline"].get(b)) for b in baselines],
                fmt_ratio(m["objective_ratio_to_best"]),
                None if m["accelerators_used_mean"] is None else round(m["accelerators_used_mean"], 2),
                fmt_seconds(m["runtime_s_mean"]),
                fmt_seconds(m["runtime_s_max"]),
                "-" if m["gap_mean"] is None else f"{100 * m['gap_mean']:.2f}% ({m['runs_with_gap']})",
            ]
        )
    doc.table(headers, rows)
    if len(summary["per_family"]) > 1 or "-" not in summary["per_family"]:
        doc.heading("Violation-free hosted by family")
        methods = summary["methods"]
        doc.table(
            ["family", *methods],
            [[family, *[scores.get(m, 0) for m in methods]] for family, scores in summary["per_family"].items()],
        )
    for name, title in (
        ("performance_profile", "Performance profiles"),
        ("hosted_vs_load", "Hosted applications versus load"),
        ("runtime_vs_size", "Runtime versus size"),
    ):
        if name in plots:
            doc.heading(title)
            doc.image(plots[name], title)
    if "simulation" in summary:
        _simulation_section(doc, summary["simulation"])
    doc.heading("Per instance")
    doc.paragraph(
        "Each cell: violation-free hosted / hosted (status when not solved). Best = best score of any method."
    )
    methods = summary["methods"]
    shown = summary["per_instance"][:500]
    doc.table(
        ["instance", "family", "apps", "accelerators", "load", "best", *methods],
        [
            [
                i["instance"],
                i["family"] or "-",
                i["n_applications"],
                i["n_accelerators"],
                i["offered_load"],
                i["best_score"],
                *[
                    (f"{i['scores'][m]} / {i['hosted'][m]}" if m in i["hosted"] else (i["status"].get(m) or ""))
                    for m in methods
                ],
            ]
            for i in shown
        ],
    )
    if len(summary["per_instance"]) > len(shown):
        doc.paragraph(f"({len(summary['per_instance']) - len(shown)} more instances in summary.json)")
    if summary["errors"]:
        doc.heading("Errors")
        doc.table(
            ["instance", "method", "error", "stop reason", "fields", "message"],
            [
                [e["instance"], e["method"], e["error_code"], e["stop_reason"], ", ".join(e["fields"]), e["message"]]
                for e in summary["errors"][:100]
            ],
        )
    return doc


def _simulation_section(doc: Document, simulation: dict[str, Any]) -> None:
    doc.heading("Simulation check")
    doc.paragraph(simulation.get("note", ""))
    doc.table(
        [
            "method",
            "runs simulated",
            "hosted",
            "predicted violations",
            "simulated violations",
            "significant",
            "mean |sim - pred| / pred",
        ],
        [
            [
                m,
                s["runs"],
                s["hosted"],
                s["predicted_violations"],
                s["simulated_violations"],
                s["significant_violations"],
                fmt_ratio(s["mean_relative_error"]),
            ]
            for m, s in simulation["per_method"].items()
        ],
    )
    if simulation["skipped"]:
        doc.paragraph(f"{len(simulation['skipped'])} runs not simulated: their instance file changed or is missing.")


_LINESTYLE = {"baseline": "--", "exact": "-.", "portfolio": ":"}


def _binned(points: list[tuple[float, float]], bins: int = 8) -> list[tuple[float, float]]:
    """Mean x and y over equal-count bins of the points sorted by x (all points when few)."""
    points = sorted(points)
    if len(points) <= bins:
        return points
    out = []
    for b in range(bins):
        chunk = points[b * len(points) // bins : (b + 1) * len(points) // bins]
        if chunk:
            out.append((statistics.fmean(p[0] for p in chunk), statistics.fmean(p[1] for p in chunk)))
    return out


def make_plots(summary: dict[str, Any], out_dir: Path, prefix: str = "") -> dict[str, str]:
    """Write the PNG plots (file names start with ``prefix``); returns name -> file name in ``out_dir``.

    Line style by method kind: baselines dashed, heuristics solid, exact dash-dot, portfolio dotted.
    """
    from optplace.extras import require

    matplotlib = require("matplotlib", "batch", "the plots of optplace report (--no-plots skips them)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = summary["methods"]
    instances = summary["per_instance"]
    written = {}
    markers = "os^Dv<>px*hP"
    palette = plt.get_cmap("tab20" if len(methods) > 10 else "tab10")

    def style(k: int, method: str) -> dict[str, Any]:
        kind = summary["per_method"][method]["kind"]
        return {
            "color": palette(k % palette.N),
            "linestyle": _LINESTYLE.get(kind, "-"),
            "marker": markers[k % len(markers)],
            "label": method,
        }

    def save(fig: Any, name: str, legend_ax: Any) -> None:
        handles, labels = legend_ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
        fig.tight_layout()
        written[name] = prefix + PLOTS[name]
        fig.savefig(out_dir / written[name], dpi=110, bbox_inches="tight")
        plt.close(fig)

    # Performance profiles (Dolan & More 2002): quality ratio best/score, runtime ratio t/t_min.
    fig, (ax_q, ax_t) = plt.subplots(1, 2, figsize=(11, 4))
    quality: dict[str, list[float]] = {m: [] for m in methods}
    timing: dict[str, list[float]] = {m: [] for m in methods}
    for inst in instances:
        best = inst["best_score"]
        times = [t for t in inst["runtime_s"].values() if t is not None]
        t_min = max(min(times), 1e-6) if times else None
        for m in methods:
            if m not in inst["scores"]:
                continue
            if best > 0:
                s = inst["scores"][m]
                quality[m].append(best / s if s > 0 else math.inf)
            t = inst["runtime_s"].get(m)
            if t_min is not None:
                timing[m].append(max(t, 1e-6) / t_min if t is not None else math.inf)
    for ax, ratios, label in ((ax_q, quality, "score ratio best / method"), (ax_t, timing, "runtime ratio t / t_best")):
        finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
        top = max([*finite, 1.0]) * 1.15
        for k, m in enumerate(methods):
            rs = sorted(ratios[m])
            if not rs:
                continue
            taus = sorted({1.0, *[r for r in rs if math.isfinite(r)], top})
            ys = [sum(1 for r in rs if r <= tau) / len(rs) for tau in taus]
            ax.step(taus, ys, where="post", markersize=3, **style(k, m))
        ax.set_xscale("log", base=2)
        ax.set_xlim(1.0, top)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(label)
        ax.set_ylabel("fraction of instances")
        ax.grid(alpha=0.3)
    ax_q.set_title("quality (violation-free hosted)")
    ax_t.set_title("runtime (solved runs)")
    save(fig, "performance_profile", ax_q)

    # Violation-free fraction versus offered load: every instance (faint), and means over load bins.
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, m in enumerate(methods):
        pts = [
            (i["offered_load"], i["scores"][m] / i["n_applications"])
            for i in instances
            if m in i["scores"] and i["offered_load"] is not None and i["n_applications"]
        ]
        if pts:
            st = style(k, m)
            px, py = zip(*pts)
            ax.scatter(px, py, s=8, alpha=0.25, color=st["color"], marker=st["marker"])
            bx, by = zip(*_binned(pts))
            ax.plot(bx, by, alpha=0.9, markersize=4, **st)
    ax.set_xlabel("offered load (demand / capacity at the utilisation cap)")
    ax.set_ylabel("fraction hosted without violation")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    save(fig, "hosted_vs_load", ax)

    # Runtime versus size: every solved run (faint) and the mean per size.
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, m in enumerate(methods):
        pts = [
            (i["n_applications"], max(i["runtime_s"][m], 1e-5))
            for i in instances
            if i["runtime_s"].get(m) is not None and i["n_applications"]
        ]
        if pts:
            st = style(k, m)
            px, py = zip(*pts)
            ax.scatter(px, py, s=8, alpha=0.25, color=st["color"], marker=st["marker"])
            sizes = sorted({p[0] for p in pts})
            means = [statistics.fmean(t for n, t in pts if n == size) for size in sizes]
            ax.plot(sizes, means, alpha=0.9, markersize=4, **st)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("applications")
    ax.set_ylabel("solve time (s)")
    ax.grid(alpha=0.3, which="both")
    save(fig, "runtime_vs_size", ax)
    return written


@dataclass
class ReportFiles:
    markdown: Path
    summary: Path
    plots: dict[str, Path]
    html: Path | None = None


def write_report(
    results: str | Path,
    out_dir: str | Path,
    *,
    html_output: bool = False,
    plots: bool = True,
    simulate: bool = False,
    simulate_requests: int = 2000,
    simulate_seed: int = 0,
) -> ReportFiles:
    """Read ``results`` and write ``report.md`` (+ ``report.html``), ``summary.json`` and the PNGs."""
    results = Path(results)
    rows, _ = read_results(results)
    if not rows:
        raise ValueError(f"{results} holds no result rows")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows)
    if simulate:
        summary["simulation"] = simulate_rows(latest_rows(rows), simulate_requests, simulate_seed)
    written = make_plots(summary, out) if plots else {}
    doc = build_document(summary, str(results), written)
    (out / "report.md").write_text(doc.markdown(), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    files = ReportFiles(out / "report.md", out / "summary.json", {k: out / v for k, v in written.items()})
    if html_output:
        (out / "report.html").write_text(doc.html("optplace batch report"), encoding="utf-8")
        files.html = out / "report.html"
    return files


def simulate_rows(rows: list[dict[str, Any]], requests_per_app: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Re-check every solved placement with the discrete-event simulator (:mod:`optplace.simulation`).

    Counts, per method, the applications the analytic model says violate their SLO (only latency-
    blind baselines have any) next to those whose simulated SLO statistic exceeds the SLO, and
    those whose whole 95% confidence interval lies above it. A row whose instance file changed
    since the batch (different SHA-256) or disappeared is skipped and listed.
    """
    from optplace.batch import file_sha256
    from optplace.io import InstanceError, load_instance
    from optplace.simulation import simulate

    cache: dict[str, Any] = {}
    per_method: dict[str, dict[str, Any]] = {}
    runs, skipped = [], []
    for row in rows:
        if row.get("status") not in SOLVED or not row.get("placement"):
            continue
        path = str(row.get("instance_path"))
        key = instance_key(row)
        if key not in cache:
            current = file_sha256(Path(path))
            try:
                cache[key] = load_instance(path) if current == row.get("file_sha256") else None
            except InstanceError:
                cache[key] = None
        instance = cache[key]
        if instance is None:
            skipped.append({"instance": path, "method": row["method"], "reason": "instance file changed or missing"})
            continue
        report = simulate(instance, row["placement"], requests_per_app=requests_per_app, seed=seed)
        errors = [
            abs(a.simulated_ms.value - a.predicted_ms) / a.predicted_ms
            for a in report.applications
            if a.predicted_ms is not None and a.predicted_ms > 0 and math.isfinite(a.simulated_ms.value)
        ]
        run = {
            "instance": path,
            "method": row["method"],
            "hosted": len(row["placement"]),
            "predicted_violations": int(row.get("violating_applications") or 0),
            "simulated_violations": len(report.violations),
            "significant_violations": sum(1 for a in report.applications if a.violation_significant),
            "mean_relative_error": _mean(errors),
            "requests_simulated": report.requests_simulated,
            "runtime_s": round(report.runtime_s, 3),
        }
        runs.append(run)
        agg = per_method.setdefault(
            row["method"],
            {
                "runs": 0,
                "hosted": 0,
                "predicted_violations": 0,
                "simulated_violations": 0,
                "significant_violations": 0,
                "_errors": [],
            },
        )
        agg["runs"] += 1
        for name in ("hosted", "predicted_violations", "simulated_violations", "significant_violations"):
            agg[name] += run[name]
        agg["_errors"].extend(errors)
    for agg in per_method.values():
        agg["mean_relative_error"] = _mean(agg.pop("_errors"))
    return {
        "requests_per_app": requests_per_app,
        "seed": seed,
        "note": (
            f"Every solved placement simulated with Poisson arrivals, about {requests_per_app} measured requests "
            f"for the slowest application, seed {seed}. Predicted: applications whose SLO the analytic model says "
            "is violated. Simulated: applications whose simulated SLO statistic exceeds the SLO; significant: the "
            "whole 95% confidence interval lies above it (a placement tight against its SLO can miss it in a finite "
            "simulation by sampling noise alone). Error: mean over hosted applications of |simulated - predicted| / "
            "predicted for the SLO statistic."
        ),
        "per_method": per_method,
        "runs": runs,
        "skipped": skipped,
    }
