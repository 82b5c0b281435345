"""verify="simulate" over HTTP: params travel as JSON, the server bounds the simulation work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from optplace.api.main import create_app
from tests.api.conftest import make_settings, tiny

SERVER_CAP = 20_000


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app whose operator allows at most 20,000 simulated requests per verification."""
    settings = make_settings(tmp_path_factory.mktemp("verify"), max_verify_requests=SERVER_CAP)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_solve_with_verify_simulate_returns_the_verdicts(client: TestClient) -> None:
    """POST /v1/solve with verify=simulate answers one simulated verdict per hosted application."""
    params = {"verify": "simulate", "simulation": {"requests_per_accelerator": 2_000}}
    response = client.post("/v1/solve", json={"instance": tiny(), "method": "first_fit", "params": params})
    assert response.status_code == 200, response.text
    body = response.json()
    hosted = {a["application"] for a in body["assignments"]}
    assert hosted and {a["application"] for a in body["simulation"]["applications"]} == hosted
    assert {a["verdict"] for a in body["simulation"]["applications"]} <= {"meets", "borderline", "sure_violation"}
    assert body["simulation"]["requests_simulated"] > 0


def test_the_server_caps_the_simulation_work(client: TestClient) -> None:
    """A request asking for more simulated requests than the server allows is cut to the server's cap."""
    params = {"verify": "simulate", "simulation": {"requests_per_accelerator": 1_000_000, "max_requests": 10_000_000}}
    body = client.post("/v1/solve", json={"instance": tiny(), "method": "first_fit", "params": params}).json()
    assert body["params"]["simulation"]["max_requests"] == SERVER_CAP
    assert body["simulation"]["capped"] is True
    assert body["simulation"]["requests_simulated"] <= SERVER_CAP * 1.05


def test_bad_simulation_settings_point_at_the_field(client: TestClient) -> None:
    """An out-of-range simulation setting is a 422 whose pointer names it."""
    params = {"verify": "simulate", "simulation": {"requests_per_accelerator": 10}}
    response = client.post("/v1/solve", json={"instance": tiny(), "params": params})
    assert response.status_code == 422
    pointers = [e.get("pointer") for e in response.json().get("errors", [])]
    assert "/params/simulation/requests_per_accelerator" in pointers, response.text
