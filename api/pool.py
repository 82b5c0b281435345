"""Solver worker processes behind a bounded, per-client fair queue, with a hard wall-clock kill
and a memory limit.

Each of ``size`` slots owns one worker process (:mod:`optplace.api.worker`) and one supervisor
thread. The thread takes the next task it may run, sends it to its process, relays incumbents,
and waits for the answer until the task's time limit plus grace; past that, when the task is
cancelled, or when the process tree (the worker and every process it started) uses more than
``memory_limit_mb`` (proportional set size, so pages shared between processes count once), it
kills the tree and starts a fresh worker.

Which task a slot takes: synchronous solves before jobs; among those, the client with the fewest
running tasks first, then first come first served. The last ``reserved_for_sync`` slots run
synchronous solves only, so jobs can never occupy every worker; no client runs more than
``workers_per_client`` tasks at once. A client is the caller's identity (its bearer token, or its
address), given with each task.

Admission is bounded: at most ``size + queue_size`` tasks are running or waiting, one more raises
:class:`QueueFull` (the API answers 503 with Retry-After); at most ``active_per_client`` of them
belong to one client, one more raises :class:`ClientBusy` (429).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal, Protocol

import psutil

log = logging.getLogger("optplace.api")

POLL_S = 0.05  # how often a supervisor checks for cancellation while its worker computes
MEMORY_POLL_S = 0.25  # how often it measures the memory of its worker's process tree
START_TIMEOUT_S = 120.0  # a fresh worker imports numpy and pydantic; slow on a loaded machine

OutcomeKind = Literal["result", "error", "killed", "cancelled", "crashed", "expired", "shutdown"]


class QueueFull(RuntimeError):
    """Every worker is busy and the waiting line is full."""


class ClientBusy(RuntimeError):
    """This client already has as many solves and jobs in flight as it may."""


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
    client: str = ""  # who asked: the fairness and per-client limits count by it


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
    """``size`` solver processes fed from one bounded queue (see the module docstring)."""

    def __init__(
        self,
        size: int,
        queue_size: int,
        grace_s: float,
        listener: JobListener,
        method_modules: list[str] | None = None,
        *,
        reserved_for_sync: int = 0,
        workers_per_client: int | None = None,
        active_per_client: int | None = None,
        memory_limit_mb: int = 0,
    ):
        self.size = size
        self.queue_size = queue_size
        self.grace_s = grace_s
        self.listener = listener
        self.method_modules = list(method_modules or [])
        self.reserved_for_sync = max(0, min(reserved_for_sync, size - 1))
        self.workers_per_client = workers_per_client
        self.active_per_client = active_per_client
        self.memory_limit_mb = memory_limit_mb
        self._context = multiprocessing.get_context("spawn")
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiting: dict[str, Task] = {}  # admitted and not started (reserved or ready)
        self._ready: dict[str, tuple[int, int, Task]] = {}  # released: priority, arrival, task
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
        with self._changed:
            self._stopping.set()
            running = list(self._running.values())
            waiting = list(self._waiting.values())
            self._waiting.clear()
            self._ready.clear()
            self._changed.notify_all()
        for task in running:
            task.cancel.set()
        for task in waiting:
            if task.future is not None and not task.future.done():
                task.future.set_result(Outcome("shutdown"))
        for thread in self._threads:
            thread.join(timeout=30)
        for index, worker in enumerate(self._workers):
            if worker is not None:
                worker.stop()
                self._workers[index] = None
        atexit.unregister(self._kill_workers)

    # -- admission ---------------------------------------------------------------------------
    def admit(self, task: Task, *, bounded: bool = True) -> None:
        """Reserve room for ``task`` (raises :class:`QueueFull` or :class:`ClientBusy`);
        :meth:`release` makes it runnable."""
        with self._lock:
            if self._stopping.is_set():
                raise QueueFull("the server is shutting down")
            if bounded and len(self._waiting) + len(self._running) >= self.size + self.queue_size:
                raise QueueFull(
                    f"all {self.size} workers are busy and {len(self._waiting)} solves are waiting "
                    f"(queue size {self.queue_size})"
                )
            if bounded and self.active_per_client is not None:
                active = self._count(task.client, self._waiting) + self._count(task.client, self._running)
                if active >= self.active_per_client:
                    raise ClientBusy(
                        f"this client already has {active} solves and jobs in flight, the most one client may have "
                        "(OPTPLACE_MAX_ACTIVE_PER_CLIENT); wait for one to finish"
                    )
            self._waiting[task.id] = task

    def release(self, task: Task) -> None:
        with self._changed:
            if task.id in self._waiting:
                self._ready[task.id] = (0 if task.kind == "solve" else 1, next(self._order), task)
                self._changed.notify_all()

    def withdraw(self, task_id: str) -> bool:
        """Drop a task that has not started (a reservation never released, or a task still waiting);
        False if it already started or is unknown."""
        with self._lock:
            self._ready.pop(task_id, None)
            return self._waiting.pop(task_id, None) is not None

    def submit(self, task: Task, *, bounded: bool = True) -> None:
        self.admit(task, bounded=bounded)
        self.release(task)

    def cancel(self, task_id: str) -> None:
        """Cancel a waiting task (it is dropped) or a running one (its worker is killed)."""
        with self._lock:
            self._ready.pop(task_id, None)
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

    @staticmethod
    def _count(client: str, tasks: dict[str, Task]) -> int:
        return sum(1 for t in tasks.values() if t.client == client)

    def _next_task(self, index: int) -> Task | None:
        """The task slot ``index`` should run now, or None (call with the lock held)."""
        sync_only = index >= self.size - self.reserved_for_sync
        best: tuple[int, int, int] | None = None
        chosen: Task | None = None
        for priority, arrival, task in self._ready.values():
            if sync_only and task.kind != "solve":
                continue
            running = self._count(task.client, self._running)
            if self.workers_per_client is not None and running >= self.workers_per_client:
                continue
            key = (priority, running, arrival)
            if best is None or key < best:
                best, chosen = key, task
        return chosen

    # -- supervision -------------------------------------------------------------------------
    def _start_worker(self, index: int) -> None:
        try:
            self._workers[index] = _Worker(self._context, self.method_modules)
        except Exception:
            log.exception("could not start solver worker %d", index)
            self._workers[index] = None

    def _supervise(self, index: int) -> None:
        while True:
            with self._changed:
                while (task := None if self._stopping.is_set() else self._next_task(index)) is None:
                    if self._stopping.is_set():
                        return
                    self._changed.wait()
                del self._ready[task.id]
                del self._waiting[task.id]
                self._running[task.id] = task
            try:
                self._dispatch(index, task)
            except Exception:  # never let a supervisor thread die
                log.exception("supervisor %d failed on task %s", index, task.id)
                self._deliver(task, Outcome("crashed", code="internal_error", message="the solve supervisor failed"))
            finally:
                with self._changed:
                    self._running.pop(task.id, None)
                    self._changed.notify_all()

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
        next_memory_check = started
        incumbent: str | None = None
        worker.conn.send(("solve", task.id, task.instance_json, task.method, task.params))
        outcome: Outcome | None = None
        while outcome is None:
            now = time.monotonic()
            remaining = deadline - now
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
            elif (
                self.memory_limit_mb
                and now >= next_memory_check
                and ((used := tree_memory_mb(worker.process.pid)) > self.memory_limit_mb)
            ):
                outcome = Outcome(
                    "killed",
                    incumbent,
                    code="memory_limit",
                    message=(
                        f"stopped by the server: the solve used {used:.0f} MB, above its memory limit of "
                        f"{self.memory_limit_mb} MB (OPTPLACE_MAX_SOLVE_MEMORY_MB)"
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
            if now >= next_memory_check:
                next_memory_check = now + MEMORY_POLL_S
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


def tree_memory_mb(pid: int | None) -> float:
    """Memory of a process and all its descendants, in MB: the proportional set size where the
    system reports it (Linux), so that pages shared between a parent and its forked children
    count once; the resident set size elsewhere. A process that vanished counts 0."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for process in processes:
        try:
            info = process.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            continue
    return total / 2**20


def _exit_text(worker: _Worker) -> str:
    worker.process.join(timeout=1)
    code = worker.process.exitcode
    return f"the solver worker process exited unexpectedly (exit code {code})"
