"""What a re-placement returns: the target placement, the ordered plan, and what blocked it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optplace.evaluate import Violation
from optplace.result import SolveResult, Status
from optplace.tables import format_table, number


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, ser_json_inf_nan="null")


class StepAction(StrEnum):
    """One operation on the cluster; a move is start, shift, stop (make before break)."""

    EVICT = "evict"  # stop an application that the target leaves unplaced (traffic and copy)
    START = "start"  # start a copy on the destination; it holds memory but no traffic yet
    SHIFT = "shift"  # send the application's traffic to its started copy
    STOP = "stop"  # stop the copy at the source, which no longer has traffic


class Purpose(StrEnum):
    """Why an application changes place."""

    ADMIT = "admit"  # it runs nowhere yet (new, or waiting)
    RECOVER = "recover"  # its accelerator failed
    DRAIN = "drain"  # it leaves a draining accelerator
    RELIEVE = "relieve"  # it leaves an accelerator or node that violates a limit or SLO now
    REBALANCE = "rebalance"  # a voluntary move that makes the target possible
    PARK = "park"  # a temporary move that breaks a cycle of moves
    UNPARK = "unpark"  # from its parking accelerator to its target
    EVICT = "evict"  # the target leaves it unplaced


class PlanStep(_Out):
    """One step of the plan and the state right after it (checked by the evaluator)."""

    index: int = Field(description="1-based position in the plan.")
    action: StepAction = Field(
        description="The operation: evict, start, shift or stop (a move is start, shift, stop: make before break)."
    )
    application: str = Field(description="The application it concerns.")
    accelerator: str = Field(
        description="Where the step acts: the destination of start/shift, the source of stop/evict."
    )
    source: str | None = Field(
        default=None, description="For shift: where the traffic came from (None for admissions)."
    )
    purpose: Purpose = Field(description="Why the application changes place.")
    loads_backend: bool = Field(
        default=False,
        description="start: a new backend process is loaded (no shared backend of the model runs there); "
        "stop/evict: the backend process goes away with it.",
    )
    memory_mb: float = Field(default=0.0, description="Memory the step takes (+) or frees (-) on its node or device.")
    load_time_ms: float | None = Field(
        default=None, description="start with a new backend: the profile's load_time_ms, when known."
    )
    utilization: float = Field(description="The accelerator's utilisation after the step.")
    memory_used_mb: float = Field(description="Memory used after the step where the step's memory counts.")
    memory_limit_mb: float = Field(description="Its limit (node, or the device for types with their own memory).")


class MissingCapacity(_Out):
    """A step that no order could make safe, and by how much its state breaks the limits."""

    application: str = Field(description="The application whose operation fails.")
    step: StepAction = Field(description="The first step of the operation that fails (start or shift).")
    accelerator: str = Field(description="The accelerator of the failing step.")
    node: str = Field(description="That accelerator's node.")
    memory_mb: float = Field(description="Memory beyond the limit in that state (0 when memory is not short).")
    utilization: float = Field(description="Utilisation beyond the cap in that state (0 when the cap holds).")
    budget: bool = Field(default=False, description="True when max_moves, not capacity, stopped the move.")
    violations: list[Violation] = Field(default_factory=list, description="What the evaluator found in that state.")
    detail: str = Field(default="", description="The shortage with its numbers, for people.")


class PlanOutcome(StrEnum):
    COMPLETE = "complete"  # the plan reaches the best target the method found
    FALLBACK = "fallback"  # the best target had no safe order (or needed too many moves); see blocked
    NONE = "none"  # the method found no target placement; nothing to do


class ReplanResult(_Out):
    """What ``optplace.replan`` returns: the verified target, the safe plan to it, and its cost."""

    outcome: PlanOutcome = Field(
        description="complete (the plan reaches the best target found), fallback (the best target had no safe order or needed too many moves; see blocked) or none (no target found; nothing to do)."
    )
    status: Status = Field(
        description="The target's status (a copy of target.status), so that a re-placement reads like a solve result."
    )
    target: SolveResult = Field(description="The placement the plan ends in, verified like any solve result.")
    plan: list[PlanStep] = Field(
        description="The steps in order, each with the state right after it.", default_factory=list
    )
    moves: int = Field(default=0, description="Migrations of running applications (parking legs included).")
    parking_moves: int = Field(
        default=0, description="Temporary moves to a parking accelerator, to free room for another move."
    )
    budgeted_moves: int = Field(default=0, description="Moves that count against max_moves.")
    max_moves: int | None = Field(default=None, description="The changes' limit on moves; null when unlimited.")
    evictions: int = Field(default=0, description="Running applications the plan stops for good.")
    admissions: int = Field(default=0, description="Applications started that ran nowhere (new, waiting or lost).")
    move_cost: float = Field(default=0.0, description="Sum over moves of their cost under the changes' move_cost.")
    move_cost_unit: str = Field(
        default="moves", description="Unit of move_cost: moves, or the changes' move_cost measure (e.g. load_time_ms)."
    )
    states_checked: int = Field(default=0, description="Intermediate states the evaluator checked.")
    blocked: list[MissingCapacity] = Field(
        default_factory=list, description="Operations of the best target that no safe order could do."
    )
    best_hosted: int | None = Field(default=None, description="Applications the best target hosts (fallback only).")
    initial_violations: list[Violation] = Field(
        default_factory=list, description="What is violated right after the changes, before any step."
    )
    lost: list[str] = Field(default_factory=list, description="Applications whose accelerator failed.")
    runtime_s: float = Field(default=0.0, description="Wall time of the whole re-placement (s).")
    solve_runtime_s: float = Field(default=0.0, description="Time spent finding the target placement (s).")
    plan_runtime_s: float = Field(default=0.0, description="Time spent ordering and checking the steps (s).")
    message: str = Field(default="", description="A note for people: what limited the plan.")

    @model_validator(mode="before")
    @classmethod
    def _status_of_the_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and "status" not in data and "target" in data:
            target = data["target"]
            data = {**data, "status": target.status if isinstance(target, SolveResult) else target.get("status")}
        return data

    def placement(self) -> dict[str, str]:
        """The target placement as application -> accelerator."""
        return self.target.placement()

    def summary(self, title: str | None = None) -> str:
        """A plain-text report (what ``optplace replan`` prints): the plan as a table, its moves and
        costs, what blocked the best target, then the target's own :meth:`SolveResult.summary`."""
        head = f"instance {title}: " if title else ""
        parts = [
            f"{head}re-placement {self.outcome.value} in {self.runtime_s:.3f} s (solve {self.solve_runtime_s:.3f} s, "
            f"plan {self.plan_runtime_s:.3f} s, {self.states_checked} states checked)"
        ]
        if self.initial_violations:
            parts.append(f"after the changes, before any step: {len(self.initial_violations)} violations")
        if self.lost:
            parts.append("lost with their accelerator: " + ", ".join(self.lost))
        if self.plan:
            rows = [
                (
                    s.index,
                    s.action.value,
                    s.application,
                    s.accelerator,
                    s.source or "",
                    s.purpose.value,
                    f"{s.memory_mb:+g}" if s.memory_mb else "",
                    number(s.utilization, 3),
                    f"{s.memory_used_mb:g}/{s.memory_limit_mb:g}",
                )
                for s in self.plan
            ]
            headers = ["step", "action", "application", "accelerator", "from", "purpose", "memory_mb", "util"]
            parts.append(format_table([*headers, "mem_after"], rows, align_right={0, 6, 7}))
        else:
            parts.append("no steps: the cluster is already where it should be")
        budget = "" if self.max_moves is None else f" of max {self.max_moves}"
        parts.append(
            f"moves {self.moves} ({self.parking_moves} parking; {self.budgeted_moves} counted{budget}), "
            f"evictions {self.evictions}, admissions {self.admissions}, move cost {self.move_cost:g} "
            f"{self.move_cost_unit}"
        )
        if self.blocked:
            parts.append(f"the best target (hosting {self.best_hosted}) was not reachable; blocked:")
            blocked_rows = [
                (
                    m.application,
                    m.step.value,
                    m.accelerator,
                    m.node,
                    f"{m.memory_mb:g}",
                    f"{m.utilization:.3f}",
                    "max_moves" if m.budget else m.detail,
                )
                for m in self.blocked
            ]
            headers = ["application", "step", "accelerator", "node", "memory_mb_short", "utilization_over", "why"]
            parts.append(format_table(headers, blocked_rows, align_right={4, 5}))
        parts.append("target:")
        parts.append(self.target.summary(title))
        if self.message and self.message not in self.target.message:
            parts.append(self.message)
        return "\n".join(parts)
