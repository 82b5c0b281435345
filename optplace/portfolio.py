"""``auto``: the best verified placement that the time limit allows, with the best proven bound.

Three stages share the wall clock (default 10 s):

1. every registered heuristic, cheapest first, within ``heuristic_share`` (15%) of the time;
2. the ``configuration`` method (column generation), when registered, within ``configuration_share``
   (35%) of what is left: its bound is the strong one (model.md, "Bounds"), and its placement
   competes like any other;
3. ``milp_highs`` with what is left, warm-started from the best placement so far, in a child
   process under optplace's own wall clock.

Every candidate is verified by the evaluator and compared under the instance's lexicographic
objectives; the bound is the tightest valid bound any stage proved. A stage is skipped once the
best placement meets the bound (proven optimal). At the limit the best incumbent is returned with
status ``feasible``, its bound, and ``stop_reason=time_limit``.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from optplace.domain import Instance
from optplace.formulations.assignment.options import HighsExactOptions
from optplace.params import SolveParams
from optplace.registry import MethodOutput, get_method, list_methods, register
from optplace.result import Status, StopReason

DEFAULT_TIME_LIMIT_S = 10.0
HEURISTIC_SHARE = 0.15
CONFIGURATION_SHARE = 0.35


class AutoOptions(HighsExactOptions):
    """Options of ``auto``: the stage shares, and every milp_highs option (passed to its MILP stage)."""

    heuristic_share: float = Field(
        default=HEURISTIC_SHARE, ge=0, le=1, allow_inf_nan=False, description="Share of the time for the heuristics."
    )
    configuration_share: float = Field(
        default=CONFIGURATION_SHARE,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Share of what is left for the configuration method (column generation).",
    )


@register(
    "auto",
    "Portfolio: heuristics, then the configuration bound (when available), then the MILP warm-started from "
    "the best placement; returns the best verified placement with the tightest proven bound",
    "portfolio",
    options=AutoOptions,
)
def auto(instance: Instance, params: SolveParams) -> MethodOutput:
    from optplace.formulations.assignment.methods import Collector, consistent_bound, solve_exact, warm_start

    started = time.monotonic()
    limit = params.time_limit_s if params.time_limit_s is not None else DEFAULT_TIME_LIMIT_S
    options = AutoOptions.of(params, instance)
    primary = instance.objectives[0]
    collector = Collector(instance)
    collector.consider({}, "empty")
    stages: list[dict[str, Any]] = []
    stop = StopReason.COMPLETED

    def left() -> float:
        return limit - (time.monotonic() - started)

    def take_bound(bound: float | None, source: str) -> None:
        if bound is None:
            return
        if collector.bound is None or (bound < collector.bound if primary.maximize else bound > collector.bound):
            collector.bound, collector.bound_source = float(bound), source

    def proven() -> bool:
        value = collector.primary_value()
        return (
            value is not None
            and collector.bound is not None
            and abs(collector.bound - value) <= 1e-9 * max(1.0, abs(value))
        )

    # 1. Heuristics.
    t = time.monotonic()
    tried = warm_start(instance, params, collector, options.heuristic_share * limit, None)
    stages.append({"stage": "heuristics", **tried, "seconds": round(time.monotonic() - t, 4)})

    # 2. Configuration (column generation), when some engineer has registered it.
    names = {m.name for m in list_methods()}
    if "configuration" in names and left() > 0.5 and not proven():
        budget = options.configuration_share * left()
        output, seconds = _run(
            "configuration",
            instance,
            params.model_copy(update={"time_limit_s": budget, "options": {"heuristics": _best_heuristic(collector)}}),
        )
        stages.append(_stage("configuration", output, seconds))
        if output is not None:
            if output.status.has_solution:
                collector.consider(output.placement, "configuration")
            take_bound(output.bound, "configuration")
            if output.status == Status.INFEASIBLE:
                return _finish(collector, Status.INFEASIBLE, StopReason.COMPLETED, stages, "configuration")
            if output.stop_reason == StopReason.TIME_LIMIT:
                stop = StopReason.TIME_LIMIT

    # 3. The MILP, warm-started from the best placement so far.
    if left() > 0.3 and not proven():
        sub_options = {k: v for k, v in params.options.items() if k not in ("heuristic_share", "configuration_share")}
        if collector.best is not None:
            sub_options["initial_placement"] = collector.best
        sub = params.model_copy(update={"time_limit_s": max(left(), 0.1), "options": sub_options})
        t = time.monotonic()
        try:
            output = solve_exact(instance, sub, "highs")
        except Exception as error:  # an exact stage must not lose the heuristics' answer
            output = MethodOutput({}, Status.ERROR, StopReason.ERROR, message=f"{type(error).__name__}: {error}")
        stages.append(_stage("milp_highs", output, time.monotonic() - t))
        if output.status.has_solution:
            collector.consider(output.placement, "milp_highs")
        take_bound(output.bound, "milp_highs")
        if output.status == Status.INFEASIBLE:
            return _finish(collector, Status.INFEASIBLE, StopReason.COMPLETED, stages, "milp_highs")
        if output.stop_reason == StopReason.TIME_LIMIT:
            stop = StopReason.TIME_LIMIT
    elif not proven():
        stop = StopReason.TIME_LIMIT

    collector.bound = consistent_bound(instance, collector.primary_value(), collector.bound, stages[0])
    if collector.best is None or (instance.host_all and len(collector.best) < len(instance.applications)):
        return _finish(collector, Status.NO_SOLUTION_FOUND, stop, stages, "")
    if proven():
        return _finish(collector, Status.OPTIMAL, StopReason.COMPLETED, stages, "")
    return _finish(collector, Status.FEASIBLE, stop, stages, "")


def _run(name: str, instance: Instance, params: SolveParams) -> tuple[MethodOutput | None, float]:
    t = time.monotonic()
    try:
        return get_method(name).function(instance, params), time.monotonic() - t
    except Exception as error:  # a failing stage is recorded, not fatal
        return (
            MethodOutput({}, Status.ERROR, StopReason.ERROR, message=f"{type(error).__name__}: {error}"),
            time.monotonic() - t,
        )


def _best_heuristic(collector) -> list[str]:
    source = collector.best_source
    return [source.split(":", 1)[1]] if source.startswith("heuristic:") else ["first_fit"]


def _stage(name: str, output: MethodOutput | None, seconds: float) -> dict[str, Any]:
    if output is None:
        return {"stage": name, "seconds": round(seconds, 4)}
    return {
        "stage": name,
        "status": output.status.value,
        "stop_reason": output.stop_reason.value,
        "bound": output.bound,
        "solver": output.solver,
        "solver_version": output.solver_version,
        "message": output.message[:300],
        "seconds": round(seconds, 4),
    }


def _finish(collector, status: Status, stop: StopReason, stages: list[dict[str, Any]], decided_by: str) -> MethodOutput:
    solvers = [s for s in stages if s.get("solver") and s.get("stage") == collector.best_source]
    placement = dict(collector.best) if collector.best is not None and status.has_solution else {}
    return MethodOutput(
        placement=placement,
        status=status,
        stop_reason=stop,
        bound=collector.bound,
        solver=solvers[0]["solver"] if solvers else "optplace",
        solver_version=solvers[0]["solver_version"] if solvers else None,
        message=f"best placement from {collector.best_source or 'none'}; bound from {collector.bound_source or 'none'}"
        + (f"; decided by {decided_by}" if decided_by else ""),
        stats={
            "chosen": collector.best_source,
            "bound_source": collector.bound_source,
            "stages": stages,
            "timeline": collector.timeline,
        },
    )
