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


class JobStore(Protocol):
    """Durable job state. Every write is committed before the call returns."""

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

    def mark_running(self, job_id: str) -> bool:
        """queued -> running (attempts + 1); False if the job is no longer queued (e.g. cancelled)."""
        ...

    def save_incumbent(self, job_id: str, result_json: str) -> bool:
        """Store a better intermediate result of a running job; False if the job is not running."""
        ...

    def finish(
        self, job_id: str, status: JobStatus, *, result_json: str | None = None, error: dict[str, str] | None = None
    ) -> bool:
        """running -> completed/failed, with the final result or an error (an incumbent stays unless
        ``result_json`` replaces it); False if the job was no longer running."""
        ...

    def cancel(self, job_id: str) -> JobRecord | None:
        """queued/running -> cancelled; a finished job is returned unchanged; None if unknown."""
        ...

    def requeue(self, job_id: str) -> bool:
        """running -> queued without counting an attempt (a clean shutdown interrupted it)."""
        ...

    def recover(self, max_attempts: int) -> list[str]:
        """After a crash: running jobs go back to queued, or to failed once they have been tried
        ``max_attempts`` times. Returns every queued job id, oldest first."""
        ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...
