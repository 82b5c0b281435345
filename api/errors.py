"""RFC 9457 problem details (``application/problem+json``) for every 4xx and 5xx answer.

A problem has ``type`` (a URN naming the kind of problem, or ``about:blank`` for plain HTTP
errors), ``title``, ``status``, ``detail`` and ``instance`` (the request path). Validation
problems add ``errors``: one entry per field error, each with ``field`` (dotted), ``pointer`` (an
RFC 6901 JSON pointer into the request body), a stable ``code`` and a ``message``; at most
``max_errors`` entries, with ``error_count`` giving the total. No stack trace or exception text
from an unexpected error ever reaches a client.

Whatever a problem echoes from the request (its path, a key in a pointer) goes through
:func:`printable`: at most :data:`MAX_ECHO_CHARS` characters, a lone surrogate replaced by U+FFFD,
so that an answer is always short and always valid UTF-8.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from optplace.io import dotted, json_pointer

log = logging.getLogger("optplace.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:optplace:problem:"
MAX_ECHO_CHARS = 200
_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """``text`` as a problem may echo it: valid UTF-8 (lone surrogates -> U+FFFD) and at most
    ``limit`` characters (cut with an ellipsis)."""
    text = _SURROGATE.sub("\ufffd", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def printable_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A field error with every echoed string made printable (pointers may hold request keys)."""
    return {k: printable(v, 1000) if isinstance(v, str) else v for k, v in entry.items()}


class ApiProblem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        kind: str,
        title: str,
        detail: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        error_count: int | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail or title)
        self.status = status
        self.type = kind if kind == "about:blank" else PROBLEM_BASE + kind
        self.title = title
        self.detail = detail
        self.errors = errors
        self.error_count = error_count
        self.headers = headers or {}


def invalid_request(
    errors: list[dict[str, Any]], detail: str | None = None, *, total: int | None = None, limit: int = 100
) -> ApiProblem:
    """422 with one entry per field error: the first ``limit``, and ``total`` counting all."""
    count = max(len(errors), total or 0)
    shown = errors[:limit]
    listed = "see errors" if count == len(shown) else f"the first {len(shown)} are listed in errors"
    return ApiProblem(
        422,
        "invalid-request",
        "Invalid request",
        detail or f"the request has {count} invalid field{'s' if count != 1 else ''}; {listed}",
        errors=shown,
        error_count=count,
    )


def problem_response(request: Request, problem: ApiProblem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": printable(problem.detail, 2000),
        "instance": printable(request.url.path),
    }
    if problem.errors is not None:
        body["errors"] = [printable_entry(e) for e in problem.errors]
        body["error_count"] = problem.error_count if problem.error_count is not None else len(problem.errors)
    return JSONResponse(body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_JSON)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def allowed_methods(request: Request) -> list[str]:
    """Every method some route accepts on this path (Starlette's 405 lists only one route's)."""
    path = request.url.path
    methods: set[str] = set()
    for pattern, route_methods in getattr(request.app.state, "route_methods", []):
        if pattern.match(path):
            methods |= route_methods
    return sorted(methods)


def index_routes(app: FastAPI, routers: list[tuple[str, APIRouter]]) -> None:
    """Remember (path regex, methods) of every route, for the Allow header of a 405."""
    index = app.state.route_methods = []
    for prefix, router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                methods = set(route.methods or ())
                if "GET" in methods:
                    methods.add("HEAD")  # served by the request guard (optplace.api.guard)
                index.append((compile_path(prefix + route.path)[0], methods))


def install(app: FastAPI) -> None:
    """Route every error FastAPI or Starlette can raise through :func:`problem_response`."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(request, exc)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else _phrase(exc.status_code)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {printable(request.url.path)}; the API lives under /v1 (see /docs)"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {printable(request.url.path)}"
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(
            request, ApiProblem(exc.status_code, "about:blank", _phrase(exc.status_code), detail, headers=headers)
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for item in exc.errors():
            loc = tuple(item.get("loc", ()))
            where, rest = (loc[0], loc[1:]) if loc else ("body", ())
            name = dotted(rest)
            entry: dict[str, Any] = {
                "field": name,
                "pointer": json_pointer(rest) if where == "body" else "",
                "code": str(item.get("type", "invalid")),
                "message": str(item.get("msg", "")),
            }
            if where != "body":
                entry["parameter"] = name
                entry["in"] = str(where)
            errors.append(entry)
        limit = request.app.state.settings.max_errors
        return problem_response(request, invalid_request(errors, limit=limit))

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            request,
            ApiProblem(
                500,
                "internal-error",
                "Internal Server Error",
                "the server failed to answer this request; the error is logged on the server",
            ),
        )

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(Exception, on_unexpected)
