"""The SQLite job store: one file, WAL journal, every write committed with a full fsync.

WAL lets readers (GET /v1/jobs) run while a worker thread writes a result; ``synchronous=FULL``
makes a committed result survive a power cut, not only a process crash. One connection is shared
by the server's threads behind a lock: writes are small and rare next to solve times.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from optplace.api.store.base import JobRecord, JobStatus, NewJob

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    method TEXT NOT NULL,
    params TEXT NOT NULL,
    instance TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    applications INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,
    result_final INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    client TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
"""
# Columns added after the first release: (name, definition) for ALTER TABLE on an older file.
MIGRATIONS = [("client", "TEXT NOT NULL DEFAULT ''")]

_COLUMNS = (
    "id, status, method, params, instance_name, applications, created_at, updated_at, started_at, "
    "finished_at, attempts, result, result_final, error, client, seq"
)
# A listing reads no instance, params or result (a result can be megabytes): only its status.
_SUMMARY_COLUMNS = (
    "id, status, method, '{}', instance_name, applications, created_at, updated_at, started_at, "
    "finished_at, attempts, json_extract(result, '$.status'), result_final, error, client, seq"
)
_FINISHED = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)


def sqlite_path(url: str) -> str:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs.db`` -> ``/abs.db`` (SQLAlchemy's convention)."""
    prefix = "sqlite:///"
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"invalid SQLite store URL {url!r}: use sqlite:///relative/path or sqlite:////absolute/path")
    return url[len(prefix) :]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def connect(path: str) -> sqlite3.Connection:
    """A connection to the store's file (created with its folder if missing): autocommit, WAL,
    full fsync, and a 10 s wait for a lock held by another connection."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    return db


class SqliteJobStore:
    """:class:`~optplace.api.store.base.JobStore` on one SQLite file."""

    kind = "sqlite"

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = connect(self.path)
        self._db.executescript(SCHEMA)
        present = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, definition in MIGRATIONS:
            if name not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at)")

    # -- helpers -------------------------------------------------------------------------------
    def _row(self, row: tuple[Any, ...], *, summary: bool = False) -> JobRecord:
        (
            job_id,
            status,
            method,
            params,
            name,
            applications,
            created,
            updated,
            started,
            finished,
            attempts,
            result,
            final,
            error,
            client,
            _seq,
        ) = row
        if summary:  # ``result`` holds the result's status only
            solution_status, result = result, None
        else:
            result = json.loads(result) if result else None
            solution_status = result.get("status") if isinstance(result, dict) else None
        return JobRecord(
            id=job_id,
            status=JobStatus(status),
            method=method,
            params=json.loads(params),
            instance_name=name,
            applications=applications,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
            started_at=_time(started),
            finished_at=_time(finished),
            attempts=attempts,
            result=result,
            result_final=bool(final),
            error=json.loads(error) if error else None,
            client=client,
            solution_status=solution_status,
        )

    def _update(self, sql: str, args: tuple[Any, ...]) -> bool:
        with self._lock:
            return self._db.execute(sql, args).rowcount > 0

    # -- JobStore ------------------------------------------------------------------------------
    def create(self, job: NewJob) -> JobRecord:
        now = _now()
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, method, params, instance, instance_name, applications, "
                "created_at, updated_at, client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    JobStatus.QUEUED.value,
                    job.method,
                    json.dumps(job.params),
                    job.instance_json,
                    job.instance_name,
                    job.applications,
                    now,
                    now,
                    job.client,
                ),
            )
        record = self.get(job.id)
        assert record is not None
        return record

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._row(row) if row else None

    def instance_json(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT instance FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def list_jobs(
        self, *, limit: int, cursor: str | None = None, status: JobStatus | None = None
    ) -> tuple[list[JobRecord], str | None]:
        clauses, args = [], []
        if cursor is not None:
            clauses.append("seq < ?")
            args.append(_decode_cursor(cursor))
        if status is not None:
            clauses.append("status = ?")
            args.append(status.value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM jobs {where} ORDER BY seq DESC LIMIT ?", (*args, limit + 1)
            ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return [self._row(r, summary=True) for r in rows], (str(rows[-1][-1]) if more else None)

    def delete(self, job_id: str) -> bool:
        return self._update(
            f"DELETE FROM jobs WHERE id = ? AND status IN ({', '.join('?' * len(_FINISHED))})", (job_id, *_FINISHED)
        )

    def delete_finished_before(self, cutoff: datetime) -> int:
        with self._lock:
            return self._db.execute(
                f"DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? "
                f"AND status IN ({', '.join('?' * len(_FINISHED))})",
                (cutoff.astimezone(UTC).isoformat(timespec="microseconds"), *_FINISHED),
            ).rowcount

    def mark_running(self, job_id: str) -> bool:
        now = _now()
        return self._update(
            "UPDATE jobs SET status = ?, started_at = ?, updated_at = ?, attempts = attempts + 1 "
            "WHERE id = ? AND status = ?",
            (JobStatus.RUNNING.value, now, now, job_id, JobStatus.QUEUED.value),
        )

    def save_incumbent(self, job_id: str, result_json: str) -> bool:
        return self._update(
            "UPDATE jobs SET result = ?, result_final = 0, updated_at = ? WHERE id = ? AND status = ?",
            (result_json, _now(), job_id, JobStatus.RUNNING.value),
        )

    def finish(
        self, job_id: str, status: JobStatus, *, result_json: str | None = None, error: dict[str, str] | None = None
    ) -> bool:
        if status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            raise ValueError(f"finish() sets completed or failed, not {status.value}")
        now = _now()
        return self._update(
            "UPDATE jobs SET status = ?, finished_at = ?, updated_at = ?, error = ?, "
            "result = COALESCE(?, result), result_final = CASE WHEN ? IS NULL THEN result_final ELSE 1 END "
            "WHERE id = ? AND status = ?",
            (
                status.value,
                now,
                now,
                json.dumps(error) if error else None,
                result_json,
                result_json,
                job_id,
                JobStatus.RUNNING.value,
            ),
        )

    def cancel(self, job_id: str) -> JobRecord | None:
        now = _now()
        self._update(
            "UPDATE jobs SET status = ?, finished_at = ?, updated_at = ? WHERE id = ? AND status IN (?, ?)",
            (JobStatus.CANCELLED.value, now, now, job_id, JobStatus.QUEUED.value, JobStatus.RUNNING.value),
        )
        return self.get(job_id)

    def requeue(self, job_id: str) -> bool:
        return self._update(
            "UPDATE jobs SET status = ?, updated_at = ?, attempts = MAX(attempts - 1, 0) WHERE id = ? AND status = ?",
            (JobStatus.QUEUED.value, _now(), job_id, JobStatus.RUNNING.value),
        )

    def recover(self, max_attempts: int) -> list[str]:
        now = _now()
        failed = json.dumps(
            {
                "code": "interrupted_too_often",
                "message": f"the server stopped while this job ran {max_attempts} times; it is not retried again",
            }
        )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "UPDATE jobs SET status = ?, finished_at = ?, updated_at = ?, error = ? "
                    "WHERE status = ? AND attempts >= ?",
                    (JobStatus.FAILED.value, now, now, failed, JobStatus.RUNNING.value, max_attempts),
                )
                self._db.execute(
                    "UPDATE jobs SET status = ?, updated_at = ? WHERE status = ?",
                    (JobStatus.QUEUED.value, now, JobStatus.RUNNING.value),
                )
                rows = self._db.execute(
                    "SELECT id FROM jobs WHERE status = ? ORDER BY seq", (JobStatus.QUEUED.value,)
                ).fetchall()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [r[0] for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        counts = {s.value: 0 for s in JobStatus}
        counts.update({status: n for status, n in rows})
        return counts

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _decode_cursor(cursor: str) -> int:
    if not cursor.isdigit():
        raise ValueError("invalid cursor; pass the next_cursor value of the previous page")
    return int(cursor)
