"""Job claims and leases inside one replica: a deletion made through the store by another replica
stops the solve running here, and a replica that cannot renew its claim stops its own solve
before the lease lapses (so no job ever runs on two replicas at once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from optplace.api.main import create_app
from optplace.api.store import SqlJobStore, open_store
from tests.api.conftest import make_settings, tiny, wait_for

LEASE_S = 2.0
SLEEPY = {"instance": tiny(), "method": "test_sleep", "params": {"options": {"sleep_s": 60}}}


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[TestClient]:
    """One in-process replica with one worker, a 2 s lease renewed every 0.25 s."""
    settings = make_settings(tmp_path, workers=1, lease_s=LEASE_S, heartbeat_s=0.25, claim_poll_s=0.2)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def solver_pid(job: dict) -> int:
    return int(job["result"]["message"].rsplit(" ", 1)[-1])


def running_job(client: TestClient) -> tuple[str, dict]:
    location = client.post("/v1/jobs", json=SLEEPY).headers["location"]
    return location, wait_for(lambda: (j := client.get(location).json())["result_kind"] == "incumbent" and j)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_deletion_by_another_replica_stops_the_solve_here(replica: TestClient, tmp_path: Path) -> None:
    """Cancelled and deleted through the store directly (as another replica would), the running
    job's worker process here is killed at the next lease renewal."""
    location, job = running_job(replica)
    other = open_store(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    try:
        assert other.cancel(job["id"]) is not None and other.delete(job["id"])
    finally:
        other.close()
    wait_for(lambda: gone(solver_pid(job)), timeout=10)
    assert replica.get(location).status_code == 404


def test_a_replica_that_cannot_renew_stops_its_solve_before_the_lease_lapses(
    replica: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every renewal failing (the store unreachable for this replica), the solve is killed
    within half a lease of the last renewal, before any other replica may take the job over."""
    _, job = running_job(replica)

    def unreachable(*args: object, **kwargs: object) -> set[str]:
        raise ConnectionError("store unreachable")

    monkeypatch.setattr(SqlJobStore, "renew", unreachable)
    wait_for(lambda: gone(solver_pid(job)), timeout=LEASE_S)


def test_a_store_error_while_recording_a_result_is_retried_not_a_failure(
    replica: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the store fails the first attempt to record a finished job, the result is recorded on
    a retry: the job completes, it is never marked failed."""
    real_finish = SqlJobStore.finish
    calls: list[str] = []

    def flaky_finish(self: SqlJobStore, job_id: str, *args: object, **kwargs: object) -> bool:
        calls.append(job_id)
        if len(calls) == 1:
            raise ConnectionError("store unreachable for a moment")
        return real_finish(self, job_id, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(SqlJobStore, "finish", flaky_finish)
    location = replica.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"}).headers["location"]
    job = wait_for(lambda: (j := replica.get(location).json())["status"] in ("completed", "failed") and j)
    assert job["status"] == "completed" and job["result_kind"] == "final" and len(calls) == 2
