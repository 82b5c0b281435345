"""Reading and writing instances, with errors that name the field and the fix."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError

from optplace.domain import AcceleratorType, Application, Instance, Model, Node, ReferenceErrors
from optplace.exceptions import InstanceError

__all__ = ["InstanceError", "dump_instance", "load_instance", "parse_instance", "read", "validation_errors"]

MAX_REPORTED_ERRORS = 100  # an invalid document lists its first errors and counts the rest


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
