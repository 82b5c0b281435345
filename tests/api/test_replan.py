"""POST /v1/replan and /v1/replan/jobs: in-process, and on a real server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Server, wait_for
from tests.migration.builders import drain_into_full_node, one_node_two_gpus


def body(**changes: Any) -> dict[str, Any]:
    return {"instance": json.loads(drain_into_full_node().model_dump_json()), "changes": changes}


def test_replan_answers_with_the_plan(client: TestClient) -> None:
    """A drain is answered 200 with the verified target and the reordered make-before-break plan."""
    response = client.post("/v1/replan", json=body(draining_accelerators=["g2"]))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["outcome"] == "complete" and result["target"]["status"] in ("optimal", "feasible")
    assert [(s["action"], s["application"]) for s in result["plan"]] == [
        ("start", "x"),
        ("shift", "x"),
        ("stop", "x"),
        ("start", "y"),
        ("shift", "y"),
        ("stop", "y"),
    ]


def test_replan_reports_missing_capacity(client: TestClient) -> None:
    """A change that cannot be absorbed is still a 200: fallback, with the memory short per step."""
    doc = {"instance": json.loads(one_node_two_gpus().model_dump_json()), "changes": {"draining_accelerators": ["ga"]}}
    result = client.post("/v1/replan", json=doc).json()
    assert result["outcome"] == "fallback"
    assert [(b["application"], b["accelerator"], b["memory_mb"]) for b in result["blocked"]] == [("a", "gb", 1000.0)]


def test_replan_errors_point_into_the_body(client: TestClient) -> None:
    """Bad changes, an impossible running state and an unknown method are 422s with JSON pointers."""
    bad = body(draining_accelerators=["nope"], rates_rps={"ghost": 2.0})
    pointers = {e["pointer"] for e in client.post("/v1/replan", json=bad).json()["errors"]}
    assert pointers == {"/changes/draining_accelerators/0", "/changes/rates_rps/ghost"}
    invalid = body(max_moves=-1)
    assert client.post("/v1/replan", json=invalid).json()["errors"][0]["pointer"] == "/changes/max_moves"
    unknown = {**body(), "method": "no_such_method"}
    assert client.post("/v1/replan", json=unknown).json()["errors"][0]["pointer"] == "/method"
    not_runnable = body()
    not_runnable["instance"]["models"][0]["profiles"] = {"cpu": {"service_time_ms": 5}}
    not_runnable["instance"]["accelerator_types"].append({"name": "cpu", "discipline": "ps"})
    errors = client.post("/v1/replan", json=not_runnable).json()["errors"]
    assert [e["code"] for e in errors] == ["not_runnable"]
    assert errors[0]["pointer"] == "/instance/applications/1/current_accelerator"


def test_replan_refuses_objectives_and_non_integer_max_moves(client: TestClient) -> None:
    """params.objectives (re-placement sets its own) and max_moves false or "3" are 422s, not a 500 or a 0."""
    with_objectives = {**body(draining_accelerators=["g2"]), "params": {"objectives": ["min_migrations"]}}
    answer = client.post("/v1/replan", json=with_objectives)
    assert answer.status_code == 422 and answer.json()["errors"][0]["pointer"] == "/params/objectives"
    for wrong in (False, "3"):
        answer = client.post("/v1/replan", json=body(max_moves=wrong))
        assert answer.status_code == 422 and answer.json()["errors"][0]["pointer"] == "/changes/max_moves"


def test_replan_counts_added_applications_against_the_server_limit(tmp_path) -> None:
    """Added applications count towards OPTPLACE_MAX_APPLICATIONS like the instance's own."""
    from optplace.api.main import create_app
    from tests.api.conftest import make_settings
    from tests.migration.builders import app

    with TestClient(create_app(make_settings(tmp_path, max_applications=4))) as small:
        response = small.post("/v1/replan", json=body(add_applications=[app("w1", "m0"), app("w2", "m1")]))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/changes/add_applications"


def test_replan_job_runs_on_the_job_machinery(client: TestClient) -> None:
    """POST /v1/replan/jobs answers 202; the job (method 'replan') completes with a ReplanResult."""
    response = client.post("/v1/replan/jobs", json=body(draining_accelerators=["g2"]))
    assert response.status_code == 202 and response.json()["method"] == "replan"
    location = response.headers["location"]
    job = wait_for(lambda: (j := client.get(location).json())["status"] == "completed" and j)
    assert job["result_kind"] == "final" and job["solution_status"] in ("optimal", "feasible")
    assert job["result"]["outcome"] == "complete" and len(job["result"]["plan"]) == 6


def test_replan_on_a_real_server(start_server: Callable[..., Server]) -> None:
    """optplace serve on loopback: a synchronous re-placement and a re-placement job."""
    server = start_server({"OPTPLACE_WORKERS": "1"})
    now = server.http.post("/v1/replan", json=body(draining_accelerators=["g2"]))
    assert now.status_code == 200 and now.json()["moves"] == 2
    queued = server.http.post("/v1/replan/jobs", json=body(unavailable_accelerators=["g1"]))
    assert queued.status_code == 202
    job = wait_for(lambda: (j := server.http.get(queued.headers["location"]).json())["status"] == "completed" and j)
    assert job["result"]["lost"] == ["x", "z"] and job["result"]["admissions"] >= 1
