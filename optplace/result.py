"""The one result shape every method returns, and the gap, defined once.

``status`` says what we have (optimal, feasible, infeasible, no_solution_found, error);
``stop_reason`` says why the method stopped (completed, time_limit, interrupted, ...). Unknown
numbers are ``None``, never 0 or infinity.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from optplace.evaluate import Violation
from optplace.simulation.guard import SimulationCheck


class Status(StrEnum):
    OPTIMAL = "optimal"  # the placement is proven optimal for the primary objective
    FEASIBLE = "feasible"  # a verified placement; optimality not proven (see bound and gap)
    INFEASIBLE = "infeasible"  # proven: no placement satisfies the hard constraints (e.g. host_all)
    NO_SOLUTION_FOUND = "no_solution_found"  # stopped without a placement, infeasibility not proven
    ERROR = "error"  # the method failed; see message


class StopReason(StrEnum):
    COMPLETED = "completed"  # ran to its natural end
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    GAP_LIMIT = "gap_limit"  # stopped when the relative gap reached the requested tolerance
    INTERRUPTED = "interrupted"  # cancelled by the user or a signal; also an incumbent reported mid-solve
    MEMORY_LIMIT = "memory_limit"  # stopped by a memory limit (the service's, per solve)
    ERROR = "error"


class UnplacedReason(StrEnum):
    NO_COMPATIBLE_ACCELERATOR = "no_compatible_accelerator"  # no profiled, allowed, labelled device
    EXCEEDS_MEMORY_ALONE = "exceeds_memory_alone"  # too big for every compatible device, even alone
    CANNOT_MEET_SLO_ALONE = "cannot_meet_slo_alone"  # misses its SLO or cap everywhere, even alone
    PINNED_ACCELERATOR_INFEASIBLE = "pinned_accelerator_infeasible"  # cannot run where it is pinned
    INSUFFICIENT_CAPACITY = "insufficient_capacity"  # fits alone, but not beside what was placed
    NOT_ATTEMPTED = "not_attempted"  # the method stopped (time limit, error) before placing it


class Assignment(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    application: str
    accelerator: str
    node: str
    predicted_latency_ms: float | None  # the SLO's statistic, end to end; None if unstable
    slo_ms: float
    statistic: str
    meets_slo: bool


class Unplaced(BaseModel):
    model_config = ConfigDict(frozen=True)

    application: str
    reason: UnplacedReason
    detail: str = ""


class SolveResult(BaseModel):
    """What ``solve`` returns: why it stopped, what it found, and how good that provably is."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    status: Status
    stop_reason: StopReason
    method: str
    objective_name: str
    objective: float | None  # value of the primary objective, in its own units
    bound: float | None  # proven bound on the same quantity; None when unknown
    gap: float | None  # see relative_gap
    objectives: dict[str, float] = Field(default_factory=dict)  # every objective's value
    runtime_s: float
    hosted: int = 0
    hosted_without_violation: int = 0
    violates_slo: bool = False  # only baselines may set this; their violations are listed
    violations: list[Violation] = Field(default_factory=list)
    assignments: list[Assignment] = Field(default_factory=list)
    unplaced: list[Unplaced] = Field(default_factory=list)
    solver: str = "optplace"
    solver_version: str | None = None
    optplace_version: str = ""
    seed: int | None = None
    threads: int | None = None
    input_hash: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    message: str = ""
    stats: dict[str, Any] = Field(default_factory=dict)
    # params.verify == "simulate": every hosted SLO simulated, with a 95% interval and a verdict.
    simulation: SimulationCheck | None = None

    def placement(self) -> dict[str, str]:
        """The placement as application -> accelerator."""
        return {a.application: a.accelerator for a in self.assignments}


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|bound - objective| / max(|objective|, 1): the one definition of gap in optplace.

    The floor of 1 keeps the gap finite for an empty placement (objective 0). ``None`` when
    either side is unknown.
    """
    if objective is None or bound is None:
        return None
    return abs(bound - objective) / max(abs(objective), 1.0)
