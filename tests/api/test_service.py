"""How the service turns the ways a solve can end into answers: crashes, bugs, waits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from optplace.api.main import create_app
from optplace.api.pool import Outcome, Task
from optplace.api.service import stopped_result
from tests.api.conftest import make_settings, tiny, wait_for


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One worker, a short wait for synchronous solves."""
    app = create_app(make_settings(tmp_path_factory.mktemp("service"), workers=1, queue_size=2, sync_wait_s=0.3))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def idle(client: TestClient) -> None:
    wait_for(lambda: (w := client.get("/v1/health").json()["workers"])["alive"] == 1 and w["busy"] == 0)


def test_a_crashed_worker_fails_the_job_but_keeps_its_incumbent(one_worker: TestClient) -> None:
    """A worker that dies mid-solve marks the job failed (worker_crashed); its incumbent stays."""
    idle(one_worker)
    location = one_worker.post("/v1/jobs", json={"instance": tiny(), "method": "test_crash"}).headers["location"]
    job = wait_for(lambda: (j := one_worker.get(location).json())["status"] == "failed" and j)
    assert job["error"]["code"] == "worker_crashed" and "exit code 7" in job["error"]["message"]
    assert job["result_kind"] == "incumbent" and job["result"]["hosted"] == 2


def test_a_crashed_worker_is_a_500_for_a_sync_solve(one_worker: TestClient) -> None:
    """A synchronous solve whose worker dies answers 500 problem+json, and the worker is replaced."""
    idle(one_worker)
    response = one_worker.post("/v1/solve", json={"instance": tiny(), "method": "test_crash"})
    assert response.status_code == 500 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:optplace:problem:solve-failed"
    idle(one_worker)
    assert one_worker.post("/v1/solve", json={"instance": tiny(), "method": "first_fit"}).status_code == 200


def test_a_placement_that_fails_verification_never_leaves_the_server(one_worker: TestClient) -> None:
    """A method returning an SLO-violating placement fails verification: 500 for a solve, failed for a job."""
    idle(one_worker)
    body = {"instance": tiny(), "method": "test_overload"}
    response = one_worker.post("/v1/solve", json=body)
    assert response.status_code == 500 and "verification_failed" in response.json()["detail"]
    location = one_worker.post("/v1/jobs", json=body).headers["location"]
    job = wait_for(lambda: (j := one_worker.get(location).json())["status"] == "failed" and j)
    assert job["error"]["code"] == "verification_failed" and job["result"] is None


def test_a_sync_solve_that_cannot_start_in_time_is_503(one_worker: TestClient) -> None:
    """With the only worker busy, a synchronous solve waits sync_wait_s, then gets 503 + Retry-After."""
    idle(one_worker)
    busy = {"instance": tiny(), "method": "test_sleep", "params": {"options": {"sleep_s": 60}}}
    location = one_worker.post("/v1/jobs", json=busy).headers["location"]
    wait_for(lambda: one_worker.get(location).json()["status"] == "running")
    response = one_worker.post("/v1/solve", json={"instance": tiny(), "method": "first_fit"})
    assert response.status_code == 503 and response.headers["retry-after"]
    one_worker.delete(location)


def test_stopped_result_without_an_incumbent_is_a_verified_empty_result(tmp_path: Path) -> None:
    """A solve killed before any incumbent yields no_solution_found, every application not_attempted."""
    instance = tiny()
    import json

    task = Task("t", "job", json.dumps(instance), "first_fit", {"time_limit_s": 1.0}, 1.0)
    result = json.loads(stopped_result(task, Outcome("killed", None, "time_limit", "stopped", runtime_s=1.5)))
    assert result["status"] == "no_solution_found" and result["stop_reason"] == "time_limit"
    assert result["runtime_s"] == 1.5 and result["assignments"] == []
    assert {u["reason"] for u in result["unplaced"]} == {"not_attempted"}
