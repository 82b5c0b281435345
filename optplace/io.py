"""Reading and writing instances, with errors that name the field and the fix."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from optplace.domain import Instance
from optplace.exceptions import InstanceError

__all__ = ["InstanceError", "dump_instance", "load_instance", "parse_instance", "read", "validation_errors"]


def json_pointer(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as an RFC 6901 JSON pointer ("/applications/3/rate_rps")."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc)


def dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
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


InstanceSource = str | os.PathLike[str] | bytes | bytearray | IO[str] | IO[bytes]
"""What :func:`load_instance` reads: a path, ``"-"`` for standard input, JSON text (a ``str``
starting with ``{``), JSON bytes, or an open file."""


def read_document(source: InstanceSource) -> tuple[Any, str]:
    """The JSON document behind ``source`` and a name for it in messages ("<stdin>", the path, ...).

    Raises :class:`InstanceError` (code ``unreadable``, ``invalid_encoding`` or ``invalid_json``)
    when it cannot be read or parsed; it does not validate the document as an instance.
    """
    name, raw = _read_raw(source)
    if isinstance(raw, bytes | bytearray):
        try:
            raw = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise _single_error(name, "invalid_encoding", f"not UTF-8 text (byte {error.start})") from None
    try:
        return json.loads(raw), name
    except json.JSONDecodeError as error:
        raise _single_error(
            name, "invalid_json", f"not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
        ) from None


def _read_raw(source: InstanceSource) -> tuple[str, str | bytes | bytearray]:
    if isinstance(source, bytes | bytearray):
        return "<bytes>", source
    if isinstance(source, str) and source.lstrip().startswith("{"):
        return "<string>", source
    if isinstance(source, str) and source == "-":
        stream = sys.stdin
        return "<stdin>", stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    if hasattr(source, "read"):
        return str(getattr(source, "name", "<file>")), source.read()  # type: ignore[union-attr]
    path = Path(source)  # type: ignore[arg-type]
    try:
        return str(path), path.read_bytes()
    except OSError as error:
        raise _single_error(str(path), "unreadable", f"cannot read the file: {error.strerror or error}") from None


def _single_error(source: str, code: str, message: str) -> InstanceError:
    return InstanceError(source, [{"field": "", "pointer": "", "code": code, "message": message}])


def load_instance(source: InstanceSource) -> Instance:
    """Read and validate an instance from a path, ``"-"`` (stdin), JSON text or bytes, or an open file.

    Raises :class:`InstanceError` naming every problem with its JSON pointer.
    """
    data, name = read_document(source)
    return parse_instance(data, name)


read = load_instance
"""Alias of :func:`load_instance` (``optplace.read(path)``, as in PyVRP)."""


def dump_instance(instance: Instance, path: str | Path) -> None:
    Path(path).write_text(instance.model_dump_json(indent=2, exclude_defaults=True) + "\n", encoding="utf-8")
