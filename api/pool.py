"""Solver worker processes behind a bounded priority queue, with a hard wall-clock kill.

Each of ``size`` slots owns one worker process (:mod:`optplace.api.worker`) and one supervisor
thread. The thread takes the next task (synchronous solves before jobs, then first come first
served), sends it to its process, relays incumbents, and waits for the answer until the task's
time limit plus grace; past that, or when the task is cancelled, it kills the process and its
children and starts a fresh one. Admission is bounded: at most ``size + queue_size`` tasks are
running or waiting; one more raises :class:`QueueFull` (the API answers 503 with Retry-After).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import multiprocessing
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal, Protocol

import psutil

log = logging.getLogger("optplace.api")

POLL_S = 0.05  # how often a supervisor checks for cancellation while its worker computes
START_TIMEOUT_S = 120.0  # a fresh worker imports numpy and pydantic; slow on a loaded machine

OutcomeKind = Literal["result", "error", "killed", "cancelled", "crashed", "expired", "shutdown"]


class QueueFull(RuntimeError):
    """Every worker is busy and the waiting line is full."""


@dataclass
class Task:
    """One solve: a synchronous request (``future`` set) or a stored job."""

    id: str
    kind: Literal["solve", "job"]
    instance_json: str
    method: str
    params: dict[str, Any]
    time_limit_s: float
    future: Future[Outcome] | None = None
    start_by: float | None = None  # monotonic deadline to start a synchronous solve
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class Outcome:
    """How a task ended. ``result_json`` is the final result, or for killed/cancelled/crashed
    tasks the last incumbent (None if there was none)."""

    kind: OutcomeKind
    result_json: str | None = None
    code: str = ""
    message: str = ""
    runtime_s: float = 0.0


class JobListener(Protocol):
    """Callbacks for ``job`` tasks, called from supervisor threads."""

    def on_start(self, task: Task) -> bool: ...

    def on_incumbent(self, task: Task, result_json: str) -> None: ...

    def on_done(self, task: Task, outcome: Outcome) -> None: ...


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: Any, method_modules: list[str]):
        from optplace.api import worker

        parent, child = context.Pipe(duplex=True)
        self.conn: Connection = parent
        self.process = context.Process(
            target=worker.main, args=(child, list(method_modules), os.getpid()), name="optplace-worker"
        )
        self.process.start()
        child.close()
        if not parent.poll(START_TIMEOUT_S):
            self.kill()
            raise RuntimeError("a solver worker did not start in time")
        message = parent.recv()
        if message[0] != "ready":
            self.kill()
            raise RuntimeError(f"unexpected first message from a solver worker: {message[0]!r}")

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        """Kill the process and everything it started (a solver may run its own child process)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True) if self.process.pid else []
        except psutil.Error:
            children = []
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.kill()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()


class WorkerPool:
    """``size`` solver processes fed from one bounded priority queue."""

    def __init__(
        self,
        size: int,
        queue_size: int,
        grace_s: float,
        listener: JobListener,
        method_modules: list[str] | None = None,
    ):
        self.size = size
        self.queue_size = queue_size
        self.grace_s = grace_s
        self.listener = listener
        self.method_modules = list(method_modules or [])
        self._context = multiprocessing.get_context("spawn")
        self._queue: queue.PriorityQueue[tuple[int, int, Task | None]] = queue.PriorityQueue()
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._waiting: dict[str, Task] = {}
        self._running: dict[str, Task] = {}
        self._workers: list[_Worker | None] = [None] * size
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start every worker process (in parallel) and its supervisor thread."""
        starters = [threading.Thread(target=self._start_worker, args=(i,)) for i in range(self.size)]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        for index in range(self.size):
            thread = threading.Thread(target=self._supervise, args=(index,), name=f"optplace-slot-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        # Workers are not daemonic (a method may start processes of its own), so multiprocessing
        # would wait for them at interpreter exit; if stop() was never called, kill them instead.
        atexit.register(self._kill_workers)

    def _kill_workers(self) -> None:
        for index, worker in enumerate(self._workers):
            if worker is not None:
                worker.kill()
                self._workers[index] = None

    def stop(self) -> None:
        """Stop taking tasks; running tasks end as ``shutdown``; waiting synchronous solves too."""
        self._stopping.set()
        with self._lock:
            running = list(self._running.values())
            waiting = list(self._waiting.values())
            self._waiting.clear()
        for task in running:
            task.cancel.set()
        for task in waiting:
            if task.future is not None and not task.future.done():
                task.future.set_result(Outcome("shutdown"))
        for _ in self._threads:
            self._queue.put((-1, -1, None))
        for thread in self._threads:
            thread.join(timeout=30)
        for index, worker in enumerate(self._workers):
            if worker is not None:
                worker.stop()
                self._workers[index] = None
        atexit.unregister(self._kill_workers)

    # -- admission ---------------------------------------------------------------------------
    def admit(self, task: Task, *, bounded: bool = True) -> None:
        """Reserve room for ``task`` (raises :class:`QueueFull`); :meth:`release` makes it runnable."""
        with self._lock:
            if self._stopping.is_set():
                raise QueueFull("the server is shutting down")
            if bounded and len(self._waiting) + len(self._running) >= self.size + self.queue_size:
                raise QueueFull(
                    f"all {self.size} workers are busy and {len(self._waiting)} solves are waiting "
                    f"(queue size {self.queue_size})"
                )
            self._waiting[task.id] = task

    def release(self, task: Task) -> None:
        self._queue.put((0 if task.kind == "solve" else 1, next(self._order), task))

    def withdraw(self, task_id: str) -> bool:
        """Drop a task that has not started (a reservation never released, or a task still waiting);
        False if it already started or is unknown."""
        with self._lock:
            return self._waiting.pop(task_id, None) is not None

    def submit(self, task: Task, *, bounded: bool = True) -> None:
        self.admit(task, bounded=bounded)
        self.release(task)

    def cancel(self, task_id: str) -> None:
        """Cancel a waiting task (it is dropped) or a running one (its worker is killed)."""
        with self._lock:
            task = self._waiting.pop(task_id, None) or self._running.get(task_id)
        if task is not None:
            task.cancel.set()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "size": self.size,
                "alive": sum(1 for w in self._workers if w is not None and w.alive()),
                "busy": len(self._running),
                "waiting": len(self._waiting),
                "queue_size": self.queue_size,
            }

    # -- supervision -------------------------------------------------------------------------
    def _start_worker(self, index: int) -> None:
        try:
            self._workers[index] = _Worker(self._context, self.method_modules)
        except Exception:
            log.exception("could not start solver worker %d", index)
            self._workers[index] = None

    def _supervise(self, index: int) -> None:
        while True:
            _, _, task = self._queue.get()
            if task is None:
                return
            with self._lock:
                if self._waiting.pop(task.id, None) is None:
                    continue  # cancelled while waiting
                self._running[task.id] = task
            try:
                self._dispatch(index, task)
            except Exception:  # never let a supervisor thread die
                log.exception("supervisor %d failed on task %s", index, task.id)
                self._deliver(task, Outcome("crashed", code="internal_error", message="the solve supervisor failed"))
            finally:
                with self._lock:
                    self._running.pop(task.id, None)

    def _dispatch(self, index: int, task: Task) -> None:
        if task.cancel.is_set():
            self._deliver(task, Outcome("cancelled"))
            return
        if task.start_by is not None and time.monotonic() > task.start_by:
            self._deliver(task, Outcome("expired", message="no worker became free in time"))
            return
        if task.kind == "job" and not self.listener.on_start(task):
            return  # cancelled in the store before it started
        worker = self._workers[index]
        if worker is None or not worker.alive():
            if worker is not None:
                worker.kill()
            self._workers[index] = worker = _Worker(self._context, self.method_modules)
        started = time.monotonic()
        deadline = started + task.time_limit_s + self.grace_s
        incumbent: str | None = None
        worker.conn.send(("solve", task.id, task.instance_json, task.method, task.params))
        outcome: Outcome | None = None
        while outcome is None:
            remaining = deadline - time.monotonic()
            if self._stopping.is_set() and task.cancel.is_set():
                outcome = Outcome("shutdown", incumbent)
            elif task.cancel.is_set():
                outcome = Outcome("cancelled", incumbent)
            elif remaining <= 0:
                outcome = Outcome(
                    "killed",
                    incumbent,
                    code="time_limit",
                    message=(
                        f"stopped by the server at its time limit of {task.time_limit_s:g} s "
                        f"plus {self.grace_s:g} s grace"
                    ),
                )
            elif worker.conn.poll(min(remaining, POLL_S)):
                try:
                    message = worker.conn.recv()
                except (EOFError, OSError):
                    outcome = Outcome("crashed", incumbent, code="worker_crashed", message=_exit_text(worker))
                    continue
                if message[0] == "incumbent":
                    incumbent = message[2]
                    if task.kind == "job":
                        self.listener.on_incumbent(task, incumbent)
                elif message[0] == "result":
                    outcome = Outcome("result", message[2])
                elif message[0] == "error":
                    outcome = Outcome("error", incumbent, code=message[2], message=message[3])
            elif not worker.alive():
                outcome = Outcome("crashed", incumbent, code="worker_crashed", message=_exit_text(worker))
        outcome.runtime_s = time.monotonic() - started
        if outcome.kind not in ("result", "error"):
            worker.kill()
            self._workers[index] = None
            if not self._stopping.is_set():
                self._start_worker(index)
        self._deliver(task, outcome)

    def _deliver(self, task: Task, outcome: Outcome) -> None:
        if task.future is not None:
            if not task.future.done():
                task.future.set_result(outcome)
        elif outcome.kind != "expired":
            self.listener.on_done(task, outcome)


def _exit_text(worker: _Worker) -> str:
    worker.process.join(timeout=1)
    code = worker.process.exitcode
    return f"the solver worker process exited unexpectedly (exit code {code})"
