"""Check an instance document and teach: every problem in one pass, with the fix (``optplace validate``).

:func:`check_document` reports

* **errors** — what makes the document not an instance: the schema's field errors, with a
  did-you-mean for a misspelt field name or enum value, and cross-references (unknown model,
  accelerator type or accelerator names, duplicate names) with the closest declared name. The
  references are checked even while other fields are broken, so one run shows them all.
* **warnings** — valid input that is probably not what was meant: numbers that look like the wrong
  unit (service times or SLOs in seconds, memory in GB, rates per minute), objectives that make
  hosting nothing optimal, and applications that no accelerator can take even alone (with the
  numbers: needed vs available MB, predicted vs allowed latency, utilisation vs cap).

Decisions: the schema (``optplace.domain``) stays the authority on what is valid; this module only
adds to its errors (suggestions) and, while the schema cannot reach its cross-field checks because
other fields are broken, runs a lenient reference check of its own on the raw document (tested to
agree with the schema's). Unit warnings are heuristics with stated thresholds
(:data:`UNIT_THRESHOLDS`); they never make a document invalid. Warnings that need the whole
instance (objectives, alone feasibility) appear once the errors are fixed.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from difflib import get_close_matches
from typing import Any, Literal

from pydantic import BaseModel

from optplace.domain import Instance
from optplace.exceptions import InstanceError, did_you_mean
from optplace.io import InstanceSource, json_pointer, parse_instance, read_document

Severity = Literal["error", "warning"]

# Below these a number probably has the wrong unit (shipped instances stay above them).
UNIT_THRESHOLDS = {
    "slo_ms": 5.0,  # no end-to-end inference SLO is below 5 ms; 0.2 means 200 ms in seconds
    "all_service_times_ms": 0.5,  # if even the slowest model takes under 0.5 ms, they are seconds
    "small_ms": 0.1,  # pre-processing or network delay of 0.02 is 20 ms written in seconds
    "node_memory_mb": 64.0,  # a node that runs DNNs has more than 64 MB; 4 means 4 GB
    "device_memory_mb": 64.0,
    "model_memory_mb": 1.0,  # a backend or front end below 1 MB but above 0 is GB (0.7 = 700 MB)
    # A rate of at least 60 req/s that overloads even the fastest profile alone, but would fit divided by
    # 60, was probably written per minute (the seed's 5-10 req/s become 300-600).
    "per_minute_rps": 60.0,
}


@dataclass(frozen=True)
class Finding:
    """One problem: ``pointer`` is an RFC 6901 JSON pointer into the document ("" for the whole)."""

    severity: Severity
    pointer: str
    code: str
    message: str


@dataclass
class CheckReport:
    """Everything :func:`check_document` found; ``instance`` is set when the document is valid."""

    source: str
    findings: list[Finding] = field(default_factory=list)
    instance: Instance | None = None

    @property
    def valid(self) -> bool:
        return self.instance is not None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_json(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"errors": len(self.errors), "warnings": len(self.warnings)}
        if self.instance is not None:
            summary |= {
                "applications": len(self.instance.applications),
                "nodes": len(self.instance.nodes),
                "accelerators": len(self.instance.accelerators()),
                "models": len(self.instance.models),
            }
        return {
            "source": self.source,
            "valid": self.valid,
            "summary": summary,
            "findings": [asdict(f) for f in self.findings],
        }


def check_instance(source: InstanceSource) -> CheckReport:
    """Read ``source`` (a path, "-", JSON text or bytes) and check it; unreadable input is an error finding."""
    try:
        data, name = read_document(source)
    except InstanceError as error:
        return CheckReport(error.source, [Finding("error", "", e["code"], e["message"]) for e in error.errors])
    return check_document(data, name)


def check_document(data: Any, source: str = "instance") -> CheckReport:
    """Check a parsed JSON document as an instance: errors with suggestions, then warnings."""
    report = CheckReport(source)
    if not isinstance(data, dict):
        report.findings.append(Finding("error", "", "not_an_object", "an instance is a JSON object {...}"))
        return report
    try:
        report.instance = parse_instance(data, source)
    except InstanceError as error:
        report.findings += _schema_errors(data, error.errors)
        if not any(e["code"] == "invalid_reference" for e in error.errors):
            # The schema checks references only once everything else is valid: do it here meanwhile.
            report.findings += _reference_errors(data)
    report.findings += _unit_warnings(data)
    if report.instance is not None:
        report.findings += _instance_warnings(report.instance)
    report.findings.sort(key=_document_order)
    return report


_SECTIONS = {name: index for index, name in enumerate(Instance.model_fields)}


def _document_order(finding: Finding) -> tuple:
    """Errors before warnings, each in the order of the document (sections as the schema lists them)."""
    tokens = _tokens(finding.pointer)
    section = _SECTIONS.get(tokens[0], len(_SECTIONS)) if tokens else -1
    rest = tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in tokens[1:])
    return (finding.severity != "error", section, rest)


# --- errors -------------------------------------------------------------------------------------


def _schema_errors(data: dict[str, Any], entries: list[dict[str, str]]) -> list[Finding]:
    findings = []
    renamed: set[str] = set()  # pointers of required fields that a misspelt sibling stands for
    for entry in entries:
        if entry["code"] == "extra_forbidden":
            tokens = _tokens(entry["pointer"])
            close = get_close_matches(tokens[-1], sorted(_fields_at(tokens[:-1])), n=1)
            if close:
                renamed.add(json_pointer((*tokens[:-1], close[0])))
    for entry in entries:
        pointer, code, message = entry["pointer"], entry["code"], entry["message"]
        tokens = _tokens(pointer)
        if code == "missing" and pointer in renamed:
            continue  # said once, at the misspelt name
        if code == "extra_forbidden":
            known = _fields_at(tokens[:-1])
            message = f"unknown field {tokens[-1]!r}{did_you_mean(tokens[-1], known)}"
            close = get_close_matches(tokens[-1], sorted(known), n=1)
            if close and json_pointer((*tokens[:-1], close[0])) in renamed:
                message += " (it is required)"
        elif code in ("enum", "literal_error"):
            value = _at(data, tokens)
            options = re.findall(r"'([^']*)'", message)
            if isinstance(value, str) and options:
                close = get_close_matches(value, options, n=1)
                if close:
                    message = f"{message}; did you mean {close[0]!r}?"
        elif code == "invalid_reference":
            message = _with_suggestion(data, tokens, message)
        findings.append(Finding("error", pointer, code, message))
    return findings


def _with_suggestion(data: dict[str, Any], tokens: list[str], message: str) -> str:
    """The schema's "unknown <name>" message, with the closest declared name when one is close."""
    kind = _reference_kind(tokens)
    if kind is None or not message.startswith("unknown") or "did you mean" in message:
        return message
    value = _at(data, tokens)
    name = value if isinstance(value, str) else tokens[-1]
    if not get_close_matches(name, _names(data, kind), n=1):
        return message
    what = {"model": "model", "type": "accelerator type", "accelerator": "accelerator"}[kind]
    return f"unknown {what} {name!r}{did_you_mean(name, _names(data, kind))}"


def _reference_kind(tokens: list[str]) -> str | None:
    """Which names the value at ``tokens`` must be one of: "model", "type" or "accelerator"."""
    if len(tokens) >= 3 and tokens[0] == "applications":
        field_name = tokens[2]
        if field_name == "model":
            return "model"
        if field_name == "allowed_accelerator_types":
            return "type"
        if field_name in ("current_accelerator", "cost_by_accelerator", "value_by_accelerator"):
            return "accelerator"
    if len(tokens) >= 4 and tokens[0] == "nodes" and tokens[2] == "accelerators" and tokens[-1] == "type":
        return "type"
    if len(tokens) == 4 and tokens[0] == "models" and tokens[2] == "profiles":
        return "type"
    return None


def _reference_errors(data: dict[str, Any]) -> Iterator[Finding]:
    """Cross-references on the raw document, for when the schema stopped before checking them."""
    type_names = _names(data, "type")
    model_names = _names(data, "model")
    accelerator_names = _names(data, "accelerator")

    def unknown(pointer: tuple, value: Any, what: str, known: list[str]) -> Iterator[Finding]:
        if isinstance(value, str) and value not in known:
            yield Finding(
                "error",
                json_pointer(pointer),
                "invalid_reference",
                f"unknown {what} {value!r}{did_you_mean(value, known)}",
            )

    for n, node in _items(data, "nodes"):
        for a, acc in _items(node, "accelerators"):
            yield from unknown(("nodes", n, "accelerators", a, "type"), acc.get("type"), "accelerator type", type_names)
    for m, model in _items(data, "models"):
        profiles = model.get("profiles")
        for type_name in profiles if isinstance(profiles, dict) else []:
            yield from unknown(("models", m, "profiles", type_name), type_name, "accelerator type", type_names)
    for i, app in _items(data, "applications"):
        yield from unknown(("applications", i, "model"), app.get("model"), "model", model_names)
        allowed = app.get("allowed_accelerator_types")
        for k, type_name in enumerate(allowed if isinstance(allowed, list) else []):
            yield from unknown(
                ("applications", i, "allowed_accelerator_types", k), type_name, "accelerator type", type_names
            )
        current = app.get("current_accelerator")
        yield from unknown(("applications", i, "current_accelerator"), current, "accelerator", accelerator_names)
        for field_name in ("cost_by_accelerator", "value_by_accelerator"):
            keyed = app.get(field_name)
            for acc_name in keyed if isinstance(keyed, dict) else []:
                yield from unknown(
                    ("applications", i, field_name, acc_name), acc_name, "accelerator", accelerator_names
                )


# --- warnings -----------------------------------------------------------------------------------


def _unit_warnings(data: dict[str, Any]) -> Iterator[Finding]:
    """Numbers that look like seconds for milliseconds, GB for MB, or per-minute rates."""

    def warn(pointer: tuple, message: str) -> Finding:
        return Finding("warning", json_pointer(pointer), "implausible_unit", message)

    limits = UNIT_THRESHOLDS
    delay = _number(_object(data.get("settings")).get("network_delay_ms"))
    if delay is not None and 0 < delay < limits["small_ms"]:
        yield warn(("settings", "network_delay_ms"), _seconds(delay, "network delay"))
    for n, node in _items(data, "nodes"):
        memory = _number(node.get("memory_mb"))
        if memory is not None and 0 < memory < limits["node_memory_mb"]:
            yield warn(("nodes", n, "memory_mb"), _gigabytes(memory, "node memory"))
    for t, acc_type in _items(data, "accelerator_types"):
        memory = _number(acc_type.get("memory_mb"))
        if memory is not None and 0 < memory < limits["device_memory_mb"]:
            yield warn(("accelerator_types", t, "memory_mb"), _gigabytes(memory, "device memory"))
    service_times: list[tuple[tuple, float]] = []
    fastest: dict[str, float] = {}  # model -> its shortest service time (for the rate check)
    for m, model in _items(data, "models"):
        for type_name, profile in _object(model.get("profiles")).items():
            if not isinstance(profile, dict):
                continue
            service = _number(profile.get("service_time_ms"))
            if service is not None and service > 0:
                service_times.append((("models", m, "profiles", type_name, "service_time_ms"), service))
                name = model.get("name")
                if isinstance(name, str):
                    fastest[name] = min(fastest.get(name, service), service)
            memory = _number(profile.get("memory_mb"))
            if memory is not None and 0 < memory < limits["model_memory_mb"]:
                yield warn(("models", m, "profiles", type_name, "memory_mb"), _gigabytes(memory, "backend memory"))
    if service_times and max(s for _, s in service_times) < limits["all_service_times_ms"]:
        pointer, value = max(service_times, key=lambda item: item[1])
        yield warn(
            pointer,
            f"every service time is below {limits['all_service_times_ms']:g} ms (the longest is {value:g} ms): "
            f"they look like seconds; service_time_ms is in milliseconds ({value:g} s = {value * 1000:g} ms)",
        )
    for i, app in _items(data, "applications"):
        latency = _number(_object(app.get("slo")).get("latency_ms"))
        if latency is not None and 0 < latency < limits["slo_ms"]:
            yield warn(("applications", i, "slo", "latency_ms"), _seconds(latency, "SLO"))
        pre = _number(app.get("preprocess_ms"))
        if pre is not None and 0 < pre < limits["small_ms"]:
            yield warn(("applications", i, "preprocess_ms"), _seconds(pre, "pre-processing time"))
        frontend = _number(app.get("frontend_memory_mb"))
        if frontend is not None and 0 < frontend < limits["model_memory_mb"]:
            yield warn(("applications", i, "frontend_memory_mb"), _gigabytes(frontend, "front-end memory"))
        rate = _number(app.get("rate_rps"))
        model_name = app.get("model")
        service = fastest.get(model_name) if isinstance(model_name, str) else None
        if (
            rate is not None
            and service is not None
            and rate >= limits["per_minute_rps"]
            and rate * service / 1000 >= 1
            and rate / 60 * service / 1000 < 1
        ):
            yield warn(
                ("applications", i, "rate_rps"),
                f"{rate:g} req/s on its fastest profile ({service:g} ms) is utilisation {rate * service / 1000:.2f} "
                f"alone, beyond any accelerator; rate_rps is per second: if {rate:g} is per minute, write "
                f"{rate / 60:.4g}",
            )


def _instance_warnings(instance: Instance) -> Iterator[Finding]:
    """Objectives that host nothing, and applications no accelerator can take even alone."""
    from optplace.diagnose import check_alone
    from optplace.objectives import hosts_nothing

    reason = hosts_nothing(instance)
    if reason:
        yield Finding("warning", "/objectives", "hosts_nothing", reason)
    checks = check_alone(instance)
    for index, app in enumerate(instance.applications):
        check = checks[app.name]
        if check.reason is not None:
            message = f"{app.name!r} can be hosted nowhere, even alone: {check.detail}"
            yield Finding("warning", json_pointer(("applications", index)), check.reason.value, message)
        elif not check.feasible_accelerators:
            yield Finding(
                "warning", json_pointer(("applications", index)), "slo_missed_alone", f"{app.name!r} {check.detail}"
            )


def _seconds(value: float, what: str) -> str:
    return f"{what} of {value:g} ms looks like seconds; fields ending in _ms are milliseconds ({value:g} s = {value * 1000:g} ms)"


def _gigabytes(value: float, what: str) -> str:
    return (
        f"{what} of {value:g} MB looks like GB; fields ending in _mb are megabytes ({value:g} GB = {value * 1024:g} MB)"
    )


# --- reading the raw document -------------------------------------------------------------------


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _at(data: Any, tokens: list[str]) -> Any:
    """The value at ``tokens`` in the document, or None when the path does not exist."""
    for token in tokens:
        if isinstance(data, dict):
            data = data.get(token)
        elif isinstance(data, list) and token.isdigit() and int(token) < len(data):
            data = data[int(token)]
        else:
            return None
    return data


def _items(data: dict[str, Any], key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    for index, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, dict):
            yield index, item


def _names(data: dict[str, Any], kind: str) -> list[str]:
    if kind == "accelerator":
        return [
            a["name"]
            for _, node in _items(data, "nodes")
            for _, a in _items(node, "accelerators")
            if isinstance(a.get("name"), str)
        ]
    key = {"model": "models", "type": "accelerator_types"}[kind]
    return [item["name"] for _, item in _items(data, key) if isinstance(item.get("name"), str)]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _fields_at(tokens: list[str]) -> set[str]:
    """The field names allowed in the object at ``tokens`` (walking the schema's types), or none."""
    current: Any = Instance
    for token in tokens:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(token)
            if info is None:
                return set()
            current = info.annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return set()
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return set(current.model_fields)
    return set()


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X and ``Annotated[X, ...]`` -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation
