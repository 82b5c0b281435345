"""Asynchronous solves: POST /v1/jobs, GET /v1/jobs, GET and DELETE /v1/jobs/{job_id}, and
POST /v1/jobs/{job_id}/cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from optplace.api.deps import ClientDep, ServiceDep, SettingsDep
from optplace.api.errors import ApiProblem
from optplace.api.openapi import json_body, problems
from optplace.api.requests import check_method, parse_request
from optplace.api.routes.solve import busy, too_many
from optplace.api.schemas import JobError, JobOut, JobPage, JobSummary, SolveRequest
from optplace.api.service import ClientBusy, QueueFull, SolveService, effective_params
from optplace.api.settings import Settings
from optplace.api.store import JobRecord, JobStatus
from optplace.api.worker import REPLAN_TASK
from optplace.domain import Instance
from optplace.migration import ReplanResult
from optplace.params import SolveParams
from optplace.result import SolveResult

router = APIRouter(prefix="/jobs", tags=["jobs"])


def summary_fields(record: JobRecord) -> dict:
    return {
        "id": record.id,
        "status": record.status,
        "method": record.method,
        "instance_name": record.instance_name,
        "applications": record.applications,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "attempts": record.attempts,
        "solution_status": record.solution_status,
        "error": JobError(**record.error) if record.error else None,
    }


def job_out(record: JobRecord) -> JobOut:
    kind = ReplanResult if record.method == REPLAN_TASK else SolveResult
    return JobOut(
        **summary_fields(record),
        params=record.params,
        result_kind=None if record.result is None else ("final" if record.result_final else "incumbent"),
        result=kind.model_validate(record.result) if record.result else None,
    )


def not_found(job_id: str) -> ApiProblem:
    return ApiProblem(404, "job-not-found", "Not Found", f"no job with id {job_id[:64]!r}")


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    summary="Queue a solve; answers 202 with the job and its Location",
    openapi_extra=json_body(SolveRequest),
    responses={
        202: {"headers": {"Location": {"description": "/v1/jobs/{id}", "schema": {"type": "string"}}}},
        **problems(401, 413, 422, 429, 500, 503),
    },
)
async def create_job(
    request: Request, response: Response, service: ServiceDep, settings: SettingsDep, client: ClientDep
) -> JobOut:
    body = await parse_request(request, SolveRequest)
    params = effective_params(settings, body.params)
    method = check_method(body.method, params.options, body.instance).name
    return await queue_task(
        service, settings, client, response, body.instance, body.instance.model_dump_json(), method, params
    )


async def queue_task(
    service: SolveService,
    settings: Settings,
    client: str,
    response: Response,
    instance: Instance,
    task_json: str,
    method: str,
    params: SolveParams,
) -> JobOut:
    """Store a task as a queued job and answer with it and its Location, or the problem that
    refused it (503 when the queue is full, 429 for a client over its share)."""
    try:
        record = await run_in_threadpool(service.submit_job, instance, task_json, method, params, client)
    except QueueFull as error:
        raise busy(settings.retry_after_s, str(error)) from None
    except ClientBusy as error:
        raise too_many(settings.retry_after_s, str(error)) from None
    response.headers["Location"] = f"/v1/jobs/{record.id}"
    return job_out(record)


@router.get(
    "",
    response_model=JobPage,
    summary="List jobs, newest first (summaries: no instance, params or result)",
    responses=problems(401, 422, 500),
)
def list_jobs(
    service: ServiceDep,
    settings: SettingsDep,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="Page size; larger values are cut to OPTPLACE_PAGE_SIZE_MAX.")
    ] = 20,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,18}$", description="next_cursor of the previous page.")
    ] = None,
    status: Annotated[JobStatus | None, Query(description="Only jobs with this status.")] = None,
) -> JobPage:
    limit = min(limit, settings.page_size_max)
    records, next_cursor = service.store.list_jobs(limit=limit, cursor=cursor, status=status)
    return JobPage(items=[JobSummary(**summary_fields(r)) for r in records], next_cursor=next_cursor)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    summary="A job, with its best result so far",
    responses=problems(401, 404, 422, 500),
)
def get_job(job_id: str, service: ServiceDep) -> JobOut:
    record = service.store.get(job_id)
    if record is None:
        raise not_found(job_id)
    return job_out(record)


@router.post(
    "/{job_id}/cancel",
    response_model=JobOut,
    summary="Cancel a job (idempotent); it stays stored with its best incumbent",
    description=(
        "A queued or running job becomes cancelled; a running one has its worker stopped. Whatever "
        "result was stored stays (an incumbent with stop_reason interrupted). Cancelling a finished job "
        "changes nothing and returns it."
    ),
    responses=problems(401, 404, 422, 500),
)
def cancel_job(job_id: str, service: ServiceDep) -> JobOut:
    record = service.cancel_job(job_id)
    if record is None:
        raise not_found(job_id)
    return job_out(record)


@router.delete(
    "/{job_id}",
    response_model=JobOut,
    summary="Delete a job (cancelling it first if it is queued or running)",
    description=(
        "Removes the job from the store and answers with the job as it was when deleted (a queued or "
        "running job is cancelled first, so its stored incumbent comes back here one last time). A "
        "second DELETE answers 404. Finished jobs are also deleted automatically OPTPLACE_JOB_TTL_S "
        "after they end."
    ),
    responses=problems(401, 404, 422, 500),
)
def delete_job(job_id: str, service: ServiceDep) -> JobOut:
    record = service.delete_job(job_id)
    if record is None:
        raise not_found(job_id)
    return job_out(record)
