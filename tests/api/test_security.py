"""Issue 9, row by row, against a real ``optplace serve`` on loopback: every way a client could write
files, run programs, exhaust memory or time, or get a wrong answer out of the service.

Each test names its row of the issue's table. The library-level tests of rows 1, 2 and 7 are in
tests/test_options.py, of rows 5, 6, 8 and 10 in tests/test_domain.py.
"""

from __future__ import annotations

import copy
import json
import signal
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import Server, tiny, wait_for

PLUGINS = "tests.api.slow_method,tests.api.hog_method"
MEMORY_LIMIT_MB = 600


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Two workers (one kept for synchronous solves), short body and header timeouts, a 600 MB
    memory limit per solve, no token: clients are told apart by their address."""
    running = Server(
        tmp_path_factory.mktemp("security"),
        {
            "OPTPLACE_METHOD_MODULES": PLUGINS,
            "OPTPLACE_WORKERS": "2",
            "OPTPLACE_QUEUE_SIZE": "8",
            "OPTPLACE_SYNC_WAIT_S": "5",
            "OPTPLACE_BODY_TIMEOUT_S": "2",
            "OPTPLACE_HEADER_TIMEOUT_S": "2",
            "OPTPLACE_MAX_SOLVE_MEMORY_MB": str(MEMORY_LIMIT_MB),
            "OPTPLACE_MAX_ACTIVE_PER_CLIENT": "3",
        },
    )
    yield running
    running.stop()


@pytest.fixture
def http(server: Server) -> httpx.Client:
    """The server's client once both workers are alive and idle."""
    wait_for(
        lambda: (
            (w := server.http.get("/v1/health").json()["workers"])["alive"] == 2
            and w["busy"] == 0
            and w["waiting"] == 0
        ),
        timeout=120,
    )
    return server.http


def other_client(server: Server) -> httpx.Client:
    """A second client: it connects from 127.0.0.2, another address of the loopback interface."""
    return httpx.Client(base_url=server.url, timeout=30.0, transport=httpx.HTTPTransport(local_address="127.0.0.2"))


def solve_body(method: str = "first_fit", **params: Any) -> dict[str, Any]:
    return {"instance": tiny(), "method": method, "params": params}


def pointers(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text[:2000]
    assert response.headers["content-type"] == "application/problem+json"
    return {e["pointer"] for e in response.json()["errors"]}


def raw_exchange(server: Server, data: bytes, wait_s: float = 30.0) -> bytes:
    """Send ``data`` on a fresh connection, then read until the server closes it (or ``wait_s``)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait_s) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            chunks.append(b"<still open>")
        return b"".join(chunks)


# -- row 1: solver options that write files ------------------------------------------------------


def test_row1_highs_options_cannot_write_or_log_files(http: httpx.Client, tmp_path: Path) -> None:
    """write_solution_to_file + solution_file and log_file are refused with 422 at their pointers;
    the victim file is untouched and no log file appears."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    log = tmp_path / "highs.log"
    response = http.post(
        "/v1/solve",
        json=solve_body(
            "milp_highs",
            options={
                "solver_options": {"write_solution_to_file": True, "solution_file": str(victim), "log_file": str(log)}
            },
        ),
    )
    assert pointers(response) == {
        "/params/options/solver_options/write_solution_to_file",
        "/params/options/solver_options/solution_file",
        "/params/options/solver_options/log_file",
    }
    nested = {"stage_options": {"milp_highs": {"solver_options": {"log_file": str(log)}}}}
    job = http.post("/v1/jobs", json=solve_body("auto", options=nested))
    assert pointers(job) == {"/params/options/stage_options/milp_highs/solver_options/log_file"}
    assert victim.read_text() == "precious\n"
    assert not log.exists()


# -- row 2: a solver name that runs a program ----------------------------------------------------


def test_row2_pyomo_solver_name_cannot_run_a_script(http: httpx.Client, tmp_path: Path) -> None:
    """solver_name "asl:<script>" (or a path) is a 422 at /params/options/solver_name; the script never runs."""
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    for name in (f"asl:{script}", str(script)):
        response = http.post("/v1/solve", json=solve_body("milp_pyomo", options={"solver_name": name}))
        assert pointers(response) == {"/params/options/solver_name"}
    assert not marker.exists()


# -- row 3: cross-site requests and DNS rebinding ------------------------------------------------


def test_row3_text_plain_bodies_are_415_before_anything_runs(http: httpx.Client, tmp_path: Path) -> None:
    """A body a web page could send without a preflight (text/plain, a foreign Origin) is 415."""
    marker = tmp_path / "ran"
    body = json.dumps(solve_body("milp_pyomo", options={"solver_name": f"asl:{marker}"}))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        response = http.post(
            "/v1/solve", content=body, headers={"content-type": content_type, "origin": "https://evil.example"}
        )
        assert response.status_code == 415, content_type
        assert response.json()["type"] == "urn:optplace:problem:unsupported-media-type"
    assert http.post("/v1/jobs", content=body).status_code == 415  # no content type at all


def test_row3_foreign_host_headers_are_refused(http: httpx.Client) -> None:
    """A loopback server answers only to loopback names: a rebinding name gets 400, on every route."""
    for path in ("/v1/health", "/v1/methods", "/v1/jobs"):
        response = http.get(path, headers={"host": "evil.example:8000"})
        assert response.status_code == 400, path
        assert response.json()["type"] == "urn:optplace:problem:host-not-allowed"
    assert http.post("/v1/solve", json=solve_body(), headers={"host": "rebind.evil.example"}).status_code == 400
    assert http.get("/v1/health", headers={"host": f"localhost:{http.base_url.port}"}).status_code == 200


# -- row 4: a body with 700,000 invalid labels ---------------------------------------------------


def test_row4_a_huge_invalid_body_gets_a_short_answer(http: httpx.Client) -> None:
    """8 MB with 700,000 invalid labels: a short 422 (no error per label), and the server stays up."""
    instance = tiny()
    instance["nodes"][0]["labels"] = {f"k{i:x}": 10 for i in range(700_000)}
    body = json.dumps({"instance": instance, "method": "first_fit"}, separators=(",", ":"))
    assert 8_000_000 < len(body) < 10_000_000
    response = _raw_post(http, "/v1/solve", body)
    assert response.status_code == 422
    assert len(response.content) < 10_000
    assert http.get("/v1/health").json()["status"] == "ok"
    again = _raw_post(http, "/v1/validate", json.dumps({"instance": instance}, separators=(",", ":")))
    assert again.status_code == 422 and len(again.content) < 10_000


def test_row4_error_lists_are_capped_with_a_count(http: httpx.Client) -> None:
    """3,000 invalid fields: the first 100 errors are listed and error_count says 3,000."""
    instance = tiny()
    app = instance["applications"][0]
    instance["applications"] = [{**app, "name": f"a{i}", "rate_rps": "fast"} for i in range(3000)]
    body = http.post("/v1/solve", json={"instance": instance}).json()
    assert len(body["errors"]) == 100 and body["error_count"] == 3000
    report = http.post("/v1/validate", json={"instance": instance}).json()
    assert report["valid"] is False and len(report["errors"]) == 100 and report["error_count"] == 3000


# -- row 5: megabytes of names and descriptions, listings, deletion ------------------------------


def test_row5_long_names_and_descriptions_are_refused(http: httpx.Client) -> None:
    """A 9.5 MB description or a 9 MB name is a 422 at its pointer; nothing is stored."""
    before = http.get("/v1/health").json()["jobs"]
    for field, size in (("description", 9_500_000), ("name", 9_000_000)):
        instance = {**tiny(), field: "x" * size}
        response = http.post("/v1/jobs", json={"instance": instance, "method": "first_fit"})
        assert pointers(response) == {f"/instance/{field}"}
        assert len(response.content) < 10_000
    assert http.get("/v1/health").json()["jobs"] == before


def test_row5_listings_hold_summaries_and_delete_really_deletes(http: httpx.Client) -> None:
    """GET /v1/jobs carries no instance, params or result; DELETE of a completed job removes it."""
    location = http.post("/v1/jobs", json=solve_body()).headers["location"]
    done = wait_for(lambda: (j := http.get(location).json())["status"] == "completed" and j)
    listed = http.get("/v1/jobs", params={"limit": 20}).json()["items"]
    mine = next(item for item in listed if item["id"] == done["id"])
    assert not {"result", "params", "instance"} & set(mine)
    assert mine["solution_status"] == "feasible"
    deleted = http.delete(location)
    assert deleted.status_code == 200 and deleted.json()["id"] == done["id"]
    assert http.get(location).status_code == 404
    assert http.delete(location).status_code == 404
    assert done["id"] not in {j["id"] for j in http.get("/v1/jobs").json()["items"]}


def test_row5_finished_jobs_expire(start_server: Callable[..., Server]) -> None:
    """With OPTPLACE_JOB_TTL_S=2 a completed job is gone a little after it ended."""
    short = start_server({"OPTPLACE_JOB_TTL_S": "2", "OPTPLACE_WORKERS": "1"})
    location = short.http.post("/v1/jobs", json=solve_body()).headers["location"]
    wait_for(lambda: short.http.get(location).json()["status"] == "completed")
    wait_for(lambda: short.http.get(location).status_code == 404, timeout=60)


# -- row 6: lone surrogates and deep nesting -----------------------------------------------------


def _raw_post(http: httpx.Client, path: str, text: str) -> httpx.Response:
    return http.post(path, content=text.encode(), headers={"content-type": "application/json"})


def test_row6_lone_surrogates_are_422_with_a_pointer(http: httpx.Client) -> None:
    """ "\\ud800" in a name, in provenance or in a placement key is a 422 pointing at it, never a 500;
    the connection keeps working."""
    instance = json.dumps(tiny())
    app_name = tiny()["applications"][0]["name"]
    named = instance.replace(f'"{app_name}"', '"cam\\ud800"', 1)
    cases = {
        "/v1/solve": (f'{{"instance": {named}, "method": "first_fit"}}', "/instance/applications/0/name"),
        "/v1/jobs": (
            f'{{"instance": {instance[:-1]}, "provenance": {{"note": "\\ud800"}}}}}}',
            "/instance/provenance/note",
        ),
        "/v1/evaluate": (f'{{"instance": {instance}, "placement": {{"\\udc00x": "gpu0"}}}}', "/placement/\ufffdx"),
    }
    for path, (text, pointer) in cases.items():
        response = _raw_post(http, path, text)
        assert response.status_code == 422, (path, response.text[:500])
        assert pointer in pointers(response), path
    assert http.get("/v1/health").status_code == 200  # same keep-alive client, still answering


def test_row6_deep_nesting_is_422_with_a_pointer(http: httpx.Client) -> None:
    """Provenance nested 200 deep is a 422 at /instance/provenance; a body nested 1,000 deep is a 422."""
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(25):
        node["x"] = {}
        node = node["x"]
    response = http.post("/v1/solve", json={"instance": {**tiny(), "provenance": deep}})
    assert pointers(response) == {"/instance/provenance"}
    text = '{"instance": {"provenance": ' + '{"a": ' * 200 + "1" + "}" * 200 + "}}"
    assert _raw_post(http, "/v1/solve", text).status_code == 422
    text = '{"instance": ' + "[" * 1000 + "]" * 1000 + "}"
    response = _raw_post(http, "/v1/solve", text)
    assert response.status_code == 422 and "nested deeper" in response.json()["errors"][0]["message"]
    assert http.get("/v1/health").status_code == 200


# -- row 7: bad method options -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params", "pointer"),
    [
        ("ordered_first_fit", {"options": {"order": "bogus"}}, "/params/options/order"),
        ("local_search", {"options": {"max_rounds": "abc"}}, "/params/options/max_rounds"),
        ("knapsack_utilization", {"options": {"fit": "bogus"}}, "/params/options/fit"),
        ("local_search", {"options": {"initial_placement": {"ghost": "gpu0"}}}, "/params/options/initial_placement"),
        ("first_fit", {"options": {"unknown_key": 1}}, "/params/options/unknown_key"),
        ("milp_highs", {"options": {"refine_rounds": True}}, "/params/options/refine_rounds"),
        ("first_fit", {"seed": 2**40}, "/params/seed"),
        ("first_fit", {"threads": 2**40}, "/params/threads"),
    ],
)
def test_row7_bad_options_are_422_at_their_pointer(http: httpx.Client, method: str, params: dict, pointer: str) -> None:
    """Each bad option is a 422 naming /params/options/<key> (or /params/seed, /params/threads), for
    synchronous solves and for jobs alike; nothing runs."""
    for path in ("/v1/solve", "/v1/jobs"):
        response = http.post(path, json={"instance": tiny(), "method": method, "params": params})
        assert pointers(response) == {pointer}, path


# -- row 8: map keys with '.', '/', '~', ': ' or nothing ------------------------------------------


def test_row8_pointers_escape_keys_exactly(http: httpx.Client) -> None:
    """Unknown keys of cost_by_accelerator and profiles get RFC 6901 pointers of the exact key."""
    instance = tiny()
    keys = ["gpu.1", "a/b", "x~y", "k: v", ""]
    instance["applications"][0]["cost_by_accelerator"] = {k: 1.0 for k in keys}
    instance["models"][0]["profiles"].update({k: {"service_time_ms": 5.0} for k in keys})
    found = pointers(http.post("/v1/solve", json={"instance": instance}))
    for key in keys:
        token = key.replace("~", "~0").replace("/", "~1")
        assert f"/instance/applications/0/cost_by_accelerator/{token}" in found
        assert f"/instance/models/0/profiles/{token}" in found


# -- row 9: one client's long jobs must not starve another's solves -------------------------------


def test_row9_another_clients_sync_solve_is_not_starved(server: Server, http: httpx.Client) -> None:
    """Client A runs two long jobs; client B's synchronous solve still gets a worker (200, not 503)."""
    jobs = [http.post("/v1/jobs", json=solve_body("test_sleep", options={"sleep_s": 60})) for _ in range(2)]
    assert [j.status_code for j in jobs] == [202, 202]
    wait_for(lambda: any(http.get(j.headers["location"]).json()["status"] == "running" for j in jobs))
    with other_client(server) as b:
        response = b.post("/v1/solve", json=solve_body())
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "feasible"
    for job in jobs:
        http.delete(job.headers["location"])


def test_row9_one_client_has_a_bounded_number_of_solves_in_flight(server: Server, http: httpx.Client) -> None:
    """Beyond OPTPLACE_MAX_ACTIVE_PER_CLIENT (3 here) a client gets 429 with Retry-After; others do not."""
    locations = []
    for _ in range(3):
        created = http.post("/v1/jobs", json=solve_body("test_sleep", options={"sleep_s": 60}))
        assert created.status_code == 202
        locations.append(created.headers["location"])
    refused = http.post("/v1/jobs", json=solve_body("test_sleep", options={"sleep_s": 60}))
    assert refused.status_code == 429 and refused.headers["retry-after"].isdigit()
    with other_client(server) as b:
        accepted = b.post("/v1/jobs", json=solve_body())
        assert accepted.status_code == 202
        b.delete(accepted.headers["location"])
    for location in locations:
        http.delete(location)


# -- row 10: strict numbers ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, "2"])
def test_row10_booleans_and_strings_are_not_numbers(http: httpx.Client, value: Any) -> None:
    """rate_rps: true or "2" is a 422 at /instance/applications/0/rate_rps."""
    instance = tiny()
    instance["applications"][0]["rate_rps"] = value
    assert pointers(http.post("/v1/solve", json={"instance": instance})) == {"/instance/applications/0/rate_rps"}


def test_row10_nan_is_reported_at_its_field(http: httpx.Client) -> None:
    """A NaN (or Infinity) literal is a 422 at the field that holds it, not at the body."""
    instance = tiny()
    instance["applications"][0]["rate_rps"] = "@"
    text = json.dumps({"instance": instance, "method": "first_fit"}).replace('"@"', "NaN")
    assert pointers(_raw_post(http, "/v1/solve", text)) == {"/instance/applications/0/rate_rps"}
    text = json.dumps(solve_body(time_limit_s="@")).replace('"@"', "Infinity")
    assert pointers(_raw_post(http, "/v1/solve", text)) == {"/params/time_limit_s"}


# -- row 11: HEAD, long paths, half-sent bodies ---------------------------------------------------


def test_row11_head_works_wherever_get_does(http: httpx.Client) -> None:
    """HEAD /v1/health, /v1/methods and /v1/jobs answer 200 with headers and no body."""
    for path in ("/v1/health", "/v1/methods", "/v1/jobs"):
        head = http.head(path)
        assert head.status_code == 200, path
        assert head.content == b"" and int(head.headers["content-length"]) > 0


def test_row11_unknown_paths_are_echoed_briefly(http: httpx.Client) -> None:
    """A 5,000-character unknown path gets a short 404; a 65 KB one gets 414."""
    response = http.get("/v1/" + "a" * 5000)
    assert response.status_code == 404 and len(response.content) < 1000
    assert http.get("/v1/" + "a" * 65_000).status_code == 414


def test_row11_half_sent_bodies_time_out(server: Server) -> None:
    """Connections that send half a body and stall are answered 408 and closed within the body timeout."""
    head = (
        f"POST /v1/solve HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    answers: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: answers.append(raw_exchange(server, head + b'{"instance": {')))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 20
    assert all(a.startswith(b"HTTP/1.1 408") and not a.endswith(b"<still open>") for a in answers), answers[0][:300]


def test_row11_trickled_headers_time_out(server: Server) -> None:
    """A connection whose headers never complete is closed within the header timeout."""
    answer = raw_exchange(server, b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    assert not answer.endswith(b"<still open>")


# -- row 12: honest stop reasons of incumbents -----------------------------------------------------


def test_row12_incumbents_of_running_and_cancelled_jobs_are_not_completed(http: httpx.Client) -> None:
    """A running job's incumbent says interrupted, and so does it after the job is cancelled."""
    location = http.post("/v1/jobs", json=solve_body("test_sleep", options={"sleep_s": 60})).headers["location"]
    running = wait_for(lambda: (j := http.get(location).json())["result_kind"] == "incumbent" and j)
    assert running["status"] == "running" and running["result"]["stop_reason"] == "interrupted"
    cancelled = http.post(location + "/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["result"]["stop_reason"] == "interrupted"
    http.delete(location)


def test_row12_an_interrupted_jobs_incumbent_says_so(start_server: Callable[..., Server]) -> None:
    """A job interrupted by a server stop keeps an incumbent marked interrupted, not completed."""
    first = start_server({"OPTPLACE_WORKERS": "1"})
    location = first.http.post("/v1/jobs", json=solve_body("test_sleep", options={"sleep_s": 60})).headers["location"]
    wait_for(lambda: first.http.get(location).json()["result_kind"] == "incumbent")
    first.stop(signal.SIGKILL)
    second = start_server({"OPTPLACE_WORKERS": "1"})
    job = second.http.get(location).json()
    assert job["result_kind"] == "incumbent" and job["result"]["stop_reason"] == "interrupted"
    second.http.delete(location)


# -- row 13: memory --------------------------------------------------------------------------------


def test_row13_a_solve_beyond_the_memory_limit_is_stopped(http: httpx.Client) -> None:
    """A solve taking 1,500 MB under a 600 MB limit is stopped with stop_reason memory_limit, keeping
    its incumbent, both synchronously and as a job; the worker is replaced."""
    response = http.post("/v1/solve", json=solve_body("test_hog", time_limit_s=60))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["stop_reason"] == "memory_limit" and result["status"] == "feasible" and result["hosted"] == 2
    assert f"memory limit of {MEMORY_LIMIT_MB} MB" in result["message"]
    location = http.post("/v1/jobs", json=solve_body("test_hog", time_limit_s=60)).headers["location"]
    job = wait_for(lambda: (j := http.get(location).json())["status"] == "completed" and j, timeout=120)
    assert job["result"]["stop_reason"] == "memory_limit" and job["result_kind"] == "final"
    wait_for(lambda: http.get("/v1/health").json()["workers"]["alive"] == 2, timeout=120)


# -- the shipped instances still load through the hardened edge ------------------------------------


def test_shipped_tiny_instances_still_solve(http: httpx.Client) -> None:
    """Strict types and caps keep every shipped tiny instance valid over HTTP."""
    root = Path(__file__).resolve().parents[2] / "instances" / "tiny"
    for path in sorted(root.glob("*.json")):
        instance = json.loads(path.read_text())
        response = http.post("/v1/validate", json={"instance": copy.deepcopy(instance)})
        assert response.status_code == 200 and response.json()["valid"], path.name
