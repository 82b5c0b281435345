"""The job store on both databases (SQLite and PostgreSQL): transitions, claims and leases,
pagination, lapsed-lease recovery, retention, migration of old SQLite files."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from optplace.api.store import Claim, JobStatus, NewJob, SqlJobStore, open_document_store, open_store
from optplace.api.store.schema import jobs

OWNER = "replica-a"
LEASE_S = 30.0


def new_job(job_id: str, method: str = "first_fit", client: str = "") -> NewJob:
    return NewJob(job_id, '{"name": "x"}', "x", 3, method, {"time_limit_s": 5.0}, client)


@pytest.fixture
def store(store_url: str) -> Iterator[SqlJobStore]:
    """A fresh store, on SQLite and on PostgreSQL in turn."""
    opened = open_store(store_url)
    yield opened
    opened.close()


def claim(store: SqlJobStore, owner: str = OWNER, lease_s: float = LEASE_S) -> Claim:
    claimed = store.claim(owner, lease_s)
    assert claimed is not None
    return claimed


RESULT = json.dumps({"status": "feasible", "hosted": 2})
BETTER = json.dumps({"status": "optimal", "hosted": 3})


def test_create_then_get_returns_a_queued_job(store: SqlJobStore) -> None:
    """A new job is queued, has no result and keeps its method, params and instance."""
    created = store.create(new_job("a"))
    assert created.status == JobStatus.QUEUED
    assert created.result is None and created.attempts == 0
    assert created.created_at.tzinfo is not None
    assert store.get("a") == created
    assert store.instance_json("a") == '{"name": "x"}'
    assert store.get("missing") is None


def test_sqlite_journal_is_wal_and_writes_are_fully_synced(tmp_path: Path) -> None:
    """The SQLite database uses WAL and synchronous=FULL, so a committed result survives a crash."""
    store = open_store(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_a_claim_runs_the_job_and_carries_what_the_run_needs(store: SqlJobStore) -> None:
    """claim() turns the oldest queued job running, counts the attempt and hands over its inputs."""
    store.create(new_job("a", client="peer:1"))
    store.create(new_job("b"))
    first = claim(store)
    assert (first.job_id, first.method, first.client, first.attempts) == ("a", "first_fit", "peer:1", 1)
    assert first.instance_json == '{"name": "x"}' and first.params == {"time_limit_s": 5.0}
    record = store.get("a")
    assert record is not None and record.status == JobStatus.RUNNING and record.started_at is not None
    assert claim(store).job_id == "b"
    assert store.claim(OWNER, LEASE_S) is None


def test_incumbent_then_final_result(store: SqlJobStore) -> None:
    """An incumbent is stored while running; the final result replaces it and marks it final."""
    store.create(new_job("a"))
    held = claim(store)
    assert store.save_incumbent("a", held.token, RESULT)
    running = store.get("a")
    assert running is not None and running.result == json.loads(RESULT) and not running.result_final
    assert running.solution_status == "feasible"
    assert store.finish("a", held.token, JobStatus.COMPLETED, result_json=BETTER)
    done = store.get("a")
    assert done is not None and done.status == JobStatus.COMPLETED
    assert done.result == json.loads(BETTER) and done.result_final and done.finished_at is not None
    assert not store.finish("a", held.token, JobStatus.FAILED, error={"code": "x", "message": "y"})


def test_failure_keeps_the_incumbent(store: SqlJobStore) -> None:
    """A job that fails after an incumbent keeps that incumbent next to its error."""
    store.create(new_job("a"))
    held = claim(store)
    store.save_incumbent("a", held.token, RESULT)
    store.finish("a", held.token, JobStatus.FAILED, error={"code": "worker_crashed", "message": "exit -9"})
    record = store.get("a")
    assert record is not None and record.status == JobStatus.FAILED
    assert record.result == json.loads(RESULT) and record.error == {"code": "worker_crashed", "message": "exit -9"}


def test_cancel_is_idempotent_and_keeps_the_incumbent(store: SqlJobStore) -> None:
    """Cancelling a running job keeps its incumbent and ends its claim; cancelling again or a
    finished job changes nothing."""
    store.create(new_job("a"))
    held = claim(store)
    store.save_incumbent("a", held.token, RESULT)
    first = store.cancel("a")
    assert first is not None and first.status == JobStatus.CANCELLED and first.result == json.loads(RESULT)
    assert store.cancel("a") == first
    assert not store.save_incumbent("a", held.token, BETTER)
    assert not store.finish("a", held.token, JobStatus.COMPLETED, result_json=BETTER)
    assert store.renew(OWNER, {"a": held.token}, LEASE_S) == set()  # how the running replica learns of it
    store.create(new_job("b"))
    other = claim(store)
    store.finish("b", other.token, JobStatus.COMPLETED, result_json=RESULT)
    finished = store.cancel("b")
    assert finished is not None and finished.status == JobStatus.COMPLETED
    assert store.cancel("missing") is None


def test_a_cancelled_queued_job_is_never_claimed(store: SqlJobStore) -> None:
    """claim() skips a job that was cancelled while queued."""
    store.create(new_job("a"))
    store.cancel("a")
    assert store.claim(OWNER, LEASE_S) is None


def test_writes_need_the_current_claim(store: SqlJobStore) -> None:
    """A token that is not the job's current claim (a stale or a guessed one) changes nothing."""
    store.create(new_job("a"))
    held = claim(store)
    assert not store.save_incumbent("a", "not-the-token", RESULT)
    assert not store.finish("a", "not-the-token", JobStatus.COMPLETED, result_json=RESULT)
    assert not store.release("a", "not-the-token")
    assert store.renew("replica-b", {"a": held.token}, LEASE_S) == set()  # another owner cannot renew it
    assert store.renew(OWNER, {"a": held.token}, LEASE_S) == {"a"}


def test_a_lapsed_lease_requeues_the_job_and_fences_the_old_run(store: SqlJobStore) -> None:
    """A job whose lease lapsed is re-queued by reap(), keeps its incumbent, is claimed again, and
    the first run can no longer write or renew."""
    store.create(new_job("a"))
    old = claim(store, lease_s=0.2)
    store.save_incumbent("a", old.token, RESULT)
    assert store.reap(max_attempts=3).requeued == []  # the lease still holds
    time.sleep(0.4)
    reaped = store.reap(max_attempts=3)
    assert reaped.requeued == ["a"] and reaped.failed == []
    queued = store.get("a")
    assert queued is not None and queued.status == JobStatus.QUEUED and queued.result == json.loads(RESULT)
    new = claim(store, owner="replica-b")
    assert new.attempts == 2 and new.token != old.token
    assert store.renew(OWNER, {"a": old.token}, LEASE_S) == set()
    assert not store.save_incumbent("a", old.token, BETTER)
    assert not store.finish("a", old.token, JobStatus.COMPLETED, result_json=BETTER)
    assert store.finish("a", new.token, JobStatus.COMPLETED, result_json=BETTER)


def test_renewal_keeps_a_lease_alive(store: SqlJobStore) -> None:
    """A renewed lease does not lapse at its first expiry."""
    store.create(new_job("a"))
    held = claim(store, lease_s=0.5)
    for _ in range(3):
        time.sleep(0.25)
        assert store.renew(OWNER, {"a": held.token}, 0.5) == {"a"}
        assert store.reap(max_attempts=3).requeued == []


def test_reap_fails_repeat_offenders_and_recovers_a_restarted_owner(store: SqlJobStore) -> None:
    """Lapsed jobs tried max_attempts times fail (interrupted_too_often); a restarted replica takes
    back its own running jobs at once, without waiting for the lease; others' stay."""
    for job_id in ("done", "mine", "poison", "theirs"):
        store.create(new_job(job_id))
    done = claim(store)
    store.finish("done", done.token, JobStatus.COMPLETED, result_json=RESULT)
    mine = claim(store)
    store.save_incumbent("mine", mine.token, RESULT)
    claim(store, owner="crashed", lease_s=0.0)
    with store.engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == "poison").values(attempts=3))
    claim(store, owner="replica-b")

    reaped = store.reap(max_attempts=3, owner=OWNER)
    assert reaped.requeued == ["mine"] and reaped.failed == ["poison"]
    interrupted = store.get("mine")
    assert interrupted is not None and interrupted.status == JobStatus.QUEUED
    assert interrupted.result == json.loads(RESULT) and interrupted.attempts == 1
    poison = store.get("poison")
    assert poison is not None and poison.status == JobStatus.FAILED
    assert poison.error is not None and poison.error["code"] == "interrupted_too_often"
    assert store.get("theirs").status == JobStatus.RUNNING  # type: ignore[union-attr]
    finished = store.get("done")
    assert finished is not None and finished.status == JobStatus.COMPLETED and finished.result == json.loads(RESULT)


def test_release_after_clean_shutdown_does_not_count_an_attempt(store: SqlJobStore) -> None:
    """A job interrupted by a clean shutdown goes back to queued with its attempt count restored."""
    store.create(new_job("a"))
    held = claim(store)
    assert store.release("a", held.token)
    record = store.get("a")
    assert record is not None and record.status == JobStatus.QUEUED and record.attempts == 0


def test_concurrent_claims_never_share_a_job(store: SqlJobStore) -> None:
    """Four claimers, each on its own connection pool, drain 24 jobs: every job is claimed once."""
    for index in range(24):
        store.create(new_job(f"j{index:02d}"))
    claimed: list[str] = []
    lock = threading.Lock()

    def drain(owner: str) -> None:
        mine = open_store(store.url)
        try:
            while (got := mine.claim(owner, LEASE_S)) is not None:
                with lock:
                    claimed.append(got.job_id)
        finally:
            mine.close()

    threads = [threading.Thread(target=drain, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == [f"j{index:02d}" for index in range(24)]


def test_claims_prefer_the_client_with_fewest_running_jobs_and_skip_excluded_ones(store: SqlJobStore) -> None:
    """With a's job running, b's queued job goes before a's older one; excluded clients wait."""
    for job_id, client in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        store.create(new_job(job_id, client=client))
    assert claim(store).job_id == "a1"
    assert claim(store).job_id == "b1"
    store.create(new_job("c1", client="c"))
    assert store.claim(OWNER, LEASE_S, exclude_clients=frozenset({"a", "c"})) is None
    assert claim(store).job_id == "c1"


def test_load_counts_the_queue_and_the_clients_unfinished_jobs(store: SqlJobStore) -> None:
    """load() gives every client's queued jobs and one client's queued and running jobs, less the
    ones the asking replica runs."""
    for job_id, client in (("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a")):
        store.create(new_job(job_id, client=client))
    claim(store)  # a1 runs here
    store.cancel("a3")
    assert store.load("a", "replica-b") == (2, 2)
    assert store.load("a", OWNER) == (2, 1)  # the pool of the replica running a1 counts it
    assert store.load("b", OWNER) == (2, 1)


def test_list_pages_newest_first_with_a_cursor(store: SqlJobStore) -> None:
    """Pages are newest first, a cursor continues where the last page ended, and status filters."""
    for index in range(5):
        store.create(new_job(f"j{index}"))
    store.cancel("j0")
    first, cursor = store.list_jobs(limit=2)
    assert [r.id for r in first] == ["j4", "j3"] and cursor is not None
    second, cursor = store.list_jobs(limit=2, cursor=cursor)
    assert [r.id for r in second] == ["j2", "j1"] and cursor is not None
    third, cursor = store.list_jobs(limit=2, cursor=cursor)
    assert [r.id for r in third] == ["j0"] and cursor is None
    cancelled, _ = store.list_jobs(limit=10, status=JobStatus.CANCELLED)
    assert [r.id for r in cancelled] == ["j0"]


def test_counts_cover_every_status(store: SqlJobStore) -> None:
    """counts() reports every status, zero included."""
    store.create(new_job("a"))
    assert store.counts() == {"queued": 1, "running": 0, "completed": 0, "failed": 0, "cancelled": 0}


def test_listing_reads_no_bulky_columns(store: SqlJobStore) -> None:
    """A listing carries the result's status only: no params and no result body."""
    store.create(new_job("a"))
    held = claim(store)
    big = json.dumps({"status": "feasible", "blob": "x" * 100_000})
    store.finish("a", held.token, JobStatus.COMPLETED, result_json=big)
    (item,), _ = store.list_jobs(limit=10)
    assert item.solution_status == "feasible"
    assert item.result is None and item.params == {}
    assert store.get("a").result["blob"] == "x" * 100_000  # type: ignore[index,union-attr]


def test_delete_removes_finished_jobs_only(store: SqlJobStore) -> None:
    """delete() removes a finished job for good; a queued or running one stays."""
    store.create(new_job("done"))
    held = claim(store)
    store.finish("done", held.token, JobStatus.COMPLETED, result_json=RESULT)
    store.create(new_job("waiting"))
    assert store.delete("waiting") is False and store.get("waiting") is not None
    assert store.delete("done") is True
    assert store.get("done") is None and store.delete("done") is False


def test_expired_finished_jobs_are_purged(store: SqlJobStore) -> None:
    """delete_finished_before() removes jobs that ended before the cutoff, whatever their outcome."""
    store.create(new_job("old"))
    store.cancel("old")
    store.create(new_job("live"))
    assert store.delete_finished_before(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert store.delete_finished_before(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert store.get("old") is None and store.get("live") is not None


def test_documents_are_versioned_and_shared_by_every_opener(store: SqlJobStore) -> None:
    """A document put through one store is read, with its version, through another on the same database."""
    documents = open_document_store(store)
    assert documents.get("plan") is None and documents.version("plan") is None
    assert documents.put("plan", "one").version == 1
    other = open_store(store.url)
    try:
        assert open_document_store(other).put("plan", "two").version == 2
    finally:
        other.close()
    stored = documents.get("plan")
    assert stored is not None and (stored.version, stored.body) == (2, "two") and stored.updated_at.tzinfo


def test_open_store_accepts_sqlite_and_postgresql_urls_only(tmp_path: Path) -> None:
    """sqlite:////absolute paths open a SQLite store (folders created); other schemes, other
    PostgreSQL drivers and malformed URLs are refused with the forms that work."""
    path = tmp_path / "sub" / "jobs.sqlite3"
    store = open_store(f"sqlite:///{path}")
    assert store.kind == "sqlite" and path.exists()
    for url in ("mysql://localhost/optplace", "postgresql+asyncpg://localhost/optplace", "nonsense"):
        with pytest.raises(ValueError, match="unsupported job store URL"):
            open_store(url)
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ValueError, match="invalid SQLite store URL"):
            open_store(url)
    with pytest.raises(ValueError, match="name the database"):
        open_store("postgresql://localhost")


def test_an_old_store_file_is_migrated_and_keeps_its_jobs(tmp_path: Path) -> None:
    """A SQLite file written before the client, status and lease columns existed opens, gains them
    (the listing's status copied from the stored result) and keeps its jobs."""
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_BEFORE_CLIENT)
        db.execute(
            "INSERT INTO jobs (id, status, method, params, instance, instance_name, applications, created_at, "
            "updated_at, result) VALUES ('j', 'completed', 'first_fit', '{}', '{}', 'x', 1, "
            "'2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00', '{\"status\": \"optimal\"}')"
        )
    store = open_store(f"sqlite:///{path}")
    old = store.get("j")
    assert old is not None and old.client == "" and old.solution_status == "optimal"
    assert old.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    store.create(NewJob("k", "{}", "x", 1, "first_fit", {}, "peer:127.0.0.2"))
    assert store.get("k").client == "peer:127.0.0.2"  # type: ignore[union-attr]
    assert [r.id for r in store.list_jobs(limit=5)[0]] == ["k", "j"]


SCHEMA_BEFORE_CLIENT = """
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
    method TEXT NOT NULL, params TEXT NOT NULL, instance TEXT NOT NULL, instance_name TEXT NOT NULL,
    applications INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, started_at TEXT,
    finished_at TEXT, attempts INTEGER NOT NULL DEFAULT 0, result TEXT, result_final INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
"""
