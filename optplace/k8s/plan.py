"""A plan: an instance and a verified placement of it, as the export and the extender use it.

A solve result is accepted as a plan only when it was computed for the instance (its
``input_hash`` matches, after the objective override it records) and its placement passes the
evaluator: a placement that breaks the model never reaches a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optplace.domain import Instance, Node, Objective
from optplace.evaluate import ViolationCode, evaluate
from optplace.result import SolveResult


class PlanError(ValueError):
    """A result that cannot serve as a plan for the instance; the message says why."""


def verified_placement(instance: Instance, result: SolveResult) -> dict[str, str]:
    """``result``'s placement, after checking that it belongs to ``instance`` and passes the evaluator."""
    from optplace.solve import input_hash

    objectives = result.params.get("objectives") if isinstance(result.params, dict) else None
    solved = instance.model_copy(update={"objectives": [Objective(o) for o in objectives]}) if objectives else instance
    if result.input_hash and result.input_hash != input_hash(solved):
        raise PlanError(
            "the result was computed for another instance (its input_hash differs); pass the instance "
            "the result was solved from"
        )
    if not result.status.has_solution:
        raise PlanError(f"the result has no placement (status {result.status.value})")
    placement = result.placement()
    try:
        evaluation = evaluate(instance, placement)
    except ValueError as error:  # names an application or accelerator the instance lacks
        raise PlanError(f"the result does not fit the instance: {error}") from None
    broken = [v for v in evaluation.violations if v.code != ViolationCode.NOT_HOSTED]
    if broken:
        shown = "; ".join(f"{v.code.value}: {v.message}" for v in broken[:5])
        raise PlanError(f"the placement breaks the model: {shown}")
    return placement


@dataclass(frozen=True)
class Plan:
    """What the extender answers from: who goes where, and who stays out and why."""

    instance: Instance
    placement: dict[str, str]
    unplaced: dict[str, str] = field(default_factory=dict)  # application -> reason code
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_result(cls, instance: Instance, result: SolveResult, source: dict[str, Any] | None = None) -> Plan:
        placement = verified_placement(instance, result)
        unplaced = {u.application: u.reason.value for u in result.unplaced}
        return cls(instance, placement, unplaced, dict(source or {}))

    def node_of(self, accelerator: str) -> Node | None:
        return next((node for node, acc in self.instance.accelerators() if acc.name == accelerator), None)

    def node(self, name: str) -> Node | None:
        return next((node for node in self.instance.nodes if node.name == name), None)
