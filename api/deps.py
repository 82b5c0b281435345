"""FastAPI dependencies: the settings, the solve service, the caller's identity and the
bearer-token check."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from optplace.api.errors import ApiProblem
from optplace.api.service import SolveService
from optplace.api.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_service(request: Request) -> SolveService:
    return request.app.state.service


def client_key(request: Request) -> str:
    """Who is calling, for the per-client limits: the bearer token when the server has one (as a
    hash, so no secret reaches the store or the logs), else the peer address. Behind a reverse
    proxy every caller has the proxy's address: give each client its own token there, or limit
    per client in the proxy."""
    settings: Settings = request.app.state.settings
    if settings.token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return "token:" + hashlib.sha256(given.encode()).hexdigest()[:16]
    return "peer:" + (request.client.host if request.client is not None else "unknown")


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[SolveService, Depends(get_service)]
ClientDep = Annotated[str, Depends(client_key)]

_bearer = HTTPBearer(auto_error=False, description="Set when the server runs with OPTPLACE_TOKEN.")


def require_token(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """401 unless the request carries ``Authorization: Bearer <OPTPLACE_TOKEN>``."""
    token = settings.token
    if token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise ApiProblem(
            401,
            "unauthorized",
            "Unauthorized",
            "this server requires 'Authorization: Bearer <token>' (the token set by OPTPLACE_TOKEN)"
            if credentials is None
            else "the bearer token is not valid",
            headers={"WWW-Authenticate": 'Bearer realm="optplace"'},
        )
