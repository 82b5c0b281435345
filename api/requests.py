"""Parse request bodies into the input models (large ones off the event loop), with errors that
point into the body. Every route that takes a JSON body calls :func:`parse_request` (see docs/architecture.md).

By the time a route runs, the request guard (:mod:`optplace.api.guard`) has checked the
content type, the size and the JSON structure (depth, number of values). Here, on the event loop for
a body of at most ``INLINE_PARSE_BYTES``, else in a worker thread (at most ``parse_concurrency`` at
once, so that /v1/health stays fast and memory stays bounded):

* the body is parsed; ``NaN``, ``Infinity`` and numbers beyond :data:`MAX_MAGNITUDE` are reported
  at their JSON pointer, and so are strings holding a lone UTF-16 surrogate (``"\\ud800"``);
* a model with an ``instance: Instance`` field is validated through an "envelope" twin whose
  ``instance`` is any JSON object, and the instance on its own (``optplace.io.parse_instance``),
  its error pointers prefixed with ``/instance``, so that a cross-field error points at
  ``/instance/applications/3/model`` rather than at the whole instance;
* error lists keep the first ``max_errors`` entries and count the rest.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any, TypeVar

import anyio
from fastapi import Request
from pydantic import BaseModel, ValidationError, create_model

from optplace.api.errors import ApiProblem, invalid_request
from optplace.api.limits import count_errors
from optplace.api.settings import Settings
from optplace.domain import Instance
from optplace.io import InstanceError, json_pointer, parse_instance, validation_errors
from optplace.options import MethodOptionsError
from optplace.registry import MethodInfo, check_options, get_method

M = TypeVar("M", bound=BaseModel)

MAX_MAGNITUDE = 1e12
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abAB-fF]")


class _NonFinite(float):
    """What ``NaN``, ``Infinity`` and ``-Infinity`` parse to, so that they can be found afterwards."""

    def __new__(cls, text: str) -> _NonFinite:
        value = super().__new__(cls, float(text.replace("Infinity", "inf")))
        value.text = text  # type: ignore[attr-defined]
        return value


class ParsedBody:
    """A parsed body and what the parser noticed about it (each check costs a walk only if needed)."""

    def __init__(self, data: Any, *, non_finite: bool, huge: bool, surrogate: bool):
        self.data = data
        self.non_finite = non_finite
        self.huge = huge
        self.surrogate = surrogate


def loads(body: bytes) -> ParsedBody:
    """Parse JSON; note whether it has NaN/Infinity literals, numbers beyond MAX_MAGNITUDE, or a
    surrogate escape, so that only such bodies pay for :func:`unsafe_values`."""
    flags = {"non_finite": False, "huge": False}

    def constant(text: str) -> float:
        flags["non_finite"] = True
        return _NonFinite(text)

    def number(text: str, convert: type[int] | type[float]) -> float:
        value = convert(text)
        if not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE:
            flags["huge"] = True
        return value

    data = json.loads(
        body,
        parse_constant=constant,
        parse_float=lambda text: number(text, float),
        parse_int=lambda text: number(text, int),
    )
    return ParsedBody(data, surrogate=_SURROGATE_ESCAPE.search(body) is not None, **flags)


def read_error(message: str, code: str = "json_invalid") -> ApiProblem:
    return invalid_request([{"field": "", "pointer": "", "code": code, "message": message}])


def parse_bytes(body: bytes) -> ParsedBody:
    if not body.strip():
        raise read_error("a JSON body is required", "missing")
    try:
        return loads(body)
    except RecursionError:
        raise read_error("the body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise read_error(f"the body is not valid JSON: {error}") from None


def unsafe_values(parsed: ParsedBody, limit: int) -> list[dict[str, str]]:
    """Entries for NaN/Infinity literals, numbers beyond MAX_MAGNITUDE (no quantity in an instance
    is anywhere near it, and beyond it squares and products overflow in the latency models and the
    solvers) and strings or keys with a lone surrogate, each at its JSON pointer (at most ``limit``)."""
    if not (parsed.non_finite or parsed.huge or parsed.surrogate):
        return []
    found: list[dict[str, str]] = []

    def report(path: tuple[Any, ...], code: str, message: str) -> None:
        if len(found) < limit:
            found.append(
                {"field": ".".join(map(str, path)), "pointer": json_pointer(path), "code": code, "message": message}
            )

    stack: list[tuple[Any, tuple[Any, ...]]] = [(parsed.data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if parsed.surrogate and _lone_surrogate(key):
                    report((*path, key), "string_unicode", "this key holds a lone surrogate (not valid Unicode)")
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
        elif isinstance(value, _NonFinite):
            report(path, "finite_number", f"{value.text} is not a JSON number; give a finite number")  # type: ignore[attr-defined]
        elif isinstance(value, str):
            if parsed.surrogate and _lone_surrogate(value):
                report(path, "string_unicode", "this string holds a lone surrogate (not valid Unicode)")
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and not -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE
        ):
            report(path, "number_too_large", f"numbers must lie within ±{MAX_MAGNITUDE:g}")
    found.sort(key=lambda e: e["pointer"])
    return found


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@cache
def envelope(model: type[M]) -> type[BaseModel]:
    """``model`` with its ``instance: Instance`` (or ``Instance | None``) field, if any, relaxed to
    any JSON object (or None)."""
    field = model.model_fields.get("instance")
    if field is None:
        return model
    if field.annotation is Instance:
        relaxed: Any = (dict[str, Any], ...)
    elif field.annotation == Instance | None:
        relaxed = (dict[str, Any] | None, field.default)
    else:
        return model
    return create_model(f"_{model.__name__}Envelope", __base__=model, instance=relaxed)


def prefixed(errors: list[dict[str, str]], prefix: str) -> list[dict[str, str]]:
    """Errors of a nested document re-rooted at ``prefix`` ("instance") of the request body."""
    out = []
    for error in errors:
        field = error["field"]
        joined = prefix if not field else (f"{prefix}{field}" if field.startswith("[") else f"{prefix}.{field}")
        out.append({**error, "field": joined, "pointer": f"/{prefix}{error['pointer']}"})
    return out


def parse_body(data: Any, model: type[M], settings: Settings) -> M:
    """Validate ``data`` as ``model``; raise a 422 problem listing its field errors (capped)."""
    shell = envelope(model)
    errors: list[dict[str, str]] = []
    total = 0
    fields: dict[str, Any] = {}
    validated: BaseModel | None = None
    try:
        validated = shell.model_validate(data)
        fields = dict(validated)
    except ValidationError as error:
        for entry in validation_errors(error):
            if entry["code"] == "extra_forbidden":
                entry["message"] = "unknown field; remove it or check its spelling against docs/api.md"
            errors.append(entry)
        total = len(errors)
    if shell is model:
        if errors:
            raise invalid_request(errors, total=total, limit=settings.max_errors)
        assert isinstance(validated, model)
        return validated
    raw_instance = data.get("instance") if isinstance(data, dict) else None
    instance: Instance | None = None
    if isinstance(raw_instance, dict):
        instance, instance_errors, instance_total = check_instance(raw_instance, settings)
        errors += instance_errors
        total += instance_total
    if errors:
        raise invalid_request(errors, total=total, limit=settings.max_errors)
    assert instance is not None or raw_instance is None
    return model.model_construct(**{**fields, "instance": instance})


def check_instance(raw: dict[str, Any], settings: Settings) -> tuple[Instance | None, list[dict[str, str]], int]:
    """Validate the ``instance`` member of a request body: the instance, or (capped) errors pointing
    into the body and their total."""
    too_many = count_errors(raw, settings)
    if too_many:
        return None, too_many, len(too_many)
    try:
        return parse_instance(raw, max_errors=settings.max_errors), [], 0
    except InstanceError as error:
        return None, prefixed(error.errors, "instance"), error.total
    except ArithmeticError as error:  # a validator's arithmetic overflowed: still the input's fault
        entry = {
            "field": "instance",
            "pointer": "/instance",
            "code": "value_error",
            "message": f"invalid number: {error}",
        }
        return None, [entry], 1


def parse_sync(body: bytes, model: type[M], settings: Settings) -> M:
    parsed = parse_bytes(body)
    unsafe = unsafe_values(parsed, settings.max_errors)
    if unsafe:
        raise invalid_request(unsafe, limit=settings.max_errors)
    return parse_body(parsed.data, model, settings)


# Bodies up to this size are parsed on the event loop: well under a millisecond for a
# 50-application instance (11 kB), less than the two thread switches a worker thread costs.
INLINE_PARSE_BYTES = 16_384


async def parse_request(request: Request, model: type[M]) -> M:
    """The request body as ``model``, parsed and validated (raises a 422 problem): a small body
    at once, a larger one in a worker thread (at most ``parse_concurrency`` at once), so that
    the event loop is never held for long and memory stays bounded."""
    settings: Settings = request.app.state.settings
    body = await request.body()
    if len(body) <= INLINE_PARSE_BYTES:
        return parse_sync(body, model, settings)
    return await anyio.to_thread.run_sync(parse_sync, body, model, settings, limiter=request.app.state.parse_limiter)


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


def check_method(name: str, options: dict[str, Any] | None = None, instance: Instance | None = None) -> MethodInfo:
    """The registered method ``name`` with ``options`` valid for it, or a 422 pointing at
    ``/method`` or at ``/params/options/<key>``."""
    try:
        info = get_method(name)
    except ValueError:
        raise unknown_method(name) from None
    try:
        check_options(info, options or {}, instance)
    except MethodOptionsError as error:
        raise invalid_request(
            [
                {
                    "field": f"params.{e['field']}",
                    "pointer": "/params" + e["pointer"],
                    "code": e["code"],
                    "message": e["message"],
                }
                for e in error.errors
            ]
        ) from None
    return info
