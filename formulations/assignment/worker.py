"""The exact search, as run inside the solver child process (see :mod:`optplace.isolation`).

Rounds (model.md, "Solving"):

1. **Conservative** model built around the reference placement (the warm start), solved
   lexicographically. Every solution is feasible; when the model is exact its bound is valid.
2. **Relaxed** model (only when the conservative one approximates something): its dual bound is a
   valid bound on the true optimum, and its solution is verified and, if needed, repaired.
3. **Refine**: while time is left and the best placement changed, re-build the conservative model
   around it (breakpoints and tangents at its loads) and solve again. The previous best stays
   feasible in the new model, so a round never loses ground.

After each solve a greedy *polish* inserts left-over applications with the exact latency check.
Everything found is streamed to the parent as it is found: ``incumbent`` (placement),
``bound`` (a valid bound on the primary objective, natural sense), ``infeasible`` (proven),
``phase`` (statistics) and finally ``done``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optplace.backends import get_backend
from optplace.backends.common import BackendResult, SolverSettings
from optplace.bounds import objective_is_integral, round_bound
from optplace.budget import LAGRANGIAN_S_PER_PAIR, MODEL_BUILD_S_PER_NONZERO, Budget, highs_root_work_s
from optplace.domain import Instance, Objective
from optplace.evaluate import evaluate
from optplace.isolation import Emit
from optplace.objectives import lexicographic_key
from optplace.result import Status, StopReason

from .build import AssignmentModel, BuildOptions, build
from .data import InstanceData, prepare
from .solution import canonicalize, encode, extract

MIN_PHASE_S = 0.2  # a solve given less than this is not started
LAGRANGIAN_SHARE = 0.2  # of the time, for the Lagrangian bound (maximisation objectives)
LAGRANGIAN_SHARE_LARGE = 0.3
LNS_ABOVE_PAIRS = 8000  # eligible pairs beyond which the full MILP is replaced by neighbourhood search
LNS_ACCELERATORS = 2
LNS_STEP_S = 1.5
LNS_CANDIDATES = 40
LNS_STALL = 200  # neighbourhoods in a row without a better placement before the search stops
SAFETY_S = 0.15  # leave this much of the deadline for messages


@dataclass
class LexOutcome:
    """The result of a (lexicographic) solve of one model."""

    placement: dict[str, str] | None = None
    primary_status: Status = Status.NO_SOLUTION_FOUND
    primary_bound: float | None = None  # on the primary objective, natural sense, for this model
    primary_value: float | None = None
    stop_reason: StopReason = StopReason.COMPLETED
    solves: list[dict[str, Any]] = field(default_factory=list)
    solver_version: str = ""


class Search:
    """State of the exact search inside the child: best placement so far and the deadline."""

    def __init__(self, payload: dict[str, Any], emit: Emit):
        self.started = time.monotonic()
        # Wall-clock seconds, or in deterministic mode work (optplace.budget): solves then get
        # work limits, and the phases below run the same way on any machine.
        self.budget = Budget(
            max(float(payload["time_limit_s"]) - SAFETY_S, 0.0), deterministic=bool(payload.get("deterministic"))
        )
        self.emit = emit
        self.instance = Instance.model_validate(payload["instance"])
        self.objectives = [Objective(o) for o in payload["objectives"]]
        self.options: dict[str, Any] = dict(payload.get("options") or {})
        self.backend_name = payload["backend"]
        self.backend = get_backend(self.backend_name)
        # CP-SAT rounds rows outwards, so its dual bounds and infeasibility proofs hold for the rounded
        # model only; bound-giving solves (relaxed model, exact model) then go to HiGHS.
        self.bound_backend = get_backend("highs") if self.backend_name == "cpsat" else self.backend
        self.threads = payload.get("threads")
        self.seed = int(payload.get("seed") or 0)
        self.relative_gap = payload.get("relative_gap")
        t = time.perf_counter()
        self.data: InstanceData = prepare(self.instance, payload["eligible"])
        self.prepare_s = time.perf_counter() - t
        self.best: dict[str, str] | None = None
        self.best_key: tuple[float, ...] | None = None
        self.best_bound: float | None = None
        self._integral = objective_is_integral(self.instance, self.objectives[0])
        self.stop_reason = StopReason.COMPLETED
        self.out_of_work = False  # deterministic: a MIP was not started because its root would not fit
        reference = payload.get("reference")
        if reference is not None:
            self.consider(reference, "warm_start", emit_it=False)
        # The back-end's identity, even when a bound settles the instance before any solve.
        self.emit(
            "solver", {"solver": getattr(self.backend, "SOLVER", self.backend_name), "version": self.backend.version()}
        )

    # --- bookkeeping ---------------------------------------------------------------------------

    def left(self) -> float:
        return self.budget.left()

    def consider(self, placement: dict[str, str], source: str, *, emit_it: bool = True) -> bool:
        """Keep ``placement`` if it is feasible and better; stream it. Returns True if it became best."""
        evaluation = evaluate(self.instance, placement)
        if not evaluation.feasible:
            return False
        key = lexicographic_key(self.objectives, evaluation.objectives)
        if self.best_key is not None and key <= self.best_key:
            return False
        self.best, self.best_key = dict(placement), key
        if emit_it:
            self.emit("incumbent", {"placement": dict(placement), "source": source})
        return True

    def report_bound(self, value: float | None, source: str) -> None:
        if value is None:
            return
        primary = self.objectives[0]
        value = round_bound(value, primary.maximize, self.integral_primary())
        better = self.best_bound is None or (value < self.best_bound if primary.maximize else value > self.best_bound)
        if better:
            self.best_bound = value
            self.emit("bound", {"value": value, "source": source})

    def integral_primary(self) -> bool:
        """Does the primary objective take integer values only (so its bound may be rounded)?"""
        return self._integral

    def settings(
        self,
        time_limit: float,
        warm: np.ndarray | None,
        am: AssignmentModel,
        source: str,
        emit_incumbents,
        on_bound=None,
    ):
        def on_incumbent(values: np.ndarray, objective: float, bound: float | None) -> None:
            if emit_incumbents:
                self.emit("incumbent", {"placement": extract(am, values), "source": source})

        deterministic = self.budget.deterministic
        return SolverSettings(
            time_limit_s=self.budget.wall_limit() if deterministic else time_limit,
            work_limit_s=time_limit if deterministic else None,
            on_bound=on_bound,
            threads=self.threads,
            seed=self.seed,
            relative_gap=self.relative_gap if self.relative_gap is not None else 1e-6,
            warm_start=warm,
            solver_name=self.options.get("solver_name"),
            on_incumbent=on_incumbent,
            options=dict(self.options.get("solver_options") or {}),
        )

    # --- rounds --------------------------------------------------------------------------------

    def run(self) -> None:
        rounds = int(self.options.get("refine_rounds", 3))
        relaxed_phase = bool(self.options.get("relaxed_bound", True))
        large = self.data.pairs.size > int(self.options.get("lns_above_pairs", LNS_ABOVE_PAIRS))
        if self.objectives[0].maximize and self.options.get("lagrangian", True) and self.left() > MIN_PHASE_S:
            self.lagrangian(LAGRANGIAN_SHARE_LARGE if large else LAGRANGIAN_SHARE)
        if self.proven():
            self.done()
            return
        if large:  # the full MILP cannot finish its root at this size: improve by neighbourhoods
            self.lns()
            self.done()
            return
        am = self.build("conservative")
        rounded = self.bound_backend is not self.backend  # the back-end's own bounds may not be bounds
        share = (0.6 if rounded else 1.0) if am.exact else float(self.options.get("conservative_share", 0.5))
        outcome = self.solve_conservative(am, share)
        if am.exact:
            if outcome.primary_status == Status.INFEASIBLE:
                self.emit("infeasible", {"source": "exact model"})
            elif rounded and not self.proven() and self.left() > MIN_PHASE_S:
                self.solve_for_bound(am, 1.0, "exact model")
            self.done()
            return
        if self.proven():
            self.done()
            return
        if relaxed_phase and self.left() > MIN_PHASE_S:
            self.solve_relaxed(0.6)
        built_for = am.options.reference
        for _ in range(rounds):
            if self.left() <= MIN_PHASE_S or self.proven() or self.best is None or self.best == built_for:
                break
            am = self.build("conservative")
            built_for = am.options.reference
            self.solve_conservative(am, 1.0)
        if not self.proven():
            self.lns()
        self.done()

    # --- bounds and neighbourhoods for large instances -----------------------------------------

    def lagrangian(self, share: float) -> None:
        """A fast valid bound from the relaxed model's regimes (see lagrangian.py)."""
        from .lagrangian import lagrangian_bound

        am = self.build("relaxed")
        c, _ = am.objective(self.objectives[0])
        target = 0.0 if self.best_key is None else float(self.best_key[0])
        deterministic = self.budget.deterministic
        evaluation_s = max(1, am.data.pairs.size) * LAGRANGIAN_S_PER_PAIR
        iterations = min(400, max(1, int(self.left() * share / evaluation_s))) if deterministic else 400
        value, stats = lagrangian_bound(
            am, c[am.x], target, math.inf if deterministic else self.left() * share, iterations=iterations
        )
        self.budget.charge(stats["evaluations"] * am.data.pairs.size * LAGRANGIAN_S_PER_PAIR)
        self.emit("phase", {"phase": "lagrangian", "bound": value, **stats})
        self.report_bound(value, "lagrangian")

    def lns(self) -> None:
        """Large-neighbourhood search: re-optimise a few nodes at a time with the rest fixed.

        A neighbourhood is a random set of whole nodes (so node memory and front-end load stay
        inside it) with about ``lns_accelerators`` accelerators; its applications and the unplaced
        applications that could run there form a sub-instance, solved by the conservative model
        warm-started from the incumbent. Objectives add up over nodes and applications, so a better
        sub-solution is a better placement; the merged placement is verified before it is kept.
        """
        rng = np.random.default_rng(self.seed)
        nodes = self.instance.nodes
        apps = self.instance.applications
        target = int(self.options.get("lns_accelerators", LNS_ACCELERATORS))
        step = float(self.options.get("lns_step_s", LNS_STEP_S))
        limit = int(self.options.get("lns_candidates", LNS_CANDIDATES))
        eligible = self.data.eligible
        tried = improved = stalled = 0
        if len(self.data.accelerators) <= 2 * target:
            return  # a neighbourhood would be (nearly) the whole instance: the full model already was
        stall_limit = int(self.options.get("lns_stall", LNS_STALL))
        while self.left() > MIN_PHASE_S and not self.proven() and stalled < stall_limit and not self.out_of_work:
            current = dict(self.best or {})
            chosen, count = [], 0
            for n in rng.permutation(len(nodes)):
                chosen.append(int(n))
                count += len(nodes[n].accelerators)
                if count >= target:
                    break
            names = {acc.name for n in chosen for acc in nodes[n].accelerators}
            inside = [a for a in apps if current.get(a.name) in names]
            outside = [a for a in apps if a.name not in current and names.intersection(eligible.get(a.name, ()))]
            room = max(limit - len(inside), 0)
            if len(outside) > room:
                order = sorted(range(len(outside)), key=lambda i: (-outside[i].priority, rng.random()))
                outside = [outside[i] for i in sorted(order[:room])]
            sub_apps = inside + outside
            if not sub_apps:
                continue
            tried += 1
            sub = self.instance.model_copy(
                update={"nodes": [nodes[n] for n in sorted(chosen)], "applications": sub_apps, "name": "lns"}
            )
            sub_data = prepare(sub, {a.name: [x for x in eligible.get(a.name, ()) if x in names] for a in sub_apps})
            reference = canonicalize(sub_data, {a.name: current[a.name] for a in inside}, _groups(sub_data))
            am = build(sub_data, BuildOptions.from_options(self.options, mode="conservative", reference=reference))
            self.budget.charge(int(am.model.A.nnz) * MODEL_BUILD_S_PER_NONZERO)
            warm, _ = encode(am, reference)
            outcome = self.lexicographic(
                am, warm, min(step, self.left()), "lns", primary_only=False, emit_incumbents=False
            )
            stalled += 1
            if outcome.placement is None:
                continue
            before = lexicographic_key(self.objectives, evaluate(sub, reference).objectives)
            after_evaluation = evaluate(sub, outcome.placement)
            if not after_evaluation.feasible:
                continue
            if lexicographic_key(self.objectives, after_evaluation.objectives) <= before:
                continue
            merged = {k: v for k, v in current.items() if k not in {a.name for a in sub_apps}}
            merged.update(outcome.placement)
            if self.consider(merged, "lns"):
                improved += 1
                stalled = 0
        self.emit("phase", {"phase": "lns", "neighbourhoods": tried, "improvements": improved})

    def proven(self) -> bool:
        if self.best_key is None or self.best_bound is None:
            return False
        value = self.best_key[0] if self.objectives[0].maximize else -self.best_key[0]
        return abs(value - self.best_bound) <= 1e-9 * max(1.0, abs(value))

    def build(self, mode: str) -> AssignmentModel:
        t = time.perf_counter()
        reference = canonicalize(self.data, self.best, _groups(self.data)) if self.best else None
        options = BuildOptions.from_options(self.options, mode=mode, reference=reference)
        am = build(self.data, options)
        self.budget.charge(int(am.model.A.nnz) * MODEL_BUILD_S_PER_NONZERO)
        self.emit(
            "phase",
            {
                "phase": f"build_{mode}",
                "build_s": time.perf_counter() - t,
                "prepare_s": self.prepare_s,
                "exact": am.exact,
                "approximations": am.approximations,
                **am.stats,
            },
        )
        return am

    def solve_conservative(self, am: AssignmentModel, share: float) -> LexOutcome:
        warm, why = encode(am, am.options.reference) if am.options.reference else (None, "no warm start")
        budget = self.left() * share
        bound_source = "exact model" if am.exact and self.bound_backend is self.backend else None
        outcome = self.lexicographic(am, warm, budget, "conservative", primary_only=False, bound_source=bound_source)
        self.emit(
            "phase",
            {
                "phase": "solve_conservative",
                "warm_start": warm is not None,
                "warm_start_note": why,
                "solves": outcome.solves,
            },
        )
        if outcome.placement is not None and not self.consider(outcome.placement, "conservative"):
            # Where the conservative rows approximate latency model v2 (the switch dependence on a
            # shared FCFS device, its percentiles), the evaluator may reject the solution: keep what fits.
            self.consider(self.repair(outcome.placement), "conservative+repair")
        if am.exact:
            self.report_bound(outcome.primary_bound, "exact model")
        self.polish("conservative+polish")
        return outcome

    def solve_relaxed(self, share: float) -> None:
        self.solve_for_bound(self.build("relaxed"), share, "relaxed model")

    def solve_for_bound(self, am: AssignmentModel, share: float, source: str) -> None:
        """Solve a model whose optimum bounds the true one (relaxed, or exact) with the bound back-end."""
        warm, why = encode(am, am.options.reference) if am.options.reference else (None, "no warm start")
        budget = self.left() * share
        outcome = self.lexicographic(
            am,
            warm,
            budget,
            source,
            primary_only=True,
            emit_incumbents=False,
            backend=self.bound_backend,
            bound_source=source,
        )
        self.emit(
            "phase",
            {
                "phase": f"solve_for_bound ({source})",
                "backend": getattr(self.bound_backend, "SOLVER", ""),
                "warm_start": warm is not None,
                "warm_start_note": why,
                "solves": outcome.solves,
            },
        )
        if outcome.primary_status == Status.INFEASIBLE:
            self.emit("infeasible", {"source": source})
            return
        self.report_bound(outcome.primary_bound, source)
        if outcome.placement is not None:
            if not self.consider(outcome.placement, "relaxed"):
                self.consider(self.repair(outcome.placement), "relaxed+repair")
            self.polish("relaxed+polish")

    def done(self) -> None:
        self.emit(
            "done",
            {
                "elapsed_s": time.monotonic() - self.started,
                "stop_reason": self.stop_reason.value,
                "work_s": self.budget.elapsed() if self.budget.deterministic else None,
                "safety_stop": self.budget.safety_fired,
            },
        )

    # --- one model, lexicographically --------------------------------------------------------------

    def lexicographic(
        self,
        am: AssignmentModel,
        warm: np.ndarray | None,
        budget: float,
        source: str,
        *,
        primary_only: bool,
        emit_incumbents: bool = True,
        backend=None,
        bound_source: str | None = None,
    ) -> LexOutcome:
        """Solve ``am`` under the objectives; ``bound_source`` streams the solver's dual bound on the
        primary objective as it improves (only for solves whose bound is valid for the placement problem)."""
        out = LexOutcome()
        backend = backend or self.backend
        levels = self.objectives[:1] if primary_only else list(self.objectives)
        natural = [am.objective(o) for o in levels]
        signs = [-1.0 if o.maximize else 1.0 for o in levels]
        how = self.options.get("lexicographic", "auto")
        weights = _lex_weights(natural, signs) if len(levels) > 1 and how in ("auto", "weighted") else None
        stage = self.budget.child(budget)

        def remaining() -> float:
            left = stage.left()
            if stage.deterministic:
                # a MIP's root cannot be cut: do not start one that the budget cannot pay for
                nonzeros = int(am.model.A.nnz) + (0 if am.model.relax is None else int(am.model.relax.nnz))
                if left < highs_root_work_s(am.model.num_rows, am.model.num_vars, nonzeros):
                    self.out_of_work = True
                    return 0.0
            return left

        def stream(convert):
            if bound_source is None:
                return None

            def on_bound(value: float) -> None:
                self.report_bound(convert(value), bound_source)

            return on_bound

        if len(levels) == 1 or weights is not None:
            if weights is None:
                c, const = natural[0]
                lm = am.model.with_objective(c, const, levels[0].maximize)
            else:
                c = np.sum([w * s * v[0] for w, s, v in zip(weights, signs, natural)], axis=0)
                const = float(sum(w * s * v[1] for w, s, v in zip(weights, signs, natural)))
                lm = am.model.with_objective(c, const, False)
            if remaining() < MIN_PHASE_S:
                return out
            convert = (
                (lambda b: b) if weights is None else (lambda b: _primary_from_weighted(b, weights, signs, natural, am))
            )
            result = backend.solve(lm, self.settings(remaining(), warm, am, source, emit_incumbents, stream(convert)))
            self.note(result, stage)
            out.solver_version = result.solver_version
            out.solves.append(_solve_stats(result, "weighted" if weights else levels[0].value))
            out.stop_reason = result.stop_reason
            out.primary_status = _trusted_status(result)
            if result.values is not None:
                out.placement = extract(am, result.values)
                c0, k0 = natural[0]
                out.primary_value = float(c0 @ result.values + k0)
            if result.bound is not None and result.stats.get("bound_is_for_model", True):
                out.primary_bound = (
                    result.bound
                    if weights is None
                    else _primary_from_weighted(result.bound, weights, signs, natural, am)
                )
            return out
        # Sequential: fix each level at (at least) the value found, then optimise the next.
        lm_fixed = am.model
        values = warm
        for index, (objective, (c, const)) in enumerate(zip(levels, natural)):
            share = 0.6 if index == 0 else 1.0 / (len(levels) - index)
            limit = remaining() * share
            if limit < MIN_PHASE_S:
                break
            lm = lm_fixed.with_objective(c, const, objective.maximize)
            on_bound = stream(lambda b: b) if index == 0 else None
            result = backend.solve(lm, self.settings(limit, values, am, source, emit_incumbents, on_bound))
            self.note(result, stage)
            out.solver_version = result.solver_version
            out.solves.append(_solve_stats(result, objective.value))
            if index == 0:
                out.primary_status = _trusted_status(result)
                out.primary_bound = result.bound if result.stats.get("bound_is_for_model", True) else None
                out.stop_reason = result.stop_reason
            if result.values is None:
                break
            values = result.values
            out.placement = extract(am, values)
            if index == 0:
                out.primary_value = float(c @ values + const)
            level_value = float(c @ values)
            tol = 1e-7 * max(1.0, abs(level_value))
            if objective.maximize:
                lm_fixed = lm_fixed.with_extra_row(c, level_value - tol, np.inf)
            else:
                lm_fixed = lm_fixed.with_extra_row(c, -np.inf, level_value + tol)
        return out

    def note(self, result: BackendResult, stage: Budget) -> None:
        stage.charge(float(result.stats.get("work_s") or 0.0))
        if result.stop_reason in (StopReason.TIME_LIMIT, StopReason.ITERATION_LIMIT):
            # a deterministic run stops at work limits (node limits): that is no time limit
            work = self.budget.deterministic and not self.budget.safety_fired
            self.stop_reason = StopReason.ITERATION_LIMIT if work else StopReason.TIME_LIMIT
        self.emit("solver", {"solver": result.solver, "version": result.solver_version})

    # --- repair and polish -------------------------------------------------------------------------

    def repair(self, placement: dict[str, str]) -> dict[str, str]:
        """Keep what fits of an infeasible placement (exact check), highest priority first."""
        apps = {a.name: a for a in self.instance.applications}
        ordered = dict(sorted(placement.items(), key=lambda item: (-apps[item[0]].priority, apps[item[0]].rate_rps)))
        try:
            state = self._state()
            state.load(ordered, check=True)
            return state.placement()
        except Exception as error:  # the heuristics' state is an optional helper here
            self.emit("phase", {"phase": "repair", "skipped": f"{type(error).__name__}: {error}"})
            return {}

    def polish(self, source: str) -> None:
        """Insert left-over applications where the exact check allows (maximisation objectives only)."""
        primary = self.objectives[0]
        if self.best is None or not primary.maximize or self.left() <= 0:
            return
        try:
            state = self._state()
            if state.load(self.best, check=True):
                return  # the probe and the evaluator disagree on the incumbent: leave it alone
            apps = self.instance.applications
            order = sorted(range(len(apps)), key=lambda a: (-apps[a].priority, apps[a].rate_rps, a))
            added = False
            for a in order:
                if state.assignment[a] >= 0 or self.left() <= 0:
                    continue
                for d in state.candidates(a):
                    name = state.acc_names[d]
                    if primary == Objective.MAX_VALUE and apps[a].value_by_accelerator.get(name, apps[a].priority) <= 0:
                        continue
                    if state.can_place(a, int(d)):
                        state.place(a, int(d))
                        added = True
                        break
        except Exception as error:  # the heuristics' state is an optional helper here
            self.emit("phase", {"phase": "polish", "skipped": f"{type(error).__name__}: {error}"})
            return
        if added:
            self.consider(state.placement(), source)

    def _state(self):
        from optplace.cluster_state import ClusterState

        return ClusterState(self.instance, self.objectives)


def run(payload: dict[str, Any], emit: Emit) -> None:
    """Child-process entry point (a module-level function, so it pickles by reference)."""
    Search(payload, emit).run()


# --- helpers ------------------------------------------------------------------------------------


def _groups(data: InstanceData) -> list[list[int]]:
    from .build import symmetry_groups

    return symmetry_groups(data)


def _trusted_status(result: BackendResult) -> Status:
    """An infeasibility proof only counts for the model handed in (not for a rounded integer form)."""
    if result.status == Status.INFEASIBLE and not result.stats.get("bound_is_for_model", True):
        return Status.NO_SOLUTION_FOUND
    return result.status


def _solve_stats(result: BackendResult, objective: str) -> dict[str, Any]:
    return {
        "objective": objective,
        "status": result.status.value,
        "raw_status": result.raw_status,
        "stop_reason": result.stop_reason.value,
        "value": result.objective,
        "bound": result.bound,
        "runtime_s": round(result.runtime_s, 4),
        **result.stats,
    }


def _lex_weights(natural, signs) -> list[float] | None:
    """Weights that make one weighted solve exactly lexicographic, or None when that is not safe.

    Safe when every level but the last takes integer values (integer coefficients and constant):
    then W_k = 1 + sum_{j > k} W_j R_j with R_j the range of level j means one unit of level k
    outweighs any change of the later ones. Refused when the weights would exceed 1e7, where
    solver tolerances would start to blur the levels.
    """
    ranges = [float(np.sum(np.abs(c))) for c, _ in natural]
    for c, const in natural[:-1]:
        if np.any(np.abs(c - np.round(c)) > 1e-12) or abs(const - round(const)) > 1e-12:
            return None
    weights = [1.0] * len(natural)
    for k in range(len(natural) - 2, -1, -1):
        weights[k] = 1.0 + sum(weights[j] * ranges[j] for j in range(k + 1, len(natural)))
    if weights[0] * max(ranges[0], 1.0) > 1e7:
        return None
    return weights


def _primary_from_weighted(bound: float, weights, signs, natural, am: AssignmentModel) -> float:
    """A bound on the primary objective from a lower bound on sum_k W_k g_k (g_k = sign_k * f_k)."""
    rest_max = 0.0
    for w, s, (c, const) in zip(weights[1:], signs[1:], natural[1:]):
        g = s * c
        rest_max += w * (float(np.sum(np.maximum(g, 0.0))) + s * const)
    g1 = (bound - rest_max) / weights[0]
    g1 = math.ceil(g1 - 1e-6)  # the primary level takes integer values (checked by _lex_weights)
    return float(signs[0] * g1)
