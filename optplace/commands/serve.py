"""``optplace serve``: run the HTTP service (docs/api.md) under uvicorn."""

from __future__ import annotations

import argparse
import sys

# flag -> Settings field; a flag left out keeps the environment's value (OPTPLACE_<FIELD>) or the default
FLAGS = {
    "host": "host",
    "port": "port",
    "workers": "workers",
    "queue_size": "queue_size",
    "store_url": "store_url",
    "default_time_limit": "default_time_limit_s",
    "max_time_limit": "max_time_limit_s",
    "kill_grace": "kill_grace_s",
    "method_module": "method_modules",
    "log_level": "log_level",
    "allowed_host": "allowed_hosts",
    "max_solve_memory_mb": "max_solve_memory_mb",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP solve service",
        description=(
            "Run the HTTP solve service. Every setting can also come from an environment variable "
            "OPTPLACE_<NAME> (e.g. OPTPLACE_TOKEN, OPTPLACE_MAX_BODY_BYTES); flags win. See docs/api.md."
        ),
    )
    parser.add_argument("--host", default=None, help="bind address (default 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 8000; 0 picks a free port)")
    parser.add_argument("--workers", type=int, default=None, help="solver worker processes (default min(4, cores))")
    parser.add_argument("--queue-size", type=int, default=None, help="solves that may wait for a worker (default 32)")
    parser.add_argument(
        "--store-url",
        default=None,
        metavar="URL",
        help="job store shared by replicas (default sqlite:///optplace-jobs.sqlite3; or postgresql+psycopg://...)",
    )
    parser.add_argument("--default-time-limit", type=float, default=None, metavar="S", help="default 10 s")
    parser.add_argument("--max-time-limit", type=float, default=None, metavar="S", help="cap on any time limit")
    parser.add_argument("--kill-grace", type=float, default=None, metavar="S", help="grace past the time limit")
    parser.add_argument(
        "--method-module",
        action="append",
        default=None,
        metavar="MODULE",
        help="import MODULE (which registers methods) in the server and workers; repeatable",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="a Host header value to answer to ('*': any); repeatable; default: the loopback names when bound "
        "to loopback",
    )
    parser.add_argument(
        "--max-solve-memory-mb", type=int, default=None, metavar="MB", help="memory limit per solve (default 4096)"
    )
    parser.add_argument(
        "--log-level",
        default=None,
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn and service log level (default info)",
    )
    parser.set_defaults(handler=run_serve)


def settings_from_args(args: argparse.Namespace):
    """Settings from the environment, overridden by the flags that were given."""
    from optplace.api.settings import Settings

    overrides = {field: getattr(args, flag) for flag, field in FLAGS.items() if getattr(args, flag) is not None}
    return Settings(**overrides)


def run_serve(args: argparse.Namespace) -> int:
    from optplace.exceptions import MissingExtraError
    from optplace.extras import require_extra

    try:
        require_extra("server", "optplace serve")
    except MissingExtraError as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    import uvicorn
    from pydantic import ValidationError

    try:
        settings = settings_from_args(args)
    except ValidationError as error:
        print(f"error: invalid settings: {error}", file=sys.stderr)
        return 2
    from optplace.api.guard import HeaderTimeoutH11Protocol
    from optplace.api.main import create_app

    try:
        app = create_app(settings)
    except (ImportError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    protocol = type("Protocol", (HeaderTimeoutH11Protocol,), {"header_timeout_s": settings.header_timeout_s})
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.kill_grace_s) + 5,
        server_header=False,
        http=protocol,
        limit_concurrency=settings.max_connections,
    )
    return 0
