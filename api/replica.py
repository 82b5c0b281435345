"""This replica's part in the shared job queue: claim jobs for free slots, keep their leases, and
recover the jobs of replicas that died.

Several API replicas share one store (:mod:`optplace.api.store`). None of them owns a job until
it claims it: a claim turns a queued job running with a lease (this replica's id, a fencing
token, a heartbeat and an expiry ``lease_s`` ahead). Two threads per replica:

* the **claimer** claims a job whenever a slot that may run jobs is free (woken at once by a job
  submitted here or a slot freed here, and every ``claim_poll_s`` for jobs submitted through
  other replicas) and hands it to the local pool;
* the **lease keeper**, every ``heartbeat_s``, renews the leases of the jobs this replica holds.
  A job whose renewal fails because the store no longer names this claim (it was cancelled or
  deleted through any replica, or taken over) is stopped at once: that is how a cancellation
  reaches the replica running the job. When the store cannot be reached, each job's own
  deadline (half a lease after the last successful renewal) stops it, so by the time its lease
  lapses and another replica may run it, this one has long killed it. The keeper also re-queues
  (or fails, after ``max_job_attempts``) running jobs whose lease lapsed: their replica died.

At start the replica re-queues the jobs its own id still holds (a restart after a crash, when
the id is stable, e.g. ``OPTPLACE_REPLICA_ID`` set to a StatefulSet pod's name), then any lapsed.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

from optplace.api.pool import Task, WorkerPool
from optplace.api.store import Claim, JobStore

log = logging.getLogger("optplace.api")


def default_replica_id() -> str:
    """Unique among running replicas: host name, process id and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class ReplicaJobs:
    """The claimer and the lease keeper of one replica (see the module docstring)."""

    def __init__(
        self,
        store: JobStore,
        pool: WorkerPool,
        make_task: Callable[[Claim], Task],
        *,
        replica_id: str,
        lease_s: float,
        heartbeat_s: float,
        claim_poll_s: float,
        max_attempts: int,
    ):
        self.store = store
        self.pool = pool
        self.make_task = make_task
        self.replica_id = replica_id
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.claim_poll_s = claim_poll_s
        self.max_attempts = max_attempts
        self._held: dict[str, Task] = {}  # claimed jobs not yet finished here
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        reaped = self.store.reap(self.max_attempts, owner=self.replica_id)
        if reaped.requeued or reaped.failed:
            log.info(
                "re-queued %d interrupted jobs, failed %d tried too often", len(reaped.requeued), len(reaped.failed)
            )
        for target, name in ((self._claim_loop, "optplace-claimer"), (self._keep_loop, "optplace-lease-keeper")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.wake()

    def stop(self) -> None:
        """Stop claiming and renewing (call before the pool stops: it releases what it holds)."""
        self._stopped.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def wake(self) -> None:
        """A job was submitted here or a slot became free: look for a job now."""
        self._wake.set()

    def forget(self, task_id: str) -> None:
        """The job's run here ended (whatever the outcome); stop renewing its lease."""
        with self._lock:
            self._held.pop(task_id, None)

    def held(self) -> int:
        with self._lock:
            return len(self._held)

    # -- claimer -------------------------------------------------------------------------------
    def _claim_loop(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self.claim_poll_s)
            self._wake.clear()
            try:
                self.claim_free_slots()
            except Exception:  # the store may be down for a moment; try again at the next poll
                log.exception("could not claim jobs from the store")

    def claim_free_slots(self) -> int:
        """Claim jobs while a slot that may run one is free; returns how many were claimed."""
        claimed = 0
        while not self._stopped.is_set() and self.pool.free_job_slots() > 0:
            asked = time.monotonic()
            claim = self.store.claim(self.replica_id, self.lease_s, exclude_clients=self.pool.clients_at_share())
            if claim is None:
                break
            task = self.make_task(claim)
            task.lease_deadline = asked + self.lease_s / 2
            with self._lock:
                self._held[task.id] = task
            self.pool.submit(task, bounded=False)
            claimed += 1
        return claimed

    # -- lease keeper --------------------------------------------------------------------------
    def _keep_loop(self) -> None:
        while not self._stopped.wait(self.heartbeat_s):
            try:
                self.renew()
            except Exception:  # each job's lease deadline stops it if this goes on too long
                log.exception("could not renew job leases in the store")
            try:
                reaped = self.store.reap(self.max_attempts)
            except Exception:
                log.exception("could not recover lapsed jobs from the store")
                continue
            if reaped.requeued or reaped.failed:
                log.warning(
                    "re-queued %d jobs whose replica stopped renewing them, failed %d tried too often",
                    len(reaped.requeued),
                    len(reaped.failed),
                )
                self.wake()

    def renew(self) -> None:
        """Renew every held lease; stop the jobs whose claim is gone."""
        with self._lock:
            held = dict(self._held)
        if not held:
            return
        asked = time.monotonic()
        kept = self.store.renew(self.replica_id, {job_id: task.token for job_id, task in held.items()}, self.lease_s)
        for job_id, task in held.items():
            if job_id in kept:
                task.lease_deadline = asked + self.lease_s / 2
            else:
                log.info("job %s was cancelled, deleted or taken over elsewhere; stopping it here", job_id)
                self.pool.cancel(job_id)
