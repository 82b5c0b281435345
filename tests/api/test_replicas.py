"""Two real ``optplace serve`` replicas on loopback sharing one store, on PostgreSQL and on one
SQLite file: jobs cross replicas (listed, run, cancelled through the other), and killing a replica
mid-job loses nothing (the other re-runs the job after its lease, the incumbent kept meanwhile)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import psutil
import pytest

from tests.api.conftest import Server, tiny, wait_for, wait_until_idle
from tests.api.test_server import sleepy

pytestmark = pytest.mark.slow

LEASE_S = 4


def replica_env(store_url: str) -> dict[str, str]:
    """One worker per replica, a short lease and fast polls, so that the tests take seconds."""
    return {
        "OPTPLACE_STORE_URL": store_url,
        "OPTPLACE_WORKERS": "1",
        "OPTPLACE_LEASE_S": str(LEASE_S),
        "OPTPLACE_HEARTBEAT_S": "0.5",
        "OPTPLACE_CLAIM_POLL_S": "0.2",
    }


def test_a_job_is_listed_run_and_cancelled_through_another_replica(
    start_server: Callable[..., Server], store_url: str
) -> None:
    """A job submitted to replica one is listed by replica two; a job one has no worker for is run
    and completed by two; cancelling through two stops the solve running on one, incumbent kept."""
    one = start_server(replica_env(store_url))
    long = one.http.post("/v1/jobs", json=sleepy(60)).headers["location"]
    running = wait_for(lambda: (j := one.http.get(long).json())["result_kind"] == "incumbent" and j)
    two = start_server(replica_env(store_url))

    listed = two.http.get("/v1/jobs", params={"status": "running"}).json()["items"]
    assert [job["id"] for job in listed] == [running["id"]]
    assert two.http.get(long).json()["result"] == running["result"]

    quick = one.http.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"}).headers["location"]
    done = wait_for(lambda: (j := two.http.get(quick).json())["status"] == "completed" and j)
    assert done["result_kind"] == "final" and done["result"]["hosted"] == 2 and done["attempts"] == 1
    assert one.http.get(quick).json() == done

    cancelled = two.http.post(long + "/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["result"] == running["result"]
    wait_until_idle(one, 1, timeout=60)  # one's worker was killed and replaced
    after = one.http.get(long).json()
    assert after["status"] == "cancelled" and after["result_kind"] == "incumbent"
    assert after["result"] == running["result"]


def solving_replica(replicas: list[Server], job: dict) -> Server:
    """The replica whose worker process reported the job's incumbent (its message names the process)."""
    pid = int(job["result"]["message"].rsplit(" ", 1)[-1])
    for replica in replicas:
        if pid in {child.pid for child in psutil.Process(replica.process.pid).children(recursive=True)}:
            return replica
    raise AssertionError(f"no replica runs process {pid}")


def test_killing_a_replica_mid_job_loses_nothing(start_server: Callable[..., Server], store_url: str) -> None:
    """kill -9 of the replica running a job: the other shows the stored incumbent at once, then,
    after the lease lapses, runs the job again to completion."""
    replicas = [start_server(replica_env(store_url)), start_server(replica_env(store_url))]
    location = replicas[0].http.post("/v1/jobs", json=sleepy(6)).headers["location"]
    running = wait_for(lambda: (j := replicas[0].http.get(location).json())["result_kind"] == "incumbent" and j)
    victim = solving_replica(replicas, running)
    survivor = replicas[1] if victim is replicas[0] else replicas[0]
    victim.stop(signal.SIGKILL)

    seen = survivor.http.get(location).json()
    assert seen["status"] == "running" and seen["result"] == running["result"]
    rerun = wait_for(lambda: (j := survivor.http.get(location).json())["status"] == "completed" and j, timeout=90)
    assert rerun["attempts"] == 2 and rerun["result_kind"] == "final"
    assert rerun["result"]["message"] == "slept to the end"
