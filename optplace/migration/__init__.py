"""Re-placement of a running cluster after changes, with a safe make-before-break plan.

``replan(instance, changes, method, params) -> ReplanResult``; see ``docs/replan.md``.
"""

from optplace.migration.changes import Changes, ChangesError, MoveCost, check_changes, check_running
from optplace.migration.replacement import DEFAULT_METHOD, replan, timed_out
from optplace.migration.result import (
    MissingCapacity,
    PlanOutcome,
    PlanStep,
    Purpose,
    ReplanResult,
    StepAction,
)
from optplace.migration.verify import PlanVerificationError, verify_plan

__all__ = [
    "DEFAULT_METHOD",
    "Changes",
    "ChangesError",
    "MissingCapacity",
    "MoveCost",
    "PlanOutcome",
    "PlanStep",
    "PlanVerificationError",
    "Purpose",
    "ReplanResult",
    "StepAction",
    "check_changes",
    "check_running",
    "replan",
    "timed_out",
    "verify_plan",
]
