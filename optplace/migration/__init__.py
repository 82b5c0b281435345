"""Re-placement of a running cluster after changes, with a safe make-before-break plan.

``replan(instance, changes, method, params) -> ReplanResult``; see ``docs/replan.md``.
"""

from optplace.exceptions import ChangesError, PlanVerificationError
from optplace.migration.changes import Changes, MoveCost, check_changes, check_running
from optplace.migration.replacement import DEFAULT_METHOD, replan, timed_out
from optplace.migration.result import (
    MissingCapacity,
    PlanOutcome,
    PlanStep,
    Purpose,
    ReplanResult,
    StepAction,
)
from optplace.migration.verify import verify_plan

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
