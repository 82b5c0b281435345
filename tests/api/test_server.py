"""A real ``optplace serve`` on 127.0.0.1: solves, jobs, cancellation, time limits, a full queue,
tokens, and a crash in the middle of a job."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Server, tiny, wait_for, wait_until_idle

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sleepy(sleep_s: float, time_limit_s: float | None = None) -> dict:
    params: dict = {"options": {"sleep_s": sleep_s}}
    if time_limit_s is not None:
        params["time_limit_s"] = time_limit_s
    return {"instance": tiny(), "method": "test_sleep", "params": params}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One worker, room for one waiting solve, a bearer token."""
    running = Server(
        tmp_path_factory.mktemp("server"),
        {"OPTPLACE_TOKEN": TOKEN, "OPTPLACE_WORKERS": "1", "OPTPLACE_QUEUE_SIZE": "1"},
    )
    running.http.headers.update(AUTH)
    yield running
    running.stop()


@pytest.fixture
def http(server: Server) -> httpx.Client:
    """The server's client, after waiting until its worker is alive and idle."""
    return wait_until_idle(server, 1)


def test_token_protects_everything_but_health(server: Server) -> None:
    """Without the right bearer token every /v1 endpoint but health answers 401 problem+json."""
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/v1/health").status_code == 200
        for method, path in (("GET", "/v1/methods"), ("GET", "/v1/jobs"), ("POST", "/v1/solve")):
            response = anonymous.request(method, path, json={"instance": tiny()})
            assert response.status_code == 401, path
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"].startswith("Bearer")
        wrong = anonymous.get("/v1/methods", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert anonymous.get("/v1/methods", headers=AUTH).status_code == 200


def test_sync_solve_over_http(http: httpx.Client) -> None:
    """A real POST /v1/solve returns a feasible verified result."""
    response = http.post("/v1/solve", json={"instance": tiny(), "method": "first_fit"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json()["status"] == "feasible" and response.json()["hosted"] == 2


def test_sync_solve_is_killed_at_its_time_limit(http: httpx.Client) -> None:
    """A solve that ignores its 1 s limit is killed at limit + grace and answers its incumbent."""
    response = http.post("/v1/solve", json=sleepy(60, time_limit_s=1))
    assert response.status_code == 200
    body = response.json()
    assert body["stop_reason"] == "time_limit" and body["status"] == "feasible" and body["hosted"] == 2
    assert "stopped by the server" in body["message"]
    assert body["runtime_s"] < 30  # killed, not slept to the end


def test_job_is_killed_at_its_time_limit_and_keeps_its_incumbent(http: httpx.Client) -> None:
    """A job past its limit ends completed, with its incumbent marked as stopped by the time limit."""
    location = http.post("/v1/jobs", json=sleepy(60, time_limit_s=1)).headers["location"]
    job = wait_for(lambda: (j := http.get(location).json())["status"] == "completed" and j)
    assert job["result"]["stop_reason"] == "time_limit" and job["result"]["hosted"] == 2
    assert job["solution_status"] == "feasible"


def test_job_lifecycle_with_cancel(http: httpx.Client) -> None:
    """queued/running -> incumbent stored -> cancelled; the incumbent stays; cancel is idempotent."""
    created = http.post("/v1/jobs", json=sleepy(60))
    assert created.status_code == 202
    location = created.headers["location"]
    running = wait_for(lambda: (j := http.get(location).json())["result_kind"] == "incumbent" and j)
    assert running["status"] == "running" and running["result"]["status"] == "feasible"
    cancelled = http.post(location + "/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["result"] == running["result"]
    assert http.post(location + "/cancel").json() == cancelled
    listed = http.get("/v1/jobs", params={"status": "cancelled"}).json()["items"]
    assert cancelled["id"] in {j["id"] for j in listed}


def test_full_queue_answers_503_with_retry_after(http: httpx.Client) -> None:
    """With the worker busy and the one waiting place taken, new solves and jobs get 503 + Retry-After."""
    running = http.post("/v1/jobs", json=sleepy(60)).headers["location"]
    wait_for(lambda: http.get(running).json()["status"] == "running")
    waiting = http.post("/v1/jobs", json=sleepy(60))
    assert waiting.status_code == 202
    for path in ("/v1/jobs", "/v1/solve"):
        full = http.post(path, json={"instance": tiny(), "method": "first_fit"})
        assert full.status_code == 503, full.text
        assert full.headers["retry-after"].isdigit()
        assert full.json()["type"] == "urn:optplace:problem:busy"
    assert http.get("/v1/jobs", params={"limit": 1}).json()["items"][0]["id"] == waiting.json()["id"]
    http.delete(waiting.headers["location"])  # frees the waiting place at once
    third = http.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"})
    assert third.status_code == 202
    http.delete(running)
    wait_for(lambda: http.get(third.headers["location"]).json()["status"] == "completed")


def test_restart_loses_nothing(start_server: Callable[..., Server], tmp_path: Path) -> None:
    """Kill -9 the server mid-job: after a restart under the same replica id on the same store,
    finished results are intact and the interrupted job runs again to completion at once (without
    waiting for its lease to lapse)."""
    solo = {"OPTPLACE_WORKERS": "1", "OPTPLACE_REPLICA_ID": "solo"}
    first = start_server(solo)
    done = first.http.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"}).headers["location"]
    finished = wait_for(lambda: (j := first.http.get(done).json())["status"] == "completed" and j)
    interrupted = first.http.post("/v1/jobs", json=sleepy(2)).headers["location"]
    queued = first.http.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"}).headers["location"]
    wait_for(lambda: first.http.get(interrupted).json()["result_kind"] == "incumbent")
    first.stop(signal.SIGKILL)

    second = start_server(solo)
    assert second.http.get(done).json() == finished
    rerun = wait_for(lambda: (j := second.http.get(interrupted).json())["status"] == "completed" and j)
    assert rerun["attempts"] == 2 and rerun["result_kind"] == "final"
    assert rerun["result"]["message"] == "slept to the end"
    later = wait_for(lambda: (j := second.http.get(queued).json())["status"] == "completed" and j)
    assert later["attempts"] == 1


def test_clean_shutdown_requeues_the_running_job(start_server: Callable[..., Server]) -> None:
    """SIGTERM mid-job puts the job back in the queue without counting the attempt; a restart finishes it."""
    first = start_server({"OPTPLACE_WORKERS": "1"})
    location = first.http.post("/v1/jobs", json=sleepy(1.5)).headers["location"]
    wait_for(lambda: first.http.get(location).json()["result_kind"] == "incumbent")
    first.stop(signal.SIGTERM)
    assert first.process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after shutdown

    second = start_server({"OPTPLACE_WORKERS": "1"})
    job = wait_for(lambda: (j := second.http.get(location).json())["status"] == "completed" and j)
    assert job["attempts"] == 1 and job["result"]["message"] == "slept to the end"
