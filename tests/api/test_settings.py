"""Server settings from the environment and from ``optplace serve`` flags."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from optplace.api.settings import Settings
from optplace.cli import build_parser
from optplace.commands.serve import settings_from_args


def test_defaults_bind_loopback_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of the box the server listens on 127.0.0.1 and needs no token."""
    for name in ("OPTPLACE_HOST", "OPTPLACE_TOKEN", "OPTPLACE_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.host == "127.0.0.1" and settings.port == 8000 and settings.token is None


def test_environment_variables_set_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """OPTPLACE_* variables fill the settings; lists are comma separated; an empty token means none."""
    monkeypatch.setenv("OPTPLACE_WORKERS", "3")
    monkeypatch.setenv("OPTPLACE_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("OPTPLACE_METHOD_MODULES", "a.b, c.d")
    monkeypatch.setenv("OPTPLACE_TOKEN", "")
    settings = Settings()
    assert settings.workers == 3 and settings.max_body_bytes == 4096
    assert settings.method_modules == ["a.b", "c.d"] and settings.token is None
    monkeypatch.setenv("OPTPLACE_TOKEN", "t0ken")
    token = Settings().token
    assert token is not None and token.get_secret_value() == "t0ken" and "t0ken" not in repr(Settings())


def test_time_limits_are_capped() -> None:
    """A request's time limit, or the default when it gives none, never exceeds the cap."""
    settings = Settings(default_time_limit_s=5, max_time_limit_s=20)
    assert settings.effective_time_limit(None) == 5
    assert settings.effective_time_limit(2) == 2
    assert settings.effective_time_limit(100) == 20
    assert Settings(default_time_limit_s=30, max_time_limit_s=20).effective_time_limit(None) == 20


def test_serve_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flags given to optplace serve win over OPTPLACE_* variables; flags left out keep them."""
    monkeypatch.setenv("OPTPLACE_PORT", "9000")
    monkeypatch.setenv("OPTPLACE_WORKERS", "3")
    args = build_parser().parse_args(
        ["serve", "--port", "8123", "--method-module", "x.y", "--method-module", "z", "--max-time-limit", "7"]
    )
    settings = settings_from_args(args)
    assert settings.port == 8123 and settings.workers == 3
    assert settings.method_modules == ["x.y", "z"] and settings.max_time_limit_s == 7
    assert settings.host == "127.0.0.1"


def test_serve_refuses_invalid_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """An impossible setting stops optplace serve with exit code 2 and a message, before binding."""
    from optplace.cli import main

    assert main(["serve", "--workers", "0"]) == 2
    assert "invalid settings" in capsys.readouterr().err
    with pytest.raises(ValidationError):
        Settings(log_level="loud")


def test_docs_can_be_turned_off(tmp_path) -> None:
    """OPTPLACE_DOCS=false removes /docs, /redoc and /openapi.json; the API stays."""
    from fastapi.testclient import TestClient

    from optplace.api.main import create_app
    from tests.api.conftest import make_settings

    client = TestClient(create_app(make_settings(tmp_path, docs=False)))  # no lifespan: no workers needed
    assert client.get("/openapi.json").status_code == 404
    assert client.get("/docs").status_code == 404
    assert "/v1/solve" in {path for path, _ in _paths(client.app)}


def _paths(app) -> list[tuple[str, set[str]]]:
    return [(pattern.pattern.strip("^$"), methods) for pattern, methods in app.state.route_methods]


def test_scale_out_settings_are_checked() -> None:
    """A heartbeat slower than a quarter of the lease, or a Dask address that is not tcp:// or
    tls://, is refused; replica ids default to unique names and keep a given one."""
    Settings(lease_s=8, heartbeat_s=2)
    with pytest.raises(ValidationError, match="at most a quarter of lease_s"):
        Settings(lease_s=8, heartbeat_s=2.5)
    assert Settings(dask_scheduler="tls://scheduler:8786").dask_scheduler == "tls://scheduler:8786"
    for address in ("scheduler:8786", "inproc://x", "tcp://a b"):
        with pytest.raises(ValidationError):
            Settings(dask_scheduler=address)
    assert Settings().replica() != Settings().replica()
    assert Settings(replica_id="optplace-0").replica() == "optplace-0"
