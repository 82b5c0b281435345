"""Methods register by name; ``solve``, the CLI, the API and the benchmarks look them up here.

A method is a function ``(instance, params) -> MethodOutput``. The modules that define methods
are imported on first lookup, and none of them imports a solver at import time, so
``import optplace`` stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from optplace.domain import Instance
from optplace.exceptions import UnknownMethodError
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
    name: str, description: str, kind: MethodKind, *, may_violate_slo: bool = False
) -> Callable[[MethodFunction], MethodFunction]:
    """Decorator: make ``function`` available to ``solve`` as ``name``."""

    def decorate(function: MethodFunction) -> MethodFunction:
        if name in _METHODS and _METHODS[name].function is not function:
            raise ValueError(f"method {name!r} is registered twice")
        _METHODS[name] = MethodInfo(name, description, kind, function, may_violate_slo)
        return function

    return decorate


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
