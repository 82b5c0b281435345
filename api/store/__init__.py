"""Durable job store. ``open_store(url)`` picks the implementation from the URL's scheme.

Only ``sqlite://`` exists today; a PostgreSQL store would implement :class:`JobStore` and be
selected here by ``postgresql://``. Nothing outside this package knows which one is in use.
"""

from __future__ import annotations

from optplace.api.store.base import JobRecord, JobStatus, JobStore, NewJob
from optplace.api.store.sqlite import SqliteJobStore, sqlite_path

__all__ = ["JobRecord", "JobStatus", "JobStore", "NewJob", "SqliteJobStore", "open_store"]


def open_store(url: str) -> JobStore:
    """Open the store named by ``url`` (``sqlite:///relative.db`` or ``sqlite:////abs/path.db``)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return SqliteJobStore(sqlite_path(url))
    raise ValueError(
        f"unsupported job store URL {url!r}: only sqlite:///path is implemented "
        "(a PostgreSQL store would implement optplace.api.store.JobStore)"
    )
