"""The one entry point: ``solve(instance, method, params) -> SolveResult``.

Every method, whatever it is, goes through here: the instance is validated, the method runs, its
placement is re-checked by the independent evaluator, and only then is a result built. A method
that is not allowed to violate SLOs and returns a placement that does is a bug: ``solve`` raises
:class:`PlacementVerificationError` rather than ship it. With ``params.verify == "simulate"`` the
verified placement is then also simulated and every hosted SLO gets a verdict from its 95%
interval (``result.simulation``); that is a report, not a gate: the analytic check decides.

While the method runs, ``solve`` listens on the incumbent channel (:mod:`optplace.progress`):
every built-in method publishes its better placements there. That is how ``on_incumbent`` and
``log`` see progress, and how Ctrl-C keeps the answer: a ``KeyboardInterrupt`` during the method
returns the best placement published so far, verified like any other, with stop reason
``interrupted`` (and re-raises when nothing was found yet, so a loop of solves stops as usual).
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from pydantic import ValidationError

from optplace import __version__
from optplace.bounds import refutes, tighter, trivial_bound
from optplace.diagnose import AloneCheck, check_alone
from optplace.domain import Application, Instance
from optplace.evaluate import ViolationCode, evaluate
from optplace.exceptions import ObjectiveWarning, ParamsError, PlacementVerificationError
from optplace.io import parse_instance, validation_errors
from optplace.objectives import hosts_nothing, lexicographic_key
from optplace.params import SolveParams
from optplace.progress import ProgressEvent, current_listener, listening, progress_line
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


ProgressLog = bool | TextIO | logging.Logger | None


def solve(
    instance: Instance | Mapping[str, Any],
    method: str = "auto",
    params: SolveParams | Mapping[str, Any] | None = None,
    *,
    on_incumbent: Callable[[ProgressEvent], None] | None = None,
    log: ProgressLog = None,
) -> SolveResult:
    """Place ``instance``'s applications with ``method`` and return a verified result.

    ``on_incumbent(event)`` is called with a :class:`~optplace.progress.ProgressEvent` for each
    better verified placement the method finds and each tighter bound on it, from whatever thread
    runs the method (an exception it raises ends the method like the method's own would;
    ``KeyboardInterrupt`` stops the solve as Ctrl-C does). ``log`` prints one line per event and
    a last one for the result: ``True`` on standard error, or to a stream or a
    :class:`logging.Logger` (at INFO).

    Ctrl-C (``KeyboardInterrupt``) while the method runs returns the best placement found so far,
    with stop reason ``interrupted``; with nothing found yet, it is re-raised.

    A ``ValueError`` or ``ImportError`` the method raises (what methods raise on purpose: an
    option they cannot honour, a missing extra) becomes status ``error`` with its message; any
    other exception is a programming error and propagates with its traceback.

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
        watcher = _Watcher(instance, info.name, info.may_violate_slo, _reporters(on_incumbent, log))
        try:
            with listening(watcher):
                output = info.function(instance, params)
            watcher.final(output)
        except KeyboardInterrupt:
            if watcher.last is None:
                raise
            output = _interrupted(watcher.last, time.perf_counter() - started)
        except (ValueError, ImportError) as error:
            # What a method raises on purpose for its user (an option it cannot honour here, a
            # solver rejecting a setting, a missing extra) is a result with status ``error``. Any
            # other exception is a programming error: it propagates with its traceback.
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
    if log is not None and log is not False:
        _write_line(log, _result_line(result))
    return result


class _Watcher:
    """The solve's listener on the incumbent channel. Keeps the last published solution (what
    Ctrl-C returns: top-level publishers only ever publish improvements), passes every output on
    to an enclosing listener (the service's worker listens around ``solve``), and, only when the
    caller asked for progress, verifies each one and reports better placements and tighter bounds."""

    def __init__(
        self,
        instance: Instance,
        method: str,
        may_violate_slo: bool,
        reporters: list[Callable[[ProgressEvent], None]],
    ):
        self.instance = instance
        self.method = method
        self.may_violate_slo = may_violate_slo
        self.reporters = reporters
        self.outer = current_listener()
        self.started = time.perf_counter()
        self.last: MethodOutput | None = None
        self.best_key: tuple[float, ...] | None = None
        self.bound: float | None = None

    def __call__(self, output: MethodOutput) -> None:
        if output.status.has_solution:
            self.last = output
        if self.outer is not None:
            self.outer(output)
        if self.reporters and output.status.has_solution:
            self._report(output)

    def final(self, output: MethodOutput) -> None:
        """Report the method's own answer too, when better than what it published (a single-pass
        heuristic publishes nothing: its answer is its one event)."""
        if self.reporters and output.status.has_solution:
            self._report(output, "result")

    def _report(self, output: MethodOutput, source: str | None = None) -> None:
        evaluation = evaluate(self.instance, output.placement)
        if not evaluation.feasible and not self.may_violate_slo:
            return  # never shown: solve() would not return it either
        objectives = self.instance.objectives
        primary = objectives[0]
        value = evaluation.objectives[primary.value]
        bound = (
            output.bound if output.bound is not None and not refutes(value, output.bound, primary.maximize) else None
        )
        key = lexicographic_key(objectives, evaluation.objectives)
        tighter_bound = tighter(self.bound, bound, primary.maximize)
        if self.best_key is None or key > self.best_key:
            event = "incumbent"
        elif tighter_bound != self.bound:
            event = "bound"
        else:
            return
        self.best_key, self.bound = max(key, self.best_key or key), tighter_bound
        report = ProgressEvent(
            time_s=time.perf_counter() - self.started,
            method=self.method,
            event=event,
            source=output.message if source is None else source,
            objective_name=primary.value,
            objective=value,
            bound=self.bound,
            gap=relative_gap(value, self.bound),
            hosted=len(output.placement),
            placement=dict(output.placement),
        )
        for reporter in self.reporters:
            reporter(report)


def _interrupted(last: MethodOutput, elapsed_s: float) -> MethodOutput:
    """The method's output after Ctrl-C: the last published solution, verified later like any."""
    return MethodOutput(
        placement=dict(last.placement),
        status=Status.FEASIBLE,
        stop_reason=StopReason.INTERRUPTED,
        bound=last.bound,
        solver=last.solver,
        solver_version=last.solver_version,
        message=f"interrupted (Ctrl-C) after {elapsed_s:.2f} s: the best placement found until then",
        stats={"interrupted_after_s": round(elapsed_s, 4)},
    )


def _reporters(
    on_incumbent: Callable[[ProgressEvent], None] | None, log: ProgressLog
) -> list[Callable[[ProgressEvent], None]]:
    reporters = [] if on_incumbent is None else [on_incumbent]
    if log is not None and log is not False:
        reporters.append(lambda event: _write_line(log, event.line()))
    return reporters


def _write_line(log: ProgressLog, line: str) -> None:
    """One progress line to where ``log`` says (see :func:`solve`)."""
    if isinstance(log, logging.Logger):
        log.info(line)
        return
    stream = sys.stderr if log is True else log
    assert stream is not None and stream is not False
    stream.write(line + "\n")
    stream.flush()


def _result_line(result: SolveResult) -> str:
    return progress_line(
        result.runtime_s,
        result.method,
        f"{result.status.value} ({result.stop_reason.value})",
        result.objective_name,
        result.objective,
        result.bound,
        result.gap,
        result.hosted,
    )


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
