"""The one entry point: ``solve(instance, method, params) -> SolveResult``.

Every method, whatever it is, goes through here: the instance is validated, the method runs, its
placement is re-checked by the independent evaluator, and only then is a result built. A method
that is not allowed to violate SLOs and returns a placement that does is a bug: ``solve`` raises
:class:`PlacementVerificationError` rather than ship it. With ``params.verify == "simulate"`` the
verified placement is then also simulated and every hosted SLO gets a verdict from its 95%
interval (``result.simulation``); that is a report, not a gate: the analytic check decides.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from optplace import __version__
from optplace.diagnose import check_alone
from optplace.domain import Instance, Objective
from optplace.evaluate import Evaluation, ViolationCode, evaluate
from optplace.params import SolveParams
from optplace.registry import MethodOutput, check_options, get_method
from optplace.result import (
    Assignment,
    SolveResult,
    Status,
    StopReason,
    Unplaced,
    UnplacedReason,
    relative_gap,
)
from optplace.simulation.guard import SimulationCheck


class PlacementVerificationError(RuntimeError):
    """A method returned a placement the evaluator rejects: a bug, never a result."""

    def __init__(self, method: str, evaluation: Evaluation):
        self.evaluation = evaluation
        shown = "; ".join(f"{v.code}: {v.message}" for v in evaluation.violations[:5])
        super().__init__(f"method {method!r} returned an infeasible placement: {shown}")


def input_hash(instance: Instance) -> str:
    """SHA-256 of the instance's canonical JSON, recorded with every result."""
    canonical = json.dumps(instance.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def as_instance(instance: Instance | Mapping[str, Any]) -> Instance:
    return instance if isinstance(instance, Instance) else Instance.model_validate(instance)


def solve(
    instance: Instance | Mapping[str, Any],
    method: str = "auto",
    params: SolveParams | Mapping[str, Any] | None = None,
) -> SolveResult:
    """Place ``instance``'s applications with ``method`` and return a verified result.

    Raises ``ValueError`` for an unknown method and
    :class:`~optplace.options.MethodOptionsError` (a ``ValueError``) for options the method does
    not take, before anything runs.
    """
    instance = as_instance(instance)
    params = params if isinstance(params, SolveParams) else SolveParams.model_validate(params or {})
    info = get_method(method)
    check_options(info, params.options, instance)
    if params.objectives is not None:
        instance = instance.model_copy(update={"objectives": list(params.objectives)})
    started = time.perf_counter()

    alone = check_alone(instance)
    hopeless = [
        a for a in instance.applications if not alone[a.name].feasible_accelerators and (a.pinned or instance.host_all)
    ]
    if hopeless:
        output = MethodOutput(
            placement={},
            status=Status.INFEASIBLE,
            message=(
                "proven infeasible before search: "
                + "; ".join(f"{a.name}: {alone[a.name].reason}" for a in hopeless[:5])
            ),
        )
    else:
        try:
            output = info.function(instance, params)
        except Exception as error:
            output = MethodOutput(
                placement={},
                status=Status.ERROR,
                stop_reason=StopReason.ERROR,
                message=f"{type(error).__name__}: {error}",
            )
    runtime = time.perf_counter() - started
    result = build_result(
        instance, info.name, params, output, runtime, alone=alone, may_violate_slo=info.may_violate_slo
    )
    if params.verify == "simulate" and result.status in (Status.OPTIMAL, Status.FEASIBLE):
        result = result.model_copy(update={"simulation": simulate_result(instance, result, params)})
    return result


def simulate_result(instance: Instance, result: SolveResult, params: SolveParams) -> SimulationCheck:
    """``verify="simulate"``: simulate the verified placement within ``params.simulation``'s bounds."""
    from optplace.simulation.guard import check_by_simulation

    settings = params.simulation
    return check_by_simulation(
        instance,
        result.placement(),
        requests_per_accelerator=settings.requests_per_accelerator,
        max_requests=settings.max_requests,
        batches=settings.batches,
        seed=params.seed if settings.seed is None else settings.seed,
    )


def build_result(
    instance: Instance,
    method: str,
    params: SolveParams,
    output: MethodOutput,
    runtime_s: float,
    *,
    alone: dict | None = None,
    may_violate_slo: bool = False,
) -> SolveResult:
    """Verify ``output`` with the evaluator and turn it into a :class:`SolveResult`."""
    alone = alone if alone is not None else check_alone(instance)
    has_solution = output.status in (Status.OPTIMAL, Status.FEASIBLE)
    placement = dict(output.placement) if has_solution else {}
    evaluation = evaluate(instance, placement)
    status = output.status

    # Without a solution the (empty) placement's violations, e.g. an unplaced pinned app, are
    # not a verdict on anything returned; the unplaced reasons say why instead.
    violations = list(evaluation.violations) if has_solution else []
    if not may_violate_slo and has_solution and violations:
        raise PlacementVerificationError(method, evaluation)

    primary = instance.objectives[0]
    objective = evaluation.objectives[primary.value] if has_solution else None
    bound = output.bound
    if bound is None and primary == Objective.MAX_HOSTED and not may_violate_slo:
        # Always true: nothing can host an application that fits nowhere even alone.
        bound = float(sum(a.priority for a in instance.applications if alone[a.name].feasible_accelerators))
    if (
        status == Status.FEASIBLE
        and objective is not None
        and bound is not None
        and abs(bound - objective) <= 1e-9 * max(1.0, abs(bound))
    ):
        status = Status.OPTIMAL
    gap = relative_gap(objective, bound) if has_solution else None

    by_app = {a.application: a for a in evaluation.applications}
    assignments = [
        Assignment(
            application=name,
            accelerator=acc,
            node=by_app[name].node or "",
            predicted_latency_ms=by_app[name].latency_ms,
            slo_ms=by_app[name].slo_ms,
            statistic=by_app[name].statistic,
            meets_slo=bool(by_app[name].meets_slo),
        )
        for name, acc in ((a.name, placement.get(a.name)) for a in instance.applications)
        if acc is not None
    ]
    unplaced = []
    for app in instance.applications:
        if app.name in placement:
            continue
        check = alone[app.name]
        if check.reason is not None:
            unplaced.append(Unplaced(application=app.name, reason=check.reason, detail=check.detail))
        elif has_solution:
            unplaced.append(
                Unplaced(
                    application=app.name,
                    reason=UnplacedReason.INSUFFICIENT_CAPACITY,
                    detail="fits alone on some accelerator, but not beside the placed applications",
                )
            )
        else:
            unplaced.append(
                Unplaced(
                    application=app.name,
                    reason=UnplacedReason.NOT_ATTEMPTED,
                    detail=f"the method ended with status {status.value}",
                )
            )
    slo_violations = [v for v in violations if v.code != ViolationCode.NOT_HOSTED]
    return SolveResult(
        status=status,
        stop_reason=output.stop_reason,
        method=method,
        objective_name=primary.value,
        objective=objective,
        bound=bound,
        gap=gap,
        objectives=evaluation.objectives if has_solution else {},
        runtime_s=runtime_s,
        hosted=len(assignments),
        hosted_without_violation=evaluation.hosted_without_violation(),
        violates_slo=bool(slo_violations),
        violations=violations,
        assignments=assignments,
        unplaced=unplaced,
        solver=output.solver,
        solver_version=output.solver_version,
        optplace_version=__version__,
        seed=params.seed,
        threads=params.threads,
        input_hash=input_hash(instance),
        params=params.model_dump(mode="json"),
        message=output.message,
        stats=output.stats,
    )
