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

import time
from dataclasses import dataclass, field
from typing import Any

from optplace.domain import Instance
from optplace.evaluate import evaluate
from optplace.isolation import run_isolated
from optplace.objectives import lexicographic_key
from optplace.params import SolveParams
from optplace.registry import MethodOutput, list_methods, register
from optplace.result import Status, StopReason, relative_gap

from .data import eligibility
from .options import CpsatExactOptions, ExactOptions, HighsExactOptions, PyomoExactOptions

DEFAULT_TIME_LIMIT_S = 60.0
WARM_START_SHARE = 0.2
OPTIONS: dict[str, type[ExactOptions]] = {
    "highs": HighsExactOptions,
    "pyomo": PyomoExactOptions,
    "cpsat": CpsatExactOptions,
}


@dataclass
class Collector:
    """Keeps the best verified placement and the best valid bound as the child streams them."""

    instance: Instance
    best: dict[str, str] | None = None
    best_key: tuple[float, ...] | None = None
    best_source: str = ""
    bound: float | None = None
    bound_source: str = ""
    infeasible: bool = False
    done: dict[str, Any] | None = None
    error: str | None = None
    solver: tuple[str, str] | None = None
    rejected: int = 0
    other_solvers: list[tuple[str, str]] = field(default_factory=list)
    phases: list[dict[str, Any]] = field(default_factory=list)
    incumbents: int = 0
    first_incumbent_s: float | None = None
    started: float = field(default_factory=time.monotonic)
    timeline: list[tuple[float, float | None, float | None]] = field(default_factory=list)

    def consider(self, placement: dict[str, str], source: str) -> None:
        evaluation = evaluate(self.instance, placement)
        if not evaluation.feasible:
            self.rejected += 1
            return
        key = lexicographic_key(self.instance.objectives, evaluation.objectives)
        if self.best_key is None or key > self.best_key:
            self.best, self.best_key, self.best_source = dict(placement), key, source
            self.mark()

    def primary_value(self) -> float | None:
        if self.best_key is None:
            return None
        return self.best_key[0] if self.instance.objectives[0].maximize else -self.best_key[0]

    def mark(self) -> None:
        self.timeline.append((round(time.monotonic() - self.started, 4), self.primary_value(), self.bound))

    def on_message(self, kind: str, data: Any) -> None:
        if kind == "incumbent":
            self.incumbents += 1
            if self.first_incumbent_s is None:
                self.first_incumbent_s = time.monotonic() - self.started
            self.consider(data["placement"], data["source"])
        elif kind == "bound":
            maximize = self.instance.objectives[0].maximize
            value = float(data["value"])
            if self.bound is None or (value < self.bound if maximize else value > self.bound):
                self.bound, self.bound_source = value, data["source"]
                self.mark()
        elif kind == "infeasible":
            self.infeasible = True
        elif kind == "phase":
            self.phases.append(data)
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
    started = time.monotonic()
    options = OPTIONS[backend].of(params, instance)
    limit = params.time_limit_s if params.time_limit_s is not None else DEFAULT_TIME_LIMIT_S
    eligible = eligibility(instance)
    stats: dict[str, Any] = {"backend": backend, "eligibility_s": round(time.monotonic() - started, 4)}
    hopeless = [a.name for a in instance.applications if not eligible.get(a.name) and (a.pinned or instance.host_all)]
    if hopeless:
        return MethodOutput(
            placement={},
            status=Status.INFEASIBLE,
            solver=backend,
            message=f"proven infeasible: {', '.join(hopeless[:5])} cannot run anywhere, even alone",
            stats=stats,
        )
    collector = Collector(instance)
    collector.consider({}, "empty")
    if options.initial_placement is not None:
        collector.consider(dict(options.initial_placement), "initial_placement")
        stats["warm_start"] = "initial_placement"
    elif params.warm_start:
        budget = options.warm_start_budget_s if options.warm_start_budget_s is not None else WARM_START_SHARE * limit
        stats["warm_start"] = warm_start(instance, params, collector, budget, options.warm_start_methods)
    payload = {
        "instance": instance.model_dump(mode="json"),
        "objectives": [o.value for o in instance.objectives],
        "eligible": eligible,
        "backend": backend,
        "time_limit_s": max(limit - (time.monotonic() - started), 0.05),
        "threads": params.threads,
        "seed": params.seed,
        "relative_gap": params.relative_gap,
        "reference": collector.best,
        "options": options.payload_options(),
    }
    from .worker import run

    remaining = max(limit - (time.monotonic() - started), 0.05)
    if options.isolate:
        child = run_isolated(
            run,
            payload,
            time_limit_s=remaining,
            grace_s=options.grace_s,
            on_message=collector.on_message,
        )
        stats.update(killed=child.killed, isolated=child.isolated, child_s=round(child.elapsed_s, 4))
        killed = child.killed
        if child.exitcode not in (0, None) and not child.killed and not child.messages:
            # The child died before it could say anything: it could not start (typically a script
            # without an ``if __name__ == "__main__":`` guard, which spawn and forkserver re-import).
            # Run the search here instead, under the solver's own limit only.
            stats["isolation_fallback"] = (
                f"the solver process exited with code {child.exitcode} before starting; ran in-process "
                "(guard your script with `if __name__ == '__main__':` to get the wall-clock kill)"
            )
            stats["isolated"] = False
            payload["time_limit_s"] = max(limit - (time.monotonic() - started), 0.05)
            try:
                run(payload, collector.on_message)
            except Exception as error:
                collector.error = f"{type(error).__name__}: {error}"
        elif child.exitcode not in (0, None) and not child.killed and collector.error is None:
            collector.error = f"the solver process exited with code {child.exitcode}"
    else:
        try:
            run(payload, collector.on_message)
        except Exception as error:  # the in-process search failed; keep what it streamed
            collector.error = f"{type(error).__name__}: {error}"
        killed = False
    return _output(instance, params, backend, collector, killed, stats)


def _output(instance, params, backend, collector: Collector, killed: bool, stats: dict[str, Any]) -> MethodOutput:
    solver = f"{collector.solver[0]}" if collector.solver else backend
    version = collector.solver[1] if collector.solver else None
    stats.update(
        best_source=collector.best_source,
        bound_source=collector.bound_source,
        incumbents_streamed=collector.incumbents,
        incumbents_rejected=collector.rejected,
        first_incumbent_s=collector.first_incumbent_s,
        timeline=collector.timeline,
        phases=collector.phases,
        other_solvers=collector.other_solvers,
    )
    child_stop = StopReason((collector.done or {}).get("stop_reason", StopReason.COMPLETED.value))
    message = ""
    if collector.error:
        message = collector.error.strip().splitlines()[-1]
        stats["error"] = collector.error
    if collector.best is None or (instance.host_all and len(collector.best) < len(instance.applications)):
        if collector.infeasible:
            status = Status.INFEASIBLE
            stop = StopReason.COMPLETED
        else:
            status = Status.NO_SOLUTION_FOUND
            stop = StopReason.TIME_LIMIT if killed or child_stop == StopReason.TIME_LIMIT else child_stop
            if collector.error:
                status, stop = Status.ERROR, StopReason.ERROR
        return MethodOutput({}, status, stop, collector.bound, solver, version, message, stats)
    value = collector.primary_value()
    bound = consistent_bound(instance, value, collector.bound, stats)
    optimal = bound is not None and value is not None and abs(bound - value) <= 1e-9 * max(1.0, abs(value))
    if optimal:
        status, stop = Status.OPTIMAL, StopReason.COMPLETED
    else:
        status = Status.FEASIBLE
        gap = relative_gap(value, bound)
        if params.relative_gap is not None and gap is not None and gap <= params.relative_gap:
            stop = StopReason.GAP_LIMIT
        elif killed or child_stop == StopReason.TIME_LIMIT:
            stop = StopReason.TIME_LIMIT
        elif collector.error:
            stop = StopReason.ERROR
        else:
            stop = child_stop
    return MethodOutput(dict(collector.best), status, stop, bound, solver, version, message, stats)


def consistent_bound(
    instance: Instance, value: float | None, bound: float | None, stats: dict[str, Any]
) -> float | None:
    """Drop a bound that a verified placement beats: a solver error (e.g. in presolve), not a proof."""
    if bound is None or value is None:
        return bound
    tolerance = 1e-6 * max(1.0, abs(value))
    wrong = bound < value - tolerance if instance.objectives[0].maximize else bound > value + tolerance
    if wrong:
        stats["discarded_bound"] = bound
        return None
    return bound


def warm_start(
    instance: Instance, params: SolveParams, collector: Collector, budget_s: float, names: list[str] | None
) -> dict[str, Any]:
    """Run registered heuristics (first_fit first) within ``budget_s``; the collector keeps the best."""
    started = time.monotonic()
    heuristics = [m for m in list_methods() if m.kind == "heuristic"]
    heuristics.sort(key=lambda m: (m.name != "first_fit", m.name))
    if names is not None:
        heuristics = [m for m in heuristics if m.name in names]
    tried: list[str] = []
    for info in heuristics:
        left = budget_s - (time.monotonic() - started)
        if tried and left <= 0:
            break
        # The heuristics get no options: these params' options are the exact method's.
        sub = params.model_copy(update={"time_limit_s": max(left, 0.05), "warm_start": False, "options": {}})
        try:
            output = info.function(instance, sub)
        except Exception:  # a broken heuristic must not stop the exact search
            continue
        tried.append(info.name)
        if output.status.has_solution:
            collector.consider(output.placement, f"heuristic:{info.name}")
    return {"tried": tried, "chosen": collector.best_source, "seconds": round(time.monotonic() - started, 4)}


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
