"""solve(on_incumbent=..., log=...): live progress from every built-in method, and Ctrl-C that keeps the answer."""

from __future__ import annotations

import io
import itertools
import logging
import os
import signal
import subprocess
import sys

import pytest

from optplace import Status, StopReason, evaluate, solve
from optplace.progress import ProgressEvent, listening
from optplace.registry import _METHODS, MethodOutput, register
from tests.conftest import INSTANCES, ROOT, load

SEED = INSTANCES / "seed" / "heterogeneous.json"
# One HiGHS thread, as the exact-method contract tests use: HiGHS keeps one thread pool per process
# and fails a later run that asks for another thread count (the HiGHS adapter does not reset it yet).


def _improving(events: list[ProgressEvent]) -> bool:
    incumbents = [e.objective for e in events if e.event == "incumbent"]
    # the primary objective (max_hosted) never falls; a later secondary objective may break ties
    return all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(incumbents))


@pytest.mark.parametrize("method", ["auto", "configuration", "milp_highs", "local_search", "first_fit"])
def test_on_incumbent_sees_better_verified_placements_up_to_the_result(method):
    """Each event is a feasible placement no worse than the last; the last one is the result's
    (a single-pass heuristic's one event is its answer)."""
    instance = load(SEED)
    events: list[ProgressEvent] = []
    result = solve(instance, method, {"time_limit_s": 3, "threads": 1}, on_incumbent=events.append)
    assert events, "no progress event"
    assert _improving(events)
    for event in events:
        assert evaluate(instance, event.placement).feasible
        assert event.method == method and event.objective_name == "max_hosted"
    last = [e for e in events if e.event == "incumbent"][-1]
    assert last.objective == result.objective
    assert last.placement == result.placement()


def test_log_writes_one_line_per_event_and_one_for_the_result():
    """log=stream: a line per event (time, incumbent, bound, gap) and a last line with the status."""
    stream = io.StringIO()
    events: list[ProgressEvent] = []
    result = solve(
        load(SEED), "configuration", {"time_limit_s": 2, "threads": 1}, on_incumbent=events.append, log=stream
    )
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(events) + 1
    assert lines[:-1] == [e.line() for e in events]
    assert "bound" in lines[0] and "gap" in lines[0] and "max_hosted" in lines[0]
    assert f"{result.status.value} ({result.stop_reason.value})" in lines[-1]


def test_log_to_a_logger_at_info(caplog):
    """log=Logger: the same lines as INFO records of that logger."""
    logger = logging.getLogger("optplace.test_progress")
    with caplog.at_level(logging.INFO, logger=logger.name):
        solve(load(SEED), "configuration", {"time_limit_s": 2, "threads": 1}, log=logger)
    records = [r for r in caplog.records if r.name == logger.name]
    assert len(records) >= 2 and all(r.levelno == logging.INFO for r in records)
    assert "configuration" in records[0].getMessage()


def test_an_enclosing_listener_still_hears_every_incumbent():
    """solve listens itself, yet a listener around it (the service's worker) gets the outputs too."""
    heard: list[MethodOutput] = []
    with listening(heard.append):
        result = solve(load(SEED), "configuration", {"time_limit_s": 2, "threads": 1})
    assert heard and dict(heard[-1].placement) == result.placement()


@pytest.mark.parametrize("method", ["configuration", "milp_highs"])
def test_ctrl_c_returns_the_best_placement_found_so_far(method):
    """A KeyboardInterrupt during the method (here: the callback at the first non-empty incumbent)
    returns that placement, verified, with stop reason interrupted; the MILP's child is killed."""
    seen: list[ProgressEvent] = []

    def interrupt(event: ProgressEvent) -> None:
        seen.append(event)
        if event.hosted > 0:
            raise KeyboardInterrupt

    result = solve(load(SEED), method, {"time_limit_s": 30, "threads": 1}, on_incumbent=interrupt)
    assert result.stop_reason == StopReason.INTERRUPTED
    assert result.status.has_solution and result.placement() == seen[-1].placement
    assert result.objective == seen[-1].objective > 0
    assert "interrupted" in result.message


def test_ctrl_c_before_any_placement_re_raises():
    """With nothing found yet there is nothing to keep: the KeyboardInterrupt goes on."""

    def interrupted_at_once(instance, params):
        raise KeyboardInterrupt

    register("test_interrupted_at_once", "test-only", "heuristic")(interrupted_at_once)
    try:
        with pytest.raises(KeyboardInterrupt):
            solve(load(SEED), "test_interrupted_at_once")
    finally:
        _METHODS.pop("test_interrupted_at_once", None)


def test_cli_ctrl_c_prints_the_best_placement_once_and_exits_130():
    """SIGINT to ``optplace solve -v`` mid-search: the summary (stop reason interrupted) once, exit 130."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "optplace",
            "solve",
            str(SEED),
            "--method",
            "configuration",
            "--time-limit",
            "120",
            "-v",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        while True:  # wait for a progress line with a non-empty placement: the search is running
            line = process.stderr.readline()
            assert line, "the solve ended without progress"
            if "incumbent" in line and "hosted 0 " not in line + " ":
                break
        os.kill(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert stdout.count("(interrupted)") == 1
    assert "status feasible (interrupted)" in stdout or "status optimal (interrupted)" in stdout
    assert "interrupted" not in stderr.replace("(interrupted)", "")


def test_cli_shows_no_progress_for_a_quick_solve_by_default():
    """Without -v a solve under a second prints no progress lines (stderr stays empty)."""
    done = subprocess.run(
        [sys.executable, "-m", "optplace", "solve", str(INSTANCES / "tiny" / "ps_one_per_gpu.json"), "-m", "first_fit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert Status.FEASIBLE.value in done.stdout
