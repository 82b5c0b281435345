"""The ``optplace.io/`` annotation scheme: how a pod says which application it is.

One place reads and writes it, for the cluster import, the manifest export and the scheduler
extender alike. docs/kubernetes.md has the table; in short, a pod is an optplace *application
pod* when it carries ``optplace.io/model``, and then:

=====================================  =========  ==========================================
annotation                             required   application field
=====================================  =========  ==========================================
``optplace.io/application``            no         ``name`` (default: the pod's name)
``optplace.io/model``                  yes        ``model``
``optplace.io/rate-rps``               yes        ``rate_rps``
``optplace.io/slo-ms``                 yes        ``slo.latency_ms``
``optplace.io/slo-statistic``          no         ``slo.statistic`` (``mean``, ``p95``, ...)
``optplace.io/priority``               no         ``priority``
``optplace.io/preprocess-ms``          no         ``preprocess_ms``
``optplace.io/frontend-memory-mb``     no         ``frontend_memory_mb``
``optplace.io/allowed-accelerator-types`` no      ``allowed_accelerator_types`` (comma list)
``optplace.io/pinned``                 no         ``pinned`` (``"true"``/``"false"``)
``optplace.io/accelerator``            no         where it runs now (``current_accelerator``)
=====================================  =========  ==========================================

The pod's ``spec.nodeSelector`` becomes ``required_labels``. Pods that optplace's export writes
for shared model backends carry ``optplace.io/role: backend`` (plus ``optplace.io/accelerator``,
``optplace.io/models`` and ``optplace.io/applications``); they are not applications.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from optplace.domain import Application

PREFIX = "optplace.io/"
APPLICATION = PREFIX + "application"
MODEL = PREFIX + "model"
RATE_RPS = PREFIX + "rate-rps"
SLO_MS = PREFIX + "slo-ms"
SLO_STATISTIC = PREFIX + "slo-statistic"
PRIORITY = PREFIX + "priority"
PREPROCESS_MS = PREFIX + "preprocess-ms"
FRONTEND_MEMORY_MB = PREFIX + "frontend-memory-mb"
ALLOWED_ACCELERATOR_TYPES = PREFIX + "allowed-accelerator-types"
PINNED = PREFIX + "pinned"
ACCELERATOR = PREFIX + "accelerator"
# Written by the export only (informational on application pods, identifying on backends).
ROLE = PREFIX + "role"
NODE = PREFIX + "node"
BACKEND = PREFIX + "backend"
MODELS = PREFIX + "models"
APPLICATIONS = PREFIX + "applications"
ROLE_BACKEND = "backend"
ROLE_APPLICATION = "application"

_NUMBERS = {
    RATE_RPS: "rate_rps",
    PRIORITY: "priority",
    PREPROCESS_MS: "preprocess_ms",
    FRONTEND_MEMORY_MB: "frontend_memory_mb",
}
_REQUIRED = (MODEL, RATE_RPS, SLO_MS)


class AnnotationError(ValueError):
    """Annotations that do not describe a valid application; ``problems`` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


def annotation_field(key: str) -> str:
    """Where an annotation sits in a pod, for messages: ``metadata.annotations['optplace.io/model']``."""
    return f"metadata.annotations[{key!r}]"


def is_application(annotations: dict[str, str]) -> bool:
    """Whether a pod with these annotations is an optplace application pod."""
    return MODEL in annotations and annotations.get(ROLE, ROLE_APPLICATION) != ROLE_BACKEND


def is_backend(annotations: dict[str, str]) -> bool:
    return annotations.get(ROLE) == ROLE_BACKEND


def application_from_annotations(
    annotations: dict[str, str], default_name: str, node_selector: dict[str, str] | None = None
) -> Application:
    """The application a pod describes (without ``current_accelerator``, which needs the cluster).

    Raises :class:`AnnotationError` naming each bad annotation and what to write instead."""
    problems: list[tuple[str, str]] = []
    for key in _REQUIRED:
        if not annotations.get(key, "").strip():
            problems.append((annotation_field(key), "missing; every optplace application pod needs it"))
    fields: dict[str, Any] = {
        "name": annotations.get(APPLICATION, "").strip() or default_name,
        "model": annotations.get(MODEL, "").strip(),
        "required_labels": dict(node_selector or {}),
    }
    for key, name in _NUMBERS.items():
        if key in annotations:
            fields[name] = _number(annotations[key], key, problems)
    slo: dict[str, Any] = {}
    if annotations.get(SLO_MS, "").strip():
        slo["latency_ms"] = _number(annotations[SLO_MS], SLO_MS, problems)
    if SLO_STATISTIC in annotations:
        slo["statistic"] = annotations[SLO_STATISTIC].strip()
    fields["slo"] = slo
    if ALLOWED_ACCELERATOR_TYPES in annotations:
        fields["allowed_accelerator_types"] = [
            part.strip() for part in annotations[ALLOWED_ACCELERATOR_TYPES].split(",") if part.strip()
        ]
    if PINNED in annotations:
        text = annotations[PINNED].strip().lower()
        if text not in ("true", "false"):
            problems.append((annotation_field(PINNED), f"{annotations[PINNED]!r} is not 'true' or 'false'"))
        fields["pinned"] = text == "true"
    if problems:
        raise AnnotationError(problems)
    try:
        # Pinned needs current_accelerator, which the caller sets; check everything else here.
        return Application.model_validate({**fields, "pinned": False}).model_copy(
            update={"pinned": fields.get("pinned", False)}
        )
    except ValidationError as error:
        raise AnnotationError([(_field_of(item["loc"]), item["msg"]) for item in error.errors()]) from None


def application_annotations(app: Application, accelerator: str | None = None) -> dict[str, str]:
    """Annotations describing ``app`` (the inverse of :func:`application_from_annotations`);
    optional fields are written only when they differ from their defaults."""
    out = {
        APPLICATION: app.name,
        MODEL: app.model,
        RATE_RPS: _format(app.rate_rps),
        SLO_MS: _format(app.slo.latency_ms),
        SLO_STATISTIC: app.slo.statistic,
    }
    defaults = Application.model_fields
    for key, name in _NUMBERS.items():
        value = getattr(app, name)
        if name != "rate_rps" and value != defaults[name].default:
            out[key] = _format(value)
    if app.allowed_accelerator_types is not None:
        out[ALLOWED_ACCELERATOR_TYPES] = ",".join(app.allowed_accelerator_types)
    if app.pinned:
        out[PINNED] = "true"
    if accelerator is not None:
        out[ACCELERATOR] = accelerator
    return out


def _number(text: str, key: str, problems: list[tuple[str, str]]) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        problems.append((annotation_field(key), f"{text!r} is not a number"))
        return None
    if not math.isfinite(value):
        problems.append((annotation_field(key), f"{text!r} is not a finite number"))
        return None
    return value


def _format(value: float) -> str:
    """Shortest decimal text that reads back as the same float (``repr``), without a trailing
    ``.0`` for whole numbers."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


_FIELD_TO_ANNOTATION = {
    "name": APPLICATION,
    "model": MODEL,
    "rate_rps": RATE_RPS,
    "slo.latency_ms": SLO_MS,
    "slo.statistic": SLO_STATISTIC,
    "slo": SLO_MS,
    "priority": PRIORITY,
    "preprocess_ms": PREPROCESS_MS,
    "frontend_memory_mb": FRONTEND_MEMORY_MB,
    "allowed_accelerator_types": ALLOWED_ACCELERATOR_TYPES,
}


def _field_of(loc: tuple[Any, ...]) -> str:
    dotted = ".".join(str(part) for part in loc if not isinstance(part, int))
    if dotted.startswith("required_labels"):
        return "spec.nodeSelector"
    key = _FIELD_TO_ANNOTATION.get(dotted) or next(
        (v for k, v in _FIELD_TO_ANNOTATION.items() if dotted.startswith(k + ".")), None
    )
    return annotation_field(key) if key else dotted
