"""POST /v1/replan (now) and POST /v1/replan/jobs (queued): re-placement with a migration plan.

Thin on purpose: the body is parsed like a solve request, the changes are checked against the
instance (errors point into the body), and the work runs on a solver worker exactly like a
solve, as the task ``replan`` (see :mod:`optplace.api.worker`); jobs are the ordinary jobs of
``/v1/jobs``, whose result is then a ReplanResult.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from optplace.api.deps import ClientDep, ServiceDep, SettingsDep
from optplace.api.errors import invalid_request
from optplace.api.openapi import json_body, problems
from optplace.api.requests import check_method, parse_request, prefixed
from optplace.api.routes.jobs import queue_task
from optplace.api.routes.solve import answer_now
from optplace.api.schemas import JobOut, ReplanRequest
from optplace.api.service import effective_params
from optplace.api.settings import Settings
from optplace.api.worker import REPLAN_TASK
from optplace.exceptions import InstanceError
from optplace.migration import ChangesError, ReplanResult, check_changes, check_running
from optplace.params import SolveParams

router = APIRouter(tags=["replan"])


async def parse_replan(request: Request, settings: Settings) -> tuple[ReplanRequest, SolveParams]:
    """The body and its effective params, with the method, its options and the changes checked
    against the instance (a 422 pointing into the body)."""
    body = await parse_request(request, ReplanRequest)
    params = effective_params(settings, body.params)
    check_method(body.method, params.options, body.instance)
    errors = []
    if params.objectives is not None:  # optplace.replan refuses them too; here it is the request's fault (422)
        errors.append(
            {
                "field": "params.objectives",
                "pointer": "/params/objectives",
                "code": "not_allowed",
                "message": "re-placement optimises max_hosted, then the move cost, then min_accelerators; "
                "leave objectives unset",
            }
        )
    total = len(body.instance.applications) + len(body.changes.add_applications)
    if total > settings.max_applications:
        errors.append(
            {
                "field": "changes.add_applications",
                "pointer": "/changes/add_applications",
                "code": "too_many_items",
                "message": f"{total} applications with the added ones; this server accepts at most "
                f"{settings.max_applications} (OPTPLACE_MAX_APPLICATIONS)",
            }
        )
    try:
        check_changes(body.instance, body.changes)
    except ChangesError as error:
        errors += prefixed(error.errors, "changes")
    try:
        check_running(body.instance, body.changes)
    except InstanceError as error:
        errors += prefixed(error.errors, "instance")
    if errors:
        raise invalid_request(errors, limit=settings.max_errors)
    return body, params


def task_json(body: ReplanRequest) -> str:
    return body.model_copy(update={"params": None}).model_dump_json()


@router.post(
    "/replan",
    response_model=ReplanResult,
    summary="Re-place a running cluster after changes, with a safe migration plan",
    description=(
        "The instance's current_accelerator fields say where applications run now; changes lists what "
        "happened (docs/replan.md). Answers with the ReplanResult: the verified target placement and the "
        "ordered make-before-break plan whose every intermediate state the evaluator accepted, or, when the "
        "best target has no safe order, the best reachable one and the capacity that was missing."
    ),
    openapi_extra=json_body(ReplanRequest),
    responses=problems(401, 413, 422, 429, 500, 503),
)
async def replan(request: Request, service: ServiceDep, settings: SettingsDep, client: ClientDep) -> Response:
    body, params = await parse_replan(request, settings)
    return await answer_now(
        service,
        settings,
        client,
        task_json(body),
        REPLAN_TASK,
        params,
        queue_route="POST /v1/replan/jobs",
        failure="replan",
    )


@router.post(
    "/replan/jobs",
    status_code=202,
    response_model=JobOut,
    summary="Queue a re-placement; answers 202 with the job (method 'replan') and its Location",
    openapi_extra=json_body(ReplanRequest),
    responses={
        202: {"headers": {"Location": {"description": "/v1/jobs/{id}", "schema": {"type": "string"}}}},
        **problems(401, 413, 422, 429, 500, 503),
    },
)
async def create_replan_job(
    request: Request, response: Response, service: ServiceDep, settings: SettingsDep, client: ClientDep
) -> JobOut:
    body, params = await parse_replan(request, settings)
    return await queue_task(service, settings, client, response, body.instance, task_json(body), REPLAN_TASK, params)
