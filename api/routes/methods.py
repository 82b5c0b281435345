"""GET /v1/methods: the registered methods, as ``optplace methods`` lists them."""

from __future__ import annotations

from fastapi import APIRouter

from optplace.api.openapi import problems
from optplace.api.schemas import MethodOut
from optplace.registry import list_methods

router = APIRouter(tags=["methods"])


@router.get("/methods", response_model=list[MethodOut], summary="List the solve methods", responses=problems(401, 500))
def methods() -> list[MethodOut]:
    return [
        MethodOut(name=m.name, kind=m.kind, description=m.description, may_violate_slo=m.may_violate_slo)
        for m in list_methods()
    ]
