"""``replan(instance, changes, method, params) -> ReplanResult``: a new target and a safe way there.

1. The changes are applied (:func:`optplace.migration.changes.situation`): the running cluster
   after them, and where everything runs now.
2. The target is solved by any registered method through :func:`optplace.solve` on the target
   instance (failed and draining accelerators removed; objectives ``max_hosted``, then the move
   cost, then ``min_accelerators``), so it is verified like every solve result.
3. A :class:`~optplace.migration.plan.Planner` orders the steps make-before-break, checking every
   intermediate state with the evaluator.
4. When no safe order reaches that best target (or ``max_moves`` runs out first), the blocked
   operations and their missing capacity are recorded (``blocked``: which step needs how much
   temporary memory or utilisation where) and the target is solved again, planning from the
   start each time, with the applications that blocked it (and, once the budget is spent, every
   one the plan could not afford to move) kept where they run, for up to ``FALLBACK_ROUNDS``
   rounds. If none of those can be reached either, the plan settles by evictions alone
   (emptying draining accelerators, then relieving whatever violates a limit, lowest priority
   first), then admits what fits without moves. The result then says ``fallback``, with the
   best target's hosted count beside the reachable one's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from optplace.domain import Instance
from optplace.exceptions import ParamsError, PlanVerificationError
from optplace.migration.changes import Changes, MoveCost, as_changes, situation, target_instance
from optplace.migration.plan import Planner
from optplace.migration.result import PlanOutcome, ReplanResult, StepAction
from optplace.migration.verify import verify_plan
from optplace.params import SolveParams
from optplace.registry import MethodOutput
from optplace.result import SolveResult, Status, StopReason, UnplacedReason
from optplace.solve import as_instance, build_result, solve

DEFAULT_METHOD = "local_search"
FALLBACK_ROUNDS = 2  # re-solves, from the start, with the blocking applications kept in place
FIRST_SOLVE_SHARE = 0.8  # of params.time_limit_s for the best target; the fallback rounds share the rest

_SOLVED = (Status.OPTIMAL, Status.FEASIBLE)


def replan(
    instance: Instance | Mapping[str, Any],
    changes: Changes | Mapping[str, Any] | None = None,
    method: str = DEFAULT_METHOD,
    params: SolveParams | Mapping[str, Any] | None = None,
) -> ReplanResult:
    """Re-place ``instance`` after ``changes`` and order the moves safely (make before break).

    Raises :class:`~optplace.exceptions.ChangesError` for changes that do not fit the
    instance, :class:`~optplace.exceptions.InstanceError` for an application said to run where its model
    has no profile, and the other :class:`~optplace.exceptions.InvalidInputError` s of ``solve`` for
    bad params or an unknown method (and :class:`~optplace.exceptions.ParamsError` for
    ``params.objectives``: re-placement sets its own objectives). Every plan returned has passed
    :func:`~optplace.migration.verify.verify_plan`; one that does not raises
    :class:`~optplace.exceptions.PlanVerificationError` (a bug, never a result).
    """
    started = time.perf_counter()
    instance = as_instance(instance)
    changes = as_changes(changes)
    params = params if isinstance(params, SolveParams) else SolveParams.model_validate(params or {})
    if params.objectives is not None:
        raise ParamsError(
            "params.objectives: re-placement sets its own objectives; leave objectives unset",
            [
                {
                    "field": "objectives",
                    "pointer": "/objectives",
                    "code": "not_allowed",
                    "message": "re-placement optimises max_hosted, then the move cost, then min_accelerators; "
                    "leave objectives unset",
                }
            ],
        )
    now = situation(instance, changes)
    planner = Planner(now, changes.max_moves)
    unit = "moves" if changes.move_cost == MoveCost.MOVES else changes.move_cost.value
    common: dict[str, Any] = {
        "max_moves": changes.max_moves,
        "move_cost_unit": unit,
        "initial_violations": planner.initial.violations,
        "lost": sorted(now.lost),
    }
    timer = _Timer()

    best_spec = target_instance(now, now.start)
    first = params
    if params.time_limit_s is not None:
        first = params.model_copy(update={"time_limit_s": FIRST_SOLVE_SHARE * params.time_limit_s})
    best = timer.solve(best_spec, method, first)
    if best.status not in _SOLVED:
        return ReplanResult(
            outcome=PlanOutcome.NONE,
            target=best,
            message=f"no target placement: {best.message or best.status.value}",
            **timer.fields(started),
            **common,
        )
    if timer.plan(planner, best.placement()):
        return _result(PlanOutcome.COMPLETE, best, planner, common, timer.fields(started))

    # The best target has no safe order (or needs more moves than max_moves). Try again from the
    # start with the applications that blocked it kept where they run, a few times.
    blocked = planner.missing_capacity()
    common.update(blocked=blocked, best_hosted=best.hosted)
    pins: set[str] = set()
    for round_number in range(2, 2 + FALLBACK_ROUNDS):
        more = _stay_put(planner)
        if more <= pins:
            break
        pins |= more
        planner = Planner(now, changes.max_moves)
        attempt = timer.solve(target_instance(now, now.start, pins), method, _remaining(params, started))
        if attempt.status in _SOLVED and timer.plan(planner, attempt.placement()):
            message = (
                f"the best target (hosting {best.hosted}) has no safe order within the limits; this one keeps "
                f"{len(pins)} applications in place (round {round_number})"
            )
            return _fallback(best, best_spec, params, planner, common, timer, started, message)

    # Last resort: evictions alone (drain by eviction, relieve what violates), then admissions only.
    planner = Planner(now, changes.max_moves)
    if not planner.settle():
        return ReplanResult(
            outcome=PlanOutcome.NONE,
            target=best,
            message="no safe plan: evictions alone could not clear every violation (only pinned applications "
            "left there, or no eviction step was safe)",
            **timer.fields(started),
            **common,
        )
    admit_only = target_instance(now, planner.traffic, set(planner.traffic))
    attempt = timer.solve(admit_only, method, _remaining(params, started))
    if attempt.status in _SOLVED:
        # An application evicted just now is not started again: that would be a move with
        # downtime in between, which a make-before-break plan never makes.
        evicted = {s.application for s in planner.steps if s.action == StepAction.EVICT}
        timer.plan(planner, {a: acc for a, acc in attempt.placement().items() if a not in evicted})
        planner.pending = []  # admissions that could not be made safe are left out
    message = (
        f"the best target (hosting {best.hosted}) has no safe order within the limits; settled by "
        "evictions, then admitted what fits without moves"
    )
    return _fallback(best, best_spec, params, planner, common, timer, started, message)


class _Timer:
    """Solve and plan time of one re-placement."""

    def __init__(self) -> None:
        self.solve_s = 0.0
        self.plan_s = 0.0

    def solve(self, spec: Instance, method: str, params: SolveParams) -> SolveResult:
        result = solve(spec, method, params)
        self.solve_s += result.runtime_s
        return result

    def plan(self, planner: Planner, target: Mapping[str, str]) -> bool:
        started = time.perf_counter()
        try:
            return planner.run(target)
        finally:
            self.plan_s += time.perf_counter() - started

    def fields(self, started: float) -> dict[str, float]:
        return {
            "runtime_s": time.perf_counter() - started,
            "solve_runtime_s": self.solve_s,
            "plan_runtime_s": self.plan_s,
        }


def _fallback(
    best: SolveResult,
    best_spec: Instance,
    params: SolveParams,
    planner: Planner,
    common: dict[str, Any],
    timer: _Timer,
    started: float,
    message: str,
) -> ReplanResult:
    """The plan's end state as the target, verified on the best target's instance (so moves
    count from where everything runs now) and measured against the best target's bound."""
    output = MethodOutput(
        placement=dict(planner.traffic),
        status=Status.FEASIBLE,
        bound=best.bound,
        solver=best.solver,
        solver_version=best.solver_version,
        message=f"re-placement fallback: {message}",
        stats={"best_target_hosted": best.hosted},
    )
    target = build_result(best_spec, best.method, params, output, timer.solve_s)
    hosted_by_best = set(best.placement())
    unplaced = [
        u.model_copy(
            update={"detail": "the best target hosts it, but no safe (make-before-break) order reaches that target"}
        )
        if u.application in hosted_by_best and u.reason == UnplacedReason.INSUFFICIENT_CAPACITY
        else u
        for u in target.unplaced
    ]
    target = target.model_copy(update={"unplaced": unplaced})
    return _result(PlanOutcome.FALLBACK, target, planner, common, timer.fields(started), message)


def _stay_put(planner: Planner) -> set[str]:
    """Applications to keep where they run now in the next round: those whose operation is
    blocked, or, when the budget ran out, every one the plan did not get to move; only those
    on a place with no violation (one on a violating place must stay free to leave) and not on
    a draining accelerator."""
    situation = planner.situation
    spent = planner.max_moves is not None and planner.counts.budgeted_moves >= planner.max_moves
    moved = {s.application for s in planner.steps if s.action in (StepAction.SHIFT, StepAction.EVICT)}
    blocked = {op.application for op in planner.pending}
    state = planner.initial
    bad = {v.accelerator for v in state.violations if v.accelerator} | {v.node for v in state.violations if v.node}
    return {
        app
        for app, acc in situation.start.items()
        if (app in blocked or (spent and app not in moved))
        and acc not in situation.draining
        and acc not in bad
        and planner.node_of[acc] not in bad
    }


def _remaining(params: SolveParams, started: float) -> SolveParams:
    if params.time_limit_s is None:
        return params
    left = max(0.1, params.time_limit_s - (time.perf_counter() - started))
    return params.model_copy(update={"time_limit_s": left})


def _result(
    outcome: PlanOutcome,
    target: SolveResult,
    planner: Planner,
    common: dict[str, Any],
    times: dict[str, float],
    message: str = "",
) -> ReplanResult:
    problems = verify_plan(planner.situation, planner.steps, target.placement())
    if problems:
        raise PlanVerificationError("the plan failed its replay: " + "; ".join(problems[:5]))
    counts = planner.counts
    return ReplanResult(
        outcome=outcome,
        target=target,
        plan=planner.steps,
        moves=counts.moves,
        parking_moves=counts.parking_moves,
        budgeted_moves=counts.budgeted_moves,
        evictions=counts.evictions,
        admissions=counts.admissions,
        move_cost=counts.move_cost,
        states_checked=planner.states_checked,
        message=message,
        **times,
        **common,
    )


def timed_out(
    instance: Instance | Mapping[str, Any],
    changes: Changes | Mapping[str, Any] | None,
    method: str,
    params: SolveParams,
    runtime_s: float,
    message: str,
    stop_reason: StopReason = StopReason.TIME_LIMIT,
) -> ReplanResult:
    """The result of a re-placement stopped from outside (a service's wall clock or memory limit):
    no plan, and a verified empty ``no_solution_found`` target with that stop reason."""
    now = situation(as_instance(instance), as_changes(changes))
    output = MethodOutput(placement={}, status=Status.NO_SOLUTION_FOUND, stop_reason=stop_reason, message=message)
    target = build_result(target_instance(now, now.start), method, params, output, runtime_s)
    return ReplanResult(
        outcome=PlanOutcome.NONE,
        status=target.status,
        target=target,
        runtime_s=runtime_s,
        message=message,
        lost=sorted(now.lost),
    )
