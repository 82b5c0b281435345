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
import time
import warnings
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from optplace import __version__
from optplace.bounds import refutes, tighter, trivial_bound
from optplace.diagnose import AloneCheck, check_alone
from optplace.domain import Application, Instance
from optplace.evaluate import ViolationCode, evaluate
from optplace.exceptions import ObjectiveWarning, ParamsError, PlacementVerificationError
from optplace.io import parse_instance, validation_errors
from optplace.objectives import hosts_nothing
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

_last_hash: tuple[Instance, str] | None = None  # the last instance hashed (by identity) and its hash


def input_hash(instance: Instance) -> str:
    """SHA-256 of the instance's JSON as optplace serialises it, recorded with every result.

    Fields come in the schema's order; lists and maps keep the order they were given in, which is
    the order the methods see (ties can depend on it), so equal hashes mean the methods saw the same
    input. Serialised by pydantic-core: about a quarter of the cost of key-sorted ``json.dumps``.
    """
    global _last_hash
    cached = _last_hash
    if cached is None or cached[0] is not instance:
        cached = (instance, hashlib.sha256(instance.model_dump_json().encode()).hexdigest())
        _last_hash = cached
    return cached[1]


def as_instance(instance: Instance | Mapping[str, Any]) -> Instance:
    return instance if isinstance(instance, Instance) else parse_instance(instance)


def as_params(params: Mapping[str, Any] | None) -> SolveParams:
    """``SolveParams`` from a mapping, or :class:`ParamsError` naming each bad field."""
    try:
        return SolveParams.model_validate(params or {})
    except ValidationError as error:
        errors = validation_errors(error)
        shown = "; ".join(f"{e['field'] or '(params)'}: {e['message']}" for e in errors)
        raise ParamsError(f"invalid solve parameters: {shown}", errors) from None


def solve(
    instance: Instance | Mapping[str, Any],
    method: str = "auto",
    params: SolveParams | Mapping[str, Any] | None = None,
) -> SolveResult:
    """Place ``instance``'s applications with ``method`` and return a verified result.

    Raises, before anything runs, :class:`~optplace.exceptions.UnknownMethodError` for an unknown
    method, :class:`~optplace.exceptions.ParamsError` for invalid params and its subclass
    :class:`~optplace.exceptions.MethodOptionsError` for options the method does not take (all
    ``InvalidInputError``, a ``ValueError``).
    """
    instance = as_instance(instance)
    params = params if isinstance(params, SolveParams) else as_params(params)
    info = get_method(method)
    check_options(info, params.options, instance)
    if params.objectives is not None:
        instance = instance.model_copy(update={"objectives": list(params.objectives)})
    started = time.perf_counter()

    # Only applications that must be hosted can prove infeasibility before the search.
    must_host = [a for a in instance.applications if a.pinned or instance.host_all]
    alone = check_alone(instance, [a.name for a in must_host])
    hopeless = [a for a in must_host if not alone[a.name].candidate_accelerators]
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
    result = build_result(instance, info.name, params, output, runtime, may_violate_slo=info.may_violate_slo)
    if params.verify == "simulate" and result.status.has_solution:
        result = result.model_copy(update={"simulation": simulate_result(instance, result, params)})
    if reason := hosts_nothing(instance):
        warnings.warn(reason, ObjectiveWarning, stacklevel=2)
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
    may_violate_slo: bool = False,
) -> SolveResult:
    """Verify ``output`` with the evaluator and turn it into a :class:`SolveResult`."""
    has_solution = output.status.has_solution
    placement = dict(output.placement) if has_solution else {}
    evaluation = evaluate(instance, placement)
    # Only unplaced applications need the alone check (for their reasons and the bound below).
    alone = check_alone(instance, [a.name for a in instance.applications if a.name not in placement])
    status = output.status

    # Without a solution the (empty) placement's violations, e.g. an unplaced pinned app, are
    # not a verdict on anything returned; the unplaced reasons say why instead.
    violations = list(evaluation.violations) if has_solution else []
    if not may_violate_slo and has_solution and violations:
        raise PlacementVerificationError(method, evaluation)

    primary = instance.objectives[0]
    objective = evaluation.objectives[primary.value] if has_solution else None
    bound = output.bound
    stats = output.stats
    if not may_violate_slo and status not in (Status.INFEASIBLE, Status.ERROR):
        # A bound is always at hand: the trivial one (optplace.bounds), when the method has none
        # or a weaker one. (A trivial bound that the verified placement beats would be a bug in
        # the alone check: never reported.)
        trivial = trivial_bound(instance, placement=placement)
        usable = trivial is not None and not (objective is not None and refutes(objective, trivial, primary.maximize))
        if usable and tighter(bound, trivial, primary.maximize) != bound:
            bound = trivial
            stats = {**stats, "bound_from": "trivial"}
    if (
        status == Status.FEASIBLE
        and objective is not None
        and bound is not None
        and abs(bound - objective) <= 1e-9 * max(1.0, abs(bound))
    ):
        status = Status.OPTIMAL
    gap = relative_gap(objective, bound) if has_solution else None

    by_app = {a.application: a for a in evaluation.applications}
    compiled_with = {a.accelerator: a.cocompilation_group for a in evaluation.accelerators}
    assignments = [
        Assignment(
            application=name,
            accelerator=acc,
            node=by_app[name].node or "",
            predicted_latency_ms=by_app[name].latency_ms,
            slo_ms=by_app[name].slo_ms,
            statistic=by_app[name].statistic,
            meets_slo=bool(by_app[name].meets_slo),
            cocompilation_group=compiled_with.get(acc),
        )
        for name, acc in ((a.name, placement.get(a.name)) for a in instance.applications)
        if acc is not None
    ]
    objectives_warning = hosts_nothing(instance)
    empty_reason = objectives_warning if has_solution and not placement else None
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
                    detail=_capacity_detail(app, check, placement, empty_reason),
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
        deterministic=params.deterministic and bool(stats.get("deterministic", True)),
        input_hash=input_hash(instance),
        params=params.model_dump(mode="json"),
        message="; ".join(m for m in (output.message, objectives_warning) if m),
        stats=stats,
        latency_model=evaluation.latency_model,
    )


def _capacity_detail(
    app: Application, check: AloneCheck, placement: Mapping[str, str], empty_reason: str | None
) -> str:
    """Why an application that some accelerator could take is unplaced, with numbers."""
    if not check.feasible_accelerators:
        fits = check.detail  # it misses its SLO alone; only a neighbour could have helped
    else:
        best = check.best_alone_latency_ms
        fits = f"fits alone on {len(check.feasible_accelerators)} accelerator(s)" + (
            f" (best {app.slo.statistic} latency alone {best:.3f} ms against an SLO of {app.slo.latency_ms:g} ms)"
            if best is not None
            else ""
        )
    if placement:
        return f"{fits}, but not beside the placed applications"
    if empty_reason:
        return f"{fits}, but nothing is hosted: the objectives make hosting nothing optimal (see the message)"
    return f"{fits}, but nothing is hosted"
