"""POST /v1/evaluate: the operator's what-if for a placement they have or consider."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from optplace.api.deps import SettingsDep
from optplace.api.errors import invalid_request
from optplace.api.openapi import json_body, problems
from optplace.api.requests import parse_request
from optplace.api.schemas import EvaluateRequest
from optplace.evaluate import Evaluation, evaluate
from optplace.io import json_pointer

router = APIRouter(tags=["evaluate"])


def placement_errors(body: EvaluateRequest) -> list[dict[str, str]]:
    apps = {a.name for a in body.instance.applications}
    accelerators = {acc.name for _, acc in body.instance.accelerators()}
    errors = []
    for app, acc in body.placement.items():
        pointer = json_pointer(("placement", app))
        if app not in apps:
            errors.append(
                {
                    "field": f"placement.{app}",
                    "pointer": pointer,
                    "code": "unknown_application",
                    "message": f"the instance has no application {app!r}",
                }
            )
        elif acc not in accelerators:
            errors.append(
                {
                    "field": f"placement.{app}",
                    "pointer": pointer,
                    "code": "unknown_accelerator",
                    "message": f"the instance has no accelerator {acc!r}",
                }
            )
    return errors


@router.post(
    "/evaluate",
    response_model=Evaluation,
    summary="Predict latency, utilisation and violations of a given placement",
    description=(
        "Runs the independent evaluator on the placement (application -> accelerator): per-application "
        "predicted end-to-end latency in its SLO's statistic, per-accelerator utilisation and memory, "
        "per-node memory, every objective's value, and each violation with its code. Applications not in "
        "the placement count as unplaced."
    ),
    openapi_extra=json_body(EvaluateRequest),
    responses=problems(401, 413, 422, 500),
)
async def evaluate_placement(request: Request, settings: SettingsDep) -> Evaluation:
    body = await parse_request(request, EvaluateRequest)
    errors = placement_errors(body)
    if errors:
        raise invalid_request(errors, limit=settings.max_errors)
    return await run_in_threadpool(evaluate, body.instance, body.placement)
