"""The optplace command line, end to end through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import INSTANCES, ROOT


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "optplace", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_solve_prints_a_placement_table():
    """`optplace solve` prints one row per hosted application and a summary line."""
    out = run("solve", str(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "--method", "first_fit")
    assert out.returncode == 0, out.stderr
    assert "application" in out.stdout and "gpu1" in out.stdout and "insufficient_capacity" in out.stdout
    assert "hosted 2/3" in out.stdout


def test_solve_json_and_out_file(tmp_path):
    """--json prints the SolveResult; --out writes the same JSON to a file."""
    target = tmp_path / "result.json"
    out = run("solve", str(INSTANCES / "tiny" / "priority.json"), "-m", "first_fit", "--json", "--out", str(target))
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    assert printed["status"] == "feasible" and printed["assignments"][0]["application"] == "first"
    assert json.loads(target.read_text()) == printed


def test_solve_rejects_a_bad_file_with_field_names(tmp_path):
    """An invalid instance exits 2 with each bad field named."""
    doc = json.loads((INSTANCES / "tiny" / "priority.json").read_text())
    doc["applications"][1]["rate_rps"] = -1
    doc["applications"][2]["slo"]["latency_ms"] = 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    out = run("solve", str(bad))
    assert out.returncode == 2
    assert "applications[1].rate_rps" in out.stderr and "applications[2].slo.latency_ms" in out.stderr


def test_solve_reports_unreadable_and_non_json_files(tmp_path):
    """A missing file and a non-JSON file are clear errors, not tracebacks."""
    missing = run("solve", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    out = run("solve", str(broken))
    assert out.returncode == 2 and "not valid JSON" in out.stderr


def test_infeasible_exits_nonzero_but_prints_reasons():
    """An infeasible instance prints its reasons and exits 1."""
    out = run("solve", str(INSTANCES / "tiny" / "infeasible_host_all.json"), "-m", "first_fit")
    assert out.returncode == 1 and "cannot_meet_slo_alone" in out.stdout


def test_methods_lists_registered_methods():
    """`optplace methods --json` lists every method with a description."""
    out = run("methods", "--json")
    assert out.returncode == 0
    names = {m["name"] for m in json.loads(out.stdout)}
    assert {"first_fit", "auto"} <= names


def test_solve_passes_method_options_and_rejects_malformed_ones():
    """--option KEY=VALUE reaches the method's params.options (JSON values parsed); a bare word is an error."""
    out = run(
        "solve",
        str(INSTANCES / "tiny" / "priority.json"),
        "-m",
        "ordered_first_fit",
        "--option",
        "order=priority",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["params"]["options"] == {"order": "priority"}
    assert result["assignments"][0]["application"] == "important"  # highest priority placed first
    bad = run("solve", str(INSTANCES / "tiny" / "priority.json"), "--option", "order")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr


def test_solve_rejects_options_the_method_does_not_take():
    """An unknown key, a value of the wrong type or outside its enum: exit 2 naming each option, no result."""
    out = run(
        "solve",
        str(INSTANCES / "tiny" / "priority.json"),
        "-m",
        "local_search",
        "--option",
        "max_rounds=abc",
        "--option",
        "unused=[1, 2]",
        "--option",
        'initial_placement={"ghost": "gpu0"}',
    )
    assert out.returncode == 2 and out.stdout == ""
    assert "--option max_rounds: Input should be a valid integer" in out.stderr
    assert "--option unused: unknown option" in out.stderr
    assert "--option initial_placement: unknown application 'ghost'" in out.stderr


def test_methods_json_publishes_each_options_schema():
    """`optplace methods --json` carries a JSON Schema per method that forbids unknown keys."""
    methods = {m["name"]: m for m in json.loads(run("methods", "--json").stdout)}
    assert methods["first_fit"]["options"]["additionalProperties"] is False
    assert methods["first_fit"]["options"]["properties"] == {}
    order = methods["ordered_first_fit"]["options"]["properties"]["order"]
    assert set(order["enum"]) == {"auto", "arrival", "load", "slack", "priority", "density"}
    pyomo = methods["milp_pyomo"]["options"]
    assert "solver_options" in pyomo["properties"] and "solver_name" in pyomo["properties"]
