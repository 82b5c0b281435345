"""Durable job store shared by every API replica. ``open_store(url)`` opens it from
``OPTPLACE_STORE_URL``: ``sqlite:///path`` (the default; one machine) or
``postgresql+psycopg://user@host:port/database`` (replicas on many machines). Nothing outside
this package knows which database is in use.
"""

from __future__ import annotations

from optplace.api.store.base import Claim, JobRecord, JobStatus, JobStore, NewJob, Reaped
from optplace.api.store.documents import DocumentStore, SqlDocumentStore
from optplace.api.store.engine import parse_store_url
from optplace.api.store.sql import SqlJobStore

__all__ = [
    "Claim",
    "DocumentStore",
    "JobRecord",
    "JobStatus",
    "JobStore",
    "NewJob",
    "Reaped",
    "SqlDocumentStore",
    "SqlJobStore",
    "open_document_store",
    "open_store",
    "parse_store_url",
]


def open_store(url: str) -> SqlJobStore:
    """Open (and create or migrate) the store named by ``url``; ValueError for an unsupported URL."""
    return SqlJobStore(url)


def open_document_store(store: SqlJobStore) -> DocumentStore:
    """The document store in the same database as ``store`` (its connections too)."""
    return SqlDocumentStore(store.engine)
