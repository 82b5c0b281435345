"""The OpenAPI document teaches: an example on every body, a description on every property, the
bearer scheme exactly where the token is enforced; /docs and /redoc work offline on a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from optplace.api.examples import JOB_ID
from optplace.api.main import create_app
from tests.api.conftest import make_settings

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def token_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An in-process app that requires a bearer token."""
    app = create_app(make_settings(tmp_path_factory.mktemp("docs"), token=TOKEN))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def bodies(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every request and response body of the document: (where, media type object)."""
    for path, operations in schema["paths"].items():
        for verb, operation in operations.items():
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                yield f"{verb} {path} request {media_type}", content
            for status, response in operation.get("responses", {}).items():
                for media_type, content in response.get("content", {}).items():
                    yield f"{verb} {path} {status} {media_type}", content


def test_every_body_has_an_example_and_every_property_a_description(token_client):
    """No request or response body lacks an example, and no schema property lacks a description."""
    schema = token_client.get("/openapi.json").json()
    without_example = [where for where, content in bodies(schema) if "example" not in content]
    undescribed = [
        f"{name}.{prop}"
        for name, component in schema["components"]["schemas"].items()
        for prop, definition in component.get("properties", {}).items()
        if not definition.get("description")
    ]
    assert len(list(bodies(schema))) > 80  # the walk sees the whole API
    assert not without_example, without_example
    assert not undescribed, undescribed
    assert len(schema["components"]["schemas"]["SolveResult"]["properties"]) >= 24


def test_examples_are_valid_for_their_schemas(token_client):
    """Each example validates against the JSON Schema of its body (so the examples cannot drift)."""
    schema = token_client.get("/openapi.json").json()
    checked = 0
    for where, content in bodies(schema):
        document = {**content["schema"], "components": schema["components"]}
        try:
            jsonschema.Draft202012Validator(document).validate(content["example"])
        except jsonschema.ValidationError as error:
            pytest.fail(f"{where}: {error.message} at {list(error.absolute_path)}")
        checked += 1
    assert checked > 80


def test_descriptions_come_from_the_library_models(token_client):
    """A SolveResult field's description in the service is the library model's (one place)."""
    from optplace.result import SolveResult

    schema = token_client.get("/openapi.json").json()
    for field in ("gap", "stop_reason", "unplaced", "deterministic"):
        shown = schema["components"]["schemas"]["SolveResult"]["properties"][field]["description"]
        assert shown == SolveResult.model_fields[field].description


def call(client: TestClient, verb: str, path: str, headers: dict[str, str] | None = None) -> int:
    """Status of ``verb path`` with an empty JSON object as body where the verb takes one."""
    url = path.replace("{job_id}", JOB_ID)
    body = {"json": {}} if verb in ("post", "put", "patch") else {}
    return client.request(verb.upper(), url, headers=headers, **body).status_code


def test_bearer_scheme_is_declared_exactly_where_the_token_is_enforced(token_client):
    """With a token, operations that answer 401 without it declare the bearer scheme, the others none."""
    schema = token_client.get("/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]
    assert [s for s in scheme.values() if s == {**s, "type": "http", "scheme": "bearer"}]
    declared, enforced = set(), set()
    for path, operations in schema["paths"].items():
        for verb, operation in operations.items():
            if operation.get("security"):
                declared.add((verb, path))
            if call(token_client, verb, path) == 401:
                enforced.add((verb, path))
    assert declared == enforced
    assert ("get", "/v1/health") not in declared and ("post", "/v1/extender/filter") not in declared
    assert ("post", "/v1/solve") in declared
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert all(call(token_client, verb, path, auth) != 401 for verb, path in declared)


def test_no_bearer_scheme_without_a_token(client):
    """A server without a token declares no security at all (nothing is enforced)."""
    schema = client.get("/openapi.json").json()
    assert "securitySchemes" not in schema.get("components", {})
    assert not [op for ops in schema["paths"].values() for op in ops.values() if op.get("security")]


ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']|url: *["']([^"']+)["']|spec-url=["']([^"']+)["']""")


def urls_in(html: str) -> list[str]:
    return [next(g for g in match.groups() if g) for match in ASSET.finditer(html)]


@pytest.mark.slow
def test_docs_pages_load_only_local_assets_from_a_real_server(start_server, tmp_path: Path):
    """/docs and /redoc reference only this server's URLs, each served (200), with the guard in front."""
    server = start_server({"OPTPLACE_TOKEN": TOKEN, "OPTPLACE_ALLOWED_HOSTS": "127.0.0.1,localhost"})
    http = server.http
    for page, needed in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        answer = http.get(page)  # open like /v1/health: no token sent
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        html = answer.text
        assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html, page
        urls = urls_in(html)
        assert any(u.endswith(needed) for u in urls) and "/openapi.json" in urls, urls
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url
            served = http.get(url)
            assert served.status_code == 200 and len(served.content) > 100, url
        assert http.head(page).status_code == 200
        # the guard still answers first: an unknown Host is refused on the pages and the assets
        assert http.get(page, headers={"Host": "evil.example"}).status_code == 400
        assert http.get(urls[0], headers={"Host": "evil.example"}).status_code == 400
    assert http.get("/openapi.json").json()["components"]["securitySchemes"]
    assert http.get("/v1/methods").status_code == 401  # the token still guards the API


@pytest.mark.parametrize(
    "path",
    [
        "/docs-assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/docs-assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/docs-assets/%2fetc%2fpasswd",
    ],
)
def test_the_docs_assets_route_serves_no_file_outside_its_folder(client, path):
    """A request path under /docs-assets cannot climb out of the packaged asset folder."""
    response = client.get(path)
    assert response.status_code == 404 and b"root:" not in response.content
