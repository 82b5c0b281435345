"""GET /v1/methods: the registered methods, as ``optplace methods`` lists them."""

from __future__ import annotations

from fastapi import APIRouter

from optplace.api.openapi import problems
from optplace.api.schemas import MethodOut
from optplace.registry import list_methods

router = APIRouter(tags=["methods"])


@router.get(
    "/methods",
    response_model=list[MethodOut],
    summary="List the solve methods, each with the JSON Schema of its options",
    responses=problems(401, 500),
)
def methods() -> list[MethodOut]:
    return [
        MethodOut(
            name=m.name,
            kind=m.kind,
            description=m.description,
            may_violate_slo=m.may_violate_slo,
            options=m.options_schema(),
        )
        for m in list_methods()
    ]
