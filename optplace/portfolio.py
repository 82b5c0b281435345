"""``auto``: the best verified placement the time allows, the tightest proven bound, never worse
than any heuristic it ran, and reproducible on request.

Stages, in order, sharing the time limit (default 10 s); every stage is a registered method,
found through the registry, and every stage's placements and bounds go into one
:class:`~optplace.progress.IncumbentLog` (verified by the evaluator, published as they improve):

0. **bound**: the trivial bound of :mod:`optplace.bounds`, at once, so a bound is always there;
1. **constructions**: registered heuristics but the local search, the measured-best first, within
   half of the heuristics' share (on small instances that is all of them), then the **local
   search** from the best of them with the rest, and, when it reaches its local optimum early,
   once more from its own start (what ``local_search`` alone would do);
2. **configuration** (column generation: the strong bound, diving, set neighbourhoods),
   started from the best placement so far;
3. **milp_highs**, warm-started from the best placement, with whatever is left; if time is
   still left (either stage may end early) and nothing is proven, 2 and 3 take turns again.

*Time by size and by what is proven.* On instances small enough for the exact stages (at most
``EXACT_MAX_APPLICATIONS`` applications and ``EXACT_MAX_PAIRS`` alone-feasible
application-accelerator pairs) the heuristics get a share that grows with size (10% up to 200
applications, 30% up to the limit); a local search that reaches its local optimum early hands
the rest on. Beyond that size the exact stages cannot finish a root node in the time, so the
heuristics get all of it. A stage is skipped as soon as the incumbent meets the bound.

*Never worse than a heuristic it ran*: the log keeps the best verified placement of every stage,
and the local search starts from the best construction and only accepts improvements.

*Deterministic mode* (``params.deterministic``): every stage gets a work budget instead of a
time limit (:mod:`optplace.budget`) and one thread; the stage plan depends only on the instance
and the limit, so two runs give byte-identical placements. ``stats["deterministic"]`` says
whether the run held to it (False only if the wall-clock safety stop fired).

At the limit the best incumbent is returned with status ``feasible``, its bound and the stop
reason (``time_limit``, or ``iteration_limit`` for an exhausted work budget).

Options (:class:`AutoOptions`): ``heuristic_share`` (replaces the size rule),
``configuration_share`` (all of what is left up to 120 applications, 0.75 above and in deterministic
runs), and ``stage_options`` per stage method, each checked
by that method's own options model found in the registry (the portfolio imports no formulation).
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from optplace.bounds import trivial_bound
from optplace.budget import HEURISTIC_S_PER_APPLICATION, Budget
from optplace.diagnose import check_alone
from optplace.domain import Instance
from optplace.incumbents import heuristic_names
from optplace.options import MethodOptions
from optplace.params import SolveParams
from optplace.progress import IncumbentLog, listening
from optplace.registry import MethodOutput, get_method, list_methods, register
from optplace.result import Status, StopReason

DEFAULT_TIME_LIMIT_S = 10.0
IMPROVER = "local_search"  # the heuristic that starts from a placement (options.initial_placement)
MILP_STAGE = "milp_highs"
EXACT_STAGES = ("configuration", MILP_STAGE)
EXACT_MAX_APPLICATIONS = 2000
EXACT_MAX_PAIRS = 150_000
SMALL_APPLICATIONS = 200
HEURISTIC_SHARE_SMALL = 0.10
HEURISTIC_SHARE_MEDIUM = 0.30
CONFIGURATION_SHARE = 0.75  # of what the heuristics leave (0.45 before: see docs/benchmarks.md)
# Up to this many applications the configuration method gets all of the exact time: its column
# generation converges there and its reduced-cost proof needs the seconds, while the MILP stage's
# bound adds nothing; above, the MILP's LP bound is often the better one while column generation
# has not converged (benchmarks/results/auto_configuration_share.md, shares 0.75 and 1).
CONFIGURATION_ALONE_APPLICATIONS = 120
PREFERRED_CONSTRUCTIONS_MAX = ("ordered_worst_fit", "regret_greedy", "ordered_first_fit", "ordered_best_fit")
PREFERRED_CONSTRUCTIONS_MIN = ("ordered_best_fit", "ordered_first_fit", "regret_greedy", "ordered_worst_fit")
MIN_STAGE_S = 0.3  # an exact stage given less than this is not started
# ... and the MILP less than this: its solver runs in a child process, whose start (a fork server
# importing the solver stack) and model build take about a second even before any search
MIN_STAGE_S_BY_NAME = {"milp_highs": 2.0}
IMPROVER_MIN_SHARE = 0.05  # of the limit, for the local search whatever the constructions took


def construction_order(instance: Instance, names: list[str]) -> list[str]:
    """Constructions in the order worth trying first when time is short: measured best first at
    scale (benchmarks/results/heuristics.md: worst-fit and regret lead when maximising, best-fit
    when packing), the seed's online policies last; heuristics not listed keep their order."""
    maximising = instance.objectives[0].maximize and not instance.host_all
    preferred = PREFERRED_CONSTRUCTIONS_MAX if maximising else PREFERRED_CONSTRUCTIONS_MIN
    rank = {name: k for k, name in enumerate(preferred)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), names.index(n)))


StageName = Literal["local_search", "configuration", "milp_highs"]


class AutoOptions(MethodOptions):
    """Options of ``auto``: how to share the time, and options for each stage method."""

    heuristic_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Share of the time for the heuristics; default by size (10% up to 200 applications, 30% up "
        "to 2,000 and 150,000 alone-feasible pairs, all of it beyond).",
    )
    configuration_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        allow_inf_nan=False,
        description="Share of what the heuristics leave for the configuration method in each turn; default "
        "by size (all of it up to 120 applications, 0.75 above and in deterministic runs).",
    )
    stage_options: dict[StageName, dict[str, Any]] = Field(
        default_factory=dict,
        description="Options for a stage, by method name, each checked by that method's own options model "
        "(e.g. {'milp_highs': {'refine_rounds': 2}}); auto sets initial_placement itself.",
    )

    @field_validator("stage_options")
    @classmethod
    def _each_stage_takes_its_options(cls, value: dict[str, dict[str, Any]], info: ValidationInfo) -> dict:
        """Each stage's options through that method's own model; errors keep their full path
        (``stage_options.<stage>.<option>``)."""
        errors: list[Any] = []
        for name, options in value.items():
            try:
                get_method(name).options.model_validate(options, context=info.context)
            except ValidationError as error:
                for item in error.errors(include_url=False):
                    detail = {"type": item["type"], "loc": (name, *item["loc"]), "input": item["input"]}
                    if "ctx" in item:
                        detail["ctx"] = item["ctx"]
                    errors.append(detail)
        if errors:
            raise ValidationError.from_exception_data("stage options", errors)
        return value


def configuration_share(instance: Instance, options: AutoOptions, deterministic: bool = False) -> float:
    """Share of the exact stages' time for the configuration method (``options`` overrides the size rule).

    Deterministic runs keep 0.75 at every size: their work budgets leave the configuration method
    too few real seconds for an exact pricing round at 60-100 applications, and the MILP stage's
    LP bound is then the one they report (benchmarks/results/determinism.md: hetero 60 bound 53
    with the MILP stage, only the trivial 60 without)."""
    if options.configuration_share is not None:
        return options.configuration_share
    small = len(instance.applications) <= CONFIGURATION_ALONE_APPLICATIONS
    return 1.0 if small and not deterministic else CONFIGURATION_SHARE


def heuristic_share(instance: Instance, pairs: int, options: AutoOptions) -> float:
    """Share of the limit for the heuristics (``options.heuristic_share`` overrides the size rule)."""
    if options.heuristic_share is not None:
        return options.heuristic_share
    n = len(instance.applications)
    if n > EXACT_MAX_APPLICATIONS or pairs > EXACT_MAX_PAIRS:
        return 1.0
    return HEURISTIC_SHARE_SMALL if n <= SMALL_APPLICATIONS else HEURISTIC_SHARE_MEDIUM


@register(
    "auto",
    "Portfolio: trivial bound, every heuristic and a local search from the best, then the configuration "
    "method and the MILP warm-started from the best placement (time shared by size); the best verified "
    "placement with the tightest proven bound, never worse than a heuristic it ran; deterministic on request",
    "portfolio",
    options=AutoOptions,
)
def auto(instance: Instance, params: SolveParams) -> MethodOutput:
    limit = params.time_limit_s if params.time_limit_s is not None else DEFAULT_TIME_LIMIT_S
    budget = Budget(limit, deterministic=params.deterministic)
    options = AutoOptions.of(params, instance)
    log = IncumbentLog(instance)
    stages: list[dict[str, Any]] = []

    log.stage("bound")
    alone = check_alone(instance)
    log.offer_bound(trivial_bound(instance, alone), "trivial")
    log.offer({}, "empty")
    pairs = sum(len(check.candidate_accelerators) for check in alone.values())
    share = min(1.0, max(0.0, heuristic_share(instance, pairs, options)))
    registered = {m.name for m in list_methods()}

    # 1. Constructions, most promising first, within half the heuristics' share (all of them when
    # they are fast), then the local search from the best of them with the rest.
    heuristics = budget.child(share * budget.left())
    constructions = construction_order(instance, [n for n in heuristic_names() if n != IMPROVER])
    tried: list[str] = []
    for name in constructions:
        if tried and (heuristics.expired() or heuristics.elapsed() > 0.5 * (heuristics.seconds or math.inf)):
            break
        seconds = None if params.deterministic else max(heuristics.left(), 0.05)
        output = _stage(log, name, instance, params, seconds, heuristics, f"heuristic:{name}")
        heuristics.charge(len(instance.applications) * HEURISTIC_S_PER_APPLICATION)
        stages.append(_record(name, output))
        tried.append(name)
    if IMPROVER in registered and not log.proven() and not budget.expired():
        # The local search always gets a turn (at least IMPROVER_MIN_SHARE of the limit), even when
        # slow constructions used up the heuristics' share: it never loses its start.
        seconds = min(budget.left(), max(heuristics.left(), IMPROVER_MIN_SHARE * limit))
        start = {"initial_placement": log.best} if log.best else {}
        own = options.stage_options.get(IMPROVER, {})
        output = _stage(log, IMPROVER, instance, params, seconds, budget, f"heuristic:{IMPROVER}", {**own, **start})
        stages.append(_record(IMPROVER, output))
        if start and output.stop_reason == StopReason.COMPLETED and not log.proven():
            # It reached a local optimum with time to spare: search once more from the local
            # search's own start (the best of its constructions), the local optimum a user running
            # ``local_search`` alone would get, so auto never ends below it on a different start.
            seconds = min(budget.left(), max(heuristics.left(), IMPROVER_MIN_SHARE * limit))
            if seconds >= MIN_STAGE_S or params.deterministic:
                output = _stage(
                    log, IMPROVER, instance, params, seconds, budget, f"heuristic:{IMPROVER}:own-start", own
                )
                stages.append(_record(IMPROVER, output))

    # 2. and 3. The exact stages, each started from the best placement so far; while time is left
    # and nothing is proven they take turns again (another seed), since either may end early.
    exact = [n for n in EXACT_STAGES if n in registered] if share < 1.0 else []
    cycle = 0
    while exact and not log.proven() and budget.left() >= MIN_STAGE_S:
        progressed = False
        for index, name in enumerate(list(exact)):
            if log.proven() or budget.left() < MIN_STAGE_S:
                break
            share_now = configuration_share(instance, options, params.deterministic)
            following = exact[index + 1 :]
            # the last stage takes everything, and so does one whose successors could not start after it
            last = not following or all(
                budget.left() * (1.0 - share_now) < MIN_STAGE_S_BY_NAME.get(n, MIN_STAGE_S) for n in following
            )
            seconds = budget.left() * (1.0 if last else share_now)
            if seconds < MIN_STAGE_S_BY_NAME.get(name, MIN_STAGE_S):
                continue
            extra = {"initial_placement": log.best} if log.best else {}
            stage_params = params if cycle == 0 else params.model_copy(update={"seed": params.seed + cycle})
            own = options.stage_options.get(name, {})
            output = _stage(log, name, instance, stage_params, seconds, budget, name, {**own, **extra})
            stages.append(_record(name, output))
            if output.status == Status.INFEASIBLE:
                return _finish(log, budget, Status.INFEASIBLE, StopReason.COMPLETED, stages, decided_by=name)
            if output.status == Status.ERROR:
                exact.remove(name)  # unsupported here (e.g. an objective it does not handle): not again
            elif (output.stats.get("stage_s") or 0.0) >= MIN_STAGE_S:
                progressed = True
        cycle += 1
        if not progressed:
            break

    if log.best is None or (instance.host_all and len(log.best) < len(instance.applications)):
        return _finish(log, budget, Status.NO_SOLUTION_FOUND, log.stop_reason, stages)
    if log.proven():
        return _finish(log, budget, Status.OPTIMAL, StopReason.COMPLETED, stages)
    stop = log.stop_reason
    if budget.expired():
        stop = StopReason.ITERATION_LIMIT if budget.deterministic and not budget.safety_fired else StopReason.TIME_LIMIT
    return _finish(log, budget, Status.FEASIBLE, stop, stages)


def _stage(
    log: IncumbentLog,
    name: str,
    instance: Instance,
    params: SolveParams,
    seconds: float | None,
    budget: Budget,
    source: str,
    options: dict[str, Any] | None = None,
) -> MethodOutput:
    """Run one registered method as a stage; its placement and bound go into ``log``.

    What the method publishes while it runs feeds the log too (so incumbents stream live), and a
    failing stage is recorded, never fatal: the placements already found stay.
    """
    log.stage(name)
    update: dict[str, Any] = {"options": options or {}, "warm_start": False}
    if seconds is not None:
        update["time_limit_s"] = max(seconds, 0.05)
    elif params.deterministic:
        update["time_limit_s"] = None
    sub = params.model_copy(update=update)
    started = time.monotonic()
    try:
        with listening(log.listener(source)):
            output = get_method(name).function(instance, sub)
    except Exception as error:  # a failing stage must not lose the answer so far
        output = MethodOutput({}, Status.ERROR, StopReason.ERROR, message=f"{type(error).__name__}: {error}")
    output.stats = {**output.stats, "stage_s": round(time.monotonic() - started, 4)}
    if output.status.has_solution and output.placement:
        log.offer(dict(output.placement), source)
    if output.bound is not None and output.status != Status.INFEASIBLE:
        log.offer_bound(output.bound, name)
    log.note_stop(output.stop_reason)
    if seconds is not None and params.deterministic:
        work = output.stats.get("work_s")
        budget.charge(float(work) if work is not None else seconds)
    return output


def _record(name: str, output: MethodOutput) -> dict[str, Any]:
    return {
        "stage": name,
        "status": output.status.value,
        "stop_reason": output.stop_reason.value,
        "bound": output.bound,
        "solver": output.solver,
        "solver_version": output.solver_version,
        "message": output.message[:300],
        "seconds": output.stats.get("stage_s"),
        **({"work_s": output.stats["work_s"]} if output.stats.get("work_s") is not None else {}),
    }


def _finish(
    log: IncumbentLog,
    budget: Budget,
    status: Status,
    stop: StopReason,
    stages: list[dict[str, Any]],
    decided_by: str = "",
) -> MethodOutput:
    chosen = log.best_source
    solvers = [s for s in stages if s.get("solver") and chosen.endswith(s["stage"])]
    stats: dict[str, Any] = {"stages": stages, **log.summary()}
    if budget.deterministic:
        stats["deterministic"] = not budget.safety_fired
        stats["work_s"] = round(budget.elapsed(), 6)
    gap = log.gap()
    message = f"best placement from {chosen or 'none'}; bound from {log.bound_source or 'none'}"
    if decided_by:
        message += f"; decided by {decided_by}"
    elif gap is not None and not math.isclose(gap, 0.0):
        message += f"; proven gap {100 * gap:.2f}%"
    return log.output(
        status,
        stop,
        solver=solvers[0]["solver"] if solvers else "optplace",
        solver_version=solvers[0]["solver_version"] if solvers else None,
        message=message,
        stats=stats,
    )
