"""Named, versioned documents kept in the job store's database (today: the scheduler extender's plan).

One row per key; every ``put`` replaces the body and increments the version, so a reader can
check cheaply (:meth:`SqliteDocumentStore.version`) whether its cached copy is still current.
The SQLite implementation opens its own connection to the job store's file (WAL lets both
connections work side by side), so the job store itself is unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from optplace.api.store.sqlite import connect, sqlite_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredDocument:
    key: str
    version: int
    body: str
    updated_at: datetime


class DocumentStore(Protocol):
    def put(self, key: str, body: str) -> StoredDocument: ...

    def get(self, key: str) -> StoredDocument | None: ...

    def version(self, key: str) -> int | None: ...

    def close(self) -> None: ...


class SqliteDocumentStore:
    """:class:`DocumentStore` in a table of the job store's SQLite file."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.Lock()
        self._db = connect(self.path)
        self._db.executescript(SCHEMA)

    def put(self, key: str, body: str) -> StoredDocument:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._lock:
            self._db.execute(
                "INSERT INTO documents (key, version, body, updated_at) VALUES (?, 1, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET version = version + 1, body = excluded.body, "
                "updated_at = excluded.updated_at",
                (key, body, now),
            )
        stored = self.get(key)
        assert stored is not None
        return stored

    def get(self, key: str) -> StoredDocument | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, version, body, updated_at FROM documents WHERE key = ?", (key,)
            ).fetchone()
        return StoredDocument(row[0], row[1], row[2], datetime.fromisoformat(row[3])) if row else None

    def version(self, key: str) -> int | None:
        with self._lock:
            row = self._db.execute("SELECT version FROM documents WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_document_store(url: str) -> DocumentStore:
    """The document store beside the job store named by ``url`` (same database)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return SqliteDocumentStore(sqlite_path(url))
    raise ValueError(f"unsupported store URL {url!r}: only sqlite:///path is implemented")
