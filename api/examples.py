"""Examples for the OpenAPI document: one per request and response body, and one problem per status.

The examples are what the library really returns for one small cluster (two GPUs, two cameras and
a chat model too busy for one GPU): the instance is built with
:class:`optplace.builder.InstanceBuilder`, the result is solved with ``first_fit``, the evaluation,
the validation report and the re-placement are computed by the same code the routes call, and the
method comes from the registry. Set by hand: times (replaced by typical ones, so that the document
is the same on every start), the job bookkeeping, the health report and the scheduler extender's
answers (they describe a running server and a Kubernetes cluster). Every example is validated by
its pydantic model here, and tests/api/test_openapi_docs.py checks each against its JSON Schema in
the document.

Built once, when the OpenAPI document is first asked for (about half a second, off the event loop).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from optplace.api.errors import PROBLEM_BASE

JOB_ID = "0f8fad5bd9cb469fa16570867728950e"
CREATED = "2026-01-01T12:00:00Z"
STARTED = "2026-01-01T12:00:01Z"
FINISHED = "2026-01-01T12:00:11Z"


def _instance() -> Any:
    from optplace.builder import InstanceBuilder

    b = InstanceBuilder(name="two-gpus", network_delay_ms=5)
    t4 = b.add_accelerator_type("t4", discipline="ps", memory_mb=16_000)
    node = b.add_node("node1", memory_mb=32_000)
    b.add_accelerator(node, t4, name="gpu0")
    b.add_accelerator(node, t4, name="gpu1")
    resnet = b.add_model("resnet50", profiles={t4: {"service_time_ms": 6.2, "memory_mb": 1_400}})
    bert = b.add_model("bert-base", profiles={t4: {"service_time_ms": 11.0, "memory_mb": 2_600}})
    b.add_application("cam1", resnet, rate_rps=40, slo_ms=50)
    b.add_application("cam2", resnet, rate_rps=50, slo_ms=100, statistic="p95")
    b.add_application("chat", bert, rate_rps=90, slo_ms=40)  # 0.99 of a GPU alone: over the 0.8 cap
    return b.instance()


def _fixed_times(result: Any) -> Any:
    """The same document on every start: the run's times replaced by typical ones."""
    stats = {k: (0.0004 if k == "runtime_s" else v) for k, v in result.stats.items()}
    return result.model_copy(update={"runtime_s": 0.0006, "stats": stats})


def _problem(status: int, kind: str, title: str, detail: str, path: str = "/v1/solve", **extra: Any) -> dict:
    return {"type": PROBLEM_BASE + kind, "title": title, "status": status, "detail": detail, "instance": path} | extra


PROBLEMS: dict[int, dict[str, Any]] = {
    400: _problem(
        400,
        "host-not-allowed",
        "Bad Request",
        "this server does not answer to that Host header; the operator lists the names it answers to in "
        "OPTPLACE_ALLOWED_HOSTS",
    ),
    401: _problem(
        401,
        "unauthorized",
        "Unauthorized",
        "this server requires 'Authorization: Bearer <token>' (the token set by OPTPLACE_TOKEN)",
    ),
    404: _problem(404, "job-not-found", "Not Found", f"no job with id '{JOB_ID}'", f"/v1/jobs/{JOB_ID}"),
    408: _problem(
        408, "body-timeout", "Request Timeout", "the request body did not arrive within 30 s (OPTPLACE_BODY_TIMEOUT_S)"
    ),
    413: _problem(
        413,
        "body-too-large",
        "Content Too Large",
        "the request body exceeds this server's limit of 16777216 bytes (OPTPLACE_MAX_BODY_BYTES)",
    ),
    414: _problem(414, "uri-too-long", "URI Too Long", "the request target is 9000 characters; at most 8192"),
    415: _problem(
        415,
        "unsupported-media-type",
        "Unsupported Media Type",
        "request bodies must be JSON: send 'Content-Type: application/json' (UTF-8)",
    ),
    422: _problem(
        422,
        "invalid-request",
        "Invalid request",
        "1 error in the request body",
        errors=[
            {
                "field": "instance.applications[2].rate_rps",
                "pointer": "/instance/applications/2/rate_rps",
                "code": "greater_than",
                "message": "Input should be greater than 0",
            }
        ],
        error_count=1,
    ),
    429: _problem(
        429,
        "too-many-requests",
        "Too Many Requests",
        "this client already has 8 solves and jobs in flight (OPTPLACE_MAX_ACTIVE_PER_CLIENT); retry later",
    ),
    500: _problem(500, "internal-error", "Internal Server Error", "an unexpected error; the server log has details"),
    503: _problem(
        503,
        "busy",
        "Service Unavailable",
        "no worker became free within OPTPLACE_SYNC_WAIT_S; retry, or submit a job (POST /v1/jobs)",
    ),
}

# Where a route answers a status with another kind of problem than PROBLEMS shows.
ROUTE_PROBLEMS: dict[tuple[str, str, int], dict[str, Any]] = {
    ("get", "/v1/extender/plan", 404): _problem(
        404, "no-plan", "Not Found", "no plan is set; PUT /v1/extender/plan", "/v1/extender/plan"
    ),
}


def problem_example(verb: str, path: str, status: int) -> dict[str, Any] | None:
    """The problem document ``verb path`` answers with ``status``, with the request path filled in."""
    if (verb, path, status) in ROUTE_PROBLEMS:
        return ROUTE_PROBLEMS[verb, path, status]
    if status not in PROBLEMS:
        return None
    return PROBLEMS[status] | {"instance": path.replace("{job_id}", JOB_ID)}


@cache
def examples() -> dict[str, Any]:
    """Example by component schema name (JSON-ready), each validated by its model."""
    from optplace.api import schemas
    from optplace.api.extender import ExtenderArgs, ExtenderFilterResult, HostPriority, PlanRequest, PlanSummary
    from optplace.api.routes.validate import diagnose
    from optplace.evaluate import evaluate
    from optplace.migration import ReplanResult, replan
    from optplace.registry import get_method
    from optplace.solve import solve

    instance = _instance()
    given = instance.model_dump(mode="json", exclude_defaults=True)
    result = _fixed_times(solve(instance, "first_fit", {"time_limit_s": 10}))
    placement = result.placement()
    evaluation = evaluate(instance, placement)
    running = instance.model_copy(
        update={
            "applications": [
                a.model_copy(update={"current_accelerator": placement.get(a.name)}) for a in instance.applications
            ]
        }
    )
    changes = {"draining_accelerators": [placement["cam1"]]}  # its applications move, make before break
    replanned = replan(running, changes, "first_fit", {"time_limit_s": 10})
    replanned = replanned.model_copy(
        update={
            "target": _fixed_times(replanned.target),
            "runtime_s": 0.004,
            "solve_runtime_s": 0.001,
            "plan_runtime_s": 0.003,
        }
    )
    summary = {
        "id": JOB_ID,
        "status": "completed",
        "method": result.method,
        "instance_name": instance.name,
        "applications": len(instance.applications),
        "created_at": CREATED,
        "updated_at": FINISHED,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "attempts": 1,
        "solution_status": result.status.value,
        "error": None,
    }
    job = summary | {
        "params": {"time_limit_s": 10.0, "threads": 1},
        "result_kind": "final",
        "result": result.model_dump(mode="json"),
    }
    plan = {
        "version": 1,
        "set_at": FINISHED,
        "source": {"job_id": JOB_ID, "method": result.method, "input_hash": result.input_hash},
        "applications": len(instance.applications),
        "placement": {a.application: {"accelerator": a.accelerator, "node": a.node} for a in result.assignments},
        "unplaced": {u.application: u.reason.value for u in result.unplaced},
    }
    health = {
        "status": "ok",
        "version": result.optplace_version,
        "python": "3.11.9",
        "solvers": {
            "highs": {"available": True, "version": "1.7.2"},
            "ortools": {"available": True, "version": "9.10"},
        },
        "workers": {"size": 2, "alive": 2, "busy": 1, "waiting": 0, "queue_size": 16, "backend": "local"},
        "store": "sqlite",
        "jobs": {"queued": 0, "running": 1, "completed": 12, "failed": 0, "cancelled": 1},
    }
    pod = {"metadata": {"name": "cam1-7d9f", "namespace": "vision", "labels": {"optplace.io/application": "cam1"}}}
    first_fit = get_method("first_fit")
    method = {
        "name": first_fit.name,
        "kind": first_fit.kind,
        "description": first_fit.description,
        "may_violate_slo": first_fit.may_violate_slo,
        "options": first_fit.options_schema(),
    }
    values: dict[str, tuple[type[BaseModel], Any]] = {
        "SolveRequest": (schemas.SolveRequest, {"instance": given, "method": "auto", "params": {"time_limit_s": 10}}),
        "ValidateRequest": (schemas.ValidateRequest, {"instance": given}),
        "EvaluateRequest": (schemas.EvaluateRequest, {"instance": given, "placement": placement}),
        "ReplanRequest": (
            schemas.ReplanRequest,
            {"instance": running.model_dump(mode="json", exclude_defaults=True), "changes": changes},
        ),
        "ExtenderArgs": (ExtenderArgs, {"Pod": pod, "NodeNames": ["node1", "node2"]}),
        "PlanRequest": (PlanRequest, {"job_id": JOB_ID}),
        "SolveResult": (type(result), result.model_dump(mode="json")),
        "JobOut": (schemas.JobOut, job),
        "JobPage": (schemas.JobPage, {"items": [summary], "next_cursor": None}),
        "ValidationReport": (schemas.ValidationReport, diagnose(instance).model_dump(mode="json")),
        "Evaluation": (type(evaluation), evaluation.model_dump(mode="json")),
        "ReplanResult": (ReplanResult, replanned.model_dump(mode="json")),
        "MethodOut": (schemas.MethodOut, method),
        "Health": (schemas.Health, health),
        "ExtenderFilterResult": (
            ExtenderFilterResult,
            {"NodeNames": ["node1"], "FailedNodes": {"node2": "the placement puts cam1 on node1"}, "Error": ""},
        ),
        "HostPriority": (HostPriority, {"Host": "node1", "Score": 10}),
        "PlanSummary": (PlanSummary, plan),
        "Problem": (schemas.Problem, PROBLEMS[422]),
    }
    out: dict[str, Any] = {}
    for name, (model, value) in values.items():
        model.model_validate(value)  # an example the server would refuse or could not send is a bug here
        out[name] = value
    return out
