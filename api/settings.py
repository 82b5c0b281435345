"""Server settings: environment variables ``OPTPLACE_*``, overridden by ``optplace serve`` flags.

Every field below is one environment variable (``OPTPLACE_`` + the field name in upper case);
docs/api.md has the table. Lists accept a comma-separated string (``OPTPLACE_METHOD_MODULES=a,b``).
"""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"]


def default_workers() -> int:
    """Two solve processes on small machines, up to four where there are cores for them."""
    return max(1, min(4, (os.cpu_count() or 2)))


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches this machine only."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    """Everything an operator can set; defaults are safe for a single-user loopback service."""

    model_config = SettingsConfigDict(env_prefix="OPTPLACE_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Bind address; loopback unless you mean to expose it.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port (0 picks a free one).")
    token: SecretStr | None = Field(
        default=None, description="When set, every endpoint except /v1/health requires 'Authorization: Bearer <token>'."
    )
    store_url: str = Field(
        default="sqlite:///optplace-jobs.sqlite3",
        description="Job store shared by every replica: sqlite:///relative/path, sqlite:////absolute/path "
        "(replicas on one machine), or postgresql+psycopg://user@host:port/database.",
    )
    replica_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="This replica's name in the store's job claims; unique among running replicas. Default: "
        "host name, process id and a random suffix. A stable one (a StatefulSet pod name) lets a restarted "
        "replica re-queue its interrupted jobs at once instead of after their lease.",
    )
    lease_s: float = Field(
        default=30.0,
        ge=1.0,
        le=3600.0,
        description="A claimed job's lease: another replica re-queues the job this long after its replica "
        "last renewed the claim.",
    )
    heartbeat_s: float = Field(
        default=2.0,
        gt=0,
        description="How often a replica renews its claims and polls the store for cancellations of its jobs "
        "(at most a quarter of lease_s).",
    )
    claim_poll_s: float = Field(
        default=1.0, gt=0, le=60.0, description="How often an idle replica looks for jobs submitted elsewhere."
    )
    dask_scheduler: str | None = Field(
        default=None,
        pattern=r"^(tcp|tls)://[^\s]+$",
        description="Run solves on this Dask cluster (tcp://host:8786 or tls://...) instead of local worker "
        "processes; workers then means the solves this replica runs there at once.",
    )
    workers: int = Field(default_factory=default_workers, ge=1, le=64, description="Solver worker processes.")
    queue_size: int = Field(default=32, ge=0, description="Solves waiting for a worker before new ones get 503.")
    default_time_limit_s: float = Field(default=10.0, gt=0, description="Time limit of a solve whose params give none.")
    max_time_limit_s: float = Field(default=60.0, gt=0, description="Cap on any requested time limit.")
    kill_grace_s: float = Field(
        default=5.0, ge=0, description="A worker still running at time limit + grace is killed."
    )
    sync_wait_s: float = Field(
        default=10.0, gt=0, description="How long POST /v1/solve may wait for a free worker before 503."
    )
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After sent with 503 responses.")
    max_body_bytes: int = Field(default=10_000_000, ge=1024, description="Larger request bodies get 413.")
    body_timeout_s: float = Field(
        default=30.0, gt=0, description="A request body must arrive within this time of the request's start, else 408."
    )
    header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A connection must send complete request headers within this time, else it is closed.",
    )
    max_connections: int = Field(
        default=256, ge=1, description="Open connections; beyond, new requests get 503 (uvicorn)."
    )
    max_url_chars: int = Field(default=8192, ge=256, description="Longer request targets (path and query) get 414.")
    max_json_depth: int = Field(default=32, ge=4, le=256, description="Deeper-nested request bodies get 422.")
    max_json_values: int = Field(
        default=500_000, ge=1000, description="Bodies with more JSON values (array items, object members) get 422."
    )
    max_errors: int = Field(
        default=100, ge=1, le=10_000, description="A 422 lists this many errors and counts the rest."
    )
    parse_concurrency: int = Field(
        default=2, ge=1, le=64, description="Request bodies parsed and validated at once (off the event loop)."
    )
    allowed_hosts: Annotated[list[str] | None, NoDecode] = Field(
        default=None,
        description="Host header values accepted (names, optionally with :port; '*' accepts any). Default: the "
        "loopback names when the server binds a loopback address, else any host.",
    )
    max_applications: int = Field(default=5000, ge=1)
    max_nodes: int = Field(default=1000, ge=1)
    max_accelerators: int = Field(default=2000, ge=1)
    max_verify_requests: int = Field(
        default=1_000_000,
        ge=10_000,
        le=10_000_000,
        description="Cap on the requests a solve with verify='simulate' may simulate (about 3 s per million).",
    )
    verify_time_s: float = Field(
        default=10.0, ge=0, description="Extra wall clock a solve with verify='simulate' gets for its simulation."
    )
    max_job_attempts: int = Field(
        default=3, ge=1, description="A job interrupted by a crash this many times is marked failed."
    )
    page_size_max: int = Field(default=100, ge=1, description="Largest page GET /v1/jobs returns.")
    job_ttl_s: float = Field(
        default=86_400.0,
        gt=0,
        description="Finished jobs (completed, failed, cancelled) are deleted this long after they end.",
    )
    max_solve_memory_mb: int = Field(
        default=4096,
        ge=0,
        description="Memory (proportional set size) one solve may use, its worker and child processes together; "
        "beyond, it is stopped with stop_reason memory_limit. 0: no limit.",
    )
    max_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, le=256, description="Cap on any requested params.threads."
    )
    max_active_per_client: int = Field(
        default=8, ge=1, description="Solves and unfinished jobs one client may have at once; beyond, 429."
    )
    max_workers_per_client: int | None = Field(
        default=None, ge=1, description="Workers one client may occupy at once; default workers - 1 (at least 1)."
    )
    sync_reserved_workers: int | None = Field(
        default=None,
        ge=0,
        description="Workers that run only synchronous solves, never jobs; default 1 when workers >= 2.",
    )
    method_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra modules to import in the server and in every worker; they register methods.",
    )
    docs: bool = Field(default=True, description="Serve /docs, /redoc and /openapi.json.")
    log_level: str = Field(default="info", pattern=r"^(critical|error|warning|info|debug|trace)$")

    @field_validator("method_modules", "allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _leases_outlive_heartbeats(self) -> Settings:
        if self.heartbeat_s * 4 > self.lease_s:
            raise ValueError(
                f"heartbeat_s ({self.heartbeat_s:g}) must be at most a quarter of lease_s ({self.lease_s:g}): a "
                "replica stops a job it cannot renew after half a lease, and needs renewals to spare before that"
            )
        return self

    def replica(self) -> str:
        """This replica's id: ``replica_id``, or a fresh unique one."""
        from optplace.api.replica import default_replica_id

        return self.replica_id or default_replica_id()

    @field_validator("token", mode="after")
    @classmethod
    def _empty_token_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value is not None and value.get_secret_value() else None

    def host_allow_list(self) -> list[str]:
        """The Host header values accepted (see ``allowed_hosts``)."""
        if self.allowed_hosts is not None:
            return [h.lower() for h in self.allowed_hosts]
        return list(LOOPBACK_NAMES) if is_loopback(self.host) else ["*"]

    def workers_per_client(self) -> int:
        return self.max_workers_per_client or max(1, self.workers - 1)

    def reserved_for_sync(self) -> int:
        reserved = self.sync_reserved_workers if self.sync_reserved_workers is not None else int(self.workers >= 2)
        return min(reserved, self.workers - 1)

    def wall_clock_s(self, params: dict) -> float:
        """How long a worker may run a solve before it is killed (grace aside): the time limit,
        plus the simulation allowance when the solve also verifies by simulation."""
        limit = self.effective_time_limit(params.get("time_limit_s"))
        return limit + (self.verify_time_s if params.get("verify") == "simulate" else 0.0)

    def effective_time_limit(self, requested: float | None) -> float:
        """The time limit a solve runs under: the request's, or the default, never above the cap."""
        return min(requested if requested is not None else self.default_time_limit_s, self.max_time_limit_s)
