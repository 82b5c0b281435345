"""One SQLAlchemy engine per store URL, with each database's durability and locking rules.

* ``sqlite:///relative/path`` or ``sqlite:////absolute/path``: WAL journal (readers run while a
  writer commits), ``synchronous=FULL`` (a committed write survives a power cut), a 10 s wait
  for another connection's lock. Transactions that write start with ``BEGIN IMMEDIATE``, so
  that a read-then-write (a claim) holds the one write lock from its first statement: SQLite's
  single-writer claim. Replicas sharing a SQLite file must run on one machine (WAL needs shared
  memory): that is what the SQLite store is for.
* ``postgresql+psycopg://user@host:port/db`` (``postgresql://`` means the same: psycopg 3 is the
  driver optplace installs): claims lock the claimed row (``FOR UPDATE SKIP LOCKED``), so
  replicas never wait on each other's claims; a statement may run 30 s and wait 10 s for a lock.

The clock of every timestamp the store writes is the database's (``now()``) on PostgreSQL, so
that replicas on machines whose clocks differ still agree when a lease lapses; on SQLite it is
this machine's, which is the database's machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, create_engine, event, func, literal, type_coerce
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.elements import ColumnElement

from optplace.api.store.schema import Timestamp, ensure_schema

PG_STATEMENT_TIMEOUT_MS = 30_000
PG_LOCK_TIMEOUT_MS = 10_000
SCHEMA_LOCK_ID = 0x6F7074706C616365  # "optplace": serialises schema set-up between replicas


def parse_store_url(url: str) -> URL:
    """The URL of a supported store, or ValueError saying which forms exist."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is not None and parsed.drivername == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError(
                f"invalid SQLite store URL {url!r}: use sqlite:///relative/path or sqlite:////absolute/path "
                "(an in-memory database would lose every job)"
            )
        return parsed
    if parsed is not None and parsed.drivername in ("postgresql", "postgresql+psycopg"):
        if not parsed.database:
            raise ValueError(f"invalid PostgreSQL store URL {url!r}: name the database (.../optplace)")
        return parsed.set(drivername="postgresql+psycopg")
    raise ValueError(
        f"unsupported job store URL {url!r}: use sqlite:///path or postgresql+psycopg://user@host:port/database"
    )


def store_engine(url: str) -> Engine:
    """An engine for ``url`` with the rules above; the schema is created or brought up to date."""
    parsed = parse_store_url(url)
    if parsed.drivername == "sqlite":
        assert parsed.database is not None
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # SQLite connections are cheap and writes queue on the file lock anyway: enough connections
        # that the server's threads never wait for one.
        engine = create_engine(
            parsed, pool_size=16, max_overflow=48, connect_args={"check_same_thread": False, "timeout": 10.0}
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        options = f"-c statement_timeout={PG_STATEMENT_TIMEOUT_MS} -c lock_timeout={PG_LOCK_TIMEOUT_MS}"
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10, "options": options})
    with writing(engine) as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_ID})")
        ensure_schema(conn)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event, not the driver, start transactions (the documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("optplace_write") else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: committed on leaving, rolled back on an exception."""
    with engine.connect() as conn:
        conn.execution_options(optplace_write=True)
        with conn.begin():
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (one consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn


def clock(engine: Engine, plus_s: float = 0.0) -> ColumnElement[datetime]:
    """The store's "now" (plus ``plus_s`` seconds) as a SQL expression: the database's clock on
    PostgreSQL, this machine's (the database's machine) on SQLite."""
    if engine.dialect.name == "postgresql":
        now = func.now(type_=DateTime(timezone=True))
        return type_coerce(now + timedelta(seconds=plus_s) if plus_s else now, Timestamp())
    return literal(datetime.now(UTC) + timedelta(seconds=plus_s), Timestamp())
