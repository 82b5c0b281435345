"""The exact methods ``milp_highs``, ``milp_pyomo`` and ``cpsat``: one formulation, three back-ends.

The parent process (this module) checks trivial infeasibility, finds a warm start among the
registered heuristics, then runs the search of :mod:`.worker` in a child process under its own
wall clock (:func:`optplace.isolation.run_isolated`). Every placement the child streams is
verified here with the independent evaluator before it can become the answer; the bound kept is
the best *valid* one (from an exact or a relaxed model, never from a conservative approximation).

Method options (``SolveParams.options``) are typed, one model per method, in :mod:`.options`
(``optplace methods --json`` prints their JSON Schemas): the warm start (``initial_placement``,
``warm_start_methods``, ``warm_start_budget_s``), the search (``refine_rounds``, ``relaxed_bound``,
``lexicographic``, the neighbourhood-search knobs), the formulation (``max_levels``, segments,
tangents, ``margin``, ``symmetry``; see model.md), the wall clock (``isolate``, ``grace_s``) and
the solver's allow-listed ``solver_options`` (and, for Pyomo, ``solver_name``).
"""

from __future__ import annotations

from typing import Any

from optplace.bounds import trivial_bound
from optplace.budget import HEURISTIC_S_PER_APPLICATION, Budget
from optplace.domain import Instance
from optplace.incumbents import warm_start
from optplace.isolation import run_isolated
from optplace.params import SolveParams
from optplace.progress import IncumbentLog
from optplace.registry import MethodOutput, register
from optplace.result import Status, StopReason

from .data import eligibility
from .options import CpsatExactOptions, ExactOptions, HighsExactOptions, PyomoExactOptions

DEFAULT_TIME_LIMIT_S = 60.0
WARM_START_SHARE = 0.2
OPTIONS: dict[str, type[ExactOptions]] = {
    "highs": HighsExactOptions,
    "pyomo": PyomoExactOptions,
    "cpsat": CpsatExactOptions,
}


class ChildMessages:
    """What the solver child streams, read into an :class:`IncumbentLog` (incumbents verified here).

    Besides the log it keeps the child's proof of infeasibility, its final message, its error,
    the solvers it used and its phase statistics.
    """

    def __init__(self, log: IncumbentLog):
        self.log = log
        self.infeasible = False
        self.done: dict[str, Any] | None = None
        self.error: str | None = None
        self.solver: tuple[str, str] | None = None
        self.other_solvers: list[tuple[str, str]] = []
        self.phases: list[dict[str, Any]] = []
        self.incumbents = 0
        self.first_incumbent_s: float | None = None

    def on_message(self, kind: str, data: Any) -> None:
        if kind == "incumbent":
            self.incumbents += 1
            if self.first_incumbent_s is None:
                self.first_incumbent_s = self.log.elapsed()
            self.log.offer(data["placement"], data["source"])
        elif kind == "bound":
            self.log.offer_bound(float(data["value"]), data["source"])
        elif kind == "infeasible":
            self.infeasible = True
        elif kind == "phase":
            self.phases.append(data)
            self.log.stage(str(data.get("phase", "")))
        elif kind == "solver":
            # the first message names the method's back-end; later ones (e.g. HiGHS for a bound) are noted
            if self.solver is None:
                self.solver = (data["solver"], data["version"])
            elif (data["solver"], data["version"]) not in self.other_solvers:
                self.other_solvers.append((data["solver"], data["version"]))
        elif kind == "done":
            self.done = data
        elif kind == "error":
            self.error = str(data)


def solve_exact(instance: Instance, params: SolveParams, backend: str) -> MethodOutput:
    """Run the exact search with ``backend`` and return the best verified placement with its bound."""
    options = OPTIONS[backend].of(params, instance)
    limit = params.time_limit_s if params.time_limit_s is not None else DEFAULT_TIME_LIMIT_S
    budget = Budget(limit, deterministic=params.deterministic)
    log = IncumbentLog(instance)
    log.stage(backend)
    eligible = eligibility(instance)
    stats: dict[str, Any] = {"backend": backend, "eligibility_s": round(log.elapsed(), 4)}
    hopeless = [a.name for a in instance.applications if not eligible.get(a.name) and (a.pinned or instance.host_all)]
    if hopeless:
        return MethodOutput(
            placement={},
            status=Status.INFEASIBLE,
            solver=backend,
            message=f"proven infeasible: {', '.join(hopeless[:5])} cannot run anywhere, even alone",
            stats=stats,
        )
    log.offer_bound(trivial_bound(instance), "trivial")
    log.offer({}, "empty")
    if options.initial_placement is not None:
        log.offer(dict(options.initial_placement), "initial_placement")
        stats["warm_start"] = "initial_placement"
    elif params.warm_start:
        share = options.warm_start_budget_s if options.warm_start_budget_s is not None else WARM_START_SHARE * limit
        stats["warm_start"] = warm_start(instance, params, log, share, options.warm_start_methods)
        budget.charge(len(stats["warm_start"]["tried"]) * len(instance.applications) * HEURISTIC_S_PER_APPLICATION)
    left = max(budget.left(), 0.05)
    payload = {
        "instance": instance.model_dump(mode="json"),
        "objectives": [o.value for o in instance.objectives],
        "eligible": eligible,
        "backend": backend,
        "time_limit_s": left,
        "deterministic": params.deterministic,
        "threads": 1 if params.deterministic else params.threads,
        "seed": params.seed,
        "relative_gap": params.relative_gap,
        "reference": log.best,
        "options": options.payload_options(),
    }
    from .worker import run

    messages = ChildMessages(log)
    wall = budget.wall_limit() if params.deterministic else left
    if options.isolate:
        child = run_isolated(
            run,
            payload,
            time_limit_s=wall,
            grace_s=options.grace_s,
            on_message=messages.on_message,
        )
        stats.update(killed=child.killed, isolated=child.isolated, child_s=round(child.elapsed_s, 4))
        killed = child.killed
        if child.exitcode not in (0, None) and not child.killed and not child.messages:
            # The child process died before it could say anything (killed from outside, out of
            # memory). Run the search here instead, under the solver's own limit only.
            stats["isolation_fallback"] = (
                f"the solver process exited with code {child.exitcode} before starting; ran in-process "
                "under the solver's own time limit"
            )
            stats["isolated"] = False
            payload["time_limit_s"] = max(budget.left(), 0.05)
            try:
                run(payload, messages.on_message)
            except Exception as error:
                messages.error = f"{type(error).__name__}: {error}"
        elif child.exitcode not in (0, None) and not child.killed and messages.error is None:
            messages.error = f"the solver process exited with code {child.exitcode}"
    else:
        try:
            run(payload, messages.on_message)
        except Exception as error:  # the in-process search failed; keep what it streamed
            messages.error = f"{type(error).__name__}: {error}"
        killed = False
    if params.deterministic:
        # The Pyomo back-end passes no work limit to its solver: it is reproducible only when the
        # solver finishes on its own, which this run cannot promise.
        held = backend != "pyomo" and not killed and not (messages.done or {}).get("safety_stop", False)
        stats["deterministic"] = held
        stats["work_s"] = float((messages.done or {}).get("work_s", 0.0)) + budget.elapsed()
    return _output(instance, params, backend, messages, killed, stats)


def _output(instance, params, backend, messages: ChildMessages, killed: bool, stats: dict[str, Any]) -> MethodOutput:
    log = messages.log
    solver = f"{messages.solver[0]}" if messages.solver else backend
    version = messages.solver[1] if messages.solver else None
    stats.update(
        incumbents_streamed=messages.incumbents,
        first_incumbent_s=messages.first_incumbent_s,
        phases=messages.phases,
        other_solvers=messages.other_solvers,
        **log.summary(),
    )
    child_stop = StopReason((messages.done or {}).get("stop_reason", StopReason.COMPLETED.value))
    message = ""
    if messages.error:
        message = messages.error.strip().splitlines()[-1]
        stats["error"] = messages.error
    complete = log.best is not None and not (instance.host_all and len(log.best) < len(instance.applications))
    if not complete:
        if messages.infeasible:
            status, stop = Status.INFEASIBLE, StopReason.COMPLETED
        else:
            status = Status.NO_SOLUTION_FOUND
            stop = StopReason.TIME_LIMIT if killed or child_stop == StopReason.TIME_LIMIT else child_stop
            if messages.error:
                status, stop = Status.ERROR, StopReason.ERROR
        return log.output(status, stop, solver=solver, solver_version=version, message=message, stats=stats)
    if log.proven():
        status, stop = Status.OPTIMAL, StopReason.COMPLETED
    else:
        status = Status.FEASIBLE
        gap = log.gap()
        if params.relative_gap is not None and gap is not None and gap <= params.relative_gap:
            stop = StopReason.GAP_LIMIT
        elif killed or child_stop == StopReason.TIME_LIMIT:
            stop = StopReason.TIME_LIMIT
        elif messages.error:
            stop = StopReason.ERROR
        else:
            stop = child_stop
    return log.output(status, stop, solver=solver, solver_version=version, message=message, stats=stats)


@register(
    "milp_highs",
    "Exact MILP (assignment formulation with tightest-member chains) solved by HiGHS through highspy; "
    "proven bound, conservative linearisation of the nonlinear latency terms",
    "exact",
    options=HighsExactOptions,
)
def milp_highs(instance: Instance, params: SolveParams) -> MethodOutput:
    return solve_exact(instance, params, "highs")


@register(
    "milp_pyomo",
    "The same MILP through Pyomo (solver option 'solver_name', default appsi_highs), for other MILP solvers",
    "exact",
    options=PyomoExactOptions,
)
def milp_pyomo(instance: Instance, params: SolveParams) -> MethodOutput:
    from optplace.extras import require

    # Asked for by name: without Pyomo it fails (status error, naming the extra) rather than
    # quietly answering with the warm-start heuristic.
    require("pyomo.environ", "pyomo", "the milp_pyomo method")
    return solve_exact(instance, params, "pyomo")


@register(
    "cpsat",
    "The same model in OR-Tools CP-SAT with conservative integer scaling and enforcement literals",
    "exact",
    options=CpsatExactOptions,
)
def cpsat(instance: Instance, params: SolveParams) -> MethodOutput:
    return solve_exact(instance, params, "cpsat")
