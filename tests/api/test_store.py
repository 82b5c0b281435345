"""The SQLite job store: transitions, pagination, crash recovery, durability settings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from optplace.api.store import JobStatus, NewJob, SqliteJobStore, open_store


def new_job(job_id: str, method: str = "first_fit") -> NewJob:
    return NewJob(job_id, '{"name": "x"}', "x", 3, method, {"time_limit_s": 5.0})


@pytest.fixture
def store(tmp_path: Path) -> SqliteJobStore:
    return SqliteJobStore(tmp_path / "jobs.sqlite3")


RESULT = json.dumps({"status": "feasible", "hosted": 2})
BETTER = json.dumps({"status": "optimal", "hosted": 3})


def test_create_then_get_returns_a_queued_job(store: SqliteJobStore) -> None:
    """A new job is queued, has no result and keeps its method, params and instance."""
    created = store.create(new_job("a"))
    assert created.status == JobStatus.QUEUED
    assert created.result is None and created.attempts == 0
    assert store.get("a") == created
    assert store.instance_json("a") == '{"name": "x"}'
    assert store.get("missing") is None


def test_journal_is_wal_and_writes_are_fully_synced(tmp_path: Path) -> None:
    """The database uses WAL and synchronous=FULL, so a committed result survives a crash."""
    store = SqliteJobStore(tmp_path / "jobs.sqlite3")
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_incumbent_then_final_result(store: SqliteJobStore) -> None:
    """An incumbent is stored while running; the final result replaces it and marks it final."""
    store.create(new_job("a"))
    assert not store.save_incumbent("a", RESULT)  # not running yet
    assert store.mark_running("a")
    assert store.save_incumbent("a", RESULT)
    running = store.get("a")
    assert running is not None and running.result == json.loads(RESULT) and not running.result_final
    assert store.finish("a", JobStatus.COMPLETED, result_json=BETTER)
    done = store.get("a")
    assert done is not None and done.status == JobStatus.COMPLETED
    assert done.result == json.loads(BETTER) and done.result_final and done.finished_at is not None
    assert not store.finish("a", JobStatus.FAILED, error={"code": "x", "message": "y"})  # already finished


def test_failure_keeps_the_incumbent(store: SqliteJobStore) -> None:
    """A job that fails after an incumbent keeps that incumbent next to its error."""
    store.create(new_job("a"))
    store.mark_running("a")
    store.save_incumbent("a", RESULT)
    store.finish("a", JobStatus.FAILED, error={"code": "worker_crashed", "message": "exit -9"})
    record = store.get("a")
    assert record is not None and record.status == JobStatus.FAILED
    assert record.result == json.loads(RESULT) and record.error == {"code": "worker_crashed", "message": "exit -9"}


def test_cancel_is_idempotent_and_keeps_the_incumbent(store: SqliteJobStore) -> None:
    """Cancelling a running job keeps its incumbent; cancelling again or a finished job changes nothing."""
    store.create(new_job("a"))
    store.mark_running("a")
    store.save_incumbent("a", RESULT)
    first = store.cancel("a")
    assert first is not None and first.status == JobStatus.CANCELLED and first.result == json.loads(RESULT)
    assert store.cancel("a") == first
    assert not store.save_incumbent("a", BETTER) and not store.finish("a", JobStatus.COMPLETED, result_json=BETTER)
    store.create(new_job("b"))
    store.mark_running("b")
    store.finish("b", JobStatus.COMPLETED, result_json=RESULT)
    finished = store.cancel("b")
    assert finished is not None and finished.status == JobStatus.COMPLETED
    assert store.cancel("missing") is None


def test_a_cancelled_queued_job_never_starts(store: SqliteJobStore) -> None:
    """mark_running refuses a job that was cancelled while queued."""
    store.create(new_job("a"))
    store.cancel("a")
    assert not store.mark_running("a")


def test_list_pages_newest_first_with_a_cursor(store: SqliteJobStore) -> None:
    """Pages are newest first, a cursor continues where the last page ended, and status filters."""
    for index in range(5):
        store.create(new_job(f"j{index}"))
    store.mark_running("j1")
    first, cursor = store.list_jobs(limit=2)
    assert [r.id for r in first] == ["j4", "j3"] and cursor is not None
    second, cursor = store.list_jobs(limit=2, cursor=cursor)
    assert [r.id for r in second] == ["j2", "j1"] and cursor is not None
    third, cursor = store.list_jobs(limit=2, cursor=cursor)
    assert [r.id for r in third] == ["j0"] and cursor is None
    running, _ = store.list_jobs(limit=10, status=JobStatus.RUNNING)
    assert [r.id for r in running] == ["j1"]


def test_recover_requeues_running_jobs_and_fails_repeat_offenders(tmp_path: Path) -> None:
    """After a crash, running jobs are queued again, unless they were interrupted too often."""
    path = tmp_path / "jobs.sqlite3"
    store = SqliteJobStore(path)
    for job_id in ("done", "queued", "interrupted", "poison"):
        store.create(new_job(job_id))
    store.mark_running("done")
    store.finish("done", JobStatus.COMPLETED, result_json=RESULT)
    store.mark_running("interrupted")
    store.save_incumbent("interrupted", RESULT)
    store._db.execute("UPDATE jobs SET status = 'running', attempts = 3 WHERE id = 'poison'")
    store.close()  # the "crash": a new process opens the same file

    reopened = SqliteJobStore(path)
    assert reopened.recover(max_attempts=3) == ["queued", "interrupted"]
    assert reopened.get("interrupted").status == JobStatus.QUEUED  # type: ignore[union-attr]
    assert reopened.get("interrupted").result == json.loads(RESULT)  # type: ignore[union-attr]
    poison = reopened.get("poison")
    assert poison is not None and poison.status == JobStatus.FAILED
    assert poison.error is not None and poison.error["code"] == "interrupted_too_often"
    done = reopened.get("done")
    assert done is not None and done.status == JobStatus.COMPLETED and done.result == json.loads(RESULT)


def test_requeue_after_clean_shutdown_does_not_count_an_attempt(store: SqliteJobStore) -> None:
    """A job interrupted by a clean shutdown goes back to queued with its attempt count restored."""
    store.create(new_job("a"))
    store.mark_running("a")
    assert store.requeue("a")
    record = store.get("a")
    assert record is not None and record.status == JobStatus.QUEUED and record.attempts == 0


def test_counts_cover_every_status(store: SqliteJobStore) -> None:
    """counts() reports every status, zero included."""
    store.create(new_job("a"))
    assert store.counts() == {"queued": 1, "running": 0, "completed": 0, "failed": 0, "cancelled": 0}


def test_open_store_accepts_sqlite_urls_only(tmp_path: Path) -> None:
    """sqlite:////absolute paths open a SQLite store; other schemes and malformed URLs are refused."""
    path = tmp_path / "sub" / "jobs.sqlite3"
    store = open_store(f"sqlite:///{path}")
    assert isinstance(store, SqliteJobStore) and store.path == str(path) and path.exists()
    with pytest.raises(ValueError, match="only sqlite"):
        open_store("postgresql://localhost/optplace")
    with pytest.raises(ValueError, match="invalid SQLite store URL"):
        open_store("sqlite://")
    with pytest.raises(sqlite3.Error):
        SqliteJobStore(tmp_path)  # a directory is not a database file


def test_listing_reads_no_bulky_columns(store: SqliteJobStore) -> None:
    """A listing carries the result's status only: no params and no result body."""
    store.create(new_job("a"))
    store.mark_running("a")
    store.finish("a", JobStatus.COMPLETED, result_json=json.dumps({"status": "feasible", "blob": "x" * 100_000}))
    (item,), _ = store.list_jobs(limit=10)
    assert item.solution_status == "feasible"
    assert item.result is None and item.params == {}
    assert store.get("a").result["blob"] == "x" * 100_000  # the full record is still there


def test_delete_removes_finished_jobs_only(store: SqliteJobStore) -> None:
    """delete() removes a finished job for good; a queued or running one stays."""
    store.create(new_job("done"))
    store.mark_running("done")
    store.finish("done", JobStatus.COMPLETED, result_json=RESULT)
    store.create(new_job("waiting"))
    assert store.delete("waiting") is False and store.get("waiting") is not None
    assert store.delete("done") is True
    assert store.get("done") is None and store.delete("done") is False


def test_expired_finished_jobs_are_purged(store: SqliteJobStore) -> None:
    """delete_finished_before() removes jobs that ended before the cutoff, whatever their outcome."""
    from datetime import UTC, datetime, timedelta

    store.create(new_job("old"))
    store.cancel("old")
    store.create(new_job("live"))
    assert store.delete_finished_before(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert store.delete_finished_before(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert store.get("old") is None and store.get("live") is not None


def test_an_old_store_file_gains_the_client_column(tmp_path: Path) -> None:
    """A store written before the client column existed opens, migrates and keeps its jobs."""
    path = tmp_path / "old.sqlite3"
    old_schema = SCHEMA_BEFORE_CLIENT
    with sqlite3.connect(path) as db:
        db.executescript(old_schema)
        db.execute(
            "INSERT INTO jobs (id, status, method, params, instance, instance_name, applications, created_at, "
            "updated_at) VALUES ('j', 'queued', 'first_fit', '{}', '{}', 'x', 1, '2026-01-01T00:00:00+00:00', "
            "'2026-01-01T00:00:00+00:00')"
        )
    store = SqliteJobStore(path)
    assert store.get("j").client == ""
    store.create(NewJob("k", "{}", "x", 1, "first_fit", {}, "peer:127.0.0.2"))
    assert store.get("k").client == "peer:127.0.0.2"


SCHEMA_BEFORE_CLIENT = """
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    method TEXT NOT NULL, params TEXT NOT NULL, instance TEXT NOT NULL, instance_name TEXT NOT NULL,
    applications INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, started_at TEXT,
    finished_at TEXT, attempts INTEGER NOT NULL DEFAULT 0, result TEXT, result_final INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
"""
