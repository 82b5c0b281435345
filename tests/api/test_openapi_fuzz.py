"""Schemathesis against the OpenAPI schema: no 5xx and no response that contradicts the schema."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from optplace.api.main import create_app
from tests.api.conftest import make_settings

TOKEN = "fuzz-token"

# The app is built at import so that schemathesis can read its schema while collecting; its
# lifespan (store, worker processes) runs only around this module's tests, in the fixture below.
app = create_app(
    make_settings(Path(tempfile.mkdtemp(prefix="optplace-fuzz-")), queue_size=64, token=TOKEN, default_time_limit_s=5)
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    """Start the app's store and worker processes for the generated requests."""
    with TestClient(app):
        yield


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_honours_its_schema(case: schemathesis.Case) -> None:
    """Every generated request gets a documented status, content type and body; never a 5xx.

    ``positive_data_acceptance`` is left out: a schema-valid instance may still be rejected with a
    422 for what JSON Schema cannot say (an application naming a model that is not declared).
    """
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[schemathesis.checks.positive_data_acceptance]
    )
