"""optplace report: the numbers (hand-computed on made-up rows), the files, and the simulation check."""

from __future__ import annotations

import json

import pytest

from optplace.batch import run_batch
from optplace.cli import main
from optplace.report import summarize, write_report
from tests.batch.test_batch import markdown_table


def row(instance, method, kind, status="feasible", hosted=0, free=None, objective=None, **extra):
    """A minimal result row as optplace batch writes it."""
    return {
        "task_id": f"{instance}/{method}",
        "instance_path": f"/data/{instance}.json",
        "file_sha256": "ab" * 32,
        "instance_name": instance,
        "method": method,
        "method_kind": kind,
        "status": status,
        "hosted": hosted,
        "hosted_without_violation": hosted if free is None else free,
        "violates_slo": free is not None and free < hosted,
        "objective_name": "max_hosted",
        "objective": float(hosted) if objective is None else objective,
        "n_applications": 20,
        "n_accelerators": 4,
        "offered_load": 1.5,
        "runtime_s": 0.5,
        "accelerators_used": 4,
        **extra,
    }


ROWS = [
    row("i1", "knap", "baseline", hosted=20, free=4),
    row("i1", "greedy", "heuristic", hosted=10, gap=0.5),
    row("i1", "exact", "exact", status="optimal", hosted=12, gap=0.0, runtime_s=3.0),
    row("i2", "knap", "baseline", hosted=20, free=6),
    row("i2", "greedy", "heuristic", hosted=9, gap=0.2),
    row("i2", "exact", "exact", status="error", error_code="killed_at_deadline", stop_reason="time_limit"),
]


def test_summary_numbers_by_hand():
    """Scores, ratios to best and to the baseline, errors and gaps follow the documented definitions."""
    s = summarize(ROWS)
    assert s["baselines"] == ["knap"]
    greedy, exact, knap = (s["per_method"][m] for m in ("greedy", "exact", "knap"))
    assert (greedy["violation_free_hosted"], exact["violation_free_hosted"], knap["violation_free_hosted"]) == (
        19,
        12,
        10,
    )
    # best scores: i1 = 12 (exact), i2 = 9 (greedy; exact failed and scores 0)
    assert greedy["ratio_to_best"] == pytest.approx((10 / 12 + 9 / 9) / 2)
    assert exact["ratio_to_best"] == pytest.approx((12 / 12 + 0 / 9) / 2)
    assert greedy["vs_baseline"]["knap"] == pytest.approx(19 / 10)
    assert exact["vs_baseline"]["knap"] == pytest.approx(12 / 10)
    assert (exact["errors"], exact["killed_at_deadline"], exact["optimal"]) == (1, 1, 1)
    assert greedy["gap_mean"] == pytest.approx(0.35) and greedy["runs_with_gap"] == 2
    # the violating baseline's objective is not compared with clean runs' best
    assert knap["objective_ratio_to_best"] is None and knap["runs_with_violations"] == 2
    assert greedy["objective_ratio_to_best"] == pytest.approx((10 / 12 + 1.0) / 2)


def test_minimised_objectives_compare_best_over_value():
    """For a minimised primary objective the ratio is best / value (1 is best)."""
    rows = [
        row("i1", "a", "heuristic", hosted=5, objective=4.0, objective_name="min_cost"),
        row("i1", "b", "heuristic", hosted=5, objective=2.0, objective_name="min_cost"),
    ]
    s = summarize(rows)
    assert s["per_method"]["a"]["objective_ratio_to_best"] == pytest.approx(0.5)
    assert s["per_method"]["b"]["objective_ratio_to_best"] == pytest.approx(1.0)


def test_the_last_row_of_a_task_wins():
    """A retried task is counted once, with its newest row."""
    rows = [*ROWS, row("i2", "exact", "exact", status="optimal", hosted=11, gap=0.0)]
    exact = summarize(rows)["per_method"]["exact"]
    assert (exact["tasks"], exact["errors"], exact["violation_free_hosted"]) == (2, 0, 23)


def test_report_files_print_the_summary(tmp_path):
    """report.md, report.html and summary.json carry the same numbers; the PNGs are real images."""
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    files = write_report(results, tmp_path / "out", html_output=True)
    table = markdown_table(files.markdown.read_text(), "method")
    assert table["greedy"]["x knap"] == "1.900" and table["exact"]["errors (killed)"] == "1 (1)"
    assert table["knap"]["violation-free hosted"] == "10" and table["knap"]["hosted"] == "40"
    assert table["greedy"]["gap mean (runs)"] == "35.00% (2)"
    summary = json.loads(files.summary.read_text())
    assert summary["per_method"]["greedy"]["vs_baseline"]["knap"] == pytest.approx(1.9)
    html = files.html.read_text()
    assert "<td>1.900</td>" in html and 'src="performance_profile.png"' in html
    assert sorted(p.name for p in files.plots.values()) == [
        "hosted_vs_load.png", "performance_profile.png", "runtime_vs_size.png"
    ]  # fmt: skip
    for png in files.plots.values():
        assert png.read_bytes()[:4] == b"\x89PNG"


def test_report_cli_rejects_an_empty_file(tmp_path, capsys):
    """An empty results file is a clear error, exit 2."""
    empty = tmp_path / "r.jsonl"
    empty.write_text("")
    assert main(["report", str(empty), "--out", str(tmp_path / "out")]) == 2
    assert "no result rows" in capsys.readouterr().err


def test_simulate_rechecks_placements(instance_set, tmp_path):
    """--simulate simulates every solved placement; model-feasible ones have no predicted violations."""
    pytest.importorskip("optplace.simulation")
    out = tmp_path / "r.jsonl"
    paths = sorted(instance_set.glob("hetero-*.json"))[:2]
    run_batch(paths, "first_fit", out, progress=False, log=lambda _: None)
    code = main(["report", str(out), "--out", str(tmp_path / "rep"), "--simulate", "--sim-requests", "300"])
    assert code == 0
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    sim = summary["simulation"]["per_method"]["first_fit"]
    assert sim["runs"] == 2 and sim["predicted_violations"] == 0
    assert sim["hosted"] == summary["per_method"]["first_fit"]["hosted"]
    assert 0 <= sim["significant_violations"] <= sim["simulated_violations"] <= sim["hosted"]
    assert sim["mean_relative_error"] < 0.5
    assert "## Simulation check" in (tmp_path / "rep" / "report.md").read_text()
