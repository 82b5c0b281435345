"""optplace batch: isolation, deadlines, error rows, resume after SIGINT/SIGKILL, and the report on top."""

from __future__ import annotations

import json
import signal
import subprocess
from collections import Counter
from pathlib import Path

import psutil
import pytest

from optplace.batch import (
    ResultWriter,
    expand_paths,
    latest_rows,
    plan_tasks,
    read_results,
    resolve_methods,
    run_batch,
)
from optplace.cli import main
from optplace.report import write_report
from tests.batch.conftest import ROOT, THREE_METHODS, batch_command, complete_lines, wait_for_rows

SOLVED = ("optimal", "feasible")


def markdown_table(markdown: str, first_header: str) -> dict[str, dict[str, str]]:
    """The Markdown table whose first column is ``first_header``, as row name -> column -> cell."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    headers = [h.strip() for h in lines[start].strip("|").split("|")]
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(headers, cells))
    return table


def check_report_matches(results: Path, out: Path) -> dict:
    """Write the report and check its method table against numbers recomputed here from the JSONL."""
    files = write_report(results, out, html_output=True)
    rows = latest_rows(complete_lines(results))
    table = markdown_table(files.markdown.read_text(), "method")
    summary = json.loads(files.summary.read_text())
    for method in {r["method"] for r in rows}:
        mine = [r for r in rows if r["method"] == method]
        solved = [r for r in mine if r["status"] in SOLVED]
        expected = {
            "runs": len(mine),
            "solved": len(solved),
            "hosted": sum(r["hosted"] for r in solved),
            "violation-free hosted": sum(r["hosted_without_violation"] for r in solved),
        }
        for column, value in expected.items():
            assert table[method][column] == str(value), (method, column)
        assert summary["per_method"][method]["violation_free_hosted"] == expected["violation-free hosted"]
        errors = sum(1 for r in mine if r["status"] == "error")
        assert table[method]["errors (killed)"].startswith(f"{errors} ")
        runtimes = [r["runtime_s"] for r in solved]
        assert table[method]["runtime max s"] == f"{max(runtimes):.3g}"
    baselines = sorted({r["method"] for r in rows if r["method_kind"] == "baseline"})
    for base in baselines:  # ratio of totals over the instances both ran
        theirs = sum(r["hosted_without_violation"] for r in rows if r["method"] == base and r["status"] in SOLVED)
        for method in {r["method"] for r in rows}:
            mine = sum(r["hosted_without_violation"] for r in rows if r["method"] == method and r["status"] in SOLVED)
            assert table[method][f"x {base}"] == (f"{mine / theirs:.3f}" if theirs else "-")
    assert baselines, "the end-to-end batches include a baseline"
    for png in files.plots.values():
        assert png.read_bytes().startswith(b"\x89PNG")
    assert "<table>" in files.html.read_text()
    return summary


def test_expand_paths_reads_folders_and_skips_the_manifest(instance_set):
    """A folder gives its instance files, sorted, without manifest.json; duplicates are dropped."""
    paths = expand_paths([instance_set, instance_set / "hetero-n12-a2-s10.json"])
    assert [p.name for p in paths] == sorted(p.name for p in instance_set.glob("hetero-*.json"))


def test_resolve_methods_by_name_and_kind():
    """Methods resolve by name and by registry kind; unknown ones are a clear error."""
    assert resolve_methods("first_fit, auto") == ["first_fit", "auto"]
    assert "first_fit" in resolve_methods("kind:heuristic")
    with pytest.raises(ValueError, match="unknown method"):
        resolve_methods("first_fit,nope")
    with pytest.raises(ValueError, match="no registered method has kind"):
        resolve_methods("kind:quantum")


def test_task_ids_depend_on_content_method_and_parameters(instance_set, tmp_path):
    """The same plan gives the same ids; a changed file, method or parameter gives a new one."""
    paths = expand_paths([instance_set])[:1]
    params = {"seed": 0, "time_limit_s": 5.0}
    a = plan_tasks(paths, ["first_fit"], params, 1.0)[0].task_id
    assert a == plan_tasks(paths, ["first_fit"], params, 1.0)[0].task_id
    assert a != plan_tasks(paths, ["auto"], params, 1.0)[0].task_id
    assert a != plan_tasks(paths, ["first_fit"], {**params, "seed": 1}, 1.0)[0].task_id
    paths[0].write_text(paths[0].read_text().replace('"rate_rps": 5', '"rate_rps": 6', 1))
    assert a != plan_tasks(paths, ["first_fit"], params, 1.0)[0].task_id


def test_torn_last_line_is_detected_and_cut(tmp_path):
    """A crash mid-write leaves a line without newline: it is ignored, and cut before appending."""
    path = tmp_path / "r.jsonl"
    with ResultWriter(path) as writer:
        writer.append({"task_id": "a", "status": "feasible"})
    with open(path, "ab") as handle:
        handle.write(b'{"task_id": "b", "sta')
    rows, torn = read_results(path)
    assert torn and [r["task_id"] for r in rows] == ["a"]
    read_results(path, repair=True)
    assert path.read_bytes().endswith(b"}\n")
    with ResultWriter(path) as writer:
        writer.append({"task_id": "c"})
    assert [r["task_id"] for r in complete_lines(path)] == ["a", "c"]


def test_two_batches_cannot_write_one_file(tmp_path):
    """The results file is locked while a batch writes it."""
    path = tmp_path / "r.jsonl"
    with ResultWriter(path), pytest.raises(RuntimeError, match="another batch"):
        ResultWriter(path)


def test_invalid_instances_become_error_rows_naming_file_and_field(instance_set, tmp_path):
    """Bad JSON, a schema error and a missing file each give an error row; the valid instance still runs."""
    good = sorted(instance_set.glob("hetero-*.json"))[0]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    invalid = tmp_path / "invalid.json"
    doc = json.loads(good.read_text())
    doc["applications"][2]["rate_rps"] = -1
    invalid.write_text(json.dumps(doc))
    missing = tmp_path / "missing.json"
    out = tmp_path / "r.jsonl"
    summary = run_batch([good, broken, invalid, missing], "first_fit", out, jobs=2, progress=False, log=lambda _: None)
    assert summary.completed == 4 and summary.errors == 3
    rows = {Path(r["instance_path"]).name: r for r in complete_lines(out)}
    assert rows[good.name]["status"] in SOLVED
    assert rows["broken.json"]["errors"][0]["code"] == "invalid_json"
    entry = rows["invalid.json"]["errors"][0]
    assert entry["file"] == str(invalid) and entry["field"] == "applications[2].rate_rps"
    assert rows["missing.json"]["errors"][0]["code"] == "unreadable"
    assert all(r["error_code"] == "invalid_instance" for n, r in rows.items() if n != good.name)


@pytest.mark.parametrize(("launcher", "grace"), [("fork", 2.0), ("subprocess", 3.0)])
def test_a_task_past_its_deadline_is_killed_and_recorded(
    instance_set, tmp_path, task_env, monkeypatch, launcher, grace
):
    """A method that ignores its limit is killed at limit + grace; its row says time_limit; others go on."""
    monkeypatch.setenv("PYTHONPATH", task_env["PYTHONPATH"])
    paths = sorted(instance_set.glob("hetero-*.json"))[:2]
    out = tmp_path / "r.jsonl"
    summary = run_batch(
        paths, "test_hang,first_fit", out, time_limit_s=0.5, grace_s=grace, jobs=2,
        plugins=["tests.batch.hang_plugin"], launcher=launcher, progress=False, log=lambda _: None,
    )  # fmt: skip
    rows = complete_lines(out)
    assert summary.time_limit_kills == 2 and len(rows) == 4
    for row in rows:
        if row["method"] == "test_hang":
            assert (row["status"], row["stop_reason"], row["error_code"]) == (
                "error",
                "time_limit",
                "killed_at_deadline",
            )
            assert row["task_wall_s"] >= 0.5 + grace and row["launcher"] == launcher
            assert (row["n_applications"], row["family"], row["method_kind"]) == (12, "hetero", "heuristic")
        else:
            assert row["status"] in SOLVED


def test_rows_carry_provenance(instance_set, tmp_path):
    """Each row records input hash, method, parameters, seed, versions, threads, wall time, host and placement."""
    out = tmp_path / "r.jsonl"
    run_batch(
        [sorted(instance_set.glob("hetero-*.json"))[0]], "first_fit", out, seed=3, threads=1,
        progress=False, log=lambda _: None,
    )  # fmt: skip
    (row,) = complete_lines(out)
    assert len(row["input_hash"]) == 64 and len(row["file_sha256"]) == 64
    assert row["params"] == {"seed": 3, "threads": 1, "time_limit_s": 60.0}
    assert (row["seed"], row["threads"], row["method"], row["method_kind"]) == (3, 1, "first_fit", "heuristic")
    assert row["environment"]["versions"]["highspy"] and row["host"]
    assert row["wall_s"] > 0 and row["family"] == "hetero" and row["n_applications"] == 12
    assert len(row["placement"]) == row["hosted"]


def _tasks_per_file(rows: list[dict]) -> Counter:
    return Counter(r["task_id"] for r in rows)


def test_sigint_midway_then_resume_then_report(instance_set, tmp_path, task_env):
    """generate -> batch (3 methods) -> SIGINT midway -> rerun resumes -> report numbers match the file."""
    out = tmp_path / "results.jsonl"
    command = batch_command([instance_set], out, "--jobs", "2")
    process = subprocess.Popen(command, cwd=ROOT, env=task_env, stderr=subprocess.PIPE, text=True)
    wait_for_rows(out, 3, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "rerun the same command to resume" in stderr
    first = complete_lines(out)
    assert 3 <= len(first) < 9

    resumed = subprocess.run(command, cwd=ROOT, env=task_env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming: {len(first)} of 9 tasks" in resumed.stderr
    rows = complete_lines(out)
    assert len(rows) == 9 and set(_tasks_per_file(rows).values()) == {1}
    assert {r["method"] for r in rows} == set(THREE_METHODS.split(","))
    assert all(r["status"] in SOLVED for r in rows)

    again = subprocess.run(command, cwd=ROOT, env=task_env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "0 tasks run" in again.stderr
    assert len(complete_lines(out)) == 9
    check_report_matches(out, tmp_path / "report")


def test_sigkill_and_torn_line_then_resume(instance_set, tmp_path, task_env):
    """SIGKILL of the batch takes its task processes down; a torn line is dropped and the rerun completes."""
    out = tmp_path / "results.jsonl"
    command = batch_command([instance_set], out, "--jobs", "2")
    process = subprocess.Popen(command, cwd=ROOT, env=task_env, stderr=subprocess.DEVNULL)
    wait_for_rows(out, 2, process)
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, "task processes must not outlive a killed batch"
    killed_rows = len(complete_lines(out))
    with open(out, "ab") as handle:  # what a crash in the middle of a write would leave
        handle.write(b'{"schema":"optplace.batch/1","task_id":"torn","sta')

    resumed = subprocess.run(command, cwd=ROOT, env=task_env, capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert "torn line" in resumed.stderr
    rows = complete_lines(out)
    assert len(rows) == 9 and killed_rows < 9
    assert set(_tasks_per_file(rows).values()) == {1}
    check_report_matches(out, tmp_path / "report")


def test_retry_errors_reruns_only_error_rows(instance_set, tmp_path):
    """A rerun skips error rows too; --retry-errors appends a fresh row for them, and the report uses the last."""
    good = sorted(instance_set.glob("hetero-*.json"))[0]
    missing = tmp_path / "missing.json"
    out = tmp_path / "r.jsonl"
    args = ["batch", str(good), str(missing), "--methods", "first_fit", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    assert main(args) == 0
    assert [r["status"] for r in complete_lines(out)].count("error") == 1
    assert main([*args, "--retry-errors"]) == 0
    rows = complete_lines(out)
    assert len(rows) == 3 and rows[-1]["instance_path"] == str(missing)
    assert len(latest_rows(rows)) == 2


def test_batch_cli_rejects_unknown_methods(instance_set, tmp_path, capsys):
    """An unknown method is misuse: exit 2 before any task runs."""
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(instance_set), "--methods", "nope", "--out", str(out), "--no-progress"]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert not out.exists() or out.read_bytes() == b""


def test_batch_cli_rejects_options_a_method_does_not_take(instance_set, tmp_path, capsys):
    """--option must fit every selected method's options: exit 2 naming method and option, nothing runs."""
    out = tmp_path / "r.jsonl"
    argv = ["batch", str(instance_set), "--methods", "first_fit,ordered_first_fit", "--out", str(out), "--no-progress"]
    assert main([*argv, "--option", "order=slack"]) == 2
    assert "method 'first_fit': options.order: unknown option" in capsys.readouterr().err
    assert main([*argv[:3], "ordered_first_fit", *argv[4:], "--option", "order=bogus"]) == 2
    assert "options.order: Input should be" in capsys.readouterr().err
    assert not out.exists() or out.read_bytes() == b""


def test_progress_bar_reports_counts(instance_set, tmp_path, capsys):
    """The tqdm bar shows done/total and the ok/error counts."""
    out = tmp_path / "r.jsonl"
    paths = [str(p) for p in sorted(instance_set.glob("hetero-*.json"))[:1]]
    assert main(["batch", *paths, "--methods", "first_fit", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "1/1" in err and "ok=1" in err


def test_memory_limit_turns_a_runaway_task_into_an_error_row(instance_set, tmp_path):
    """With --memory-limit a task that allocates too much fails with MemoryError; the batch goes on."""
    paths = sorted(instance_set.glob("hetero-*.json"))[:1]
    out = tmp_path / "r.jsonl"
    summary = run_batch(
        paths, "test_memory_hog,first_fit", out, memory_limit_mb=2000, plugins=["tests.batch.hang_plugin"],
        progress=False, log=lambda _: None,
    )  # fmt: skip
    rows = {r["method"]: r for r in complete_lines(out)}
    assert summary.completed == 2
    assert rows["test_memory_hog"]["status"] == "error" and "MemoryError" in rows["test_memory_hog"]["message"]
    assert rows["first_fit"]["status"] in SOLVED


def test_non_finite_numbers_are_written_as_null(tmp_path):
    """A method's stats may hold inf or nan; the row stays strict JSON with null in their place."""
    path = tmp_path / "r.jsonl"
    with ResultWriter(path) as writer:
        writer.append({"task_id": "a", "stats": {"bound": float("inf"), "trace": [1.0, float("nan")]}})
    (row,) = complete_lines(path)
    assert row["stats"] == {"bound": None, "trace": [1.0, None]}
