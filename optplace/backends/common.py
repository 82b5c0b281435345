"""What every back-end takes and gives back: settings, callbacks and a solver-neutral result.

A back-end solves a :class:`~optplace.backends.linear.LinearModel`. Its result speaks optplace's
vocabulary (:class:`~optplace.result.Status`, :class:`~optplace.result.StopReason`) about *the
model*: OPTIMAL means optimal for the model handed in, which the caller relates to the placement
problem. Each adapter owns a complete table from its solver's statuses to that vocabulary with an
explicit unknown -> error entry (``status_table`` / ``map_status`` in each module).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from optplace.result import Status, StopReason

IncumbentCallback = Callable[[np.ndarray, float, "float | None"], None]  # values, objective, bound
BoundCallback = Callable[[float], None]


@dataclass
class SolverSettings:
    """Solver-neutral knobs; ``None`` means the solver's default."""

    time_limit_s: float | None = None
    # Deterministic runs: a limit on the solver's *work*, in reference seconds (optplace.budget):
    # HiGHS gets a branch-and-bound node limit, CP-SAT max_deterministic_time. None: no work limit.
    work_limit_s: float | None = None
    threads: int | None = None
    seed: int = 0
    relative_gap: float | None = None
    warm_start: np.ndarray | None = None
    verbose: bool = False
    solver_name: str | None = None  # which solver a generic back-end (Pyomo) should call
    on_incumbent: IncumbentCallback | None = None
    on_bound: BoundCallback | None = None
    options: dict[str, Any] = field(default_factory=dict)  # solver tuning: keys of the back-end's allow-list


class SolverTuning(BaseModel):
    """Base of a back-end's allow-list of solver tuning parameters.

    Only numbers, booleans and short enums, each with a range: nothing that can name a file, a log
    or a program, and nothing that SolverSettings already owns (time limit, seed, threads, output).
    ``None`` (the default of every field) leaves the solver's own default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    @classmethod
    def checked(cls, options: dict[str, Any], solver: str) -> dict[str, Any]:
        """The options that are set, after validation (raises ValueError naming each bad key)."""
        try:
            tuned = cls.model_validate(options)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(options)'}: {e['msg']}" for e in error.errors()[:10]
            )
            unknown = any(e["type"] == "extra_forbidden" for e in error.errors())
            allowed = f" (allowed: {', '.join(cls.model_fields)})" if unknown else ""
            raise ValueError(f"invalid solver options for {solver}: {problems}{allowed}") from None
        return tuned.model_dump(exclude_none=True)


@dataclass
class BackendResult:
    """The outcome of one solve of one model."""

    status: Status
    stop_reason: StopReason
    values: np.ndarray | None  # a solution of the model, when status is OPTIMAL or FEASIBLE
    objective: float | None  # model objective of ``values`` (constant included)
    bound: float | None  # proven dual bound on the model objective
    solver: str
    solver_version: str
    raw_status: str  # the solver's own word, for the record
    runtime_s: float
    message: str = ""
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusEntry:
    """How one raw solver status maps: status with a solution, status without one, and why it stopped."""

    with_solution: Status
    without_solution: Status
    stop_reason: StopReason


UNKNOWN = StatusEntry(Status.ERROR, Status.ERROR, StopReason.ERROR)


def map_status(table: dict[str, StatusEntry], raw: str, has_solution: bool) -> tuple[Status, StopReason]:
    """Look a raw status up; anything the table does not name is an error."""
    entry = table.get(raw, UNKNOWN)
    return (entry.with_solution if has_solution else entry.without_solution), entry.stop_reason


def gap_stop(status: Status, stop: StopReason, objective: float | None, bound: float | None, maximize: bool):
    """A solver that reports "optimal" within a relative-gap tolerance has stopped at the gap limit."""
    if status != Status.OPTIMAL or objective is None or bound is None:
        return status, stop
    if abs(bound - objective) > 1e-9 * max(1.0, abs(objective)):
        return Status.FEASIBLE, StopReason.GAP_LIMIT
    return status, stop
