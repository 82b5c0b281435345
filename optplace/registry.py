"""Methods register by name; ``solve``, the CLI, the API and the benchmarks look them up here.

A method is a function ``(instance, params) -> MethodOutput``. The modules that define methods
are imported on first lookup, and none of them imports a solver at import time, so
``import optplace`` stays light.

Method options are typed (:mod:`optplace.options`). Each method registers its options model with
``@register(..., options=TheOptions)``; a method that declares none gets ``NoOptions``, so an
unknown key is an error for every method. ``solve()``, the CLI and the HTTP service validate
``params.options`` through :func:`check_options` *before* the method runs; the method reads its
typed options with ``TheOptions.of(params, instance)`` (validated again, microseconds, so that a
direct call of the function is checked too). ``optplace methods --json`` and ``GET /v1/methods``
publish each model's JSON Schema.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from optplace.domain import Instance
from optplace.exceptions import UnknownMethodError
from optplace.options import MethodOptions, MethodOptionsError, NoOptions
from optplace.params import SolveParams
from optplace.result import Status, StopReason

MethodKind = Literal["baseline", "heuristic", "exact", "portfolio"]


@dataclass
class MethodOutput:
    """What a method hands back to ``solve``; ``solve`` verifies and dresses it up."""

    placement: dict[str, str]
    status: Status = Status.FEASIBLE
    stop_reason: StopReason = StopReason.COMPLETED
    bound: float | None = None  # proven bound on the primary objective, if the method has one
    solver: str = "optplace"
    solver_version: str | None = None
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


MethodFunction = Callable[[Instance, SolveParams], MethodOutput]


@dataclass(frozen=True)
class MethodInfo:
    name: str
    description: str
    kind: MethodKind
    function: MethodFunction
    may_violate_slo: bool = False  # only the latency-blind baselines
    options: type[MethodOptions] = NoOptions

    def options_schema(self) -> dict[str, Any]:
        """JSON Schema of ``params.options`` for this method."""
        return self.options.model_json_schema()


# Modules whose import registers methods. Each later method family adds its module here.
BUILTIN_METHOD_MODULES: list[str] = [
    "optplace.heuristics.greedy",
    "optplace.portfolio",
    "optplace.heuristics.fit",
    "optplace.heuristics.regret",
    "optplace.heuristics.local_search",
    "optplace.heuristics.baselines",
    "optplace.heuristics.ibis",
    "optplace.formulations.assignment.methods",
    "optplace.formulations.configuration.method",
]

_METHODS: dict[str, MethodInfo] = {}
_loaded = False


def register(
    name: str,
    description: str,
    kind: MethodKind,
    *,
    may_violate_slo: bool = False,
    options: type[MethodOptions] = NoOptions,
) -> Callable[[MethodFunction], MethodFunction]:
    """Decorator: make ``function`` available to ``solve`` as ``name``, taking ``options``."""
    if not (isinstance(options, type) and issubclass(options, MethodOptions)):
        raise TypeError(f"options of method {name!r} must be a MethodOptions subclass, not {options!r}")

    def decorate(function: MethodFunction) -> MethodFunction:
        if name in _METHODS and _METHODS[name].function is not function:
            raise ValueError(f"method {name!r} is registered twice")
        _METHODS[name] = MethodInfo(name, description, kind, function, may_violate_slo, options)
        return function

    return decorate


def check_options(info: MethodInfo, options: Any, instance: Instance | None = None) -> MethodOptions:
    """Validate ``options`` for the method ``info`` (raises :class:`MethodOptionsError`).
    ``instance`` lets options that name applications or accelerators be checked against it."""
    try:
        return info.options.model_validate(options, context={"instance": instance})
    except ValidationError as error:
        raise MethodOptionsError(info.name, error) from None


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_METHOD_MODULES:
            importlib.import_module(module)


def get_method(name: str) -> MethodInfo:
    _load_builtins()
    try:
        return _METHODS[name]
    except KeyError:
        raise UnknownMethodError(name, sorted(_METHODS)) from None


def list_methods() -> list[MethodInfo]:
    _load_builtins()
    return sorted(_METHODS.values(), key=lambda m: (m.kind, m.name))
