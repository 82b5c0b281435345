"""Reading and writing instances, with errors that name the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from optplace.domain import AcceleratorType, Application, Instance, Model, Node, ReferenceErrors

MAX_REPORTED_ERRORS = 100  # an invalid document lists its first errors and counts the rest


class InstanceError(ValueError):
    """An instance file or document is unreadable or invalid. ``errors`` holds one entry per problem
    (the first :data:`MAX_REPORTED_ERRORS`); ``total`` counts them all."""

    def __init__(self, source: str, errors: list[dict[str, str]], total: int | None = None):
        self.source = source
        self.errors = errors
        self.total = len(errors) if total is None else total
        lines = "\n".join(f"  {e['field'] or '(instance)'}: {e['message']}" for e in errors)
        more = f"\n  ... and {self.total - len(errors)} more errors" if self.total > len(errors) else ""
        super().__init__(f"{source}: invalid instance\n{lines}{more}")


def json_pointer(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as an RFC 6901 JSON pointer ("/applications/3/rate_rps"): every
    key is one reference token, ``~`` escaped as ``~0`` and ``/`` as ``~1``; pydantic's ``[key]``
    marker (an error in a map key) points at the entry itself."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc if part != "[key]")


def dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_errors(error: ValidationError, prefix: tuple[Any, ...] = ()) -> list[dict[str, str]]:
    """Flatten a pydantic error into {field, pointer, code, message} entries; ``prefix`` is the
    location of the validated document inside a larger one."""
    entries = []
    for item in error.errors(include_url=False):
        loc = (*prefix, *item.get("loc", ()))
        message = str(item.get("msg", ""))
        code = str(item.get("type", "invalid"))
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, ReferenceErrors):
            for where, text in cause.errors:
                at = (*loc, *where)
                entries.append(
                    {"field": dotted(at), "pointer": json_pointer(at), "code": "invalid_reference", "message": text}
                )
            continue
        if code == "value_error":
            message = message.removeprefix("Value error, ")
        elif code == "extra_forbidden":
            message = "unknown field; remove it or check its spelling against docs/instance-format.md"
        entries.append({"field": dotted(loc), "pointer": json_pointer(loc), "code": code, "message": message})
    return entries


class _Errors:
    """The first ``limit`` error entries of a document, and the count of all of them."""

    def __init__(self, limit: int):
        self.limit = limit
        self.entries: list[dict[str, str]] = []
        self.total = 0

    def add(self, error: ValidationError, prefix: tuple[Any, ...] = (), keep: Any = None) -> None:
        entries = validation_errors(error, prefix)
        if keep is not None:
            entries = [e for e in entries if keep(e)]
        self.total += len(entries)
        self.entries.extend(entries[: max(0, self.limit - len(self.entries))])


# The lists of an instance, validated item by item so that the errors kept stay bounded: pydantic
# materialises every error of one validation, and a hostile document can have millions.
_ITEMS: dict[str, type[BaseModel]] = {
    "accelerator_types": AcceleratorType,
    "nodes": Node,
    "models": Model,
    "applications": Application,
}


def parse_instance(data: Any, source: str = "instance", *, max_errors: int = MAX_REPORTED_ERRORS) -> Instance:
    """Validate ``data`` as an :class:`Instance`, or raise :class:`InstanceError` with its first
    ``max_errors`` errors and their total. Cross-field references are checked once every item of
    the lists is valid on its own."""
    errors = _Errors(max_errors)
    if isinstance(data, dict):
        items: dict[str, list[BaseModel]] = {}
        for field, model in _ITEMS.items():
            value = data.get(field)
            if isinstance(value, list):
                valid = []
                for index, item in enumerate(value):
                    try:
                        valid.append(model.model_validate(item))
                    except ValidationError as error:
                        errors.add(error, (field, index))
                items[field] = valid
        if errors.total:
            try:  # the other fields' errors too; the lists' are known, references wait for valid items
                Instance.model_validate({**data, **items})
            except ValidationError as error:
                errors.add(
                    error, keep=lambda e: e["code"] != "invalid_reference" and e["pointer"].split("/")[1] not in items
                )
            raise InstanceError(source, errors.entries, errors.total)
        data = {**data, **items}
    try:
        return Instance.model_validate(data)
    except ValidationError as error:
        errors.add(error)
        raise InstanceError(source, errors.entries, errors.total) from None


def load_instance(path: str | Path) -> Instance:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InstanceError(
            str(path),
            [
                {
                    "field": "",
                    "pointer": "",
                    "code": "unreadable",
                    "message": f"cannot read the file: {error.strerror or error}",
                }
            ],
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InstanceError(
            str(path),
            [
                {
                    "field": "",
                    "pointer": "",
                    "code": "invalid_json",
                    "message": f"not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}",
                }
            ],
        ) from None
    return parse_instance(data, str(path))


def dump_instance(instance: Instance, path: str | Path) -> None:
    Path(path).write_text(instance.model_dump_json(indent=2, exclude_defaults=True) + "\n", encoding="utf-8")
