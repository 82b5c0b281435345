"""The store's tables (SQLAlchemy Core) and how an older database is brought up to date.

One schema serves SQLite and PostgreSQL. Timestamps are ISO 8601 text in SQLite (the format the
first SQLite store wrote, so old files read unchanged) and ``timestamptz`` in PostgreSQL
(:class:`Timestamp`). Columns added after the first release are listed in :data:`ADDED_COLUMNS`
and added with ``ALTER TABLE`` when a database lacks them (:func:`ensure_schema`); nothing is
ever dropped or rewritten.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    inspect,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateColumn
from sqlalchemy.types import TypeDecorator, TypeEngine


class Timestamp(TypeDecorator[datetime]):
    """An aware UTC datetime: ``timestamptz`` in PostgreSQL, ISO 8601 text (microseconds, +00:00)
    in SQLite, where such text sorts in time order."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.isoformat(timespec="microseconds")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value.astimezone(UTC)


metadata = MetaData()

jobs = Table(
    "jobs",
    metadata,
    # SQLite needs exactly INTEGER PRIMARY KEY AUTOINCREMENT (never reused, so cursors stay valid).
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("instance", Text, nullable=False),
    Column("instance_name", Text, nullable=False),
    Column("applications", Integer, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("started_at", Timestamp),
    Column("finished_at", Timestamp),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("result", Text),
    Column("result_final", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("client", Text, nullable=False, server_default=""),
    # The result's status, written with the result, so that a listing never reads a result.
    Column("solution_status", Text),
    # The claim of a running job: which replica holds it, the claim's fencing token (every write
    # of the run names it), the last renewal and when the claim lapses unless renewed.
    Column("lease_owner", Text),
    Column("lease_token", Text),
    Column("heartbeat_at", Timestamp),
    Column("lease_expires_at", Timestamp),
    sqlite_autoincrement=True,
)

INDEXES = [
    Index("jobs_status", jobs.c.status, jobs.c.seq),
    Index("jobs_finished", jobs.c.finished_at),
    Index("jobs_client", jobs.c.client, jobs.c.status),
]

documents = Table(
    "documents",
    metadata,
    Column("key", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
)

# Columns of ``jobs`` added after the first release, oldest first.
ADDED_COLUMNS = ["client", "solution_status", "lease_owner", "lease_token", "heartbeat_at", "lease_expires_at"]


def ensure_schema(conn: Connection) -> None:
    """Create missing tables and indexes and add missing columns (call inside one write
    transaction, which the caller serialises between processes)."""
    metadata.create_all(conn, checkfirst=True)
    present = {column["name"] for column in inspect(conn).get_columns("jobs")}
    for name in ADDED_COLUMNS:
        if name not in present:
            ddl = CreateColumn(jobs.c[name]).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE jobs ADD COLUMN {ddl}")
            if name == "solution_status":
                _fill_solution_status(conn)
    existing = {index["name"] for index in inspect(conn).get_indexes("jobs")}
    for index in INDEXES:
        if index.name not in existing:
            index.create(conn)


def _fill_solution_status(conn: Connection) -> None:
    """Once, for a database written before the column existed: copy each result's status."""
    rows = conn.execute(select(jobs.c.id, jobs.c.result).where(jobs.c.result.is_not(None))).all()
    for job_id, result in rows:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(solution_status=solution_status(result)))


def solution_status(result_json: str | None) -> str | None:
    """The ``status`` of a SolveResult JSON text (None without a readable one)."""
    if not result_json:
        return None
    try:
        result = json.loads(result_json)
    except ValueError:
        return None
    status = result.get("status") if isinstance(result, dict) else None
    return status if isinstance(status, str) else None
