"""Run one solve on a worker process and police it: the one place that enforces the wall-clock
kill, the memory limit and cancellation, and relays incumbents, wherever the worker runs.

The local pool (:mod:`optplace.api.pool`) and a Dask worker (:mod:`optplace.api.dask_workers`)
both call :func:`run_solve` on a :class:`WorkerProcess` they own: the local pool's are started
with multiprocessing's ``spawn`` (:class:`SpawnedWorker`), a Dask worker's with ``subprocess``
(:class:`SubprocessWorker`, because Dask's worker processes are daemonic and may not use
multiprocessing children). Both run :func:`optplace.api.worker.main` and speak its pipe protocol.
After any ending but a result or an error, the worker (and every process it started) has been
killed: its owner starts a fresh one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Literal

import psutil

POLL_S = 0.05  # how often the loop checks for cancellation while the worker computes
MEMORY_POLL_S = 0.25  # how often it measures the memory of the worker's process tree
START_TIMEOUT_S = 120.0  # a fresh worker imports numpy and pydantic; slow on a loaded machine

OutcomeKind = Literal["result", "error", "killed", "cancelled", "crashed", "expired", "shutdown", "lost"]


@dataclass
class Outcome:
    """How a task ended. ``result_json`` is the final result, or for killed/cancelled/crashed
    tasks the last incumbent (None if there was none). ``lost``: this replica could not renew
    the job's claim in time and stopped it, leaving the job to the store's lease recovery."""

    kind: OutcomeKind
    result_json: str | None = None
    code: str = ""
    message: str = ""
    runtime_s: float = 0.0


@dataclass(frozen=True)
class SolveRequest:
    """What a worker needs for one solve, and the limits it runs under."""

    task_id: str
    instance_json: str
    method: str
    params: dict[str, Any]
    time_limit_s: float  # wall clock before the kill, grace aside
    grace_s: float
    memory_limit_mb: int  # 0: none


class WorkerProcess:
    """One worker process and the parent's end of its pipe (see the subclasses)."""

    conn: Connection

    @property
    def pid(self) -> int | None:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def exitcode(self) -> int | None:
        raise NotImplementedError

    def _kill_process(self) -> None:
        raise NotImplementedError

    def _join(self, timeout: float) -> None:
        raise NotImplementedError

    def _await_ready(self) -> None:
        if not self.conn.poll(START_TIMEOUT_S):
            self.kill()
            raise RuntimeError("a solver worker did not start in time")
        message = self.conn.recv()
        if message[0] != "ready":
            self.kill()
            raise RuntimeError(f"unexpected first message from a solver worker: {message[0]!r}")

    def kill(self) -> None:
        """Kill the process and everything it started (a solver may run its own child process)."""
        try:
            children = psutil.Process(self.pid).children(recursive=True) if self.pid else []
        except psutil.Error:
            children = []
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        if self.alive():
            self._kill_process()
        self._join(10)
        self.conn.close()

    def stop(self) -> None:
        """Ask the worker to exit; kill it if it does not within 2 s."""
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        self._join(2)
        if self.alive():
            self.kill()
        else:
            self.conn.close()

    def exit_text(self) -> str:
        self._join(1)
        return f"the solver worker process exited unexpectedly (exit code {self.exitcode()})"


class SpawnedWorker(WorkerProcess):
    """A worker started with multiprocessing's ``spawn`` context (the local pool)."""

    def __init__(self, context: Any, method_modules: list[str]):
        from optplace.api import worker

        parent, child = context.Pipe(duplex=True)
        self.conn = parent
        self.process = context.Process(
            target=worker.main, args=(child, list(method_modules), os.getpid()), name="optplace-worker"
        )
        self.process.start()
        child.close()
        self._await_ready()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def exitcode(self) -> int | None:
        return self.process.exitcode

    def _kill_process(self) -> None:
        self.process.kill()

    def _join(self, timeout: float) -> None:
        self.process.join(timeout=timeout)


class SubprocessWorker(WorkerProcess):
    """A worker started as ``python -m optplace.api.worker --fd N`` with one end of a socket pair
    (usable inside daemonic processes such as Dask workers). It gets this process's import path,
    as multiprocessing's spawn would give it."""

    def __init__(self, method_modules: list[str]):
        parent, child = socket.socketpair()
        modules = [arg for module in method_modules for arg in ("--method-module", module)]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        with child:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "optplace.api.worker", "--fd", str(child.fileno()), *modules],
                pass_fds=[child.fileno()],
                env=environment,
                start_new_session=True,
            )
        self.conn = Connection(parent.detach())
        self._await_ready()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def exitcode(self) -> int | None:
        return self.process.poll()

    def _kill_process(self) -> None:
        self.process.kill()

    def _join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)


def run_solve(
    worker: WorkerProcess,
    request: SolveRequest,
    *,
    stop: Callable[[], Outcome | None],
    on_incumbent: Callable[[str], None],
) -> Outcome:
    """Send ``request`` to ``worker`` and wait for its answer, relaying incumbents, until the time
    limit plus grace, the memory limit, or ``stop()`` returning an outcome ends it early (then the
    worker's process tree is killed, and the outcome carries the last incumbent)."""
    started = time.monotonic()
    deadline = started + request.time_limit_s + request.grace_s
    next_memory_check = started
    incumbent: str | None = None
    worker.conn.send(("solve", request.task_id, request.instance_json, request.method, request.params))
    outcome: Outcome | None = None
    while outcome is None:
        now = time.monotonic()
        remaining = deadline - now
        stopped = stop()
        if stopped is not None:
            outcome = stopped
            outcome.result_json = incumbent
        elif remaining <= 0:
            outcome = Outcome(
                "killed",
                incumbent,
                code="time_limit",
                message=(
                    f"stopped by the server at its time limit of {request.time_limit_s:g} s "
                    f"plus {request.grace_s:g} s grace"
                ),
            )
        elif (
            request.memory_limit_mb
            and now >= next_memory_check
            and ((used := tree_memory_mb(worker.pid, request.memory_limit_mb)) > request.memory_limit_mb)
        ):
            outcome = Outcome(
                "killed",
                incumbent,
                code="memory_limit",
                message=(
                    f"stopped by the server: the solve used {used:.0f} MB, above its memory limit of "
                    f"{request.memory_limit_mb} MB (OPTPLACE_MAX_SOLVE_MEMORY_MB)"
                ),
            )
        elif worker.conn.poll(min(remaining, POLL_S)):
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                outcome = Outcome("crashed", incumbent, code="worker_crashed", message=worker.exit_text())
                continue
            if message[0] == "incumbent":
                incumbent = message[2]
                on_incumbent(incumbent)
            elif message[0] == "result":
                outcome = Outcome("result", message[2])
            elif message[0] == "error":
                outcome = Outcome("error", incumbent, code=message[2], message=message[3])
        elif not worker.alive():
            outcome = Outcome("crashed", incumbent, code="worker_crashed", message=worker.exit_text())
        if now >= next_memory_check:
            next_memory_check = now + MEMORY_POLL_S
    outcome.runtime_s = time.monotonic() - started
    if outcome.kind not in ("result", "error"):
        worker.kill()
    return outcome


def tree_memory_mb(pid: int | None, at_most: float | None = None) -> float:
    """Memory of a process and all its descendants, in MB: the proportional set size where the
    system reports it (Linux), so that pages shared between a parent and its forked children
    count once; the resident set size elsewhere. A process that vanished counts 0.

    With ``at_most``, a tree whose resident set size is within it answers that size: the
    proportional set size is never larger, so it is within the limit too, and reading it (a walk
    of every mapping, milliseconds per solve) is left for trees that may be over."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *_descendants(root)]
    except psutil.Error:
        return 0.0
    if at_most is not None:
        resident = 0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                resident += process.memory_info().rss
        if resident / 2**20 <= at_most:
            return resident / 2**20
    total = 0
    for process in processes:
        try:
            info = process.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            continue
    return total / 2**20


def _descendants(root: psutil.Process) -> list[psutil.Process]:
    """Every descendant of ``root``: from Linux's /proc/PID/task/TID/children lists (microseconds),
    else, or when a process vanishes during the walk, from psutil's scan of every process."""
    found: list[psutil.Process] = []
    pending = [root.pid]
    try:
        while pending:
            pid = pending.pop()
            for thread in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{thread}/children") as listing:
                    children = [int(child) for child in listing.read().split()]
                found += [psutil.Process(child) for child in children]
                pending += children
    except (OSError, ValueError, psutil.Error):
        return root.children(recursive=True)
    return found
