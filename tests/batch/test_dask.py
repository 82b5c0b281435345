"""optplace batch --scheduler: the same isolated tasks on a local Dask cluster started by the test."""

from __future__ import annotations

import signal
import subprocess

import pytest

from optplace.batch import run_batch
from tests.batch.conftest import PLUGIN, ROOT, THREE_METHODS, batch_command, complete_lines, wait_for_rows
from tests.batch.test_batch import check_report_matches

distributed = pytest.importorskip("distributed")


@pytest.fixture
def dask_scheduler(task_env, monkeypatch):
    """A two-worker LocalCluster on 127.0.0.1 (worker processes), closed after the test."""
    monkeypatch.setenv("PYTHONPATH", task_env["PYTHONPATH"])  # workers start task processes that import the plugin
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close(timeout=30)


def test_dask_batch_interrupt_resume_report(instance_set, tmp_path, task_env, dask_scheduler):
    """generate -> batch on Dask (3 methods) -> SIGINT midway -> resume on Dask -> report matches the file."""
    assert dask_scheduler.startswith("tcp://127.0.0.1:")
    out = tmp_path / "results.jsonl"
    command = batch_command([instance_set], out, "--scheduler", dask_scheduler, "--jobs", "2")
    process = subprocess.Popen(command, cwd=ROOT, env=task_env, stderr=subprocess.PIPE, text=True)
    wait_for_rows(out, 3, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    first = complete_lines(out)
    assert 3 <= len(first) < 9

    summary = run_batch(
        [instance_set], THREE_METHODS, out, time_limit_s=30, jobs=0, scheduler=dask_scheduler,
        plugins=[PLUGIN], progress=False, log=lambda _: None,
    )  # fmt: skip
    assert summary.skipped == len(first) and summary.completed == 9 - len(first)
    rows = complete_lines(out)
    assert len(rows) == 9 and len({r["task_id"] for r in rows}) == 9
    assert all(r["status"] in ("optimal", "feasible") for r in rows)
    check_report_matches(out, tmp_path / "report")


def test_dask_runs_give_the_same_placements_as_local_runs(instance_set, tmp_path, dask_scheduler):
    """A task's row (placement, objective) does not depend on where it ran."""
    paths = sorted(instance_set.glob("hetero-*.json"))[:2]
    local, remote = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    run_batch(paths, "first_fit,knapsack_first_fit", local, jobs=2, progress=False, log=lambda _: None)
    run_batch(
        paths, "first_fit,knapsack_first_fit", remote, scheduler=dask_scheduler, progress=False, log=lambda _: None
    )
    by_task = {r["task_id"]: r for r in complete_lines(local)}
    for row in complete_lines(remote):
        assert row["placement"] == by_task[row["task_id"]]["placement"]
        assert row["objective"] == by_task[row["task_id"]]["objective"]


def test_shipped_instance_needs_no_shared_file_system(instance_set):
    """A task carrying the instance text solves even where its path does not exist (a remote worker)."""
    from dataclasses import asdict

    from optplace.batch import plan_tasks, run_isolated

    path = sorted(instance_set.glob("hetero-*.json"))[0]
    (task,) = plan_tasks([path], ["first_fit"], {"seed": 0, "time_limit_s": 10.0}, 10.0)
    payload = {**asdict(task), "instance_path": "/nowhere/" + path.name, "instance_text": path.read_text()}
    row = run_isolated(payload)
    assert row["status"] in ("optimal", "feasible") and row["instance_path"] == "/nowhere/" + path.name
    broken = run_isolated({**payload, "instance_text": "{oops"})
    assert broken["error_code"] == "invalid_instance"
    assert broken["errors"][0]["file"] == "/nowhere/" + path.name and broken["errors"][0]["code"] == "invalid_json"
