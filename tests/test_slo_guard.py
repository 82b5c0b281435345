"""The violation hunt (benchmarks/slo_guard.py) on a tiny scale: it must find what is there."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.conftest import ROOT
from tests.test_guard import md1_instance

pytestmark = pytest.mark.slow


def load_hunt():
    spec = importlib.util.spec_from_file_location("slo_guard", ROOT / "benchmarks" / "slo_guard.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hunt_counts_the_violation_of_a_latency_blind_placement(tmp_path):
    """A memory-only baseline's overloaded device is counted as sure violations; first_fit's placement is clean."""
    hunt = load_hunt()
    path = tmp_path / "md1.json"
    path.write_text(md1_instance().model_dump_json(), encoding="utf-8")
    source = ("file", str(path), None, None, {})
    runs = [hunt.run_task((source, method, 5.0, 5_000)) for method in ("knapsack_first_fit", "first_fit")]
    report = hunt.summarise(runs)
    cells = {c["method"]: c for c in report["cells"]}
    assert cells["knapsack_first_fit"]["sure"] == 2 and cells["knapsack_first_fit"]["placements_with_sure"] == 1
    assert cells["first_fit"]["sure"] == 0 and cells["first_fit"]["hosted"] == 1
    assert cells["first_fit"]["worst_sim_over_slo"] < 1.0
    kinds = {(k["discipline"], k["statistic"]): k["sure"] for k in report["kinds"]}
    assert kinds == {("fcfs", "mean"): 2}
    rows = {a["application"]: a for a in runs[0]["applications"]}
    assert rows["tight"]["backends"] == 2 and rows["tight"]["utilization"] == pytest.approx(1.0)


def test_hunt_command_writes_its_table_and_rows(tmp_path):
    """The script runs end to end on one small family and writes the markdown table and the JSON rows."""
    hunt = load_hunt()
    out = tmp_path / "hunt"
    argv = ["--families", "ps-low-load", "--apps", "6", "--methods", "first_fit", "--no-shipped"]
    assert hunt.main([*argv, "--requests", "2000", "--time-limit", "2", "--out", str(out)]) == 0
    document = json.loads(out.with_suffix(".json").read_text())
    assert document["settings"]["requests_per_accelerator"] == 2000
    assert document["totals"]["placements"] == 1
    runs = [json.loads(line) for line in (tmp_path / "hunt_runs.jsonl").read_text().splitlines()]
    hosted = runs[0]["hosted"]
    assert len(runs[0]["applications"]) == hosted
    assert document["totals"]["hosted"] == hosted > 0
    assert "| ps-low-load | first_fit | 1 |" in out.with_suffix(".md").read_text()
