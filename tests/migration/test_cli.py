"""`optplace replan` end to end through a real subprocess."""

from __future__ import annotations

import json

from tests.migration.builders import drain_into_full_node, one_node_two_gpus
from tests.test_cli import run


def test_replan_prints_the_plan_and_writes_json(tmp_path):
    """The plan is a table in step order; --out writes the same ReplanResult that --json prints."""
    instance = tmp_path / "cluster.json"
    instance.write_text(drain_into_full_node().model_dump_json())
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"draining_accelerators": ["g2"]}))
    out = run("replan", str(instance), "--changes", str(changes), "--out", str(tmp_path / "result.json"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "re-placement complete" in lines[0]
    steps = [line.split()[:3] for line in lines if line.strip()[:1].isdigit()]
    assert steps[:6] == [
        ["1", "start", "x"],
        ["2", "shift", "x"],
        ["3", "stop", "x"],
        ["4", "start", "y"],
        ["5", "shift", "y"],
        ["6", "stop", "y"],
    ]
    assert "moves 2 (0 parking; 1 counted)" in out.stdout
    written = json.loads((tmp_path / "result.json").read_text())
    printed = json.loads(run("replan", str(instance), "-c", str(changes), "--json").stdout)
    assert written["plan"] == printed["plan"] and printed["outcome"] == "complete"


def test_replan_shows_what_blocked_the_best_target(tmp_path):
    """A change that cannot be absorbed lists the blocked step with the memory it lacks."""
    instance = tmp_path / "cluster.json"
    instance.write_text(one_node_two_gpus().model_dump_json())
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"draining_accelerators": ["ga"]}))
    out = run("replan", str(instance), "--changes", str(changes))
    assert out.returncode == 0, out.stderr
    assert "re-placement fallback" in out.stdout and "blocked:" in out.stdout
    assert any(line.split()[:6] == ["a", "start", "gb", "n1", "1000", "0.000"] for line in out.stdout.splitlines())


def test_replan_rejects_bad_changes_with_field_names(tmp_path):
    """Unknown names and out-of-range values exit 2 naming the field; so does unreadable JSON."""
    instance = tmp_path / "cluster.json"
    instance.write_text(one_node_two_gpus().model_dump_json())
    changes = tmp_path / "changes.json"
    changes.write_text(json.dumps({"draining_accelerators": ["nope"], "rates_rps": {"a": 2}}))
    out = run("replan", str(instance), "--changes", str(changes))
    assert out.returncode == 2 and "draining_accelerators.0: unknown accelerator 'nope'" in out.stderr
    changes.write_text(json.dumps({"max_moves": -1}))
    out = run("replan", str(instance), "--changes", str(changes))
    assert out.returncode == 2 and "max_moves" in out.stderr and "Traceback" not in out.stderr
    changes.write_text("{ nope")
    out = run("replan", str(instance), "--changes", str(changes))
    assert out.returncode == 2 and "not valid JSON" in out.stderr
