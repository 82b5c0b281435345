"""POST /v1/solve: solve now, on a worker process, and answer with the SolveResult."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from optplace.api.deps import ClientDep, ServiceDep, SettingsDep
from optplace.api.errors import ApiProblem
from optplace.api.openapi import json_body, problems
from optplace.api.requests import check_method, parse_request
from optplace.api.schemas import SolveRequest
from optplace.api.service import ClientBusy, QueueFull, SolveFailed, SolveService, effective_params
from optplace.api.settings import Settings
from optplace.params import SolveParams
from optplace.result import SolveResult

router = APIRouter(tags=["solve"])


def busy(settings_retry_after: int, detail: str) -> ApiProblem:
    return ApiProblem(503, "busy", "Service Unavailable", detail, headers={"Retry-After": str(settings_retry_after)})


def too_many(settings_retry_after: int, detail: str) -> ApiProblem:
    return ApiProblem(
        429, "too-many-requests", "Too Many Requests", detail, headers={"Retry-After": str(settings_retry_after)}
    )


@router.post(
    "/solve",
    response_model=SolveResult,
    summary="Solve an instance now and return the verified result",
    description=(
        "Runs the method on a worker process under the server's time limit rules and answers with the "
        "SolveResult. An instance that is infeasible or only partly placeable is a 200 result whose "
        "`unplaced` list gives each application's reason code. A solve that outlives its time limit "
        "plus grace is killed; the answer is then its best incumbent, or a no_solution_found result."
    ),
    openapi_extra=json_body(SolveRequest),
    responses=problems(401, 413, 422, 429, 500, 503),
)
async def solve(request: Request, service: ServiceDep, settings: SettingsDep, client: ClientDep) -> Response:
    body = await parse_request(request, SolveRequest)
    params = effective_params(settings, body.params)
    method = check_method(body.method, params.options, body.instance).name
    return await answer_now(
        service, settings, client, body.instance.model_dump_json(), method, params, queue_route="POST /v1/jobs"
    )


async def answer_now(
    service: SolveService,
    settings: Settings,
    client: str,
    task_json: str,
    method: str,
    params: SolveParams,
    *,
    queue_route: str,
    failure: str = "solve",
) -> Response:
    """Run a task on a worker now and answer with its result, or the problem that stopped it
    (503 busy, 429 for a client over its share, 500 for a task that ended without a result)."""
    try:
        result_json = await service.solve_now(task_json, method, params, client)
    except QueueFull as error:
        raise busy(settings.retry_after_s, str(error)) from None
    except ClientBusy as error:
        raise too_many(settings.retry_after_s, str(error)) from None
    except SolveFailed as error:
        if error.kind in ("expired", "shutdown"):
            raise busy(
                settings.retry_after_s,
                f"no worker became free within OPTPLACE_SYNC_WAIT_S; retry, or submit a job ({queue_route})"
                if error.kind == "expired"
                else "the server is shutting down",
            ) from None
        raise ApiProblem(
            500,
            f"{failure}-failed",
            f"{failure.capitalize()} failed",
            f"{error.code}: {error.message}" if error.code else f"the {failure} ended without a result",
        ) from None
    return Response(content=result_json, media_type="application/json")
