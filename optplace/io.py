"""Reading and writing instances, with errors that name the field and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from optplace.domain import Instance


class InstanceError(ValueError):
    """An instance file or document is unreadable or invalid; ``errors`` holds one entry per problem."""

    def __init__(self, source: str, errors: list[dict[str, str]]):
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  {e['field'] or '(instance)'}: {e['message']}" for e in errors)
        super().__init__(f"{source}: invalid instance\n{lines}")


def json_pointer(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as an RFC 6901 JSON pointer ("/applications/3/rate_rps")."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_errors(error: ValidationError) -> list[dict[str, str]]:
    """Flatten a pydantic error into {field, pointer, code, message} entries."""
    entries = []
    for item in error.errors(include_url=False):
        loc = tuple(item.get("loc", ()))
        message = str(item.get("msg", ""))
        code = str(item.get("type", "invalid"))
        if code == "value_error":
            message = message.removeprefix("Value error, ")
            # Cross-field checks report several "field: message" parts in one error.
            for part in message.split("\n"):
                field, _, text = part.partition(": ")
                if text and " " not in field:
                    entries.append(
                        {
                            "field": field,
                            "pointer": _pointer_from_dotted(field),
                            "code": "invalid_reference",
                            "message": text,
                        }
                    )
                else:
                    entries.append({"field": dotted(loc), "pointer": json_pointer(loc), "code": code, "message": part})
            continue
        if code == "extra_forbidden":
            message = "unknown field; remove it or check its spelling against docs/instance-format.md"
        entries.append({"field": dotted(loc), "pointer": json_pointer(loc), "code": code, "message": message})
    return entries


def _pointer_from_dotted(field: str) -> str:
    parts: list[str] = []
    for chunk in field.replace("[", ".").replace("]", "").split("."):
        if chunk:
            parts.append(chunk)
    return "".join("/" + p for p in parts)


def parse_instance(data: Any, source: str = "instance") -> Instance:
    try:
        return Instance.model_validate(data)
    except ValidationError as error:
        raise InstanceError(source, validation_errors(error)) from None


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
