"""The HTTP API through the in-process client: every endpoint, errors and limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from optplace.api.main import create_app
from optplace.solve import solve
from tests.api.conftest import make_settings, tiny, wait_for

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert "Traceback" not in response.text
    return body


def test_solve_answers_the_same_placement_as_the_library(client: TestClient) -> None:
    """POST /v1/solve returns the verified SolveResult that solve() computes for the same input."""
    instance = tiny()
    response = client.post("/v1/solve", json={"instance": instance, "method": "first_fit"})
    assert response.status_code == 200
    body = response.json()
    expected = solve(instance, "first_fit", {"time_limit_s": 10.0})
    assert body["status"] == expected.status.value
    assert {a["application"]: a["accelerator"] for a in body["assignments"]} == expected.placement()
    assert body["input_hash"] == expected.input_hash
    assert body["unplaced"] == [u.model_dump(mode="json") for u in expected.unplaced]


def test_solve_caps_and_defaults_the_time_limit(client: TestClient) -> None:
    """No time limit means the server default; a larger one is cut to the server's cap."""
    settings = client.app.state.settings
    plain = client.post("/v1/solve", json={"instance": tiny(), "method": "first_fit"}).json()
    assert plain["params"]["time_limit_s"] == settings.default_time_limit_s
    capped = client.post(
        "/v1/solve", json={"instance": tiny(), "method": "first_fit", "params": {"time_limit_s": 1e6, "seed": 3}}
    ).json()
    assert capped["params"]["time_limit_s"] == settings.max_time_limit_s and capped["seed"] == 3


def test_an_infeasible_instance_is_a_result_not_an_error(client: TestClient) -> None:
    """host_all with an application that fits nowhere is a 200 infeasible result with reason codes."""
    response = client.post("/v1/solve", json={"instance": tiny("infeasible_host_all")})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "infeasible"
    assert {u["reason"] for u in body["unplaced"]} >= {"cannot_meet_slo_alone"}


def test_partly_placeable_lists_unplaced_applications(client: TestClient) -> None:
    """An instance where one application cannot fit beside the others lists it with a reason."""
    body = client.post("/v1/solve", json={"instance": tiny(), "method": "first_fit"}).json()
    assert body["hosted"] == 2
    assert [(u["application"], u["reason"]) for u in body["unplaced"]] == [("a3", "insufficient_capacity")]


def test_field_errors_point_into_the_request_body(client: TestClient) -> None:
    """Each invalid field is one 422 entry with a JSON pointer from the body root and a stable code."""
    instance = tiny()
    instance["applications"][2]["rate_rps"] = -1
    instance["applications"][1]["colour"] = "red"
    response = client.post("/v1/solve", json={"instance": instance, "params": {"threads": 0}, "extra": 1})
    body = assert_problem(response, 422)
    entries = {(e["pointer"], e["code"]) for e in body["errors"]}
    assert entries == {
        ("/instance/applications/2/rate_rps", "greater_than"),
        ("/instance/applications/1/colour", "extra_forbidden"),
        ("/params/threads", "greater_than_equal"),
        ("/extra", "extra_forbidden"),
    }
    assert all(e["message"] and e["field"] for e in body["errors"])


def test_cross_field_errors_point_at_the_field_to_fix(client: TestClient) -> None:
    """An unknown model reference points at /instance/applications/<i>/model with code invalid_reference."""
    instance = tiny()
    instance["applications"][1]["model"] = "nope"
    body = assert_problem(client.post("/v1/solve", json={"instance": instance}), 422)
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        ("/instance/applications/1/model", "invalid_reference")
    ]
    assert body["errors"][0]["field"] == "instance.applications[1].model"


def test_absurdly_large_numbers_are_rejected_with_a_pointer(client: TestClient) -> None:
    """A number beyond ±1e12 (it would overflow the latency models) is a 422 pointing at it."""
    instance = tiny()
    instance["models"][0]["profiles"]["gpu"]["service_time_ms"] = 1.3e154
    body = assert_problem(client.post("/v1/evaluate", json={"instance": instance, "placement": {}}), 422)
    assert [(e["pointer"], e["code"]) for e in body["errors"]] == [
        ("/instance/models/0/profiles/gpu/service_time_ms", "number_too_large")
    ]


def test_unknown_method_and_bad_json_are_422(client: TestClient) -> None:
    """An unknown method names the known ones; a body that is not JSON is json_invalid; NaN is reported
    at its pointer."""
    body = assert_problem(client.post("/v1/solve", json={"instance": tiny(), "method": "magic"}), 422)
    assert body["errors"][0]["pointer"] == "/method" and "first_fit" in body["errors"][0]["message"]
    for raw in (b"{not json", b""):
        bad = assert_problem(client.post("/v1/solve", content=raw, headers={"content-type": "application/json"}), 422)
        assert bad["errors"][0]["code"] in ("json_invalid", "missing")
    nan = assert_problem(
        client.post("/v1/solve", content=b'{"instance": NaN}', headers={"content-type": "application/json"}), 422
    )
    assert nan["errors"][0]["pointer"] == "/instance" and nan["errors"][0]["code"] == "finite_number"


def test_count_limits_reject_oversized_instances(tmp_path: Path) -> None:
    """More applications or accelerators than the server allows is a 422 naming the setting."""
    app = create_app(make_settings(tmp_path, max_applications=2, max_accelerators=1))
    with TestClient(app) as small:
        body = assert_problem(small.post("/v1/solve", json={"instance": tiny()}), 422)
        assert {(e["pointer"], e["code"]) for e in body["errors"]} == {
            ("/instance/applications", "too_many_items"),
            ("/instance/nodes", "too_many_items"),
        }
        assert "OPTPLACE_MAX_APPLICATIONS" in body["errors"][0]["message"]


def test_body_size_limit_is_413(tmp_path: Path) -> None:
    """A body above max_body_bytes gets 413, declared by Content-Length or streamed in chunks."""
    app = create_app(make_settings(tmp_path, max_body_bytes=2048))
    payload = json.dumps({"instance": tiny(), "method": "first_fit", "params": {"options": {"pad": "x" * 4000}}})
    with TestClient(app) as small:
        assert_problem(small.post("/v1/solve", content=payload, headers={"content-type": "application/json"}), 413)

        def chunks():
            for start in range(0, len(payload), 512):
                yield payload[start : start + 512].encode()

        streamed = small.post("/v1/solve", content=chunks(), headers={"content-type": "application/json"})
        assert_problem(streamed, 413)
        ok = small.post("/v1/validate", json={"instance": tiny()})
        assert ok.status_code == 200


def test_not_found_and_method_not_allowed_are_problems(client: TestClient) -> None:
    """Unknown paths are 404 and wrong verbs 405 (with Allow, HEAD included where GET is), both as problem+json."""
    assert_problem(client.get("/v2/solve"), 404)
    assert_problem(client.get("/v1/jobs/0123456789abcdef0123456789abcdef"), 404)
    response = client.put("/v1/solve", json={})
    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"
    both = client.put("/v1/jobs", json={})  # two routes share /v1/jobs: Allow lists both
    assert_problem(both, 405)
    assert both.headers["allow"] == "GET, HEAD, POST"  # HEAD wherever GET works


def test_unexpected_errors_are_500_without_a_stack_trace(tmp_path: Path) -> None:
    """An exception inside a route becomes a bare 500 problem; its text never reaches the client."""
    app = create_app(make_settings(tmp_path))

    def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.add_api_route("/v1/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as local:
        response = local.get("/v1/boom")
        body = assert_problem(response, 500)
        assert "secret" not in response.text and body["type"] == "urn:optplace:problem:internal-error"


def test_validate_reports_per_application_diagnostics(client: TestClient) -> None:
    """A valid instance gets, per application, where it could run alone or why it cannot run anywhere."""
    report = client.post("/v1/validate", json={"instance": tiny("infeasible_host_all")}).json()
    assert report["valid"] is True and report["errors"] == []
    by_app = {a["application"]: a for a in report["applications"]}
    assert by_app["slow"]["feasible_alone"] is False
    assert by_app["slow"]["reason"] == "cannot_meet_slo_alone"
    assert by_app["slow"]["best_alone_latency_ms"] > 50
    assert report["summary"]["applications"] == len(report["applications"])


def test_validate_answers_invalid_instances_with_their_errors(client: TestClient) -> None:
    """An invalid instance is a 200 report with valid false and pointers; a malformed request is 422."""
    instance = tiny()
    instance["nodes"][0]["accelerators"][0]["type"] = "tpu"
    report = client.post("/v1/validate", json={"instance": instance})
    assert report.status_code == 200
    body = report.json()
    assert body["valid"] is False
    assert body["errors"][0]["pointer"] == "/instance/nodes/0/accelerators/0/type"
    assert_problem(client.post("/v1/validate", json={"instance": instance, "method": "x"}), 422)
    assert_problem(client.post("/v1/validate", json={}), 422)


def test_evaluate_predicts_latency_and_violations(client: TestClient) -> None:
    """Two applications on one time-sliced GPU both miss their SLO, as the evaluator predicts."""
    response = client.post("/v1/evaluate", json={"instance": tiny(), "placement": {"a1": "gpu1", "a2": "gpu1"}})
    assert response.status_code == 200
    body = response.json()
    assert body["feasible"] is False
    assert {(v["code"], v["application"]) for v in body["violations"]} >= {
        ("slo_violated", "a1"),
        ("slo_violated", "a2"),
    }
    gpu1 = next(a for a in body["accelerators"] if a["accelerator"] == "gpu1")
    assert abs(gpu1["utilization"] - 0.4) < 1e-9  # 2 apps x 2 req/s x 100 ms
    a1 = next(a for a in body["applications"] if a["application"] == "a1")
    assert abs(a1["latency_ms"] - 100 / 0.6) < 1e-6  # PS: s / (1 - rho)


def test_evaluate_rejects_unknown_names_in_the_placement(client: TestClient) -> None:
    """A placement naming an unknown application or accelerator is a 422 pointing at it."""
    body = assert_problem(
        client.post("/v1/evaluate", json={"instance": tiny(), "placement": {"zz": "gpu1", "a1": "gpu9"}}), 422
    )
    assert {(e["pointer"], e["code"]) for e in body["errors"]} == {
        ("/placement/zz", "unknown_application"),
        ("/placement/a1", "unknown_accelerator"),
    }


def test_methods_lists_the_registry(client: TestClient) -> None:
    """GET /v1/methods lists every registered method with its kind."""
    from optplace.registry import list_methods

    body = client.get("/v1/methods").json()
    assert [m["name"] for m in body] == [m.name for m in list_methods()]
    assert {"first_fit", "auto", "test_sleep"} <= {m["name"] for m in body}


def test_health_reports_solvers_workers_and_store(client: TestClient) -> None:
    """Health lists solver availability and versions, live workers and job counts."""
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["store"] == "sqlite"
    assert set(body["solvers"]) == {"highspy", "pyomo", "ortools"}
    assert body["solvers"]["highspy"]["available"] is True and body["solvers"]["highspy"]["version"]
    assert body["workers"]["alive"] == body["workers"]["size"] == 2


def test_health_does_not_import_solvers(tmp_path: Path) -> None:
    """Building the app and answering health imports none of highspy, pyomo, ortools."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from optplace.api.routes.health import solver_info, SOLVERS\n"
        "from optplace.api.main import create_app\n"
        "from optplace.api.settings import Settings\n"
        f"create_app(Settings(store_url='sqlite:///{tmp_path}/j.sqlite3'))\n"
        "info = {m: solver_info(m, d) for m, d in SOLVERS.items()}\n"
        "print([m for m in ('highspy', 'pyomo', 'ortools') if m in sys.modules], info['highspy'].available)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"


def test_job_lifecycle_in_process(client: TestClient) -> None:
    """POST /v1/jobs answers 202 with Location; the job completes with the library's result."""
    response = client.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"})
    assert response.status_code == 202
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running") and job["result"] is None
    done = wait_for(lambda: (j := client.get(response.headers["location"]).json())["status"] == "completed" and j)
    assert done["result_kind"] == "final" and done["solution_status"] == "feasible"
    assert done["attempts"] == 1 and done["finished_at"] is not None
    assert {a["application"]: a["accelerator"] for a in done["result"]["assignments"]} == solve(
        tiny(), "first_fit"
    ).placement()
    again = client.post(response.headers["location"] + "/cancel")  # cancelling a finished job changes nothing
    assert again.status_code == 200 and again.json() == done


def test_cancel_keeps_the_incumbent_and_is_idempotent(client: TestClient) -> None:
    """Cancelling a running job stops it, keeps its incumbent, and a second cancel changes nothing."""
    body = {"instance": tiny(), "method": "test_sleep", "params": {"options": {"sleep_s": 60}}}
    location = client.post("/v1/jobs", json=body).headers["location"]
    wait_for(lambda: client.get(location).json()["result_kind"] == "incumbent")
    cancelled = client.post(location + "/cancel")
    assert cancelled.status_code == 200
    first = cancelled.json()
    assert first["status"] == "cancelled" and first["result_kind"] == "incumbent"
    assert first["result"]["status"] == "feasible" and first["result"]["hosted"] == 2
    assert first["result"]["stop_reason"] == "interrupted"
    second = client.post(location + "/cancel").json()
    assert second == first
    assert client.get(location).json() == first
    # the killed worker was replaced: the next solve still runs
    assert client.post("/v1/solve", json={"instance": tiny(), "method": "first_fit"}).status_code == 200
    wait_for(lambda: client.get("/v1/health").json()["workers"]["alive"] == 2)


def test_list_jobs_paginates(client: TestClient) -> None:
    """GET /v1/jobs pages newest first with next_cursor, filters by status and caps the page size."""
    for _ in range(3):
        client.post("/v1/jobs", json={"instance": tiny(), "method": "first_fit"})
    first = client.get("/v1/jobs", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get("/v1/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert not {j["id"] for j in first["items"]} & {j["id"] for j in second["items"]}
    assert "result" not in first["items"][0]
    cancelled = client.get("/v1/jobs", params={"status": "cancelled"}).json()["items"]
    assert all(j["status"] == "cancelled" for j in cancelled)
    capped = client.get("/v1/jobs", params={"limit": 1000}).json()  # cut to page_size_max
    assert len(capped["items"]) <= client.app.state.settings.page_size_max
    body = assert_problem(client.get("/v1/jobs", params={"limit": 10_000}), 422)
    assert body["errors"][0]["parameter"] == "limit" and body["errors"][0]["in"] == "query"
    assert_problem(client.get("/v1/jobs", params={"cursor": "abc"}), 422)


def test_openapi_documents_request_bodies(client: TestClient) -> None:
    """/openapi.json has every /v1 path and the request schemas the routes parse themselves."""
    schema = client.get("/openapi.json").json()
    assert {"/v1/solve", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/validate", "/v1/evaluate", "/v1/methods"} <= set(
        schema["paths"]
    )
    solve_body = schema["paths"]["/v1/solve"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert solve_body == {"$ref": "#/components/schemas/SolveRequest"}
    components = schema["components"]["schemas"]
    assert {"SolveRequest", "Instance", "SolveParams", "EvaluateRequest", "Problem"} <= set(components)
    assert components["SolveRequest"]["additionalProperties"] is False
    assert client.get("/docs").status_code == 200
