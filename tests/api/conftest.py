"""Fixtures for the HTTP service: settings in a temporary folder, an in-process client, a real
server started on 127.0.0.1 in a subprocess, and job stores on both databases (SQLite, and a
throwaway PostgreSQL server shared by the session: tests/postgres.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from optplace.api.main import create_app
from optplace.api.settings import Settings
from tests.postgres import ENV, PostgresServer

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "instances" / "tiny"
PLUGIN = "tests.api.slow_method"


def tiny(name: str = "ps_one_per_gpu") -> dict[str, Any]:
    return json.loads((TINY / f"{name}.json").read_text())


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session (see tests/postgres.py for when it skips or fails)."""
    wanted = os.environ.get(ENV, "")
    if wanted == "skip":
        pytest.skip(f"{ENV}=skip: PostgreSQL tests skipped on request")
    try:
        server = PostgresServer()
    except Exception as error:
        if wanted == "require":
            pytest.fail(f"PostgreSQL is required ({ENV}=require) but could not be started: {error}")
        pytest.skip(f"PostgreSQL could not be started ({error}); set {ENV}=require to make this a failure")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty job store URL on each database in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    return request.getfixturevalue("postgres").new_database()


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "store_url": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        "workers": 1,
        "queue_size": 4,
        "kill_grace_s": 0.5,
        "method_modules": [PLUGIN],
        "log_level": "warning",
        # the in-process TestClient sends Host: testserver; the loopback names as for a real server
        "allowed_hosts": ["testserver", "localhost", "127.0.0.1", "::1"],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One in-process app (one worker, the test_sleep plugin) shared by a test module."""
    app = create_app(make_settings(tmp_path_factory.mktemp("api"), workers=2))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def wait_until_idle(server: Server, workers: int, timeout: float = 120.0) -> httpx.Client:
    """The server's client once ``workers`` workers are alive and none is busy or waited for."""
    wait_for(
        lambda: (
            (w := server.http.get("/v1/health").json()["workers"])["alive"] == workers
            and w["busy"] == 0
            and w["waiting"] == 0
        ),
        timeout=timeout,
    )
    return server.http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``optplace serve`` in a subprocess on 127.0.0.1 and a free port."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"server-{self.port}.log"
        environment = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "OPTPLACE_STORE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
            "OPTPLACE_METHOD_MODULES": PLUGIN,
            "OPTPLACE_KILL_GRACE_S": "0.5",
            **(env or {}),
        }
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "optplace", "serve", "--port", str(self.port), "--log-level", "warning", *args],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.http = httpx.Client(base_url=self.url, timeout=30.0)
        try:
            wait_for(self._up, timeout=60.0, interval=0.1)
        except AssertionError:
            self.stop()
            raise AssertionError(f"server did not start:\n{self.log.read_text()}") from None

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            return self.http.get("/v1/health").status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.http.close()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start real servers sharing ``tmp_path`` (so the same store); all are stopped afterwards."""
    servers: list[Server] = []

    def start(env: dict[str, str] | None = None, *args: str) -> Server:
        server = Server(tmp_path, env, *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(signal.SIGKILL)
