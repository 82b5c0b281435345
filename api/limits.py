"""Size limits: the request body (413) and the counts of applications, nodes and accelerators (422)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from optplace.api.errors import PROBLEM_BASE, PROBLEM_JSON, ApiProblem
from optplace.api.settings import Settings


def body_too_large(limit: int) -> ApiProblem:
    return ApiProblem(
        413,
        "body-too-large",
        "Content Too Large",
        f"the request body exceeds this server's limit of {limit} bytes (OPTPLACE_MAX_BODY_BYTES)",
    )


class BodySizeLimit:
    """Answer 413 before reading a body whose Content-Length is too large, and stop reading a
    streamed (chunked) body as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise body_too_large(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        problem = body_too_large(self.max_bytes)
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "body-too-large",
                "title": problem.title,
                "status": 413,
                "detail": problem.detail,
                "instance": scope.get("path", ""),
            },
            separators=(",", ":"),
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def count_errors(instance: Any, settings: Settings, prefix: str = "/instance") -> list[dict[str, str]]:
    """Entries for an instance (still raw JSON) with more applications, nodes or accelerators than
    the server accepts. Checked before full validation, so an oversized instance costs little."""
    if not isinstance(instance, dict):
        return []
    errors = []
    field = prefix.strip("/").replace("/", ".")

    def too_many(name: str, count: int, limit: int, setting: str, pointer: str) -> None:
        errors.append(
            {
                "field": f"{field}.{pointer}",
                "pointer": f"{prefix}/{pointer}",
                "code": "too_many_items",
                "message": f"{count} {name}; this server accepts at most {limit} ({setting})",
            }
        )

    applications = instance.get("applications")
    if isinstance(applications, list) and len(applications) > settings.max_applications:
        too_many(
            "applications", len(applications), settings.max_applications, "OPTPLACE_MAX_APPLICATIONS", "applications"
        )
    nodes = instance.get("nodes")
    if isinstance(nodes, list):
        if len(nodes) > settings.max_nodes:
            too_many("nodes", len(nodes), settings.max_nodes, "OPTPLACE_MAX_NODES", "nodes")
        accelerators = sum(
            len(n["accelerators"]) for n in nodes if isinstance(n, dict) and isinstance(n.get("accelerators"), list)
        )
        if accelerators > settings.max_accelerators:
            too_many("accelerators", accelerators, settings.max_accelerators, "OPTPLACE_MAX_ACCELERATORS", "nodes")
    return errors
