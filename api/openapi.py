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
        401: "Missing or wrong bearer token (only when the server has a token).",
        404: "No such job.",
        413: "The request body is larger than OPTPLACE_MAX_BODY_BYTES.",
        422: "Invalid request: one entry per field error, each with a JSON pointer and a code.",
        500: "Unexpected server error, or a solve that failed (no stack trace is ever included).",
        503: "Every worker is busy and the queue is full, or the server is stopping; see Retry-After.",
    }
    return {status: problem(text[status]) for status in statuses}


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
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
