"""The kube-scheduler extender: POST /v1/extender/filter and /v1/extender/prioritize, and the
plan they answer from (PUT and GET /v1/extender/plan). docs/kubernetes.md has the scheduler
configuration.

The scheduler treats any status but 200 as the extender failing, so the verbs answer 200 with
upstream's ``Error`` field for what goes wrong inside (no plan yet); malformed bodies still get
a 422 problem. Bodies are read like every other route's (:func:`~optplace.api.requests.parse_request`:
off the event loop, NaN and huge numbers reported at their pointer), and the wire types still
match field names case-insensitively. The verbs carry no bearer token (kube-scheduler cannot send one: secure them with
TLS and the network); plan changes do.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from optplace.api.deps import ServiceDep
from optplace.api.errors import ApiProblem, invalid_request
from optplace.api.extender import (
    ExtenderArgs,
    ExtenderFilterResult,
    HostPriority,
    NodeList,
    PlanKeeper,
    PlanRequest,
    PlanSummary,
)
from optplace.api.openapi import json_body, problems
from optplace.api.requests import parse_request
from optplace.api.routes.jobs import not_found
from optplace.api.store import JobStatus
from optplace.domain import Instance
from optplace.k8s.extender import NoPlan, Verdict, decide
from optplace.k8s.objects import ObjectError, Pod, read_object
from optplace.k8s.plan import Plan, PlanError
from optplace.result import SolveResult

# Scheduler verbs: open (kube-scheduler sends no credentials). Plan management: guarded.
router = APIRouter(prefix="/extender", tags=["extender"])
plans = APIRouter(prefix="/extender", tags=["extender"])


def keeper(request: Request) -> PlanKeeper:
    return request.app.state.extender_plans


def _verdict(request: Request, args: ExtenderArgs) -> tuple[Verdict | None, str]:
    try:
        pod = read_object(args.pod or {}, Pod, "Pod")
    except ObjectError as error:
        return None, str(error)
    try:
        return decide(keeper(request).plan(), pod, args.candidate_names()), ""
    except NoPlan as error:
        return None, f"optplace: {error}"


@router.post(
    "/filter",
    response_model=ExtenderFilterResult,
    summary="Scheduler extender filter verb (upstream ExtenderArgs -> ExtenderFilterResult)",
    description=(
        "A pod of an application the plan places passes only the plan's node; one it leaves unplaced passes "
        "none; one it does not know passes the nodes where it fits beside the plan with every SLO met; other "
        "pods pass everywhere. Nodes come back as names when the scheduler sent names (nodeCacheCapable), "
        "else as the node objects it sent."
    ),
    openapi_extra=json_body(ExtenderArgs),
    responses=problems(413, 422, 500),
)
async def filter_nodes(request: Request) -> ExtenderFilterResult:
    args = await parse_request(request, ExtenderArgs)
    verdict, error = await run_in_threadpool(_verdict, request, args)
    if verdict is None:
        return ExtenderFilterResult(Error=error)
    if args.node_names is not None:
        return ExtenderFilterResult(
            NodeNames=verdict.passed,
            FailedNodes=verdict.failed,
            FailedAndUnresolvableNodes=verdict.unresolvable,
        )
    keep = set(verdict.passed)
    items = [item for item in (args.nodes.items or [])] if args.nodes else []
    kept = (
        NodeList(**{**(args.nodes.model_extra or {}), "items": [i for i in items if _name(i) in keep]})
        if args.nodes
        else None
    )
    return ExtenderFilterResult(Nodes=kept, FailedNodes=verdict.failed, FailedAndUnresolvableNodes=verdict.unresolvable)


def _name(item: dict) -> str:
    return str((item.get("metadata") or {}).get("name", ""))


@router.post(
    "/prioritize",
    response_model=list[HostPriority],
    summary="Scheduler extender prioritize verb (upstream ExtenderArgs -> HostPriorityList)",
    description=(
        "Scores 0..10 (upstream MinExtenderPriority..MaxExtenderPriority): 10 on the plan's node for a planned "
        "application, floor(10 x SLO slack) for one the plan does not know, 0 otherwise and without a plan."
    ),
    openapi_extra=json_body(ExtenderArgs),
    responses=problems(413, 422, 500),
)
async def prioritize_nodes(request: Request) -> list[HostPriority]:
    args = await parse_request(request, ExtenderArgs)
    verdict, _ = await run_in_threadpool(_verdict, request, args)
    names = args.candidate_names()
    scores = verdict.scores if verdict is not None else {}
    return [HostPriority(Host=name, Score=scores.get(name, 0)) for name in names]


@plans.put(
    "/plan",
    response_model=PlanSummary,
    summary="Set the plan the extender answers from",
    description=(
        'Either {"job_id": ...}: a completed job whose result becomes the plan, or {"instance": ..., '
        "\"result\": ...}: a result solved for that instance (e.g. by 'optplace solve'). The result must belong "
        "to the instance (input_hash) and its placement must pass the evaluator. The plan is kept in the job "
        "store's database, so it survives a restart."
    ),
    openapi_extra=json_body(PlanRequest),
    responses=problems(401, 404, 413, 422, 500),
)
async def put_plan(request: Request, service: ServiceDep) -> PlanSummary:
    body = await parse_request(request, PlanRequest)  # the instance's size limits included
    if body.job_id is not None:
        instance, result = await run_in_threadpool(_job_plan, service, body.job_id)
        source = {"job_id": body.job_id, "method": result.method, "input_hash": result.input_hash}
    else:
        assert body.instance is not None and body.result is not None
        instance, result = body.instance, body.result
        source = {"method": result.method, "input_hash": result.input_hash}
    try:
        plan = await run_in_threadpool(Plan.from_result, instance, result, source)
    except PlanError as error:
        field = "job_id" if body.job_id is not None else "result"
        raise invalid_request(
            [{"field": field, "pointer": f"/{field}", "code": "unusable_plan", "message": str(error)}]
        ) from None
    return await run_in_threadpool(keeper(request).set, plan, result)


def _job_plan(service: ServiceDep, job_id: str) -> tuple[Instance, SolveResult]:
    record = service.store.get(job_id)
    if record is None:
        raise not_found(job_id)
    if record.status != JobStatus.COMPLETED or not record.result or not record.result_final:
        raise invalid_request(
            [
                {
                    "field": "job_id",
                    "pointer": "/job_id",
                    "code": "job_not_completed",
                    "message": f"job {job_id!r} is {record.status.value}; only a completed job's result can be a plan",
                }
            ]
        )
    instance_json = service.store.instance_json(job_id)
    assert instance_json is not None
    return Instance.model_validate_json(instance_json), SolveResult.model_validate(record.result)


@plans.get(
    "/plan",
    response_model=PlanSummary,
    summary="The plan the extender answers from",
    responses=problems(401, 404, 500),
)
def get_plan(request: Request) -> PlanSummary:
    current = keeper(request).current()
    if current is None:
        raise ApiProblem(404, "no-plan", "Not Found", "no plan is set; PUT /v1/extender/plan")
    version, plan, set_at = current
    return PlanKeeper.summary(version, plan, set_at)
