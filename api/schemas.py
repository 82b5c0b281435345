"""Request and response bodies. Inputs and outputs are separate models.

The request models are what the OpenAPI schema shows. Their parsing goes through
:mod:`optplace.api.requests`, which validates the instance separately so that every error
points into the request body (``/instance/applications/3/rate_rps``) with optplace's codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from optplace.api.extender import ExtenderArgs, PlanRequest
from optplace.api.store import JobStatus
from optplace.domain import Instance
from optplace.migration import DEFAULT_METHOD as REPLAN_DEFAULT_METHOD
from optplace.migration import Changes, ReplanResult
from optplace.params import SolveParams
from optplace.registry import MethodKind
from optplace.result import SolveResult, UnplacedReason

# -- inputs --------------------------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SolveRequest(_Input):
    """Body of POST /v1/solve and POST /v1/jobs."""

    instance: Instance = Field(
        description="The instance: the cluster, the models and their profiles, the applications."
    )
    method: str = Field(default="auto", min_length=1, max_length=100, description="A name from GET /v1/methods.")
    params: SolveParams | None = Field(
        default=None, description="Solver-neutral parameters; time_limit_s is capped by the server."
    )


class ValidateRequest(_Input):
    """Body of POST /v1/validate. ``instance`` may be any JSON object: checking it is the point, and
    the report lists every way it differs from the Instance schema."""

    instance: dict[str, Any] = Field(description="An instance document (schema: Instance) to check.")


class EvaluateRequest(_Input):
    """Body of POST /v1/evaluate: an instance and a placement (application -> accelerator)."""

    instance: Instance = Field(
        description="The instance: the cluster, the models and their profiles, the applications."
    )
    placement: dict[str, str] = Field(
        description="Where each placed application runs; applications not listed are unplaced."
    )


class ReplanRequest(_Input):
    """Body of POST /v1/replan and POST /v1/replan/jobs: the running cluster (its applications'
    current_accelerator say where they run), what changed, and the method for the target."""

    instance: Instance = Field(
        description="The running cluster: each running application's current_accelerator says where it runs."
    )
    changes: Changes = Field(default_factory=Changes, description="What changed; see docs/replan.md.")
    method: str = Field(
        default=REPLAN_DEFAULT_METHOD, min_length=1, max_length=100, description="A name from GET /v1/methods."
    )
    params: SolveParams | None = Field(
        default=None, description="Solver-neutral parameters for the target; time_limit_s is capped by the server."
    )


# Every body a route reads with parse_request (the extender's wire types live in api/extender.py).
REQUEST_MODELS: list[type[BaseModel]] = [
    SolveRequest,
    ValidateRequest,
    EvaluateRequest,
    ReplanRequest,
    ExtenderArgs,
    PlanRequest,
]

# -- outputs -------------------------------------------------------------------------------------


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True)


class FieldError(_Output):
    field: str = Field(description="Dotted path of the field, e.g. instance.applications[3].rate_rps.")
    pointer: str = Field(description="RFC 6901 JSON pointer into the request body; empty for query parameters.")
    code: str = Field(description="Stable machine-readable code, e.g. greater_than, missing, invalid_reference.")
    message: str = Field(description="What is wrong and how to fix it, for people.")
    parameter: str | None = Field(default=None, description="For a query or path parameter: its name.")
    # ``in`` is a Python keyword, hence the alias.
    location: str | None = Field(default=None, alias="in", description="query or path, for a parameter.")


class Problem(_Output):
    """RFC 9457 problem details."""

    type: str = Field(description="urn:optplace:problem:<kind>, or about:blank for plain HTTP errors.")
    title: str = Field(description="Short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(default="", description="What went wrong in this request, and the fix.")
    instance: str = Field(default="", description="The request path (at most 200 characters).")
    errors: list[FieldError] | None = Field(
        default=None, description="Field errors of a 422: the first OPTPLACE_MAX_ERRORS of them."
    )
    error_count: int | None = Field(default=None, description="How many field errors there are in all.")


class JobError(_Output):
    code: str = Field(description="worker_crashed, verification_failed, internal_error, interrupted_too_often")
    message: str = Field(description="What went wrong, for people.")


class JobSummary(_Output):
    """A job without its instance, params or result (GET /v1/jobs)."""

    id: str = Field(description="The job's id (URL-safe).")
    status: JobStatus = Field(description="The job's life: queued, running, completed, failed, cancelled.")
    method: str = Field(description="The method it runs.")
    instance_name: str = Field(description="The instance's name.")
    applications: int = Field(description="Applications in the instance.")
    created_at: datetime = Field(description="When the job was submitted.")
    updated_at: datetime = Field(description="When the job last changed.")
    started_at: datetime | None = Field(description="When a worker last started it; null while queued.")
    finished_at: datetime | None = Field(description="When it completed, failed or was cancelled; null before.")
    attempts: int = Field(description="How many times a worker started this job.")
    solution_status: str | None = Field(
        default=None, description="The result's status (optimal, feasible, ...), when there is a result."
    )
    error: JobError | None = Field(default=None, description="Why the job failed, when it failed.")


class JobOut(JobSummary):
    """A job with its best result so far (GET /v1/jobs/{id})."""

    params: dict[str, Any] = Field(
        description="The params the job runs with, after the server's rules (time limit, threads)."
    )
    result_kind: str | None = Field(
        default=None,
        description="final: the method's answer; incumbent: the best placement reported so far; null: none yet.",
    )
    result: SolveResult | ReplanResult | None = Field(
        default=None,
        description="The final result, or the best incumbent so far (see result_kind): a SolveResult, or for a re-placement job (method 'replan') a ReplanResult.",
    )


class JobPage(_Output):
    items: list[JobSummary] = Field(description="Jobs, newest first.")
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


class MethodOut(_Output):
    name: str = Field(description="The name to pass as method.")
    kind: MethodKind = Field(description="exact, heuristic, portfolio or baseline (latency-blind).")
    description: str = Field(description="What the method does.")
    may_violate_slo: bool = Field(description="True only for latency-blind baselines.")
    options: dict[str, Any] = Field(
        description="JSON Schema of the method's params.options; unknown keys are rejected (additionalProperties false)."
    )


class SolverInfo(_Output):
    available: bool = Field(description="Whether the solver can be imported here.")
    version: str | None = Field(description="Its version; null when not available.")


class WorkerInfo(_Output):
    size: int = Field(description="Solver slots of this replica.")
    alive: int = Field(description="Slots that can run a solve now (worker processes alive, or Dask connected).")
    busy: int = Field(description="Slots running a solve now.")
    waiting: int = Field(description="Solves waiting for a slot.")
    queue_size: int = Field(description="How many solves may wait before the server answers 503.")
    backend: str = Field(description="Where solves run: local (worker processes) or dask (a Dask cluster).")


class Health(_Output):
    status: str = Field(description="ok, or degraded when no solver worker is alive.")
    version: str = Field(description="The optplace version of the server.")
    python: str = Field(description="The Python version of the server.")
    solvers: dict[str, SolverInfo] = Field(description="Solver engines by name, with availability and version.")
    workers: WorkerInfo = Field(description="The solver slots of this replica.")
    store: str = Field(description="The store's kind (sqlite or postgresql), never its URL.")
    jobs: dict[str, int] = Field(description="Stored jobs by status.")


class ApplicationDiagnosis(_Output):
    application: str = Field(description="The application's name.")
    feasible_alone: bool = Field(description="Some accelerator could host it if it were alone there.")
    feasible_accelerators: list[str] = Field(description="Accelerators that could host it alone.")
    reason: UnplacedReason | None = Field(description="Why it can run nowhere, even alone.")
    detail: str = Field(description="The reason with its numbers, for people.")
    best_alone_latency_ms: float | None = Field(
        description="Lowest predicted latency alone (in its SLO's statistic) on a compatible accelerator."
    )


class ValidationReport(_Output):
    """POST /v1/validate: whether the instance is valid, and what every application could do alone."""

    valid: bool = Field(description="Whether the instance is valid.")
    errors: list[FieldError] = Field(default_factory=list, description="The first OPTPLACE_MAX_ERRORS errors.")
    error_count: int = Field(default=0, description="How many errors there are in all.")
    applications: list[ApplicationDiagnosis] = Field(
        description="Per application: what it could do alone (only when the instance is valid).", default_factory=list
    )
    summary: dict[str, int] = Field(
        description="Counts: applications, nodes, accelerators, models, and applications feasible alone.",
        default_factory=dict,
    )
