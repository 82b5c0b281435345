"""Method ``configuration``: column generation over feasible sets per accelerator class, with a proven bound.

1. Seed the master with the best heuristic placement's sets and every feasible singleton.
2. Column generation on the persistent LP (``master.py``), pricing every class with
   ``pricing.Pricer`` at smoothed duals (Wentges); every pricing round gives a Lagrangian bound,
   valid at any duals, so the method always has a bound, even when it stops early.
3. Price-and-branch: the integer master over the generated columns (HiGHS, time-limited), warm
   started from the heuristic, with a tie-break for the secondary objective.
4. If a gap remains and the objective is integral, *reduced-cost enumeration*: every feasible set
   whose reduced cost could still be part of a better solution is added, and the integer master
   then either finds that better solution or proves the incumbent optimal.

Options (``params.options``): ``frontend_levels`` (4), ``smoothing`` (0.5),
``enumeration_limit`` (30000 sets), ``columns_per_class`` (8 per round), ``exact_every`` (4: one
exact pricing round in four, the others heuristic), ``cg_share`` (0.6 of the time for column
generation), ``heuristics`` (list of warm-start methods, default every registered
heuristic).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from pydantic import Field

from optplace.domain import Instance, Objective
from optplace.evaluate import evaluate
from optplace.formulations.configuration.build import ConfigurationModel, UnsupportedInstance, build, extract
from optplace.formulations.configuration.master import Master, MasterStatus, highs_version
from optplace.formulations.configuration.pricing import EPS, Pricer
from optplace.objectives import lexicographic_key
from optplace.options import HeuristicNames, MethodOptions
from optplace.params import SolveParams
from optplace.registry import MethodOutput, list_methods, register
from optplace.result import Status, StopReason

DEFAULT_TIME_LIMIT_S = 60.0
ROUNDING = 1e-6  # slack before rounding an integral bound (LP arithmetic)


class ConfigurationOptions(MethodOptions):
    """Options of ``configuration``."""

    frontend_levels: int = Field(default=4, ge=1, le=64, description="Front-end load levels in pricing.")
    smoothing: float = Field(default=0.5, ge=0, lt=1, allow_inf_nan=False, description="Wentges dual smoothing.")
    enumeration_limit: int = Field(default=30000, ge=0, le=10_000_000, description="Sets enumerated by reduced cost.")
    columns_per_class: int = Field(default=8, ge=1, le=1000, description="Columns added per class and round.")
    exact_every: int = Field(default=4, ge=1, le=1000, description="One exact pricing round in this many.")
    cg_share: float = Field(
        default=0.6, gt=0, le=1, allow_inf_nan=False, description="Share of the time for column generation."
    )
    heuristics: HeuristicNames | None = Field(
        default=None, description="Warm-start heuristics; default every registered one."
    )


@dataclass
class Column:
    class_index: int
    items: tuple[int, ...]  # class-local, sorted
    value: float  # internal (maximisation) objective coefficient
    secondary: float  # tie-break coefficient (secondary objective, internal max form)


@dataclass
class Progress:
    """What the column generation did, for ``MethodOutput.stats``."""

    iterations: int = 0
    columns: int = 0
    lp_value: float | None = None
    lagrangian_bound: float | None = None
    converged: bool = False
    pricing_s: float = 0.0
    lp_s: float = 0.0
    mip_s: float = 0.0
    knapsack_nodes: int = 0
    subproblems: int = 0
    mispricings: int = 0
    enumerated: int | None = None
    history: list[tuple[float, float, float]] = field(default_factory=list)  # (time, lp, bound)


class ColumnGeneration:
    """One run of the configuration method on one instance."""

    def __init__(self, model: ConfigurationModel, params: SolveParams, started: float):
        self.model = model
        self.params = params
        self.started = started
        opts = ConfigurationOptions.of(params, model.instance)
        self.limit = params.time_limit_s if params.time_limit_s is not None else DEFAULT_TIME_LIMIT_S
        self.deadline = started + self.limit
        self.smoothing = opts.smoothing
        self.columns_per_class = opts.columns_per_class
        self.enumeration_limit = opts.enumeration_limit
        self.cg_share = opts.cg_share
        self.exact_every = opts.exact_every
        self.pricers = [Pricer(c, frontend_levels=opts.frontend_levels) for c in model.classes]
        self.node_of_class = [-1] * len(model.classes)
        for r, rows in enumerate(model.node_rows):
            for c in rows.classes:
                self.node_of_class[c] = r
        self.columns: list[Column] = []
        self.seen: set[tuple[int, tuple[int, ...]]] = set()
        self.progress = Progress()
        self.best_bound = math.inf  # internal Lagrangian upper bound
        self.best_duals: tuple[np.ndarray, np.ndarray] | None = None
        self.secondary = self._secondary_objective()
        self.tie_weight = 0.0
        self.master: Master | None = None

    # --- helpers -------------------------------------------------------------------------------

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()

    def _secondary_objective(self) -> Objective | None:
        objectives = self.model.instance.objectives
        return objectives[1] if len(objectives) > 1 else None

    def _secondary_value(self, class_index: int, items: tuple[int, ...]) -> float:
        """Secondary objective of a column, internal maximisation form (0 when there is none)."""
        objective = self.secondary
        if objective is None:
            return 0.0
        cls = self.model.classes[class_index]
        instance = self.model.instance
        apps = [instance.applications[int(cls.apps[i])] for i in items]
        acc = cls.accelerators[0]
        if objective == Objective.MAX_HOSTED:
            return float(sum(a.priority for a in apps))
        if objective == Objective.MAX_VALUE:
            return float(sum(a.value_by_accelerator.get(acc, a.priority) for a in apps))
        if objective == Objective.MIN_ACCELERATORS:
            return -1.0
        if objective == Objective.MIN_COST:
            type_cost = instance.accelerator_type_map()[cls.type_name].cost
            return -(type_cost + sum(a.cost_by_accelerator.get(acc, 0.0) for a in apps))
        if objective == Objective.MIN_MIGRATIONS:
            return float(sum(1 for a in apps if a.current_accelerator == acc))
        return 0.0

    def column_value(self, class_index: int, items: tuple[int, ...]) -> float:
        cls = self.model.classes[class_index]
        return cls.fixed_value + float(cls.value[list(items)].sum())

    def add_columns(self, found: list[tuple[int, tuple[int, ...]]]) -> int:
        """Append new, exactly feasible columns; returns how many were new."""
        fresh = []
        for class_index, items in found:
            key = (class_index, tuple(sorted(items)))
            if not items or key in self.seen:
                continue
            if not self.pricers[class_index].checker.feasible(key[1]):
                continue
            self.seen.add(key)
            cls = self.model.classes[class_index]
            column = Column(class_index, key[1], self.column_value(class_index, key[1]), 0.0)
            column.secondary = self._secondary_value(class_index, key[1])
            self.columns.append(column)
            node = self.node_of_class[class_index]
            fresh.append(
                (
                    class_index,
                    [int(cls.apps[i]) for i in key[1]],
                    column.value,
                    cls.node_memory(key[1]) if node >= 0 else 0.0,
                    cls.frontend_load(key[1]) if node >= 0 else 0.0,
                    node,
                )
            )
        if self.master is not None:
            self.master.add(fresh)
        self.progress.columns = len(self.columns)
        return len(fresh)

    def placement_columns(self, placement: dict[str, str]) -> list[tuple[int, tuple[int, ...]]]:
        """The (class, items) column of every used accelerator of ``placement``."""
        index_of = {name: j for j, name in enumerate(self.model.app_names)}
        class_of_acc: dict[str, int] = {}
        for cls in self.model.classes:
            for acc in cls.accelerators:
                class_of_acc[acc] = cls.index
        local = [{int(j): i for i, j in enumerate(cls.apps)} for cls in self.model.classes]
        by_acc: dict[str, list[int]] = {}
        for app, acc in placement.items():
            by_acc.setdefault(acc, []).append(index_of[app])
        out = []
        for acc, apps in by_acc.items():
            c = class_of_acc.get(acc)
            if c is None or any(j not in local[c] for j in apps):
                continue
            out.append((c, tuple(sorted(local[c][j] for j in apps))))
        return out

    # --- bound ---------------------------------------------------------------------------------

    def profits(self, app_duals: np.ndarray, node_duals: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Item profits and backend costs per class at the given duals."""
        out = []
        for cls in self.model.classes:
            profit = cls.value - app_duals[cls.apps]
            group_cost = np.zeros(len(cls.group_memory_mb))
            node = self.node_of_class[cls.index]
            if node >= 0:
                y_mem, y_load = node_duals[2 * node], node_duals[2 * node + 1]
                profit = profit - y_mem * cls.frontend_memory_mb - y_load * cls.rate_rps * cls.preprocess_ms / 1000.0
                if cls.backend_memory_on_node:
                    group_cost = y_mem * cls.group_memory_mb
            out.append((profit, group_cost))
        return out

    def lagrangian(self, app_duals: np.ndarray, node_duals: np.ndarray, zetas: list[float]) -> float:
        """sum(duals * rhs) + sum over classes of count * max(0, zeta): an upper bound at any valid duals."""
        value = float(app_duals.sum())
        for r, rows in enumerate(self.model.node_rows):
            value += node_duals[2 * r] * rows.memory_limit_mb + node_duals[2 * r + 1] * rows.cores
        for cls, zeta in zip(self.model.classes, zetas):
            value += cls.count * max(0.0, zeta)
        return value

    def clip_duals(self, app_duals: np.ndarray, node_duals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project onto the dual cone: <= rows need duals >= 0 (HiGHS may return -1e-12)."""
        app = np.where(self.model.equality, app_duals, np.maximum(app_duals, 0.0))
        return app, np.maximum(node_duals, 0.0)

    def price_all(
        self, app_duals: np.ndarray, node_duals: np.ndarray, *, heuristic: bool = False, deadline: float = math.inf
    ):
        """Price every class; returns (zetas, candidates, complete). Only complete exact zetas give a bound."""
        zetas, candidates = [], []
        complete = not heuristic
        for cls, pricer, (profit, group_cost) in zip(
            self.model.classes, self.pricers, self.profits(app_duals, node_duals)
        ):
            floor = -cls.fixed_value
            result = pricer.price(
                profit, group_cost, floor, keep=self.columns_per_class, heuristic=heuristic, deadline=deadline
            )
            complete = complete and result.complete
            self.progress.knapsack_nodes += result.nodes
            self.progress.subproblems += result.explored
            zetas.append(cls.fixed_value + result.best if math.isfinite(result.best) else -math.inf)
            for value, items in result.columns[: self.columns_per_class]:
                candidates.append((cls.index, items, cls.fixed_value + value))
        return zetas, candidates, complete

    def reduced_cost(self, class_index: int, items: tuple[int, ...], profits, class_duals: np.ndarray) -> float:
        cls = self.model.classes[class_index]
        profit, group_cost = profits[class_index]
        index = list(items)
        groups = np.unique(cls.group[index])
        return cls.fixed_value + float(profit[index].sum() - group_cost[groups].sum()) - float(class_duals[class_index])

    # --- the loop ------------------------------------------------------------------------------

    def column_generation(self, budget_end: float) -> None:
        """Column generation until converged, closed (after rounding) or out of time.

        Rounds alternate between heuristic pricing (a capped search, no bound) and exact pricing
        (every ``exact_every`` rounds, or when the heuristic finds nothing), which gives a new
        Lagrangian bound at the smoothed duals.
        """
        progress = self.progress
        center: tuple[np.ndarray, np.ndarray] | None = None
        rounds = 0
        while time.perf_counter() < budget_end:
            t0 = time.perf_counter()
            lp = self.master.solve_lp(max(0.05, budget_end - t0))
            progress.lp_s += time.perf_counter() - t0
            if lp.status != MasterStatus.OPTIMAL:
                return
            progress.iterations += 1
            feasible_lp = lp.artificial <= 1e-9
            progress.lp_value = lp.objective if feasible_lp else None
            duals_lp = self.clip_duals(lp.app_duals, lp.node_duals)
            t1 = time.perf_counter()
            added = 0
            rounds += 1
            exact = rounds % self.exact_every == 0
            while True:
                alpha = self.smoothing if center is not None else 0.0
                for attempt in (alpha, 0.0) if alpha > 0 else (0.0,):
                    duals = (
                        duals_lp
                        if attempt == 0
                        else tuple(attempt * c + (1 - attempt) * d for c, d in zip(center, duals_lp))
                    )
                    zetas, candidates, complete = self.price_all(
                        duals[0], duals[1], heuristic=not exact, deadline=budget_end
                    )
                    if exact and complete:
                        bound = self.lagrangian(duals[0], duals[1], zetas)
                        if bound < self.best_bound:
                            self.best_bound = bound
                            self.best_duals = duals
                            center = duals
                        elif center is None:
                            center = duals
                    added = self._add_improving(candidates, duals_lp, lp.class_duals)
                    if added:
                        break
                    if attempt > 0:
                        progress.mispricings += 1
                if added or exact:
                    break
                exact = True  # the heuristic found nothing: price exactly before concluding
            progress.pricing_s += time.perf_counter() - t1
            progress.lagrangian_bound = self.best_bound
            progress.history.append((time.perf_counter() - self.started, lp.objective, self.best_bound))
            if added == 0:
                progress.converged = feasible_lp and all(p.exact for p in self.pricers)
                return
            if feasible_lp and self._closed(lp.objective):
                progress.converged = True
                return

    def _add_improving(self, candidates, duals_lp, class_duals: np.ndarray) -> int:
        """Add the candidates with a positive reduced cost at the LP duals (repairing infeasible ones)."""
        profits_lp = self.profits(*duals_lp)
        chosen = []
        for c, items, _value in candidates:
            if self.reduced_cost(c, items, profits_lp, class_duals) <= EPS:
                continue
            if not self.pricers[c].checker.feasible(items):
                items = self.pricers[c].repair(items, profits_lp[c][0])
                if not items or self.reduced_cost(c, items, profits_lp, class_duals) <= EPS:
                    continue
            chosen.append((c, items))
        return self.add_columns(chosen)

    def _closed(self, lp_value: float) -> bool:
        """The LP has reached the bound (after rounding, for integral objectives)."""
        bound = self.best_bound
        if not math.isfinite(bound):
            return False
        if self.model.integral:
            return math.floor(bound + ROUNDING) <= math.floor(lp_value + ROUNDING)
        return bound - lp_value <= 1e-6 * max(1.0, abs(lp_value))

    def rounded_bound(self) -> float:
        if not math.isfinite(self.best_bound):
            return self.best_bound
        if self.model.integral:
            return float(math.floor(self.best_bound + ROUNDING))
        return self.best_bound

    # --- integer solutions ---------------------------------------------------------------------

    def integer_master(self, time_limit: float, start: np.ndarray | None) -> tuple[MasterStatus, dict | None, float]:
        t0 = time.perf_counter()
        tie = None
        if self.secondary is not None and self.model.integral:
            secondary = np.array([c.secondary for c in self.columns])
            total = float(np.abs(secondary).sum()) or 1.0
            tie = secondary * (0.25 / total)  # never outweighs one unit of the integral primary
        result = self.master.solve_integer(time_limit, tie_break=tie, start=start, threads=self.params.threads)
        self.progress.mip_s += time.perf_counter() - t0
        if result.values is None:
            return result.status, None, -math.inf
        chosen = [((c.class_index, c.items), int(x)) for c, x in zip(self.columns, result.values) if x > 0]
        placement = extract(self.model, [k for k, _ in chosen], [x for _, x in chosen])
        return result.status, placement, float(result.objective)

    def start_vector(self, placement: dict[str, str] | None) -> np.ndarray | None:
        if placement is None:
            return None
        wanted: dict[tuple[int, tuple[int, ...]], int] = {}
        for key in self.placement_columns(placement):
            wanted[key] = wanted.get(key, 0) + 1
        index = {(c.class_index, c.items): k for k, c in enumerate(self.columns)}
        x = np.zeros(len(self.columns))
        for key, count in wanted.items():
            if key not in index:
                return None
            x[index[key]] = count
        return x


def _warm_start(instance: Instance, params: SolveParams, budget: float) -> tuple[dict[str, str] | None, str | None]:
    """Best verified placement of the registered heuristics (lexicographic objectives)."""
    wanted = ConfigurationOptions.of(params, instance).heuristics
    started = time.perf_counter()
    best, best_key, best_name = None, None, None
    sub = params.model_copy(update={"time_limit_s": max(0.05, budget / 4), "options": {}})
    for info in list_methods():
        if info.kind != "heuristic" or (wanted is not None and info.name not in wanted):
            continue
        if time.perf_counter() - started > budget:
            break
        try:
            output = info.function(instance, sub)
        except Exception:  # a broken heuristic must not stop an exact method
            continue
        if not output.status.has_solution:
            continue
        evaluation = evaluate(instance, output.placement)
        if not evaluation.feasible:
            continue
        key = lexicographic_key(instance.objectives, evaluation.objectives)
        if best_key is None or key > best_key:
            best, best_key, best_name = dict(output.placement), key, info.name
    return best, best_name


def _repair(instance: Instance, placement: dict[str, str], model: ConfigurationModel) -> dict[str, str]:
    """Drop applications from violating accelerators/nodes until the evaluator accepts (multi-accelerator nodes)."""
    placement = dict(placement)
    values = {}
    for cls in model.classes:
        for i, j in enumerate(cls.apps):
            values[model.app_names[int(j)]] = float(cls.value[i])
    for _ in range(len(placement) + 1):
        evaluation = evaluate(instance, placement)
        if evaluation.feasible:
            return placement
        located = {a.application: (a.accelerator, a.node) for a in evaluation.applications}
        suspects = set()
        for v in evaluation.violations:
            for app, (acc, node) in located.items():
                if acc is None:
                    continue
                if v.application == app or (v.application is None and (v.accelerator == acc or v.node == node)):
                    suspects.add(app)
        suspects &= set(placement)
        if not suspects:
            return placement
        victim = min(suspects, key=lambda a: (values.get(a, 0.0), a))
        del placement[victim]
    return placement


def _fill(instance: Instance, placement: dict[str, str]) -> dict[str, str]:
    """Greedily add unplaced applications where they fit (highest priority first)."""
    from optplace.heuristics.state import ClusterState

    state = ClusterState(instance)
    state.load(placement, check=False)
    order = sorted(state.unplaced(), key=lambda a: (-instance.applications[a].priority, a))
    for a in order:
        for d in state.candidates(a):
            if state.can_place(a, int(d)):
                state.place(a, int(d))
                break
    return state.placement()


@register(
    "configuration",
    "Configuration LP (column generation over feasible sets per accelerator class, knapsack pricing per "
    "tightest SLO) with a Lagrangian bound, price-and-branch and reduced-cost enumeration (HiGHS)",
    "exact",
    options=ConfigurationOptions,
)
def configuration(instance: Instance, params: SolveParams) -> MethodOutput:
    started = time.perf_counter()
    try:
        model = build(instance, params)
    except UnsupportedInstance as error:
        return MethodOutput(placement={}, status=Status.ERROR, stop_reason=StopReason.ERROR, message=str(error))
    run = ColumnGeneration(model, params, started)
    return _solve(run, instance, params)


def _objective(instance: Instance, placement: dict[str, str]) -> tuple[bool, tuple[float, ...], float]:
    evaluation = evaluate(instance, placement)
    key = lexicographic_key(instance.objectives, evaluation.objectives)
    return evaluation.feasible, key, evaluation.objectives[instance.objectives[0].value]


def _solve(run: ColumnGeneration, instance: Instance, params: SolveParams) -> MethodOutput:
    model = run.model
    progress = run.progress
    stats: dict = {"classes": len(model.classes), "accelerators": sum(c.count for c in model.classes)}

    incumbent: dict[str, str] | None = None
    incumbent_key = None
    source = None
    if params.warm_start:
        incumbent, source = _warm_start(instance, params, min(5.0, 0.1 * run.limit))
        if incumbent is not None and model.instance.host_all and len(incumbent) < len(instance.applications):
            incumbent = None
        if incumbent is not None:
            feasible, incumbent_key, _ = _objective(instance, incumbent)
            if not feasible:
                incumbent = None
    stats["warm_start"] = source

    run.master = Master(
        model.equality,
        [c.count for c in model.classes],
        [(r.memory_limit_mb, r.cores) for r in model.node_rows],
        big_m=_big_m(model),
        threads=params.threads,
    )
    seeds: list[tuple[int, tuple[int, ...]]] = []
    if incumbent is not None:
        seeds.extend(run.placement_columns(incumbent))
    for cls in model.classes:
        seeds.extend((cls.index, (i,)) for i in range(cls.size))
    run.add_columns(seeds)

    cg_end = time.perf_counter() + run.cg_share * run.time_left()
    run.column_generation(cg_end)
    stats["cg_time_s"] = round(time.perf_counter() - run.started, 4)

    internal_incumbent = -math.inf
    if incumbent is not None:
        internal_incumbent = _internal(model, incumbent)

    proven = False
    timed_out = False
    if run.time_left() > 0.05:
        status, placement, _value = run.integer_master(0.8 * run.time_left(), run.start_vector(incumbent))
        timed_out = status in (MasterStatus.FEASIBLE, MasterStatus.NO_SOLUTION)
        if placement is not None:
            candidate = _repair(instance, placement, model)
            incumbent, incumbent_key, internal_incumbent = _better(
                instance, model, candidate, incumbent, incumbent_key, internal_incumbent
            )
            if not model.instance.host_all:
                incumbent, incumbent_key, internal_incumbent = _better(
                    instance, model, _fill(instance, candidate), incumbent, incumbent_key, internal_incumbent
                )
    else:
        timed_out = True

    bound = run.rounded_bound()
    if (
        not _optimal(model, internal_incumbent, bound)
        and model.integral
        and run.best_duals is not None
        and math.isfinite(bound)
        and run.time_left() > 0.1
        and (incumbent is not None or not model.instance.host_all)
    ):
        proven_bound, improved = _enumerate(run, instance, internal_incumbent, bound)
        if improved is not None:
            incumbent, incumbent_key, internal_incumbent = _better(
                instance, model, improved, incumbent, incumbent_key, internal_incumbent
            )
        if proven_bound is not None:
            bound = min(bound, proven_bound)
            proven = True

    stats.update(
        {
            "iterations": progress.iterations,
            "columns": progress.columns,
            "lp_value": _public(model, progress.lp_value),
            "lagrangian_bound": _public(model, run.best_bound if math.isfinite(run.best_bound) else None),
            "converged": progress.converged,
            "pricing_s": round(progress.pricing_s, 4),
            "lp_s": round(progress.lp_s, 4),
            "mip_s": round(progress.mip_s, 4),
            "knapsack_nodes": progress.knapsack_nodes,
            "subproblems": progress.subproblems,
            "mispricings": progress.mispricings,
            "enumerated_columns": progress.enumerated,
            "exact_pricing": all(p.exact for p in run.pricers),
            "scenarios": sum(len(p.scenarios) for p in run.pricers),
        }
    )
    public_bound = _public(model, bound) if math.isfinite(bound) else None
    if math.isfinite(bound) and bound < _worst_internal(model) - 0.5:
        return MethodOutput(
            placement={},
            status=Status.INFEASIBLE,
            bound=None,
            solver="highs",
            solver_version=highs_version(),
            message="the Lagrangian bound proves that no placement hosts every application",
            stats=stats,
        )
    if incumbent is None:
        return MethodOutput(
            placement={},
            status=Status.NO_SOLUTION_FOUND,
            stop_reason=StopReason.TIME_LIMIT if run.time_left() <= 0.1 else StopReason.COMPLETED,
            bound=public_bound,
            solver="highs",
            solver_version=highs_version(),
            message="no placement found within the time limit" if model.instance.host_all else "",
            stats=stats,
        )
    optimal = proven or _optimal(model, internal_incumbent, bound)
    if optimal:
        public_bound = _public(model, internal_incumbent if model.integral else max(internal_incumbent, bound))
        if not model.integral:
            public_bound = _public(model, bound)
    stop = StopReason.COMPLETED if optimal or not timed_out else StopReason.TIME_LIMIT
    return MethodOutput(
        placement=incumbent,
        status=Status.OPTIMAL if optimal else Status.FEASIBLE,
        stop_reason=stop,
        bound=public_bound,
        solver="highs",
        solver_version=highs_version(),
        stats=stats,
    )


def _big_m(model: ConfigurationModel) -> float:
    total = 1.0
    for cls in model.classes:
        total += cls.count * abs(cls.fixed_value) + float(np.abs(cls.value).sum())
    return total


def _worst_internal(model: ConfigurationModel) -> float:
    """Least internal objective any placement can have (used to read an infeasibility proof)."""
    return -_big_m(model) + 1.0


def _internal(model: ConfigurationModel, placement: dict[str, str]) -> float:
    values = evaluate(model.instance, placement).objectives[model.primary.value]
    return (values - model.offset) / model.sign


def _public(model: ConfigurationModel, internal: float | None) -> float | None:
    return None if internal is None else model.objective_value(internal)


def _optimal(model: ConfigurationModel, internal_incumbent: float, bound: float) -> bool:
    if not math.isfinite(internal_incumbent):
        return False
    return internal_incumbent >= bound - 1e-9 * max(1.0, abs(bound))


def _better(instance, model, candidate, incumbent, incumbent_key, internal_incumbent):
    if model.instance.host_all and len(candidate) < len(instance.applications):
        return incumbent, incumbent_key, internal_incumbent
    feasible, key, _ = _objective(instance, candidate)
    if not feasible:
        return incumbent, incumbent_key, internal_incumbent
    if incumbent_key is None or key > incumbent_key:
        return candidate, key, _internal(model, candidate)
    return incumbent, incumbent_key, internal_incumbent


def _enumerate(run: ColumnGeneration, instance: Instance, incumbent: float, bound: float):
    """Reduced-cost enumeration; returns (proven internal bound or None, better placement or None)."""
    model = run.model
    app_duals, node_duals = run.best_duals
    target = (incumbent + 1.0) if math.isfinite(incumbent) else -math.inf
    if not math.isfinite(target):
        return None, None
    # Any solution worth >= target uses only columns with reduced cost >= target - UB at these duals.
    profits = run.profits(app_duals, node_duals)
    zetas, _, complete = run.price_all(app_duals, node_duals, deadline=run.deadline)
    if not complete:
        return None, None
    ub = run.lagrangian(app_duals, node_duals, zetas)
    slack = target - ub - 1e-7
    found: list[tuple[int, tuple[int, ...]]] = []
    for cls, pricer, (profit, group_cost), zeta in zip(model.classes, run.pricers, profits, zetas):
        mu = max(0.0, zeta)
        floor = slack + mu - cls.fixed_value
        sets = pricer.enumerate(profit, group_cost, floor, run.enumeration_limit, run.deadline)
        if sets is None or run.time_left() <= 0.05:
            run.progress.enumerated = None
            return None, None
        found.extend((cls.index, s) for s in sets)
    run.add_columns(found)
    run.progress.enumerated = len(found)
    status, placement, _value = run.integer_master(max(0.05, 0.9 * run.time_left()), None)
    if status != MasterStatus.OPTIMAL and status != MasterStatus.INFEASIBLE:
        return None, None
    if placement is None:
        return None, None
    evaluation = evaluate(instance, placement)
    if not evaluation.feasible:
        return None, None
    value = _internal(model, placement)
    if value >= target - 1e-9:
        return value, placement
    return target - 1.0, placement
