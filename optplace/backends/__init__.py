"""Solver adapters: the only code that touches highspy, pyomo or ortools (always inside functions).

Each adapter module exposes ``solve(model: LinearModel, settings: SolverSettings) -> BackendResult``,
``version() -> str`` and ``STATUS_TABLE`` (every raw solver status mapped to optplace's status and
stop reason, with unknown statuses mapped to error).
"""

from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS: dict[str, str] = {
    "highs": "optplace.backends.highs",
    "pyomo": "optplace.backends.pyomo_backend",
    "cpsat": "optplace.backends.cpsat",
}


def get_backend(name: str) -> ModuleType:
    """The adapter module for ``name`` (imports the adapter, not its solver)."""
    try:
        return importlib.import_module(BACKENDS[name])
    except KeyError:
        raise ValueError(f"unknown back-end {name!r}; known: {', '.join(sorted(BACKENDS))}") from None
