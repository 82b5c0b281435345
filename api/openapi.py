"""The OpenAPI document: FastAPI's, plus the request-body schemas the routes parse themselves.

The routes read their bodies through :mod:`optplace.api.requests` (for JSON pointers into the
body), so FastAPI does not see the request models; :func:`json_body` declares them per route
and :func:`install` adds their JSON Schemas to ``components.schemas``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from optplace.api.errors import PROBLEM_JSON
from optplace.api.schemas import REQUEST_MODELS, Problem

REF = "#/components/schemas/{model}"


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``model``."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
    }


def problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model=Problem.__name__)}}},
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Documented problem responses for a route."""
    text = {
        400: "The Host header is not one this server answers to (OPTPLACE_ALLOWED_HOSTS).",
        401: "Missing or wrong bearer token (only when the server has a token).",
        404: "No such job (GET /v1/extender/plan: no plan is set).",
        408: "The request body did not arrive within OPTPLACE_BODY_TIMEOUT_S.",
        413: "The request body is larger than OPTPLACE_MAX_BODY_BYTES.",
        414: "The request target is longer than OPTPLACE_MAX_URL_CHARS.",
        415: "A request body that is not application/json.",
        422: "Invalid request: one entry per field error (the first OPTPLACE_MAX_ERRORS, with error_count), "
        "each with a JSON pointer and a code.",
        429: "This client already has OPTPLACE_MAX_ACTIVE_PER_CLIENT solves and jobs in flight; see Retry-After.",
        500: "Unexpected server error, or a solve that failed (no stack trace is ever included).",
        503: "Every worker is busy and the queue is full, or the server is stopping; see Retry-After.",
    }
    return {status: problem(text[status]) for status in statuses}


# Answers the request guard (optplace.api.guard) can give on any route, and on any route with a body.
GUARD_ANY = (400, 414)
GUARD_BODY = (408, 413, 415, 422)


def add_guard_responses(schema: dict[str, Any]) -> None:
    """Document the guard's answers on every operation, so that routes need not list them."""
    for operations in schema.get("paths", {}).values():
        for verb, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = GUARD_ANY + (GUARD_BODY if verb in ("post", "put", "patch") else ())
            for status, entry in problems(*statuses).items():
                responses.setdefault(str(status), entry)


def add_examples(schema: dict[str, Any]) -> None:
    """An example on every request and response body that has none: by the body's schema (a
    component, or an array of one), and for problem documents by status (:mod:`optplace.api.examples`)."""
    from optplace.api.examples import examples, problem_example

    by_schema = examples()

    def example_of(body_schema: dict[str, Any]) -> Any:
        ref = body_schema.get("$ref") or body_schema.get("items", {}).get("$ref")
        name = ref.rsplit("/", 1)[-1] if ref else None
        if name not in by_schema:
            return None
        return [by_schema[name]] if "$ref" not in body_schema else by_schema[name]

    for path, operations in schema.get("paths", {}).items():
        for verb, operation in operations.items():
            bodies: list[tuple[int | None, dict[str, Any]]] = [(None, operation.get("requestBody", {}))]
            bodies += [(int(status), r) for status, r in operation.get("responses", {}).items() if status.isdigit()]
            for status, body in bodies:
                for media_type, content in body.get("content", {}).items():
                    if "example" in content or "examples" in content:
                        continue
                    if media_type == PROBLEM_JSON and status is not None:
                        if (problem := problem_example(verb, path, status)) is not None:
                            content["example"] = problem
                    elif (value := example_of(content.get("schema", {}))) is not None:
                        content["example"] = value


def _without_defaults(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_defaults(v) for k, v in schema.items() if k != "default"}
    if isinstance(schema, list):
        return [_without_defaults(v) for v in schema]
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        models = [(m, "validation") for m in REQUEST_MODELS] + [(Problem, "serialization")]
        _, defs = models_json_schema(models, ref_template=REF)  # type: ignore[arg-type]
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in defs.get("$defs", {}).items():
            if name in components:
                # FastAPI leaves out "default": null in output schemas; anything else must agree.
                if _without_defaults(components[name]) != _without_defaults(definition):
                    raise RuntimeError(f"OpenAPI component {name!r} differs between a request and a response model")
                continue
            components[name] = definition
        add_guard_responses(schema)
        add_examples(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
