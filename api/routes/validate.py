"""POST /v1/validate: is the instance valid, and what could each application do alone?"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from optplace.api.deps import SettingsDep
from optplace.api.errors import printable_entry
from optplace.api.openapi import json_body, problems
from optplace.api.requests import check_instance, parse_request
from optplace.api.schemas import ApplicationDiagnosis, FieldError, ValidateRequest, ValidationReport
from optplace.diagnose import check_alone
from optplace.domain import Instance

router = APIRouter(tags=["validate"])


def diagnose(instance: Instance) -> ValidationReport:
    checks = check_alone(instance)
    return ValidationReport(
        valid=True,
        applications=[
            ApplicationDiagnosis(
                application=app.name,
                feasible_alone=bool(checks[app.name].feasible_accelerators),
                feasible_accelerators=checks[app.name].feasible_accelerators,
                reason=checks[app.name].reason,
                detail=checks[app.name].detail,
                best_alone_latency_ms=checks[app.name].best_alone_latency_ms,
            )
            for app in instance.applications
        ],
        summary={
            "applications": len(instance.applications),
            "nodes": len(instance.nodes),
            "accelerators": sum(len(n.accelerators) for n in instance.nodes),
            "models": len(instance.models),
            "feasible_alone": sum(1 for c in checks.values() if c.feasible_accelerators),
        },
    )


@router.post(
    "/validate",
    response_model=ValidationReport,
    summary="Validate an instance and diagnose each application alone",
    description=(
        "Answers 200 for any well-formed request: `valid` false with one error per problem (pointers "
        "into the request body), or `valid` true with, per application, the accelerators it could use "
        "if it were alone there, and otherwise why not (no compatible accelerator, memory, or an SLO it "
        "misses even alone, with its best predicted latency). A request that is not an object with an "
        "`instance` object is a 422."
    ),
    openapi_extra=json_body(ValidateRequest),
    responses=problems(401, 413, 422, 500),
)
async def validate(request: Request, settings: SettingsDep) -> ValidationReport:
    body = await parse_request(request, ValidateRequest)
    instance, errors, total = await run_in_threadpool(check_instance, body.instance, settings)
    if instance is None:
        shown = errors[: settings.max_errors]
        return ValidationReport(
            valid=False,
            errors=[FieldError.model_validate(printable_entry(e)) for e in shown],
            error_count=max(total, len(shown)),
        )
    return await run_in_threadpool(diagnose, instance)
