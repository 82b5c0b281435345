"""The solve service: synchronous solves and durable jobs on top of the worker pool and the store.

Job life (``JobStatus``): queued -> running -> completed | failed, or -> cancelled from queued or
running. What each way a solve can end becomes:

============ ============================================ ===========================================
solve ended  synchronous POST /v1/solve                    job
============ ============================================ ===========================================
result       200, the result                               completed, the final result
time limit   200, best incumbent (stop_reason time_limit)  completed, same result, stored
             or a no_solution_found result
memory limit 200, likewise with stop_reason memory_limit   completed, same result, stored
error        500 problem (a bug, e.g. failed verification) failed, error code and message;
                                                           any incumbent stays
crashed      500 problem                                   failed (worker_crashed); incumbent stays
cancelled    -                                             cancelled; incumbent stays
shutdown     503 problem                                   back to queued; rerun by any replica
lost         -                                             left to the lease recovery: re-queued
                                                           when its lease lapses (this replica could
                                                           not renew its claim in the store)
============ ============================================ ===========================================

An incumbent is stored with ``stop_reason: interrupted`` (what the solve would be if it stopped
there), so a running, cancelled, failed or interrupted job never shows an incumbent as
``completed``; a limit that stops the solve sets its own reason (``time_limit``, ``memory_limit``).

Jobs live in the store that every replica shares; a job runs on whichever replica claims it
(:mod:`optplace.api.replica`), under a lease. A replica that crashes leaves its jobs ``running``
in the store; once their leases lapse any replica re-queues them (at once, when it restarts under
the same ``replica_id``), or marks them failed after ``max_job_attempts`` interrupted runs, so a
job that kills the server cannot keep it down. Completed results are never touched again. Finished jobs
are deleted ``job_ttl_s`` after they end (:meth:`SolveService.purge_expired`, run at start and
then every :data:`PURGE_EVERY_S` or half the retention time), and ``DELETE /v1/jobs/{id}`` deletes one at once (cancelling it
first if it is still queued or running).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

from optplace.api.pool import Backend, ClientBusy, Outcome, QueueFull, Task, WorkerPool
from optplace.api.replica import ReplicaJobs
from optplace.api.settings import Settings
from optplace.api.store import Claim, JobRecord, JobStatus, JobStore, NewJob
from optplace.api.worker import REPLAN_TASK
from optplace.domain import Instance
from optplace.params import SolveParams
from optplace.registry import MethodOutput, get_method
from optplace.result import SolveResult, Status, StopReason

log = logging.getLogger("optplace.api")

__all__ = ["ClientBusy", "QueueFull", "SolveFailed", "SolveService"]

PURGE_EVERY_S = 60.0  # or half the retention time, when that is shorter
STORE_RETRY_S = 0.5  # between attempts to record a job's end while the store is unreachable
STOP_REASONS = {"time_limit": StopReason.TIME_LIMIT, "memory_limit": StopReason.MEMORY_LIMIT}


class SolveFailed(RuntimeError):
    """A synchronous solve ended without a result; ``kind`` is the outcome kind."""

    def __init__(self, kind: str, code: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message


def effective_params(settings: Settings, params: SolveParams | None) -> SolveParams:
    """The request's params with the server's rules applied: the time limit, and at most
    ``max_threads`` threads."""
    params = params or SolveParams()
    update: dict[str, Any] = {
        "time_limit_s": settings.effective_time_limit(params.time_limit_s),
        "threads": None if params.threads is None else min(params.threads, settings.max_threads),
    }
    if params.simulation.max_requests > settings.max_verify_requests:
        # The server bounds the simulation work of verify="simulate" as it bounds the solve's time.
        update["simulation"] = params.simulation.model_copy(update={"max_requests": settings.max_verify_requests})
    return params.model_copy(update=update)


def stopped_result(task: Task, outcome: Outcome) -> str:
    """The result of a solve the server stopped at a limit (its time limit, its memory limit): the
    last incumbent, marked with that stop reason, or (with none) a verified empty
    ``no_solution_found`` result."""
    stop = STOP_REASONS.get(outcome.code, StopReason.INTERRUPTED)
    if task.method == REPLAN_TASK:
        from optplace.api.schemas import ReplanRequest
        from optplace.migration import timed_out

        body = ReplanRequest.model_validate_json(task.instance_json)
        params = SolveParams.model_validate(task.params)
        return timed_out(
            body.instance, body.changes, body.method, params, outcome.runtime_s, outcome.message, stop
        ).model_dump_json()
    if outcome.result_json is not None:
        incumbent = SolveResult.model_validate_json(outcome.result_json)
        message = "; ".join(m for m in (incumbent.message, outcome.message) if m)
        return incumbent.model_copy(
            update={"stop_reason": stop, "message": message, "runtime_s": outcome.runtime_s}
        ).model_dump_json()
    from optplace.solve import build_result

    instance = Instance.model_validate_json(task.instance_json)
    params = SolveParams.model_validate(task.params)
    if params.objectives is not None:
        instance = instance.model_copy(update={"objectives": list(params.objectives)})
    info = get_method(task.method)
    output = MethodOutput(placement={}, status=Status.NO_SOLUTION_FOUND, stop_reason=stop, message=outcome.message)
    return build_result(
        instance, info.name, params, output, outcome.runtime_s, may_violate_slo=info.may_violate_slo
    ).model_dump_json()


class SolveService:
    """Owns the worker pool and the job store; the routes call only this."""

    def __init__(self, settings: Settings, store: JobStore):
        self.settings = settings
        self.store = store
        self.replica_id = settings.replica()
        self.pool = WorkerPool(
            settings.workers,
            settings.queue_size,
            settings.kill_grace_s,
            self,
            settings.method_modules,
            reserved_for_sync=settings.reserved_for_sync(),
            workers_per_client=settings.workers_per_client(),
            active_per_client=settings.max_active_per_client,
            memory_limit_mb=settings.max_solve_memory_mb,
            backend=self._backend(),
        )
        self.jobs = ReplicaJobs(
            store,
            self.pool,
            self._job_task,
            replica_id=self.replica_id,
            lease_s=settings.lease_s,
            heartbeat_s=settings.heartbeat_s,
            claim_poll_s=settings.claim_poll_s,
            max_attempts=settings.max_job_attempts,
        )
        # Admission counts the store, then inserts: one at a time here, so one replica alone
        # never admits past its limits (replicas together may overshoot by one job each).
        self._admission = threading.Lock()
        self._stopped = threading.Event()
        self._purger: threading.Thread | None = None

    def _backend(self) -> Backend | None:
        """Dask workers when a scheduler is configured; None: the pool's local worker processes."""
        if self.settings.dask_scheduler is None:
            return None
        from optplace.api.dask_workers import DaskBackend

        return DaskBackend(
            self.settings.dask_scheduler,
            self.settings.workers,
            self.settings.method_modules,
            orphan_after_s=self.settings.lease_s / 2,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.pool.start()
        self.jobs.start()
        self.purge_expired()
        self._purger = threading.Thread(target=self._purge_loop, name="optplace-purge", daemon=True)
        self._purger.start()

    def stop(self) -> None:
        self._stopped.set()
        self.jobs.stop()
        self.pool.stop()
        if self._purger is not None:
            self._purger.join(timeout=5)

    def purge_expired(self) -> int:
        """Delete finished jobs that ended more than ``job_ttl_s`` ago; returns how many."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.job_ttl_s)
        deleted = self.store.delete_finished_before(cutoff)
        if deleted:
            log.info("deleted %d finished jobs older than %g s", deleted, self.settings.job_ttl_s)
        return deleted

    def _purge_loop(self) -> None:
        period = min(PURGE_EVERY_S, max(0.5, self.settings.job_ttl_s / 2))
        while not self._stopped.wait(period):
            try:
                self.purge_expired()
            except Exception:  # a failed purge is retried next time; it must not stop the thread
                log.exception("could not purge expired jobs")

    # -- synchronous solves ------------------------------------------------------------------
    async def solve_now(self, instance_json: str, method: str, params: SolveParams, client: str = "") -> str:
        """Run one solve on a worker and return the SolveResult JSON (raises QueueFull, ClientBusy,
        SolveFailed)."""
        future: Future[Outcome] = Future()
        task = Task(
            id=f"sync-{uuid.uuid4().hex}",
            kind="solve",
            instance_json=instance_json,
            method=method,
            params=params.model_dump(mode="json"),
            time_limit_s=self.settings.wall_clock_s(params.model_dump(mode="json")),
            future=future,
            start_by=time.monotonic() + self.settings.sync_wait_s,
            client=client,
        )
        backlog, client_backlog = await asyncio.to_thread(self.store.load, client, self.replica_id)
        self.pool.submit(task, backlog=backlog, client_backlog=client_backlog)
        waiting = asyncio.wrap_future(future)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(waiting), timeout=self.settings.sync_wait_s)
        except TimeoutError:
            if self.pool.withdraw(task.id):
                raise SolveFailed("expired", "busy", "no worker became free in time") from None
            outcome = await waiting  # it started just now: wait for its answer
        if outcome.kind == "result":
            assert outcome.result_json is not None
            return outcome.result_json
        if outcome.kind == "killed":
            return await asyncio.to_thread(stopped_result, task, outcome)
        raise SolveFailed(outcome.kind, outcome.code, outcome.message)

    # -- jobs --------------------------------------------------------------------------------
    def submit_job(
        self, instance: Instance, instance_json: str, method: str, params: SolveParams, client: str = ""
    ) -> JobRecord:
        """Store a new job for any replica to claim (raises QueueFull or ClientBusy without storing
        anything): the queue counts the jobs queued in the store next to this replica's tasks."""
        job = NewJob(
            uuid.uuid4().hex,
            instance_json,
            instance.name,
            len(instance.applications),
            method,
            params.model_dump(mode="json"),
            client,
        )
        with self._admission:
            backlog, client_backlog = self.store.load(client, self.replica_id)
            self.pool.check_room(client, backlog=backlog, client_backlog=client_backlog)
            record = self.store.create(job)
        self.jobs.wake()
        return record

    def cancel_job(self, job_id: str) -> JobRecord | None:
        """queued/running -> cancelled; the incumbent stays. None if unknown. A job running here is
        stopped at once; one running on another replica at that replica's next lease renewal."""
        record = self.store.cancel(job_id)
        if record is not None and record.status == JobStatus.CANCELLED:
            self.pool.cancel(job_id)
        return record

    def delete_job(self, job_id: str) -> JobRecord | None:
        """Cancel the job if it is still queued or running, then delete it from the store. Returns
        the job as it was when deleted; None if unknown."""
        record = self.cancel_job(job_id)
        if record is None or not self.store.delete(job_id):
            return None
        return record

    def _job_task(self, claim: Claim) -> Task:
        """The pool task of a claimed job, under the limits of this replica's settings."""
        limit = self.settings.effective_time_limit(claim.params.get("time_limit_s"))
        params: dict[str, Any] = {**claim.params, "time_limit_s": limit}
        return Task(
            claim.job_id,
            "job",
            claim.instance_json,
            claim.method,
            params,
            self.settings.wall_clock_s(params),
            client=claim.client,
            token=claim.token,
        )

    # -- JobListener (called from supervisor threads) ----------------------------------------
    def on_incumbent(self, task: Task, result_json: str) -> None:
        # A store hiccup must not stop the solve: the next incumbent or the final result follows.
        try:
            self.store.save_incumbent(task.id, task.token, result_json)
        except Exception:
            log.exception("could not store an incumbent of job %s", task.id)

    def on_slot_free(self) -> None:
        self.jobs.wake()

    def on_done(self, task: Task, outcome: Outcome) -> None:
        """Record how the run ended, retrying while the store is unreachable (for up to half a
        lease: after that the claim may lapse, and a re-run will record it instead). A store error
        never turns a result into a failure."""
        deadline = time.monotonic() + self.settings.lease_s / 2
        try:
            while True:
                try:
                    self._record_outcome(task, outcome)
                    return
                except Exception:
                    if time.monotonic() >= deadline or self._stopped.is_set():
                        log.exception("could not record the end of job %s; its lease will lapse", task.id)
                        return
                    log.warning("could not record the end of job %s yet; retrying", task.id, exc_info=True)
                    time.sleep(STORE_RETRY_S)
        finally:
            self.jobs.forget(task.id)

    def _record_outcome(self, task: Task, outcome: Outcome) -> None:
        kind = outcome.kind
        if kind == "result":
            self.store.finish(task.id, task.token, JobStatus.COMPLETED, result_json=outcome.result_json)
        elif kind == "killed":
            try:
                result = stopped_result(task, outcome)
            except Exception as error:  # building the empty result is our code; never lose the job over it
                log.exception("could not build the stopped result of job %s", task.id)
                self.store.finish(
                    task.id,
                    task.token,
                    JobStatus.FAILED,
                    error={"code": "internal_error", "message": type(error).__name__},
                )
            else:
                self.store.finish(task.id, task.token, JobStatus.COMPLETED, result_json=result)
        elif kind in ("error", "crashed"):
            self.store.finish(
                task.id, task.token, JobStatus.FAILED, error={"code": outcome.code, "message": outcome.message}
            )
        elif kind in ("shutdown", "lost"):
            # Back to the queue without counting the attempt; for a lost claim this only works if
            # the store still names it (it came back in time), else the lease recovery re-queues it.
            try:
                self.store.release(task.id, task.token)
            except Exception:
                log.exception("could not hand job %s back to the queue; its lease will lapse", task.id)
        # "cancelled": the store already says so (cancelled, deleted or taken over), and keeps the
        # last incumbent
