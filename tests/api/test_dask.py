"""Solves on a Dask cluster (a ``distributed.LocalCluster`` in this process, reached over TCP):
the same results, time-limit kill, cancellation, crash and memory-limit semantics as local
workers, with the solver process really killed on the Dask worker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient

from optplace.api.dask_workers import solve_on_dask_worker
from optplace.api.main import create_app
from optplace.api.supervise import SolveRequest
from tests.api.conftest import PLUGIN, Server, make_settings, tiny, wait_for
from tests.api.test_leases import gone, solver_pid

distributed = pytest.importorskip("distributed")

MEMORY_LIMIT_MB = 300


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One Dask worker with two threads, in this process (no worker processes to start), over TCP."""
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def dask_app(cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A replica whose two slots run on the cluster, with a 300 MB memory limit per solve."""
    settings = make_settings(
        tmp_path_factory.mktemp("dask"),
        workers=2,
        dask_scheduler=cluster.scheduler_address,
        method_modules=[PLUGIN, "tests.api.hog_method"],
        max_solve_memory_mb=MEMORY_LIMIT_MB,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def sleepy(sleep_s: float, **params: Any) -> dict:
    return {"instance": tiny(), "method": "test_sleep", "params": {"options": {"sleep_s": sleep_s}, **params}}


def test_a_solve_on_dask_is_the_verified_result(dask_app: TestClient) -> None:
    """POST /v1/solve through Dask answers the same verified result as a local worker; health says dask."""
    health = dask_app.get("/v1/health").json()
    assert health["workers"]["backend"] == "dask" and health["workers"]["alive"] == 2
    response = dask_app.post("/v1/solve", json={"instance": tiny(), "method": "first_fit"})
    assert response.status_code == 200
    assert response.json()["status"] == "feasible" and response.json()["hosted"] == 2


def test_a_job_on_dask_is_killed_at_its_time_limit_and_keeps_its_incumbent(dask_app: TestClient) -> None:
    """A job ignoring its 1 s limit ends completed with its incumbent (stop_reason time_limit), and
    the process that ran it on the Dask worker is dead."""
    location = dask_app.post("/v1/jobs", json=sleepy(60, time_limit_s=1)).headers["location"]
    running = wait_for(lambda: (j := dask_app.get(location).json())["result_kind"] == "incumbent" and j)
    job = wait_for(lambda: (j := dask_app.get(location).json())["status"] == "completed" and j)
    assert job["result"]["stop_reason"] == "time_limit" and job["result"]["hosted"] == 2
    assert "stopped by the server" in job["result"]["message"]
    assert gone(solver_pid(running))


def test_cancelling_a_dask_job_kills_its_process_and_keeps_the_incumbent(dask_app: TestClient) -> None:
    """Cancel reaches the Dask worker, which kills the solver process; the incumbent stays."""
    location = dask_app.post("/v1/jobs", json=sleepy(60)).headers["location"]
    running = wait_for(lambda: (j := dask_app.get(location).json())["result_kind"] == "incumbent" and j)
    cancelled = dask_app.post(location + "/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["result"] == running["result"]
    wait_for(lambda: gone(solver_pid(running)), timeout=15)


def test_a_crash_on_dask_fails_the_job_and_keeps_its_incumbent(dask_app: TestClient) -> None:
    """A solver process dying on the Dask worker fails the job (worker_crashed); the incumbent stays."""
    location = dask_app.post("/v1/jobs", json={"instance": tiny(), "method": "test_crash"}).headers["location"]
    job = wait_for(lambda: (j := dask_app.get(location).json())["status"] == "failed" and j)
    assert job["error"]["code"] == "worker_crashed" and "exit code 7" in job["error"]["message"]
    assert job["result_kind"] == "incumbent" and job["result"]["hosted"] == 2


def test_the_memory_limit_holds_on_dask(dask_app: TestClient) -> None:
    """A solve growing past the memory limit is stopped there with stop_reason memory_limit."""
    response = dask_app.post("/v1/solve", json={"instance": tiny(), "method": "test_hog"})
    assert response.status_code == 200
    result = response.json()
    assert result["stop_reason"] == "memory_limit" and result["hosted"] == 2
    assert f"memory limit of {MEMORY_LIMIT_MB} MB" in result["message"]


def test_a_dask_solve_stops_when_its_replica_stops_answering(cluster: Any) -> None:
    """Without heartbeats from the replica that submitted it (it died), the Dask worker kills the
    solve after orphan_after_s, long before its time limit."""
    client = distributed.Client(cluster.scheduler_address, set_as_default=False)
    try:
        channel = "optplace-orphan-test"
        distributed.Variable(f"{channel}-control", client=client).set({"beat": 0, "cancel": False})
        distributed.Variable(f"{channel}-progress", client=client).set({"run": None, "seq": 0, "result_json": None})
        request = SolveRequest("orphan", tiny_json(), "test_sleep", {"options": {"sleep_s": 60}}, 60.0, 0.5, 0)
        payload = {"request": asdict(request), "channel": channel, "method_modules": [PLUGIN], "orphan_after_s": 1.0}
        outcome = client.submit(solve_on_dask_worker, payload, pure=False).result(timeout=45)
        assert outcome["kind"] == "cancelled" and outcome["code"] == "orphaned"
        assert outcome["result_json"] is not None  # the incumbent came back with it
    finally:
        client.close()


def tiny_json() -> str:
    import json

    return json.dumps(tiny())


def test_no_solver_process_outlives_its_kill(dask_app: TestClient) -> None:
    """After the kills above, the only worker processes left under this process are idle warm ones."""
    workers = [
        p
        for p in psutil.Process().children(recursive=True)
        if any("optplace.api.worker" in part for part in p.cmdline())
    ]
    assert len(workers) <= 2  # one per Dask thread at most


def test_a_real_server_runs_its_jobs_on_dask(cluster: Any, start_server: Callable[..., Server]) -> None:
    """optplace serve with OPTPLACE_DASK_SCHEDULER runs a job on the cluster to completion."""
    server = start_server({"OPTPLACE_DASK_SCHEDULER": cluster.scheduler_address, "OPTPLACE_WORKERS": "1"})
    assert server.http.get("/v1/health").json()["workers"]["backend"] == "dask"
    location = server.http.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"}).headers["location"]
    job = wait_for(lambda: (j := server.http.get(location).json())["status"] == "completed" and j)
    assert job["result_kind"] == "final" and job["result"]["hosted"] == 2
