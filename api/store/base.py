"""What a job store must do, independent of the database behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class JobStatus(StrEnum):
    """Where a job is in its life; kept apart from the solution's status in its result."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"  # the solve ended and left a result (whatever its solution status)
    FAILED = "failed"  # the solve could not produce a result: a crash or a bug; see error
    CANCELLED = "cancelled"  # cancelled by a client; the best incumbent stored so far stays

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class NewJob:
    """A job as accepted: the validated instance (canonical JSON text), method and effective params."""

    id: str
    instance_json: str
    instance_name: str
    applications: int
    method: str
    params: dict[str, Any]
    client: str = ""  # who submitted it (the per-client limits count by it); never a secret


@dataclass(frozen=True)
class JobRecord:
    """A job as stored. ``result`` is the SolveResult JSON object; ``result_final`` says whether
    it is the method's final answer or the best incumbent so far. In a listing (``list_jobs``)
    ``params`` is empty and ``result`` None: only ``solution_status`` is read from the result."""

    id: str
    status: JobStatus
    method: str
    params: dict[str, Any]
    instance_name: str
    applications: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    result: dict[str, Any] | None
    result_final: bool
    error: dict[str, str] | None
    client: str = ""
    solution_status: str | None = None  # the result's status, when there is a result


@dataclass(frozen=True)
class Claim:
    """A job this replica has claimed: run it, and name ``token`` in every write of the run (a
    write with a token the job no longer holds changes nothing)."""

    job_id: str
    token: str
    method: str
    params: dict[str, Any]
    instance_json: str
    client: str
    attempts: int


@dataclass(frozen=True)
class Reaped:
    """What :meth:`JobStore.reap` did to running jobs whose claim lapsed."""

    requeued: list[str]
    failed: list[str]


class JobStore(Protocol):
    """Durable job state shared by every replica. Every write is committed before the call returns.

    A queued job is run by whichever replica claims it (:meth:`claim`): the claim turns it
    running, counts an attempt and gives the replica a lease that lapses ``lease_s`` seconds later
    unless renewed (:meth:`renew`). A job whose lease lapsed (its replica died or lost the store)
    goes back to queued at the next :meth:`reap` of any replica.
    """

    kind: str

    def create(self, job: NewJob) -> JobRecord: ...

    def get(self, job_id: str) -> JobRecord | None: ...

    def instance_json(self, job_id: str) -> str | None: ...

    def list_jobs(
        self, *, limit: int, cursor: str | None = None, status: JobStatus | None = None
    ) -> tuple[list[JobRecord], str | None]:
        """Newest first, without the bulky columns (instance, params, result); ``cursor`` is the
        opaque value returned with the previous page."""
        ...

    def delete(self, job_id: str) -> bool:
        """Delete a finished (completed, failed or cancelled) job; False if unknown or unfinished."""
        ...

    def delete_finished_before(self, cutoff: datetime) -> int:
        """Delete every finished job that ended before ``cutoff``; returns how many."""
        ...

    def claim(self, owner: str, lease_s: float, *, exclude_clients: frozenset[str] = frozenset()) -> Claim | None:
        """Claim the next queued job for replica ``owner`` (queued -> running, attempts + 1, a lease
        of ``lease_s``); None when no job is queued (or only jobs of ``exclude_clients``). Jobs of
        the client with the fewest running jobs go first, then the oldest. Two claims never get
        the same job."""
        ...

    def renew(self, owner: str, tokens: dict[str, str], lease_s: float) -> set[str]:
        """Extend the leases of ``tokens`` (job id -> claim token); returns the ids still held
        (a job cancelled, deleted or re-queued since is missing)."""
        ...

    def save_incumbent(self, job_id: str, token: str, result_json: str) -> bool:
        """Store a better intermediate result of a running job; False if the claim is gone."""
        ...

    def finish(
        self,
        job_id: str,
        token: str,
        status: JobStatus,
        *,
        result_json: str | None = None,
        error: dict[str, str] | None = None,
    ) -> bool:
        """running -> completed/failed, with the final result or an error (an incumbent stays unless
        ``result_json`` replaces it); False if the claim is gone."""
        ...

    def release(self, job_id: str, token: str) -> bool:
        """running -> queued without counting the attempt (a clean shutdown interrupted it)."""
        ...

    def cancel(self, job_id: str) -> JobRecord | None:
        """queued/running -> cancelled; a finished job is returned unchanged; None if unknown."""
        ...

    def reap(self, max_attempts: int, *, owner: str | None = None) -> Reaped:
        """Running jobs whose lease lapsed (and, with ``owner``, every running job that replica
        holds: it restarted) go back to queued, or to failed once they have been tried
        ``max_attempts`` times."""
        ...

    def load(self, client: str, owner: str) -> tuple[int, int]:
        """What admission counts beside the replica's own pool: (queued jobs of every client,
        unfinished jobs of ``client`` but those replica ``owner`` runs, which its pool counts)."""
        ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...
