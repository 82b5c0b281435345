"""Solver slots behind a bounded, per-client fair queue, with a hard wall-clock kill and a memory
limit, running on local worker processes or on a Dask cluster.

Each of ``size`` slots has one supervisor thread. The thread takes the next task it may run and
hands it to the pool's backend:

* :class:`LocalBackend` (the default): each slot owns one worker process
  (:mod:`optplace.api.worker`); :func:`optplace.api.supervise.run_solve` sends the task, relays
  incumbents and waits until the task's time limit plus grace; past that, when the task is
  cancelled, or when the process tree (the worker and every process it started) uses more than
  ``memory_limit_mb`` (proportional set size, so pages shared between processes count once), it
  kills the tree, and the slot starts a fresh worker;
* :class:`optplace.api.dask_workers.DaskBackend` (``OPTPLACE_DASK_SCHEDULER``): the same
  ``run_solve`` runs on a Dask worker, which keeps worker processes the same way; the slot relays
  incumbents and cancellation.

Which task a slot takes: synchronous solves before jobs; among those, the client with the fewest
running tasks first, then first come first served. The last ``reserved_for_sync`` slots run
synchronous solves only, so jobs can never occupy every worker; no client runs more than
``workers_per_client`` tasks at once. A client is the caller's identity (its bearer token, or its
address), given with each task. Jobs reach the pool only once this replica has claimed them from
the shared store (:mod:`optplace.api.replica`), which asks :meth:`WorkerPool.free_job_slots`
first, so a replica never hoards jobs that another could run.

Admission is bounded: at most ``size + queue_size`` tasks are running or waiting (counting the
jobs queued in the store, which the caller passes as ``backlog``), one more raises
:class:`QueueFull` (the API answers 503 with Retry-After); at most ``active_per_client`` of them
belong to one client (again with the store's count passed in), one more raises
:class:`ClientBusy` (429).
"""

from __future__ import annotations

import atexit
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from optplace.api.supervise import (
    Outcome,
    OutcomeKind,
    SolveRequest,
    SubprocessWorker,
    run_solve,
    tree_memory_mb,
)

log = logging.getLogger("optplace.api")

__all__ = [
    "Backend",
    "ClientBusy",
    "JobListener",
    "LocalBackend",
    "Outcome",
    "OutcomeKind",
    "QueueFull",
    "Task",
    "WorkerPool",
    "tree_memory_mb",
]


class QueueFull(RuntimeError):
    """Every worker is busy and the waiting line is full."""


class ClientBusy(RuntimeError):
    """This client already has as many solves and jobs in flight as it may."""


@dataclass
class Task:
    """One solve: a synchronous request (``future`` set) or a job this replica claimed."""

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
    token: str = ""  # a job's claim token: every store write of its run names it
    # A job's claim holds until this monotonic time unless renewed (the lease keeper moves it on);
    # past it the slot stops the solve itself, before any other replica may take the job over.
    lease_deadline: float | None = None


class JobListener(Protocol):
    """Callbacks for ``job`` tasks, called from supervisor threads."""

    def on_incumbent(self, task: Task, result_json: str) -> None: ...

    def on_done(self, task: Task, outcome: Outcome) -> None: ...

    def on_slot_free(self) -> None: ...


StopCheck = Callable[[], Outcome | None]


class Backend(Protocol):
    """Where a slot's solves run."""

    kind: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> int: ...

    def run(self, index: int, request: SolveRequest, stop: StopCheck, on_incumbent: Callable[[str], None]) -> Outcome:
        """Run ``request`` on slot ``index``'s worker; see :func:`optplace.api.supervise.run_solve`."""
        ...

    def replace(self, index: int) -> None:
        """Give slot ``index`` a fresh worker after its last one was killed."""
        ...


class LocalBackend:
    """One worker process per slot on this machine (``python -m optplace.api.worker``)."""

    kind = "local"

    def __init__(self, size: int, method_modules: list[str]):
        self.method_modules = list(method_modules)
        self._workers: list[SubprocessWorker | None] = [None] * size

    def start(self) -> None:
        """Start every worker process (in parallel)."""
        starters = [threading.Thread(target=self.replace, args=(i,)) for i in range(len(self._workers))]
        for thread in starters:
            thread.start()
        for thread in starters:
            thread.join()
        # Workers outlive nothing (they die with this process), but kill them at exit if stop()
        # was never called rather than leave them to notice the closed pipe.
        atexit.register(self._kill_workers)

    def _kill_workers(self) -> None:
        for index, worker in enumerate(self._workers):
            if worker is not None:
                worker.kill()
                self._workers[index] = None

    def stop(self) -> None:
        for index, worker in enumerate(self._workers):
            if worker is not None:
                worker.stop()
                self._workers[index] = None
        atexit.unregister(self._kill_workers)

    def alive(self) -> int:
        return sum(1 for w in self._workers if w is not None and w.alive())

    def replace(self, index: int) -> None:
        try:
            self._workers[index] = SubprocessWorker(self.method_modules)
        except Exception:
            log.exception("could not start solver worker %d", index)
            self._workers[index] = None

    def run(self, index: int, request: SolveRequest, stop: StopCheck, on_incumbent: Callable[[str], None]) -> Outcome:
        worker = self._workers[index]
        if worker is None or not worker.alive():
            if worker is not None:
                worker.kill()
            self._workers[index] = worker = SubprocessWorker(self.method_modules)
        outcome = run_solve(worker, request, stop=stop, on_incumbent=on_incumbent)
        if outcome.kind not in ("result", "error"):
            self._workers[index] = None  # run_solve killed it
        return outcome


class WorkerPool:
    """``size`` solver slots fed from one bounded queue (see the module docstring)."""

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
        backend: Backend | None = None,
    ):
        self.size = size
        self.queue_size = queue_size
        self.grace_s = grace_s
        self.listener = listener
        self.reserved_for_sync = max(0, min(reserved_for_sync, size - 1))
        self.workers_per_client = workers_per_client
        self.active_per_client = active_per_client
        self.memory_limit_mb = memory_limit_mb
        self.backend: Backend = backend or LocalBackend(size, list(method_modules or []))
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._waiting: dict[str, Task] = {}  # admitted and not started (reserved or ready)
        self._ready: dict[str, tuple[int, int, Task]] = {}  # released: priority, arrival, task
        self._running: dict[str, Task] = {}
        self._slots: list[Task | None] = [None] * size  # what each slot runs
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the backend (local worker processes, or the Dask client) and the supervisor threads."""
        self.backend.start()
        for index in range(self.size):
            thread = threading.Thread(target=self._supervise, args=(index,), name=f"optplace-slot-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop taking tasks; running tasks end as ``shutdown``; waiting ones too (a waiting job
        goes back to the store's queue)."""
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
            self._deliver(task, Outcome("shutdown"))
        for thread in self._threads:
            thread.join(timeout=30)
        self.backend.stop()

    # -- admission ---------------------------------------------------------------------------
    def check_room(self, client: str, *, backlog: int = 0, client_backlog: int = 0) -> None:
        """Raise :class:`QueueFull` or :class:`ClientBusy` unless one more task of ``client`` fits;
        ``backlog`` and ``client_backlog`` count what waits elsewhere (jobs in the store)."""
        with self._lock:
            self._check_room(client, backlog, client_backlog)

    def _check_room(self, client: str, backlog: int, client_backlog: int) -> None:
        if self._stopping.is_set():
            raise QueueFull("the server is shutting down")
        waiting = len(self._waiting) + backlog
        if waiting + len(self._running) >= self.size + self.queue_size:
            raise QueueFull(
                f"all {self.size} workers are busy and {waiting} solves and jobs are waiting "
                f"(queue size {self.queue_size})"
            )
        if self.active_per_client is not None:
            active = self._count(client, self._waiting) + self._count(client, self._running) + client_backlog
            if active >= self.active_per_client:
                raise ClientBusy(
                    f"this client already has {active} solves and jobs in flight, the most one client may have "
                    "(OPTPLACE_MAX_ACTIVE_PER_CLIENT); wait for one to finish"
                )

    def admit(self, task: Task, *, bounded: bool = True, backlog: int = 0, client_backlog: int = 0) -> None:
        """Reserve room for ``task`` (raises :class:`QueueFull` or :class:`ClientBusy`);
        :meth:`release` makes it runnable."""
        with self._lock:
            if self._stopping.is_set():
                raise QueueFull("the server is shutting down")
            if bounded:
                self._check_room(task.client, backlog, client_backlog)
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

    def submit(self, task: Task, *, bounded: bool = True, backlog: int = 0, client_backlog: int = 0) -> None:
        self.admit(task, bounded=bounded, backlog=backlog, client_backlog=client_backlog)
        self.release(task)

    def cancel(self, task_id: str) -> None:
        """Cancel a waiting task (it is dropped, and a job's listener told) or a running one (its
        worker is killed)."""
        with self._lock:
            self._ready.pop(task_id, None)
            waiting = self._waiting.pop(task_id, None)
            task = waiting or self._running.get(task_id)
        if task is not None:
            task.cancel.set()
        if waiting is not None:
            self._deliver(waiting, Outcome("cancelled"))

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "size": self.size,
                "alive": self.backend.alive(),
                "busy": len(self._running),
                "waiting": len(self._waiting),
                "queue_size": self.queue_size,
                "backend": self.backend.kind,
            }

    def free_job_slots(self) -> int:
        """Slots that may run jobs and have nothing to do (jobs already waiting for one deducted)."""
        with self._lock:
            if self._stopping.is_set():
                return 0
            idle = sum(1 for task in self._slots[: self.size - self.reserved_for_sync] if task is None)
            ready_jobs = sum(1 for _, _, task in self._ready.values() if task.kind == "job")
            return max(0, idle - ready_jobs)

    def clients_at_share(self) -> frozenset[str]:
        """Clients that may not start another task here now (``workers_per_client`` running or
        about to run): a job of theirs claimed now would only wait."""
        if self.workers_per_client is None:
            return frozenset()
        with self._lock:
            held = [*self._running.values(), *(task for _, _, task in self._ready.values())]
        counts: dict[str, int] = {}
        for task in held:
            counts[task.client] = counts.get(task.client, 0) + 1
        return frozenset(client for client, n in counts.items() if n >= self.workers_per_client)

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
                self._slots[index] = task
            try:
                self._dispatch(index, task)
            except Exception:  # never let a supervisor thread die
                log.exception("supervisor %d failed on task %s", index, task.id)
                self._deliver(task, Outcome("crashed", code="internal_error", message="the solve supervisor failed"))
            finally:
                with self._changed:
                    self._running.pop(task.id, None)
                    self._slots[index] = None
                    self._changed.notify_all()
                self.listener.on_slot_free()

    def _stop_outcome(self, task: Task) -> Outcome | None:
        """Why a running task must stop now, if it must: a shutdown, a cancellation, or a claim
        this replica could not renew in time."""
        if task.cancel.is_set():
            return Outcome("shutdown" if self._stopping.is_set() else "cancelled")
        if task.lease_deadline is not None and time.monotonic() > task.lease_deadline:
            return Outcome(
                "lost",
                code="lease_lost",
                message="stopped by the server: it could not renew its claim on this job in the store",
            )
        return None

    def _dispatch(self, index: int, task: Task) -> None:
        if (stopped := self._stop_outcome(task)) is not None:
            self._deliver(task, stopped)
            return
        if task.start_by is not None and time.monotonic() > task.start_by:
            self._deliver(task, Outcome("expired", message="no worker became free in time"))
            return
        request = SolveRequest(
            task.id, task.instance_json, task.method, task.params, task.time_limit_s, self.grace_s, self.memory_limit_mb
        )

        def on_incumbent(result_json: str) -> None:
            if task.kind == "job":
                self.listener.on_incumbent(task, result_json)

        outcome = self.backend.run(index, request, lambda: self._stop_outcome(task), on_incumbent)
        if outcome.kind not in ("result", "error") and not self._stopping.is_set():
            self.backend.replace(index)
        self._deliver(task, outcome)

    def _deliver(self, task: Task, outcome: Outcome) -> None:
        if task.future is not None:
            if not task.future.done():
                task.future.set_result(outcome)
        elif outcome.kind != "expired":
            self.listener.on_done(task, outcome)
