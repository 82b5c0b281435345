"""The job store on SQLAlchemy Core: one implementation for SQLite and PostgreSQL.

The two databases differ only in :mod:`optplace.api.store.engine` (durability pragmas, how a
write transaction begins, whose clock) and in one clause: a claim's ``FOR UPDATE SKIP LOCKED``,
which PostgreSQL uses to let concurrent claims pass each other and SQLite ignores (its claim
holds the single write lock from ``BEGIN IMMEDIATE`` on). Every write of a running job names its
claim's token, so a replica that lost its claim (its lease lapsed and another replica re-queued
the job) can no longer change the job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row, and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from optplace.api.store.base import Claim, JobRecord, JobStatus, NewJob, Reaped
from optplace.api.store.engine import clock, reading, store_engine, writing
from optplace.api.store.schema import jobs, solution_status

_FINISHED = (JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value)
_UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_RECORD = [
    jobs.c.id,
    jobs.c.status,
    jobs.c.method,
    jobs.c.params,
    jobs.c.instance_name,
    jobs.c.applications,
    jobs.c.created_at,
    jobs.c.updated_at,
    jobs.c.started_at,
    jobs.c.finished_at,
    jobs.c.attempts,
    jobs.c.result,
    jobs.c.result_final,
    jobs.c.error,
    jobs.c.client,
    jobs.c.solution_status,
    jobs.c.seq,
]
# A listing reads no instance, params or result (a result can be megabytes).
_SUMMARY = [literal("{}").label("params") if c is jobs.c.params else c for c in _RECORD]
_SUMMARY = [literal(None).label("result") if c is jobs.c.result else c for c in _SUMMARY]
_NO_LEASE: dict[str, Any] = {"lease_owner": None, "lease_token": None, "heartbeat_at": None, "lease_expires_at": None}


class SqlJobStore:
    """:class:`~optplace.api.store.base.JobStore` on a SQLite file or a PostgreSQL database."""

    def __init__(self, url: str, engine: Engine | None = None):
        self.url = url
        self.engine = engine or store_engine(url)
        self.kind = self.engine.dialect.name  # "sqlite" or "postgresql"

    # -- helpers -------------------------------------------------------------------------------
    def _now(self, plus_s: float = 0.0) -> ColumnElement[datetime]:
        return clock(self.engine, plus_s)

    @staticmethod
    def _record(row: Row[Any]) -> JobRecord:
        m = row._mapping
        return JobRecord(
            id=m["id"],
            status=JobStatus(m["status"]),
            method=m["method"],
            params=json.loads(m["params"]),
            instance_name=m["instance_name"],
            applications=m["applications"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            started_at=m["started_at"],
            finished_at=m["finished_at"],
            attempts=m["attempts"],
            result=json.loads(m["result"]) if m["result"] else None,
            result_final=bool(m["result_final"]),
            error=json.loads(m["error"]) if m["error"] else None,
            client=m["client"],
            solution_status=m["solution_status"],
        )

    def _held(self, job_id: str, token: str) -> ColumnElement[bool]:
        return and_(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_token == token)

    def _update(self, where: ColumnElement[bool], values: Mapping[str, Any]) -> bool:
        with writing(self.engine) as conn:
            return conn.execute(update(jobs).where(where).values(**values)).rowcount > 0

    # -- JobStore ------------------------------------------------------------------------------
    def create(self, job: NewJob) -> JobRecord:
        with writing(self.engine) as conn:
            now = self._now()
            conn.execute(
                insert(jobs).values(
                    id=job.id,
                    status=JobStatus.QUEUED.value,
                    method=job.method,
                    params=json.dumps(job.params),
                    instance=job.instance_json,
                    instance_name=job.instance_name,
                    applications=job.applications,
                    created_at=now,
                    updated_at=now,
                    client=job.client,
                )
            )
            row = conn.execute(select(*_RECORD).where(jobs.c.id == job.id)).one()
        return self._record(row)

    def get(self, job_id: str) -> JobRecord | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(*_RECORD).where(jobs.c.id == job_id)).first()
        return self._record(row) if row else None

    def instance_json(self, job_id: str) -> str | None:
        with reading(self.engine) as conn:
            return conn.execute(select(jobs.c.instance).where(jobs.c.id == job_id)).scalar()

    def list_jobs(
        self, *, limit: int, cursor: str | None = None, status: JobStatus | None = None
    ) -> tuple[list[JobRecord], str | None]:
        query = select(*_SUMMARY).order_by(jobs.c.seq.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(jobs.c.seq < _decode_cursor(cursor))
        if status is not None:
            query = query.where(jobs.c.status == status.value)
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return [self._record(r) for r in rows], (str(rows[-1].seq) if more else None)

    def delete(self, job_id: str) -> bool:
        with writing(self.engine) as conn:
            return conn.execute(delete(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(_FINISHED))).rowcount > 0

    def delete_finished_before(self, cutoff: datetime) -> int:
        with writing(self.engine) as conn:
            return conn.execute(
                delete(jobs).where(
                    jobs.c.finished_at.is_not(None),
                    jobs.c.finished_at < cutoff.astimezone(UTC),
                    jobs.c.status.in_(_FINISHED),
                )
            ).rowcount

    def claim(self, owner: str, lease_s: float, *, exclude_clients: frozenset[str] = frozenset()) -> Claim | None:
        queued = jobs.c.status == JobStatus.QUEUED.value
        eligible = and_(queued, jobs.c.client.not_in(sorted(exclude_clients))) if exclude_clients else queued
        with reading(self.engine) as conn:  # the usual answer, "nothing queued", costs no write lock
            if conn.execute(select(jobs.c.seq).where(eligible).limit(1)).first() is None:
                return None
        others = jobs.alias("others")
        running_of_client = (
            select(func.count())
            .where(others.c.client == jobs.c.client, others.c.status == JobStatus.RUNNING.value)
            .scalar_subquery()
        )
        candidate = (
            select(jobs.c.id)
            .where(eligible)
            .order_by(running_of_client, jobs.c.seq)
            .limit(1)
            .with_for_update(skip_locked=True, of=jobs)
        )
        token = uuid.uuid4().hex
        with writing(self.engine) as conn:
            job_id = conn.execute(candidate).scalar()
            if job_id is None:
                return None
            now = self._now()
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, queued)
                .values(
                    status=JobStatus.RUNNING.value,
                    started_at=now,
                    updated_at=now,
                    attempts=jobs.c.attempts + 1,
                    lease_owner=owner,
                    lease_token=token,
                    heartbeat_at=now,
                    lease_expires_at=self._now(lease_s),
                )
            )
            row = conn.execute(
                select(jobs.c.method, jobs.c.params, jobs.c.instance, jobs.c.client, jobs.c.attempts).where(
                    jobs.c.id == job_id
                )
            ).one()
        return Claim(job_id, token, row.method, json.loads(row.params), row.instance, row.client, row.attempts)

    def renew(self, owner: str, tokens: dict[str, str], lease_s: float) -> set[str]:
        held: set[str] = set()
        if not tokens:
            return held
        with writing(self.engine) as conn:
            for job_id, token in tokens.items():
                renewed = conn.execute(
                    update(jobs)
                    .where(self._held(job_id, token), jobs.c.lease_owner == owner)
                    .values(heartbeat_at=self._now(), lease_expires_at=self._now(lease_s))
                )
                if renewed.rowcount > 0:
                    held.add(job_id)
        return held

    def save_incumbent(self, job_id: str, token: str, result_json: str) -> bool:
        return self._update(
            self._held(job_id, token),
            {
                "result": result_json,
                "result_final": 0,
                "solution_status": solution_status(result_json),
                "updated_at": self._now(),
            },
        )

    def finish(
        self,
        job_id: str,
        token: str,
        status: JobStatus,
        *,
        result_json: str | None = None,
        error: dict[str, str] | None = None,
    ) -> bool:
        if status not in (JobStatus.COMPLETED, JobStatus.FAILED):
            raise ValueError(f"finish() sets completed or failed, not {status.value}")
        values: dict[str, Any] = {
            "status": status.value,
            "finished_at": self._now(),
            "updated_at": self._now(),
            "error": json.dumps(error) if error else None,
            **_NO_LEASE,
        }
        if result_json is not None:
            values.update(result=result_json, result_final=1, solution_status=solution_status(result_json))
        return self._update(self._held(job_id, token), values)

    def release(self, job_id: str, token: str) -> bool:
        return self._update(
            self._held(job_id, token),
            {
                "status": JobStatus.QUEUED.value,
                "updated_at": self._now(),
                "attempts": case((jobs.c.attempts > 0, jobs.c.attempts - 1), else_=0),
                **_NO_LEASE,
            },
        )

    def cancel(self, job_id: str) -> JobRecord | None:
        self._update(
            and_(jobs.c.id == job_id, jobs.c.status.in_(_UNFINISHED)),
            {"status": JobStatus.CANCELLED.value, "finished_at": self._now(), "updated_at": self._now(), **_NO_LEASE},
        )
        return self.get(job_id)

    def reap(self, max_attempts: int, *, owner: str | None = None) -> Reaped:
        lapsed = or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < self._now())
        if owner is not None:
            lapsed = or_(lapsed, jobs.c.lease_owner == owner)
        running = and_(jobs.c.status == JobStatus.RUNNING.value, lapsed)
        with reading(self.engine) as conn:  # usually nothing lapsed: no write lock then
            if conn.execute(select(jobs.c.seq).where(running).limit(1)).first() is None:
                return Reaped([], [])
        failed_error = json.dumps(
            {
                "code": "interrupted_too_often",
                "message": f"the server running this job stopped {max_attempts} times while it ran "
                "(a crash, or it lost the job store); it is not retried again",
            }
        )
        with writing(self.engine) as conn:
            rows = conn.execute(
                select(jobs.c.id, jobs.c.attempts).where(running).with_for_update(skip_locked=True, of=jobs)
            ).all()
            failed = [r.id for r in rows if r.attempts >= max_attempts]
            requeued = [r.id for r in rows if r.attempts < max_attempts]
            if failed:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(failed))
                    .values(
                        status=JobStatus.FAILED.value,
                        finished_at=self._now(),
                        updated_at=self._now(),
                        error=failed_error,
                        **_NO_LEASE,
                    )
                )
            if requeued:
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(requeued))
                    .values(status=JobStatus.QUEUED.value, updated_at=self._now(), **_NO_LEASE)
                )
        return Reaped(requeued, failed)

    def load(self, client: str, owner: str) -> tuple[int, int]:
        queued = func.count().filter(jobs.c.status == JobStatus.QUEUED.value)
        held_here = and_(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_owner == owner)
        mine = func.count().filter(jobs.c.client == client, ~held_here)
        with reading(self.engine) as conn:
            row = conn.execute(select(queued, mine).where(jobs.c.status.in_(_UNFINISHED))).one()
        return int(row[0]), int(row[1])

    def counts(self) -> dict[str, int]:
        with reading(self.engine) as conn:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
        counts = {s.value: 0 for s in JobStatus}
        counts.update({status: n for status, n in rows})
        return counts

    def close(self) -> None:
        self.engine.dispose()


def _decode_cursor(cursor: str) -> int:
    if not cursor.isdigit():
        raise ValueError("invalid cursor; pass the next_cursor value of the previous page")
    return int(cursor)
