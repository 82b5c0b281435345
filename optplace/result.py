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
from optplace.tables import format_table, interval, number


class Status(StrEnum):
    OPTIMAL = "optimal"  # the placement is proven optimal for the primary objective
    FEASIBLE = "feasible"  # a verified placement; optimality not proven (see bound and gap)
    INFEASIBLE = "infeasible"  # proven: no placement satisfies the hard constraints (e.g. host_all)
    NO_SOLUTION_FOUND = "no_solution_found"  # stopped without a placement, infeasibility not proven
    ERROR = "error"  # the method failed; see message

    @property
    def has_solution(self) -> bool:
        """Whether a result with this status carries a verified placement: optimal or feasible."""
        return self in (Status.OPTIMAL, Status.FEASIBLE)


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
    """Where one hosted application runs, and the latency the evaluator predicts for it there."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    application: str = Field(description="The application's name.")
    accelerator: str = Field(description="The accelerator it runs on.")
    node: str = Field(description="The node holding that accelerator.")
    predicted_latency_ms: float | None = Field(
        description="Predicted end-to-end latency in the SLO's statistic (ms); null if the queue is unstable."
    )
    slo_ms: float = Field(description="The application's latency SLO (ms).")
    statistic: str = Field(description="The SLO's statistic: mean or a percentile such as p95.")
    meets_slo: bool = Field(description="Whether the predicted latency is within the SLO.")
    cocompilation_group: str | None = Field(
        default=None, description="The co-compiled binary its accelerator runs; null when compiled apart."
    )


class Unplaced(BaseModel):
    """An application the placement does not host, and why."""

    model_config = ConfigDict(frozen=True)

    application: str = Field(description="The application's name.")
    reason: UnplacedReason = Field(
        description="Why it is not hosted: no_compatible_accelerator, exceeds_memory_alone, cannot_meet_slo_alone, "
        "pinned_accelerator_infeasible (it can run nowhere, even alone), insufficient_capacity (it fits alone, not "
        "beside what was placed) or not_attempted (the method stopped before placing it)."
    )
    detail: str = Field(default="", description="The reason with its numbers, for people.")


class SolveResult(BaseModel):
    """What ``solve`` returns: why it stopped, what it found, and how good that provably is."""

    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")

    status: Status = Field(
        description="What was found: optimal (proven), feasible (verified, optimality not proven), infeasible "
        "(proven: no placement meets the hard constraints), no_solution_found, or error."
    )
    stop_reason: StopReason = Field(
        description="Why the method stopped: completed, time_limit, iteration_limit, gap_limit, interrupted (also "
        "an incumbent reported mid-solve), memory_limit or error."
    )
    method: str = Field(description="The method that produced the result (a name from GET /v1/methods).")
    objective_name: str = Field(description="The primary objective, e.g. max_hosted or min_accelerators.")
    objective: float | None = Field(description="Value of the primary objective, in its own units; null when unknown.")
    bound: float | None = Field(description="Proven bound on the primary objective; null when unknown.")
    gap: float | None = Field(
        description="Relative gap between objective and bound (0 when proven optimal); null when either is unknown."
    )
    objectives: dict[str, float] = Field(
        default_factory=dict, description="Every objective's value for the placement, by objective name."
    )
    runtime_s: float = Field(description="Wall time of the method (s), from its start to its answer.")
    hosted: int = Field(default=0, description="How many applications the placement hosts.")
    hosted_without_violation: int = Field(
        default=0,
        description="Hosted applications whose SLO and every other rule hold (equals hosted unless a "
        "latency-blind baseline violated rules).",
    )
    violates_slo: bool = Field(
        default=False, description="True only for latency-blind baselines, whose violations are then listed."
    )
    violations: list[Violation] = Field(
        default_factory=list, description="Rules the placement breaks (only a baseline's placement may break any)."
    )
    assignments: list[Assignment] = Field(default_factory=list, description="Where each hosted application runs.")
    unplaced: list[Unplaced] = Field(
        default_factory=list, description="Every application not hosted, with a reason code."
    )
    solver: str = Field(default="optplace", description="The solver engine behind the method (highs, cp-sat, ...).")
    solver_version: str | None = Field(default=None, description="That engine's version, when there is one.")
    optplace_version: str = Field(default="", description="The optplace version that produced the result.")
    seed: int | None = Field(default=None, description="The random seed the method ran with.")
    threads: int | None = Field(default=None, description="The threads the method was allowed.")
    # params.deterministic honoured to the end: work budgets instead of the clock, so the same input
    # and seed give the same placement on any machine (False also when the wall-clock safety stop fired)
    deterministic: bool = Field(
        default=False,
        description="The solve ran on work budgets instead of the clock to the end: the same input and seed give "
        "the same placement on any machine (false also when the wall-clock safety stop fired).",
    )
    input_hash: str = Field(
        default="", description="SHA-256 of the instance as optplace serialises it: equal hashes, same input."
    )
    params: dict[str, Any] = Field(default_factory=dict, description="The params the method ran with.")
    message: str = Field(default="", description="A note for people: what limited the solve, what went wrong.")
    stats: dict[str, Any] = Field(
        default_factory=dict, description="Method-specific counters (nodes, columns, iterations, stages, ...)."
    )
    simulation: SimulationCheck | None = Field(
        default=None,
        description="With params.verify = simulate: every hosted SLO simulated, with a 95% interval and a verdict.",
    )
    latency_model: str = Field(
        default="", description="The latency model version the evaluator checked the placement with."
    )

    def placement(self) -> dict[str, str]:
        """The placement as application -> accelerator."""
        return {a.application: a.accelerator for a in self.assignments}

    def summary(self, title: str | None = None) -> str:
        """A plain-text report: status, the placement table, unplaced applications with their
        reasons, and the objective, bound and gap (what ``optplace solve`` prints).

        ``title`` (e.g. the instance's name) heads the first line.
        """
        head = f"instance {title}: " if title else ""
        parts = [
            f"{head}method {self.method}, status {self.status.value} ({self.stop_reason.value}) "
            f"in {self.runtime_s:.3f} s"
        ]
        if self.assignments:
            rows = [
                (
                    a.application,
                    a.accelerator,
                    a.node,
                    number(a.predicted_latency_ms),
                    f"{a.slo_ms:g}",
                    a.statistic,
                    "yes" if a.meets_slo else "NO",
                )
                for a in self.assignments
            ]
            headers = ["application", "accelerator", "node", "latency_ms", "slo_ms", "stat", "meets"]
            parts.append(format_table(headers, rows, align_right={3, 4}))
        if self.simulation is not None:
            parts.append(_simulation_summary(self.simulation))
        if self.unplaced:
            parts.append("unplaced:")
            reasons = [(u.application, u.reason.value, u.detail) for u in self.unplaced]
            parts.append(format_table(["application", "reason", "detail"], reasons))
        bound = "-" if self.bound is None else f"{self.bound:g}"
        gap = "-" if self.gap is None else f"{100 * self.gap:.2f}%"
        objective = "-" if self.objective is None else f"{self.objective:g}"
        parts.append(
            f"hosted {self.hosted}/{self.hosted + len(self.unplaced)}; "
            f"{self.objective_name} = {objective}, bound {bound}, gap {gap}; "
            f"accelerators used {self.objectives.get('min_accelerators', 0):g}"
        )
        if self.violates_slo:
            parts.append(
                f"WARNING: this placement violates SLOs ({len(self.violations)} violations; "
                f"{self.hosted_without_violation} hosted without violation)"
            )
        if self.message:
            parts.append(self.message)
        return "\n".join(parts)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|bound - objective| / max(|objective|, 1): the one definition of gap in optplace.

    The floor of 1 keeps the gap finite for an empty placement (objective 0). ``None`` when
    either side is unknown.
    """
    if objective is None or bound is None:
        return None
    return abs(bound - objective) / max(abs(objective), 1.0)


def _simulation_summary(check: SimulationCheck) -> str:
    """The verify=simulate table: each hosted SLO predicted, simulated (95% interval) and judged."""
    rows = [
        (
            a.application,
            a.accelerator,
            a.statistic,
            number(a.predicted_ms),
            interval(a.simulated_ms),
            f"{a.slo_ms:g}",
            a.verdict.value,
        )
        for a in check.applications
    ]
    capped = " (capped by max_requests)" if check.capped else ""
    lines = [
        f"simulation check: {check.requests_simulated} requests simulated in {check.runtime_s:.2f} s, "
        f"{check.requests_per_accelerator} per quietest accelerator{capped}; seed {check.seed}; "
        f"95% intervals from {check.batches} batch means"
    ]
    if rows:
        headers = ["application", "accelerator", "stat", "predicted", "simulated", "slo_ms", "verdict"]
        lines.append(format_table(headers, rows, align_right={3, 4, 5}))
    lines.append(
        f"simulated: {len(check.sure_violations)} sure violations, {len(check.borderline)} borderline"
        + (f" ({', '.join((check.sure_violations + check.borderline)[:10])})" if not check.ok else "")
    )
    return "\n".join(lines)
