"""The one supervisor: children that never re-run the caller's ``__main__``, and that die with the call."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from optplace.isolation import run_isolated
from optplace.supervisor import Child, kill_tree, tree_memory_mb
from tests.exact import targets

ROOT = Path(__file__).resolve().parents[2]
# The README's snippet without the ``if __name__ == "__main__":`` guard, on a small instance.
SCRIPT = """
import optplace
print("script body runs")
instance = optplace.read("instances/seed/heter_toy.json")
result = optplace.solve(instance, method="milp_highs", params={"time_limit_s": 20})
print(result.status, result.objective, result.bound, result.stats["isolated"], "isolation_fallback" in result.stats)
"""


def _run_script(args: list[str], stdin: str | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("how", ["file", "stdin", "-c"])
def test_a_script_without_main_guard_runs_once_and_isolates_the_solver(how, tmp_path):
    """A plain script, a script on stdin and ``python -c`` run their body once and solve in a child."""
    if how == "file":
        path = tmp_path / "script.py"
        path.write_text(SCRIPT)
        lines = _run_script([str(path)])
    elif how == "stdin":
        lines = _run_script(["-"], stdin=SCRIPT)
    else:
        lines = _run_script(["-c", SCRIPT])
    assert lines.count("script body runs") == 1
    assert lines[-1] == "optimal 2.0 2.0 True False"


def _gone(pid: int) -> bool:
    """The process is gone or dead (a zombie awaiting its reaper); waits up to 10 s for it."""
    for _ in range(100):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_in_the_caller_kills_the_child():
    """A KeyboardInterrupt while the child computes propagates, and the run's process is killed."""
    pids = []

    def interrupt(kind, data):
        pids.append(data)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_isolated(targets.report_pid_then_hang, {"sleep_s": 60}, time_limit_s=60, on_message=interrupt)
    assert len(pids) == 1
    assert _gone(pids[0])


def test_a_child_runs_in_its_own_session_and_kill_tree_ends_it():
    """The terminal's Ctrl-C (sent to the foreground group) cannot reach a child; kill_tree ends it."""
    child = Child()
    try:
        assert os.getsid(child.pid) == child.pid != os.getsid(0)
        assert tree_memory_mb(child.pid) > 1.0
    finally:
        kill_tree(child.pid)
        child.process.wait(timeout=10)
    assert child.exitcode() is not None and child.exitcode() < 0
    assert tree_memory_mb(child.pid) == 0.0


def test_a_warm_child_serves_the_next_run_in_a_fresh_fork():
    """After a clean run the child stays warm: the next run is forked from the same process, so it
    inherits the imports but not the earlier run's state."""
    first = dict(run_isolated(targets.report_pid_then_hang, {"sleep_s": 0}, time_limit_s=60).messages)
    second = dict(run_isolated(targets.report_pid_then_hang, {"sleep_s": 0}, time_limit_s=60).messages)
    assert first["parent"] == second["parent"]
    assert first["pid"] != second["pid"]


def test_a_run_that_dies_is_reported_and_the_child_serves_on():
    """A run killed by a signal (a solver crash) ends with an error message, not a hang."""
    outcome = run_isolated(targets.crash, {}, time_limit_s=60)
    assert outcome.error is not None and "signal" in outcome.error
    assert not outcome.killed
    assert run_isolated(targets.stream_then_finish, {"count": 1}, time_limit_s=60).messages[0] == ("incumbent", 0)


def test_run_batch_from_a_script_without_main_guard_runs_the_script_once(tmp_path):
    """Batch tasks fork from a supervisor child too: an unguarded script's body runs once, rows come back."""
    out = tmp_path / "rows.jsonl"
    script = f"""
import json
from optplace.batch import run_batch
print("script body runs")
summary = run_batch(["instances/tiny/ps_one_per_gpu.json"], ["first_fit", "ordered_best_fit"], {str(out)!r},
                    launcher="fork", jobs=2, progress=False, log=lambda _: None)
rows = [json.loads(line) for line in open({str(out)!r})]
print(sorted((row["method"], row["status"], row["launcher"]) for row in rows))
"""
    path = tmp_path / "batch_script.py"
    path.write_text(script)
    lines = _run_script([str(path)])
    assert lines.count("script body runs") == 1
    assert lines[-1] == "[('first_fit', 'feasible', 'fork'), ('ordered_best_fit', 'feasible', 'fork')]"
