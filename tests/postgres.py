"""A throwaway PostgreSQL server on 127.0.0.1 for the tests: one per test session, one fresh
database per test that asks for one.

initdb refuses to run as root, so as root the server runs as the ``postgres`` system user (the
Debian package creates it) through ``runuser``; its data directory lives in a temporary
directory that user owns, and is removed at the end. Trust authentication on loopback only, no
fsync (a test server's data need not survive a power cut).

``OPTPLACE_TEST_POSTGRES`` decides what happens when no server can be started: ``require`` (what
``.ci/run`` sets) fails the tests that need it, ``skip`` skips them, and unset skips them with
the reason (a developer machine without PostgreSQL).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ENV = "OPTPLACE_TEST_POSTGRES"
USER = "optplace"


def find_bin(name: str) -> str | None:
    """A PostgreSQL program on PATH, else in Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start on a free loopback port; :meth:`new_database` hands out fresh databases."""

    def __init__(self) -> None:
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql)")
        self.pg_ctl = pg_ctl
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="optplace-pg-"))
        self.data = self.root / "data"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root and no runuser to start PostgreSQL as the postgres user")
            shutil.chown(self.root, user="postgres")
            self._as_user = [runuser, "-u", "postgres", "--"]
        self._names = itertools.count()
        self._run([initdb, "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run([pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"])

    def _run(self, command: list[str]) -> None:
        done = subprocess.run([*self._as_user, *command], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr or done.stdout}{tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database and return its store URL."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self._as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)
