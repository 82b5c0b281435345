"""Named, versioned documents kept in the job store's database (today: the scheduler extender's plan).

One row per key; every ``put`` replaces the body and increments the version, so a reader can
check cheaply (:meth:`SqlDocumentStore.version`) whether its cached copy is still current, and
every replica on the same store sees a plan set through any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from optplace.api.store.engine import clock, reading, writing
from optplace.api.store.schema import documents


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


class SqlDocumentStore:
    """:class:`DocumentStore` in the ``documents`` table of the job store's database (its engine)."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def put(self, key: str, body: str) -> StoredDocument:
        insert = pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(documents).values(key=key, version=1, body=body, updated_at=clock(self.engine))
        statement = statement.on_conflict_do_update(
            index_elements=[documents.c.key],
            set_={
                "version": documents.c.version + 1,
                "body": statement.excluded.body,
                "updated_at": statement.excluded.updated_at,
            },
        )
        with writing(self.engine) as conn:
            conn.execute(statement)
            row = conn.execute(select(documents).where(documents.c.key == key)).one()
        return StoredDocument(row.key, row.version, row.body, row.updated_at)

    def get(self, key: str) -> StoredDocument | None:
        with reading(self.engine) as conn:
            row = conn.execute(select(documents).where(documents.c.key == key)).first()
        return StoredDocument(row.key, row.version, row.body, row.updated_at) if row else None

    def version(self, key: str) -> int | None:
        with reading(self.engine) as conn:
            return conn.execute(select(documents.c.version).where(documents.c.key == key)).scalar()

    def close(self) -> None:
        """Nothing to do: the engine belongs to the job store, which closes it."""
