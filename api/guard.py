"""The request guard: checks every HTTP request before any route runs, so that every route, old
or new, gets them without code of its own.

In order, answering with a problem document and never calling the app when a check fails:

1. ``Host`` must be on the allow-list (``Settings.host_allow_list``): 400. A page on another site
   cannot reach a loopback server through DNS rebinding.
2. The request target is at most ``max_url_chars`` long: 414.
3. ``HEAD`` is served as ``GET`` without the body.
4. A request with a body (or any POST, PUT, PATCH) must say ``Content-Type: application/json``
   (charset utf-8 or none): 415, before a byte of the body is read. A web page can send
   ``text/plain`` across origins without a CORS preflight; it cannot send JSON.
5. ``Content-Length`` above ``max_body_bytes``: 413 at once. The body is then read here, with the
   same limit while it streams (413) and a deadline, ``body_timeout_s`` after the request started
   (408): a client that sends half a body and stalls loses its connection.
6. A JSON body must be nested at most ``max_json_depth`` levels and hold at most
   ``max_json_values`` values (:func:`~optplace.api.limits.json_structure_problem`, off the event
   loop): 422. Only then does a route parse it (:mod:`optplace.api.requests`).

Answers 408, 413 and 414 close the connection. :class:`HeaderTimeoutH11Protocol` adds the one
check an ASGI app cannot make: request headers must arrive within ``header_timeout_s``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from optplace.api.errors import PROBLEM_BASE, PROBLEM_JSON, printable
from optplace.api.limits import json_structure_problem
from optplace.api.settings import Settings

BODY_METHODS = {"POST", "PUT", "PATCH"}
INLINE_SCAN_BYTES = 65_536


def host_name(value: str) -> str:
    """``Host`` without its port: ``[::1]:8000`` -> ``::1``, ``example.org:80`` -> ``example.org``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(value: str | None, allowed: list[str]) -> bool:
    if "*" in allowed:
        return True
    if not value:
        return False
    value = value.strip().lower()
    return value in allowed or host_name(value) in allowed


def is_json(content_type: str) -> bool:
    media, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media != "application/json":
        return False
    charsets = [p.split("=", 1)[1].strip('"') for p in parameters if p.startswith("charset=")]
    return all(c in ("utf-8", "utf8") for c in charsets)


def problem_bytes(status: int, kind: str, title: str, detail: str, path: str, errors: list | None = None) -> bytes:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": printable(path),
    }
    if errors is not None:
        body["errors"] = errors
        body["error_count"] = len(errors)
    return json.dumps(body, separators=(",", ":")).encode()


async def send_problem(send: Send, scope: Scope, status: int, kind: str, title: str, detail: str, **extra: Any) -> None:
    """Answer a request from the guard (no route ran); ``close`` ends the connection afterwards."""
    close = extra.pop("close", False)
    headers = extra.pop("headers", {})
    body = problem_bytes(status, kind, title, detail, scope.get("path", ""), **extra)
    raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})


class RequestGuard:
    """Pure ASGI middleware (it sees the raw stream, so nothing is buffered before its checks)."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings
        self.allowed_hosts = settings.host_allow_list()
        self.scans = anyio.CapacityLimiter(settings.parse_concurrency)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        started = asyncio.get_running_loop().time()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        if not host_allowed(headers.get("host"), self.allowed_hosts):
            await send_problem(
                send,
                scope,
                400,
                "host-not-allowed",
                "Bad Request",
                "this server does not answer to that Host header; the operator lists the names it answers to "
                "in OPTPLACE_ALLOWED_HOSTS",
            )
            return
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if target > settings.max_url_chars:
            await send_problem(
                send,
                scope,
                414,
                "uri-too-long",
                "URI Too Long",
                f"the request target is {target} characters; at most {settings.max_url_chars}",
                close=True,
            )
            return
        if scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        declared = headers.get("content-length")
        chunked = "transfer-encoding" in headers
        has_body = chunked or (declared is not None and declared.strip() not in ("", "0"))
        if not (has_body or scope["method"] in BODY_METHODS):
            await self.app(scope, receive, send)
            return
        if has_body and not is_json(headers.get("content-type", "")):
            await send_problem(
                send,
                scope,
                415,
                "unsupported-media-type",
                "Unsupported Media Type",
                "request bodies must be JSON: send 'Content-Type: application/json' (UTF-8)",
                headers={"Accept-Post": "application/json"},
                close=True,
            )
            return
        if declared is not None and declared.strip().isdigit() and int(declared) > settings.max_body_bytes:
            await _too_large(send, scope, settings.max_body_bytes)
            return
        body = await self._read_body(scope, receive, send, started)
        if body is None:
            return
        if body:
            limits = (body, settings.max_json_depth, settings.max_json_values)
            problem = (
                json_structure_problem(*limits)  # microseconds: not worth a thread hop
                if len(body) <= INLINE_SCAN_BYTES
                else await anyio.to_thread.run_sync(json_structure_problem, *limits, limiter=self.scans)
            )
            if problem is not None:
                entry = {"field": "", "pointer": "", "code": "json_too_large", "message": problem}
                await send_problem(
                    send, scope, 422, "invalid-request", "Invalid request", problem, errors=[entry], close=True
                )
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send, started: float) -> bytes | None:
        """The whole body, or None after answering 408 or 413 (the limit, the deadline)."""
        settings = self.settings
        loop = asyncio.get_running_loop()
        deadline = started + settings.body_timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                await send_problem(
                    send,
                    scope,
                    408,
                    "body-timeout",
                    "Request Timeout",
                    f"the request body did not arrive within {settings.body_timeout_s:g} s (OPTPLACE_BODY_TIMEOUT_S)",
                    close=True,
                )
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > settings.max_body_bytes:
                await _too_large(send, scope, settings.max_body_bytes)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def _too_large(send: Send, scope: Scope, limit: int) -> None:
    await send_problem(
        send,
        scope,
        413,
        "body-too-large",
        "Content Too Large",
        f"the request body exceeds this server's limit of {limit} bytes (OPTPLACE_MAX_BODY_BYTES)",
        close=True,
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the real stream (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _without_body(send: Send) -> Send:
    """For HEAD: the GET answer's status and headers (Content-Length included), no body."""

    async def head(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return head


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not complete within
    ``header_timeout_s`` of its opening or of the previous response (uvicorn has no such limit, so
    a client trickling header bytes could hold a connection forever). Subclass it with the value:
    ``type("P", (HeaderTimeoutH11Protocol,), {"header_timeout_s": 10.0})``."""

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_headers(self.cycle)

    def on_response_complete(self) -> None:
        finished = self.cycle  # read before uvicorn starts a pipelined request, if one is buffered
        super().on_response_complete()
        self._watch_headers(finished)

    def _watch_headers(self, finished: object) -> None:
        """Close the connection unless a request after ``finished`` has started by the deadline."""

        def expire() -> None:
            if self.cycle is finished and not self.transport.is_closing():
                self.transport.close()

        self.loop.call_later(self.header_timeout_s, expire)
