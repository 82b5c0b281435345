"""Parse request bodies into the input models with errors that point into the body.

The instance is validated on its own (``optplace.io.parse_instance``) and its error pointers are
prefixed with ``/instance``, so a cross-field error such as an unknown model reference points at
``/instance/applications/3/model`` rather than at the whole instance. The rest of the body is
validated by an "envelope" twin of the request model whose ``instance`` is any JSON object.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from optplace.api.errors import ApiProblem, invalid_request
from optplace.api.limits import count_errors
from optplace.api.schemas import EvaluateRequest, SolveRequest, ValidateRequest
from optplace.api.settings import Settings
from optplace.domain import Instance
from optplace.io import InstanceError, parse_instance, validation_errors

M = TypeVar("M", bound=BaseModel)

MAX_MAGNITUDE = 1e12


class _SolveEnvelope(SolveRequest):
    instance: dict[str, Any]  # type: ignore[assignment]


class _EvaluateEnvelope(EvaluateRequest):
    instance: dict[str, Any]  # type: ignore[assignment]


_ENVELOPES: dict[type[BaseModel], type[BaseModel]] = {
    SolveRequest: _SolveEnvelope,
    ValidateRequest: ValidateRequest,  # its instance is any object already: /v1/validate reports on it
    EvaluateRequest: _EvaluateEnvelope,
}


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def loads(body: bytes) -> tuple[Any, bool]:
    """Parse JSON (NaN and Infinity are invalid JSON here too); also say whether some number's
    magnitude exceeds MAX_MAGNITUDE, so that only such bodies pay for :func:`huge_numbers`."""
    huge = False

    def number(text: str, convert: type[int] | type[float]) -> float:
        nonlocal huge
        value = convert(text)
        if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            huge = True
        return value

    data = json.loads(
        body,
        parse_constant=_reject_constant,
        parse_float=lambda text: number(text, float),
        parse_int=lambda text: number(text, int),
    )
    return data, huge


async def read_json(request: Request) -> tuple[Any, bool]:
    """The body as JSON, and whether it holds a number beyond MAX_MAGNITUDE (see :func:`loads`)."""
    body = await request.body()
    if not body.strip():
        raise invalid_request([{"field": "", "pointer": "", "code": "missing", "message": "a JSON body is required"}])
    try:
        return loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise invalid_request(
            [{"field": "", "pointer": "", "code": "json_invalid", "message": f"the body is not valid JSON: {error}"}]
        ) from None


def prefixed(errors: list[dict[str, str]], prefix: str) -> list[dict[str, str]]:
    """Errors of a nested document re-rooted at ``prefix`` ("instance") of the request body."""
    out = []
    for error in errors:
        field = error["field"]
        joined = prefix if not field else (f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}")
        out.append({**error, "field": joined, "pointer": f"/{prefix}{error['pointer']}"})
    return out


def parse_body(data: Any, model: type[M], settings: Settings, *, maybe_huge: bool = True) -> M:
    """Validate ``data`` as ``model``; raise a 422 problem listing every field error.
    ``maybe_huge=False`` skips the search for too large numbers (the parser found none)."""
    envelope = _ENVELOPES[model]
    errors: list[dict[str, str]] = []
    fields: dict[str, Any] = {}
    try:
        fields = dict(envelope.model_validate(data))
    except ValidationError as error:
        for entry in validation_errors(error):
            if entry["code"] == "extra_forbidden":
                entry["message"] = "unknown field; remove it or check its spelling against docs/api.md"
            errors.append(entry)
    if envelope is model:
        if errors:
            raise invalid_request(errors)
        return model.model_construct(**fields)
    raw_instance = data.get("instance") if isinstance(data, dict) else None
    instance: Instance | None = None
    if isinstance(raw_instance, dict):
        instance, instance_errors = check_instance(raw_instance, settings, maybe_huge=maybe_huge)
        errors += instance_errors
    if errors:
        raise invalid_request(errors)
    assert instance is not None
    return model.model_construct(**{**fields, "instance": instance})


def check_instance(
    raw: dict[str, Any], settings: Settings, *, maybe_huge: bool = True
) -> tuple[Instance | None, list[dict[str, str]]]:
    """Validate the ``instance`` member of a request body: the instance, or errors pointing into the body."""
    too_many = count_errors(raw, settings)
    if too_many:
        return None, too_many
    huge = huge_numbers(raw, "/instance") if maybe_huge else []
    if huge:
        return None, huge
    try:
        return parse_instance(raw), []
    except InstanceError as error:
        return None, prefixed(error.errors, "instance")
    except ArithmeticError as error:  # a validator's arithmetic overflowed: still the input's fault
        return None, [
            {"field": "instance", "pointer": "/instance", "code": "value_error", "message": f"invalid number: {error}"}
        ]


def huge_numbers(value: Any, pointer: str, found: list[dict[str, str]] | None = None) -> list[dict[str, str]]:
    """Entries for every number above MAX_MAGNITUDE in absolute value. No quantity in an instance
    (milliseconds, requests per second, megabytes, costs) is anywhere near it, and beyond it
    squares and products overflow in the latency models and the solvers."""
    found = [] if found is None else found
    if isinstance(value, bool):
        return found
    if isinstance(value, int | float) and not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
        found.append(
            {
                "field": pointer.strip("/").replace("/", "."),
                "pointer": pointer,
                "code": "number_too_large",
                "message": f"numbers in an instance must lie within ±{MAX_MAGNITUDE:g}",
            }
        )
    elif isinstance(value, dict):
        for key, item in value.items():
            huge_numbers(item, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            huge_numbers(item, f"{pointer}/{index}", found)
    return found


async def parse_request(request: Request, model: type[M]) -> M:
    settings: Settings = request.app.state.settings
    data, huge = await read_json(request)
    request.state.maybe_huge = huge
    return parse_body(data, model, settings, maybe_huge=huge)


def unknown_method(name: str) -> ApiProblem:
    from optplace.registry import list_methods

    known = ", ".join(m.name for m in list_methods())
    return invalid_request(
        [
            {
                "field": "method",
                "pointer": "/method",
                "code": "unknown_method",
                "message": f"unknown method {name!r}; known methods: {known} (GET /v1/methods)",
            }
        ]
    )
