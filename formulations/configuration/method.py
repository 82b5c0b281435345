"""Method ``configuration``: column generation over feasible sets per accelerator class, with a proven bound.

1. The trivial bound (:mod:`optplace.bounds`) at once; then a start: ``options.initial_placement``
   (``auto`` passes its best) or the best registered heuristic (the incumbent toolkit).
2. Column generation on the persistent LP (``master.py``), pricing every class with
   ``pricing.Pricer`` at smoothed duals (Wentges) around a centre that starts at the *trivial
   duals* (every application's best value), so early bounds are sane even while artificial
   columns still carry the LP; every exact pricing round gives a Lagrangian bound, valid at any
   duals, so the method always has a bound, even when it stops early.
3. Price-and-branch: the integer master over the generated columns (HiGHS), warm started from the
   incumbent, with a tie-break for the secondary objective.
4. *Diving* with limited-discrepancy backtracking: fix the column the LP likes most, re-run
   column generation on what is left, prune a dive whose bound cannot beat the incumbent, and
   try the runner-up column where the first choice led nowhere (model.md, "Primal side").
5. If a gap remains and the objective is integral, *reduced-cost enumeration over application
   types* (identical applications as one row with a count; which either finds a better placement
   or proves the incumbent optimal; first when one unit is left), then a *set neighbourhood search*: a few
   accelerators' sets are emptied and re-packed, together with the left-out applications, by
   this same method on the sub-instance.

Every placement found goes through an :class:`~optplace.progress.IncumbentLog` (verified by the
evaluator, published on the incumbent channel as it improves) and every bound too; the log's
trace is ``stats["progress"]``. With ``params.deterministic`` every stage runs on a work budget
(:mod:`optplace.budget`): pricing nodes and cells, simplex iterations and MIP nodes are charged,
and HiGHS gets iteration and node limits instead of time limits.

Options (``params.options``): ``frontend_levels`` (1: exact pricing closes what a coarse front-end
relaxation lets through, and fewer scenarios price faster), ``smoothing`` (0.5),
``enumeration_limit`` (30000 sets), ``exact_pricing_limit`` (20000 exact set checks per class and
round before a relaxed value stands in), ``columns_per_class`` (8 per round), ``exact_every`` (4: one
exact pricing round in four, the others heuristic), ``cg_share`` (0.6 of the time for column
generation), ``heuristics`` (list of warm-start methods, default every registered heuristic),
``initial_placement`` (a start instead of the heuristics), ``dive`` (true), ``discrepancy`` (2:
backtracks a dive may take), ``lns`` (true), ``lns_accelerators`` (6: accelerators per
neighbourhood).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import Field

from optplace.bounds import trivial_bound
from optplace.budget import (
    HEURISTIC_S_PER_APPLICATION,
    PRICING_S_PER_CELL,
    PRICING_S_PER_DP_ITEM,
    PRICING_S_PER_EXPLORED,
    PRICING_S_PER_NODE,
    PRICING_S_PER_SCENARIO,
    PRICING_S_PER_SUBPROBLEM,
    Budget,
)
from optplace.domain import Instance, Objective
from optplace.evaluate import evaluate
from optplace.formulations.configuration.build import ConfigurationModel, UnsupportedInstance, build, extract
from optplace.formulations.configuration.master import LpResult, Master, highs_version
from optplace.formulations.configuration.pricing import EPS, Pricer
from optplace.incumbents import fill, repair, warm_start
from optplace.objectives import lexicographic_key
from optplace.options import HeuristicNames, MethodOptions, Placement
from optplace.params import SolveParams
from optplace.progress import IncumbentLog
from optplace.registry import MethodOutput, register
from optplace.result import Status, StopReason

DEFAULT_TIME_LIMIT_S = 60.0
ROUNDING = 1e-6  # slack before rounding an integral bound (LP arithmetic)
ARTIFICIAL_SMOOTHING = 0.9  # stay near the centre while artificial columns still carry the LP
DIVE_SHARE = 0.5  # of what is left after price-and-branch
DIVE_ROUNDS_PER_NODE = 40  # column-generation rounds at one dive node, at most
LNS_STEP_S = 2.0  # time for one neighbourhood
LNS_STALL = 30  # neighbourhoods in a row without improvement before the search stops
LNS_SUBPROBLEM_APPS = 60  # applications per neighbourhood, at most
EXACT_SEARCH_SHARE = 0.2  # of the time left, at most, for one exact search (the relaxed value stands in past it)
ENUMERATED_SET_S = 1e-4  # deterministic mode: work charged per set the reduced-cost enumeration finds


class ConfigurationOptions(MethodOptions):
    """Options of ``configuration``."""

    frontend_levels: int = Field(default=1, ge=1, le=64, description="Front-end load levels in pricing.")
    smoothing: float = Field(default=0.5, ge=0, lt=1, allow_inf_nan=False, description="Wentges dual smoothing.")
    enumeration_limit: int = Field(default=30000, ge=0, le=10_000_000, description="Sets enumerated by reduced cost.")
    columns_per_class: int = Field(default=8, ge=1, le=1000, description="Columns added per class and round.")
    exact_pricing_limit: int = Field(
        default=20000,
        ge=0,
        le=10_000_000,
        description="Exact set checks per class and exact pricing round in the search for the exact maximum over "
        "relaxed scenarios (0: off, the relaxed maximum is the bound).",
    )
    exact_every: int = Field(default=4, ge=1, le=1000, description="One exact pricing round in this many.")
    cg_share: float = Field(
        default=0.6, gt=0, le=1, allow_inf_nan=False, description="Share of the time for column generation."
    )
    heuristics: HeuristicNames | None = Field(
        default=None, description="Warm-start heuristics; default every registered one."
    )
    initial_placement: Placement | None = Field(
        default=None, description="Start from this placement instead of running the heuristics (auto passes its best)."
    )
    dive: bool = Field(default=True, description="Dive over the LP (fix columns, backtrack a little) for placements.")
    discrepancy: int = Field(default=2, ge=0, le=20, description="Backtracks a dive may take (limited discrepancy).")
    lns: bool = Field(default=True, description="Set neighbourhood search: empty and re-pack a few accelerators.")
    lns_accelerators: int = Field(
        default=6, ge=2, le=200, description="Accelerators (whole nodes) emptied and re-packed per neighbourhood."
    )


@dataclass
class Column:
    class_index: int
    items: tuple[int, ...]  # class-local, sorted
    value: float  # internal (maximisation) objective coefficient
    secondary: float  # tie-break coefficient (secondary objective, internal max form)


@dataclass
class CgStats:
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
    dp_cells: int = 0
    subproblems: int = 0
    mispricings: int = 0
    enumerated: int | None = None
    exact_pricing_checks: int = 0  # exact set checks of ``Pricer.price_exactly``
    dive_nodes: int = 0
    dives_pruned: int = 0
    lns_neighbourhoods: int = 0
    lns_improvements: int = 0
    history: list[tuple[float, float, float]] = field(default_factory=list)  # (time, lp, bound)


@dataclass
class NodeOutcome:
    """Column generation at one node (the root or a dive node)."""

    lp: LpResult | None
    bound: float  # internal upper bound on this node's problem (inf if none)
    converged: bool


class ColumnGeneration:
    """One run of the configuration method on one instance."""

    def __init__(self, model: ConfigurationModel, params: SolveParams, budget: Budget):
        self.model = model
        self.params = params
        self.budget = budget
        opts = ConfigurationOptions.of(params, model.instance)
        self.smoothing = opts.smoothing
        self.columns_per_class = opts.columns_per_class
        self.enumeration_limit = opts.enumeration_limit
        self.cg_share = opts.cg_share
        self.exact_every = opts.exact_every
        self.exact_pricing_limit = opts.exact_pricing_limit
        self.last_round_exact = False  # the last pricing round gave every class's exact maximum
        self.pricers = [Pricer(c, frontend_levels=opts.frontend_levels) for c in model.classes]
        self.node_of_class = [-1] * len(model.classes)
        for r, rows in enumerate(model.node_rows):
            for c in rows.classes:
                self.node_of_class[c] = r
        self.columns: list[Column] = []
        self.seen: set[tuple[int, tuple[int, ...]]] = set()
        self.stats = CgStats()
        self.best_bound = math.inf  # internal Lagrangian upper bound (root problem)
        self.best_duals: tuple[np.ndarray, np.ndarray] | None = None
        self.secondary = self._secondary_objective()
        self.master: Master | None = None
        self.excluded = np.zeros(len(model.app_names), dtype=bool)  # served by columns fixed in a dive
        self.on_bound: Any = None  # called with each better internal root bound
        self.dive_until_one_unit = False  # stop diving once the incumbent is one unit from the bound
        self.started_wall = time.perf_counter()

    # --- helpers -------------------------------------------------------------------------------

    def time_left(self) -> float:
        return self.budget.left()

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
        self.stats.columns = len(self.columns)
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
            if app in index_of:
                by_acc.setdefault(acc, []).append(index_of[app])
        out = []
        for acc, apps in by_acc.items():
            c = class_of_acc.get(acc)
            if c is None or any(j not in local[c] for j in apps):
                continue
            out.append((c, tuple(sorted(local[c][j] for j in apps))))
        return out

    def placement_of(self, chosen: list[int]) -> dict[str, str]:
        """The placement of a list of column indices (a column listed twice takes two accelerators)."""
        counts: dict[int, int] = {}
        for k in chosen:
            counts[k] = counts.get(k, 0) + 1
        keys = [(self.columns[k].class_index, self.columns[k].items) for k in counts]
        return extract(self.model, keys, list(counts.values()))

    # --- bound ---------------------------------------------------------------------------------

    def profits(self, app_duals: np.ndarray, node_duals: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Item profits and backend costs per class at the given duals (items served by a dive: -inf)."""
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
            if self.excluded.any():
                profit = np.where(self.excluded[cls.apps], -1e30, profit)
            out.append((profit, group_cost))
        return out

    def lagrangian(self, app_duals: np.ndarray, node_duals: np.ndarray, zetas: list[float]) -> float:
        """sum(duals * rhs) + sum over classes of count * max(0, zeta): an upper bound at any valid duals.

        The right-hand sides are the master's current ones, so inside a dive this bounds the
        restricted problem (what is left once the fixed columns are taken).
        """
        model = self.model
        n, k = len(model.app_names), len(model.classes)
        if self.master is not None:
            app_rhs = self.master.row_upper[:n]
            counts = self.master.row_upper[n : n + k]
            node_caps = self.master.row_upper[n + k :]
        else:
            app_rhs = np.ones(n)
            counts = np.array([c.count for c in model.classes], dtype=float)
            node_caps = np.array([x for r in model.node_rows for x in (r.memory_limit_mb, r.cores)])
        value = (
            float(app_duals @ app_rhs) + float(node_duals @ node_caps) if len(node_caps) else float(app_duals @ app_rhs)
        )
        for count, zeta in zip(counts, zetas):
            value += float(count) * max(0.0, zeta)
        return value

    def trivial_duals(self) -> tuple[np.ndarray, np.ndarray]:
        """Every application's best value as its dual: the Lagrangian there is the trivial bound.

        No item then has a positive profit, so every ``zeta_c`` is at most the class's fixed value;
        a sane centre for the dual smoothing while the LP still leans on artificial columns.
        """
        model = self.model
        best = np.full(len(model.app_names), -np.inf)
        for cls in model.classes:
            np.maximum.at(best, cls.apps, cls.value)
        best = np.where(np.isfinite(best), best, 0.0)
        app = np.where(model.equality, best, np.maximum(best, 0.0))
        return app, np.zeros(2 * len(model.node_rows))

    def clip_duals(self, app_duals: np.ndarray, node_duals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project onto the dual cone: <= rows need duals >= 0 (HiGHS may return -1e-12)."""
        app = np.where(self.model.equality, app_duals, np.maximum(app_duals, 0.0))
        return app, np.maximum(node_duals, 0.0)

    def price_all(self, app_duals: np.ndarray, node_duals: np.ndarray, budget: Budget, *, heuristic: bool = False):
        """Price every class within ``budget``; returns (zetas, candidates, complete).

        Only complete exact zetas give a bound.
        """
        zetas, candidates = [], []
        complete = not heuristic
        round_exact = True  # every class's maximum is exact, not only a relaxed bound
        deadline = math.inf if budget.deterministic else time.perf_counter() + max(0.0, budget.left())
        for cls, pricer, (profit, group_cost) in zip(
            self.model.classes, self.pricers, self.profits(app_duals, node_duals)
        ):
            if budget.expired():
                complete = False  # a round cut short gives no bound
                break
            floor = -cls.fixed_value
            node_budget = budget.left() / PRICING_S_PER_NODE if budget.deterministic else math.inf
            result = pricer.price(
                profit,
                group_cost,
                floor,
                keep=self.columns_per_class,
                heuristic=heuristic,
                deadline=deadline,
                node_budget=node_budget,
            )
            budget.charge(
                result.nodes * PRICING_S_PER_NODE
                + result.explored * PRICING_S_PER_EXPLORED
                + result.subproblems * PRICING_S_PER_SUBPROBLEM
                + len(pricer.scenarios) * PRICING_S_PER_SCENARIO
                + result.cells * PRICING_S_PER_CELL
                + result.dp_items * PRICING_S_PER_DP_ITEM
            )
            self.stats.knapsack_nodes += result.nodes
            self.stats.dp_cells += result.cells
            self.stats.subproblems += result.explored
            best, columns = result.best, result.columns
            exact_class = pricer.exact or not math.isfinite(result.best)
            if not heuristic and result.complete and not exact_class:
                # The relaxed maximum is exact when its set is feasible; else search the relaxed
                # scenarios for the best exactly feasible set (model.md, "Exact pricing").
                top = columns[0][1] if columns and columns[0][0] >= result.best - EPS else None
                exact_class = top is not None and pricer.checker.feasible(top)
                if not exact_class and self.exact_pricing_limit > 0:
                    known = self.class_sets(cls.index) + [items for _, items in columns]
                    search_deadline = deadline  # deterministic runs: the check limit and node budget only
                    if not budget.deterministic:
                        search_deadline = min(deadline, time.perf_counter() + EXACT_SEARCH_SHARE * budget.left())
                    exact = pricer.price_exactly(
                        profit,
                        group_cost,
                        floor,
                        known,
                        self.exact_pricing_limit,
                        deadline=search_deadline,
                        node_budget=node_budget,
                        ceiling=result.best,
                    )
                    if exact is not None:
                        budget.charge(exact.enumerated * ENUMERATED_SET_S + exact.nodes * PRICING_S_PER_NODE)
                        self.stats.exact_pricing_checks += exact.enumerated
                        self.stats.knapsack_nodes += exact.nodes
                        best, columns, exact_class = exact.best, exact.columns, True
            complete = complete and result.complete
            round_exact = round_exact and exact_class
            zetas.append(cls.fixed_value + best if math.isfinite(best) else -math.inf)
            for value, items in columns[: self.columns_per_class]:
                candidates.append((cls.index, items, cls.fixed_value + value))
        self.last_round_exact = complete and round_exact
        return zetas, candidates, complete

    def class_sets(self, class_index: int) -> list[tuple[int, ...]]:
        """The sets of the master's columns of one class (every one exactly feasible)."""
        return [col.items for col in self.columns if col.class_index == class_index]

    def reduced_cost(self, class_index: int, items: tuple[int, ...], profits, class_duals: np.ndarray) -> float:
        cls = self.model.classes[class_index]
        profit, group_cost = profits[class_index]
        index = list(items)
        groups = np.unique(cls.group[index])
        return cls.fixed_value + float(profit[index].sum() - group_cost[groups].sum()) - float(class_duals[class_index])

    def solve_lp(self, budget: Budget) -> LpResult:
        assert self.master is not None
        t0 = time.perf_counter()
        wall = budget.wall_limit()
        lp = self.master.solve_lp(None if wall is None else max(0.05, wall), work_limit=budget.work_limit())
        budget.charge(lp.work_s)
        self.stats.lp_s += time.perf_counter() - t0
        return lp

    # --- the loop ------------------------------------------------------------------------------

    def column_generation(
        self, budget: Budget, *, restricted: bool = False, max_rounds: int | None = None, to_optimum: bool = False
    ) -> NodeOutcome:
        """Column generation until converged, closed (after rounding), out of budget or rounds.

        Rounds alternate between heuristic pricing (a capped search, no bound) and exact pricing
        (every ``exact_every`` rounds, or when the heuristic finds nothing), which gives a new
        Lagrangian bound at the smoothed duals. ``restricted`` (a dive node): the bound is kept
        for this node only and the root's bound is left alone. ``to_optimum``: go on until the LP
        is optimal over every column (the reduced-cost proof needs the LP's optimal duals), not
        only until rounding closes it.
        """
        stats = self.stats
        center: tuple[np.ndarray, np.ndarray] | None = None if restricted else (self.best_duals or self.trivial_duals())
        node_bound = math.inf
        rounds = 0
        lp: LpResult | None = None
        converged = False
        while not budget.expired() and (max_rounds is None or rounds < max_rounds):
            lp = self.solve_lp(budget)
            if lp.status != Status.OPTIMAL:
                break
            stats.iterations += 1
            feasible_lp = lp.artificial <= 1e-9
            if not restricted:
                stats.lp_value = lp.objective if feasible_lp else None
            duals_lp = self.clip_duals(lp.app_duals, lp.node_duals)
            t1 = time.perf_counter()
            added = 0
            rounds += 1
            exact = rounds % self.exact_every == 0
            while True:
                alpha = 0.0
                if center is not None:
                    alpha = self.smoothing if feasible_lp else max(self.smoothing, ARTIFICIAL_SMOOTHING)
                for attempt in (alpha, 0.0) if alpha > 0 else (0.0,):
                    duals = (
                        duals_lp
                        if attempt == 0 or center is None
                        else (
                            attempt * center[0] + (1 - attempt) * duals_lp[0],
                            attempt * center[1] + (1 - attempt) * duals_lp[1],
                        )
                    )
                    zetas, candidates, complete = self.price_all(duals[0], duals[1], budget, heuristic=not exact)
                    if exact and complete:
                        bound = self.lagrangian(duals[0], duals[1], zetas)
                        if bound < node_bound:
                            node_bound = bound
                        if not restricted:
                            if bound < self.best_bound:
                                self.best_bound = bound
                                self.best_duals = duals
                                center = duals
                                if self.on_bound is not None:
                                    self.on_bound(bound)
                            elif center is None:
                                center = duals
                        elif center is None or bound <= node_bound:
                            center = duals
                    added = self._add_improving(candidates, duals_lp, lp.class_duals)
                    if added:
                        break
                    if attempt > 0:
                        stats.mispricings += 1
                if added or exact or budget.expired():
                    break
                exact = True  # the heuristic found nothing: price exactly before concluding
            stats.pricing_s += time.perf_counter() - t1
            if not restricted:
                stats.lagrangian_bound = self.best_bound
                stats.history.append((round(time.perf_counter() - self.started_wall, 4), lp.objective, self.best_bound))
            if added == 0:
                converged = feasible_lp and exact and self.last_round_exact
                if not restricted:
                    stats.converged = converged
                if converged:
                    node_bound = min(node_bound, lp.objective)
                break
            if not to_optimum and feasible_lp and self._closed(lp.objective, node_bound):
                converged = True
                if not restricted:
                    stats.converged = True
                break
        return NodeOutcome(lp, node_bound, converged)

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

    def _closed(self, lp_value: float, bound: float) -> bool:
        """The LP has reached the bound (after rounding, for integral objectives)."""
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

    def integer_master(
        self, budget: Budget, start: np.ndarray | None, cutoff: float | None = None
    ) -> tuple[Status, dict | None, float]:
        assert self.master is not None
        t0 = time.perf_counter()
        tie = None
        if self.secondary is not None and self.model.integral:
            secondary = np.array([c.secondary for c in self.columns])
            total = float(np.abs(secondary).sum()) or 1.0
            tie = secondary * (0.25 / total)  # never outweighs one unit of the integral primary
        result = self.master.solve_integer(
            budget.wall_limit(),
            tie_break=tie,
            start=start,
            cutoff=cutoff,
            work_limit=budget.work_limit(),
            seed=self.params.seed,
        )
        budget.charge(result.work_s)
        self.stats.mip_s += time.perf_counter() - t0
        if result.values is None:
            return result.status, None, -math.inf
        chosen = [((c.class_index, c.items), int(x)) for c, x in zip(self.columns, result.values) if x > 0]
        placement = extract(self.model, [k for k, _ in chosen], [x for _, x in chosen])
        return result.status, placement, float(result.objective or 0.0)

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

    # --- diving ----------------------------------------------------------------------------------

    def dive(self, budget: Budget, log: IncumbentLog, discrepancy: int) -> None:
        """Diving over the LP with limited-discrepancy backtracking (model.md, "Primal side").

        At each node: column generation on what is left; prune when the node's bound (the fixed
        value plus the restricted Lagrangian or converged LP) cannot beat the incumbent; take every
        column at 1 in the LP; if the LP is integral, that is a placement; else fix the column with
        the largest LP value (then, while discrepancies remain, the runner-ups instead).
        """
        assert self.master is not None
        fixed: list[int] = []
        self._dive_node(budget, log, fixed, 0.0, discrepancy)
        # every fixed column is released again on the way back: the master is as before
        self.excluded[:] = False

    def _target(self, log: IncumbentLog) -> float:
        """Internal value a dive must reach to improve on the incumbent."""
        value = log.primary_value()
        if value is None:
            return -math.inf
        internal = (value - self.model.offset) / self.model.sign
        return internal + (1.0 - ROUNDING if self.model.integral else 1e-9 * max(1.0, abs(internal)))

    def _dive_node(
        self, budget: Budget, log: IncumbentLog, fixed: list[int], fixed_value: float, discrepancy: int
    ) -> bool:
        """One dive node; returns True when the search should stop (proven or out of budget)."""
        assert self.master is not None
        if budget.expired() or self._dive_done(log):
            return True
        self.stats.dive_nodes += 1
        outcome = self.column_generation(budget, restricted=True, max_rounds=DIVE_ROUNDS_PER_NODE)
        lp = outcome.lp
        if lp is None or lp.status != Status.OPTIMAL:
            return budget.expired()
        bound = fixed_value + (outcome.bound if math.isfinite(outcome.bound) else lp.objective)
        if self.model.integral:
            bound = math.floor(bound + ROUNDING)
        if bound < self._target(log) - 1e-9 or lp.artificial > 1e-9:
            self.stats.dives_pruned += 1
            return False
        x = lp.values
        ones = [k for k in np.flatnonzero(x > 1.0 - 1e-6).tolist()]
        fractional = [k for k in np.flatnonzero((x > 1e-6) & (x <= 1.0 - 1e-6)).tolist()]
        if not fractional:
            placement = self.placement_of(fixed + ones)
            self._offer(log, placement, "configuration:dive")
            return self._dive_done(log)
        # Fix the integral columns together, then branch on the fractional ones.
        taken: list[int] = []
        for k in ones:
            self.master.fix(k)
            self._exclude(k, True)
            fixed.append(k)
            taken.append(k)
        value = fixed_value + sum(self.columns[k].value for k in taken)
        fractional.sort(key=lambda k: (-x[k], -self.columns[k].value, k))
        stop = False
        forbidden: list[int] = []
        for rank, k in enumerate(fractional[: 1 + discrepancy]):
            self.master.fix(k)
            self._exclude(k, True)
            fixed.append(k)
            stop = self._dive_node(budget, log, fixed, value + self.columns[k].value, discrepancy - rank)
            fixed.pop()
            self._exclude(k, False)
            self.master.unfix(k)
            if stop:
                break
            # the sibling dives do without k
            self.master.forbid([k])
            forbidden.append(k)
        self.master.forbid(forbidden, allowed=True)
        for k in reversed(taken):
            fixed.pop()
            self._exclude(k, False)
            self.master.unfix(k)
        return stop

    def _dive_done(self, log: IncumbentLog) -> bool:
        """Proven, or (with ``dive_until_one_unit``) one unit from the bound: the reduced-cost
        enumeration then settles that unit (a better placement or the proof) faster than diving on."""
        return log.proven() or (self.dive_until_one_unit and _one_unit_left(self.model, self, log))

    def _exclude(self, k: int, on: bool) -> None:
        cls = self.model.classes[self.columns[k].class_index]
        self.excluded[cls.apps[list(self.columns[k].items)]] = on

    def _offer(self, log: IncumbentLog, placement: dict[str, str], source: str) -> None:
        instance = self.model.instance
        candidate = placement
        if not evaluate(instance, candidate).feasible:
            candidate = repair(instance, candidate)
        log.offer(candidate, source)
        filled = fill(instance, candidate)
        if filled != candidate:
            log.offer(filled, f"{source}+fill")


@register(
    "configuration",
    "Configuration LP (column generation over feasible sets per accelerator class, knapsack pricing per "
    "tightest SLO) with a Lagrangian bound, price-and-branch, diving, reduced-cost enumeration and a set "
    "neighbourhood search (HiGHS)",
    "exact",
    options=ConfigurationOptions,
)
def configuration(instance: Instance, params: SolveParams) -> MethodOutput:
    limit = params.time_limit_s if params.time_limit_s is not None else DEFAULT_TIME_LIMIT_S
    budget = Budget(limit, deterministic=params.deterministic)
    log = IncumbentLog(instance)
    return solve_configuration(instance, params, budget, log)


def solve_configuration(instance: Instance, params: SolveParams, budget: Budget, log: IncumbentLog) -> MethodOutput:
    """The method on a given budget and log (``auto`` and the neighbourhood search call it directly)."""
    started = time.perf_counter()
    log.stage("configuration")
    log.offer_bound(trivial_bound(instance), "trivial")
    try:
        model = build(instance, params)
    except UnsupportedInstance as error:
        return MethodOutput(placement={}, status=Status.ERROR, stop_reason=StopReason.ERROR, message=str(error))
    run = ColumnGeneration(model, params, budget)
    stats: dict[str, Any] = {"classes": len(model.classes), "accelerators": sum(c.count for c in model.classes)}
    opts = ConfigurationOptions.of(params, instance)

    def take_bound(internal: float) -> None:
        log.offer_bound(_public(model, internal), "lagrangian")

    run.on_bound = take_bound

    initial = opts.initial_placement
    if initial is not None:
        log.offer(dict(initial), "initial_placement")
        stats["warm_start"] = "initial_placement"
    elif params.warm_start:
        tried = warm_start(instance, params, log, min(5.0, 0.1 * budget.left()), opts.heuristics)
        budget.charge(len(tried["tried"]) * len(instance.applications) * HEURISTIC_S_PER_APPLICATION)
        stats["warm_start"] = tried["chosen"] or None

    run.master = Master(
        model.equality,
        [c.count for c in model.classes],
        [(r.memory_limit_mb, r.cores) for r in model.node_rows],
        big_m=_big_m(model),
        threads=1 if params.deterministic else params.threads,
    )
    seeds: list[tuple[int, tuple[int, ...]]] = []
    if log.best is not None:
        seeds.extend(run.placement_columns(log.best))
    for cls in model.classes:
        seeds.extend((cls.index, (i,)) for i in range(cls.size))
    run.add_columns(seeds)

    # 1. Column generation at the root.
    log.stage("configuration:column_generation")
    run.column_generation(budget.child(run.cg_share * budget.left()))
    stats["cg_time_s"] = round(time.perf_counter() - started, 4)
    infeasible = _proves_infeasible(model, run.rounded_bound())

    # 2. Diving.
    def dive(until_one_unit: bool) -> None:
        if not infeasible and not log.proven() and opts.dive and not budget.expired():
            log.stage("configuration:dive")
            run.dive_until_one_unit = until_one_unit
            run.dive(budget.child(DIVE_SHARE * budget.left()), log, opts.discrepancy)

    handed_over = model.integral and opts.enumeration_limit > 0
    dive(until_one_unit=handed_over)

    def price_and_branch() -> None:
        """3. Price-and-branch over every column generated so far (the dive's included)."""
        if not infeasible and not log.proven() and not budget.expired():
            log.stage("configuration:price_and_branch")
            _, placement, _ = run.integer_master(budget.child(0.5 * budget.left()), run.start_vector(log.best))
            if placement is not None:
                run._offer(log, placement, "configuration:price_and_branch")

    def enumeration(share: float) -> None:
        """4. Reduced-cost enumeration: a better placement, or a proof."""
        if (
            not infeasible
            and not log.proven()
            and model.integral
            and run.best_duals is not None
            and math.isfinite(run.best_bound)
            and budget.left() > 0.1
            and (log.best is not None or not model.instance.host_all)
        ):
            log.stage("configuration:enumeration")
            proven_bound, improved = _enumerate(run, instance, log, budget.child(share * budget.left()))
            if improved is not None:
                log.offer(improved, "configuration:enumeration")
            if proven_bound is not None:
                log.offer_bound(_public(model, proven_bound), "enumeration")

    # One unit from the bound, the enumeration settles it either way (a better placement or the
    # proof), so it goes first; with a wider gap its floor would admit too many sets, and the
    # integer master over the generated columns comes first to narrow it.
    if _one_unit_left(model, run, log):
        enumeration(0.95)
        if handed_over and not log.proven():
            # The enumeration could not settle the unit (on exact-triplet bin packing every
            # zero-reduced-cost set qualifies, far past its cap): dive on, as before the hand-over,
            # since there a dive with backtracking is what finds the optimum.
            dive(until_one_unit=False)
        price_and_branch()
    else:
        price_and_branch()
        enumeration(0.7)

    # 5. Set neighbourhood search.
    if not infeasible and not log.proven() and log.best is not None and opts.lns and not budget.expired():
        log.stage("configuration:lns")
        _neighbourhoods(run, instance, params, log, budget)

    stats.update(_run_stats(run))
    stats.update(log.summary())
    if budget.deterministic:
        stats["deterministic"] = not budget.safety_fired
        stats["work_s"] = round(budget.elapsed(), 6)
    version = highs_version()
    if infeasible:
        return MethodOutput(
            placement={},
            status=Status.INFEASIBLE,
            bound=None,
            solver="highs",
            solver_version=version,
            message="the Lagrangian bound proves that no placement hosts every application",
            stats=stats,
        )
    stop = StopReason.COMPLETED if log.proven() or not budget.expired() else StopReason.TIME_LIMIT
    if budget.deterministic and budget.expired() and not log.proven():
        stop = StopReason.ITERATION_LIMIT if not budget.safety_fired else StopReason.TIME_LIMIT
    if log.best is None:
        return log.output(
            Status.NO_SOLUTION_FOUND,
            stop,
            solver="highs",
            solver_version=version,
            message="no placement found within the time limit" if model.instance.host_all else "",
            stats=stats,
        )
    return log.output(
        Status.OPTIMAL if log.proven() else Status.FEASIBLE, stop, solver="highs", solver_version=version, stats=stats
    )


def _run_stats(run: ColumnGeneration) -> dict[str, Any]:
    s, model = run.stats, run.model
    return {
        "iterations": s.iterations,
        "columns": s.columns,
        "lp_value": _public(model, s.lp_value),
        "lagrangian_bound": _public(model, run.best_bound if math.isfinite(run.best_bound) else None),
        "converged": s.converged,
        "pricing_s": round(s.pricing_s, 4),
        "lp_s": round(s.lp_s, 4),
        "mip_s": round(s.mip_s, 4),
        "knapsack_nodes": s.knapsack_nodes,
        "dp_cells": s.dp_cells,
        "subproblems": s.subproblems,
        "mispricings": s.mispricings,
        "enumerated_columns": s.enumerated,
        "exact_pricing_checks": s.exact_pricing_checks,
        "dive_nodes": s.dive_nodes,
        "dives_pruned": s.dives_pruned,
        "lns_neighbourhoods": s.lns_neighbourhoods,
        "lns_improvements": s.lns_improvements,
        "exact_pricing": run.last_round_exact or all(p.exact for p in run.pricers),
        "scenarios": sum(len(p.scenarios) for p in run.pricers),
    }


def _one_unit_left(model: ConfigurationModel, run: ColumnGeneration, log: IncumbentLog) -> bool:
    """The rounded root bound is one unit above the incumbent (integral objectives)."""
    if not model.integral or log.best is None or not math.isfinite(run.best_bound):
        return False
    return run.rounded_bound() - _internal(model, log.best) <= 1.0 + ROUNDING


def _proves_infeasible(model: ConfigurationModel, bound: float) -> bool:
    """An internal bound below anything a complete placement scores: no placement hosts everyone."""
    return math.isfinite(bound) and bound < _worst_internal(model) - 0.5


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


def _enumerate(run: ColumnGeneration, instance: Instance, log: IncumbentLog, budget: Budget):
    """Reduced-cost enumeration over application types; returns (proven internal bound or None,
    better placement or None). model.md, "Reduced-cost enumeration"."""
    model = run.model
    value = log.primary_value()
    incumbent = _internal(model, log.best) if log.best is not None else -math.inf
    if value is None and not model.instance.host_all:
        incumbent = _internal(model, {})
    target = (incumbent + 1.0) if math.isfinite(incumbent) else -math.inf
    if not math.isfinite(target):
        return None, None
    duals = _proof_duals(run, budget)
    if duals is None:
        return None, None
    app_duals, node_duals = duals
    types = model.app_types
    # Any solution worth >= target uses only columns with reduced cost >= target - UB at these duals.
    zetas, _, complete = run.price_all(app_duals, node_duals, budget)
    if not complete:
        return None, None
    ub = run.lagrangian(app_duals, node_duals, zetas)
    if math.floor(ub + ROUNDING) < target:  # the bound at the LP optimum already proves it
        return target - 1.0, None
    slack = target - ub - 1e-7
    found: list[tuple[int, tuple[int, ...]]] = []
    deadline = math.inf if budget.deterministic else time.perf_counter() + max(0.0, budget.left())
    profits = run.profits(app_duals, node_duals)
    for cls, pricer, (profit, group_cost), zeta in zip(model.classes, run.pricers, profits, zetas):
        floor = slack + max(0.0, zeta) - cls.fixed_value
        sets = pricer.enumerate(profit, group_cost, floor, run.enumeration_limit, deadline, types[cls.apps])
        budget.charge(len(sets or ()) * ENUMERATED_SET_S)
        if sets is None or budget.expired():
            run.stats.enumerated = None
            return None, None
        found.extend((cls.index, s) for s in sets)
    run.stats.enumerated = len(found)
    proof = TypeMaster(run)
    # Only the enumerated sets: adding the incumbent's (as a start for HiGHS, or the master's
    # other columns) made HiGHS slower on heterogeneous.json (13.6 s and 15 s against 5.2 s).
    proof.add(found)
    # Reduced-cost fixing of the rows' slacks: v(x) = L + sum rc(S) x_S - sum_t pi_t s_t
    # - sum_c mu_c s_c - eta . s_nodes, every term but L non-positive, so a placement worth
    # target leaves a type (integral slack) or a class unfilled only where its dual is at most
    # L - target.
    room = ub - target + 1e-9
    type_duals = np.zeros(len(proof.members))
    type_duals[types] = app_duals
    proof.fill(type_duals > room, np.array([max(0.0, z) > room for z in zetas]))
    result = proof.solve(budget)
    if result is None:
        return None, None
    achieved, placement = result
    if placement is not None and achieved >= target - 1e-9 and evaluate(instance, placement).feasible:
        return achieved, placement
    # Nothing worth target among the enumerated columns: no placement is (node coupling aside,
    # the master's optimum is an upper bound on what its columns can give).
    return max(achieved, target - 1.0), None


def _proof_duals(run: ColumnGeneration, budget: Budget) -> tuple[np.ndarray, np.ndarray] | None:
    """LP-optimal duals, averaged over identical applications (an optimal dual solution too).

    The enumeration's floor is ``target - L``: the lower ``L``, the fewer sets. At the LP's
    optimal duals (column generation run to the LP optimum, not only until rounding closes
    it) ``L`` is the LP value. The LP is symmetric under swapping applications of one type, so
    the average of its optimal duals over each type is optimal as well; with equal duals,
    identical applications have equal profits and the search can go by types.
    """
    duals: tuple[np.ndarray, np.ndarray] | None = None
    if not run.stats.converged or not math.isclose(run.best_bound, run.stats.lp_value or math.nan, abs_tol=1e-6):
        run.column_generation(budget.child(0.3 * budget.left()), to_optimum=True)
    lp = run.solve_lp(budget)
    if lp.status == Status.OPTIMAL and lp.artificial <= 1e-9 and run.last_round_exact:
        duals = run.clip_duals(lp.app_duals, lp.node_duals)
    elif run.best_duals is not None:
        duals = run.best_duals
    if duals is None:
        return None
    app_duals, node_duals = duals
    types = run.model.app_types
    sums = np.bincount(types, weights=app_duals)
    counts = np.bincount(types)
    return sums[types] / counts[types], node_duals


class TypeMaster:
    """The master over application *types* with counts: the reduced-cost proof's integer program.

    A row per type (``<= count``, ``= count`` where hosting is required), a column per (class,
    multiset of types): identical applications are interchangeable (``build.application_types``),
    so this program has the optimum of the master over the same sets of applications without its
    symmetry (on ``heterogeneous.json``, 5,400 columns instead of 20,700, and HiGHS closes it).
    """

    def __init__(self, run: ColumnGeneration):
        self.run = run
        model = run.model
        types = model.app_types
        self.members = [np.flatnonzero(types == t).tolist() for t in range(int(types.max()) + 1)]
        equality = np.array([bool(model.equality[m[0]]) for m in self.members])
        self.master = Master(
            equality,
            [c.count for c in model.classes],
            [(r.memory_limit_mb, r.cores) for r in model.node_rows],
            big_m=_big_m(model),
            threads=1 if run.params.deterministic else run.params.threads,
            capacity=np.array([len(m) for m in self.members], dtype=np.float64),
        )
        self.columns: list[tuple[int, tuple[int, ...]]] = []  # (class, multiset of types), in master order
        self.seen: set[tuple[int, tuple[int, ...]]] = set()

    def key(self, class_index: int, items: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
        cls = self.run.model.classes[class_index]
        return class_index, tuple(sorted(int(t) for t in self.run.model.app_types[cls.apps[list(items)]]))

    def add(self, sets: list[tuple[int, tuple[int, ...]]]) -> None:
        fresh = []
        node_of = self.run.node_of_class
        for class_index, items in sets:
            key = self.key(class_index, items)
            if not items or key in self.seen:
                continue
            self.seen.add(key)
            self.columns.append(key)
            cls = self.run.model.classes[class_index]
            node = node_of[class_index]
            fresh.append(
                (
                    class_index,
                    list(key[1]),
                    self.run.column_value(class_index, tuple(items)),
                    cls.node_memory(items) if node >= 0 else 0.0,
                    cls.frontend_load(items) if node >= 0 else 0.0,
                    node,
                )
            )
        self.master.add(fresh)

    def fill(self, types: np.ndarray, classes: np.ndarray) -> None:
        """Rows that a better placement must fill: these types hosted in full, these classes all used."""
        master = self.master
        rows = np.concatenate([np.flatnonzero(types), master.n_apps + np.flatnonzero(classes)])
        if len(rows):
            master.row_lower[rows] = master.row_upper[rows]
            master.lp.set_row_bounds(rows, master.row_lower[rows], master.row_upper[rows])

    def solve(self, budget: Budget) -> tuple[float, dict[str, str] | None] | None:
        """(optimum, its placement) when HiGHS proves the optimum within the budget, else None."""
        t0 = time.perf_counter()
        result = self.master.solve_integer(
            budget.wall_limit(), work_limit=budget.work_limit(), seed=self.run.params.seed, proof=True
        )
        budget.charge(result.work_s)
        self.run.stats.mip_s += time.perf_counter() - t0
        if result.status == Status.INFEASIBLE:
            return -math.inf, None
        if result.status != Status.OPTIMAL or result.values is None or result.objective is None:
            return None
        return float(result.objective), self.placement(result.values)

    def placement(self, counts: np.ndarray) -> dict[str, str]:
        """Concrete applications for each chosen multiset: a type's members in turn."""
        model = self.run.model
        pool = [list(m) for m in self.members]
        local = [{int(j): i for i, j in enumerate(c.apps)} for c in model.classes]
        keys = []
        for (class_index, multiset), count in zip(self.columns, counts.tolist()):
            for _copy in range(count):
                keys.append((class_index, tuple(sorted(local[class_index][pool[t].pop(0)] for t in multiset))))
        return extract(model, keys, [1] * len(keys))


def _neighbourhoods(
    run: ColumnGeneration, instance: Instance, params: SolveParams, log: IncumbentLog, budget: Budget
) -> None:
    """Set neighbourhood search: empty a few accelerators and re-pack their sets with this method.

    A neighbourhood is a handful of whole nodes holding used accelerators, the least loaded first
    (the sets worth dissolving) plus random others (material to re-pack them with), and the
    left-out applications that could run there. The sub-instance is solved by the configuration
    method itself (no warm-start heuristics, no nested search), started from the current sets;
    objectives add up over nodes and applications, so a better sub-placement merged into the
    rest is a better placement, which the log verifies.
    """
    rng = np.random.default_rng(params.seed)
    opts = params.options
    size = ConfigurationOptions.of(params, instance).lns_accelerators
    nodes = instance.nodes
    node_of = {acc.name: node.name for node in nodes for acc in node.accelerators}
    accelerators_of = {node.name: [acc.name for acc in node.accelerators] for node in nodes}
    stalled = 0
    while not budget.expired() and not log.proven() and stalled < LNS_STALL:
        current = dict(log.best or {})
        used = sorted(set(current.values()))
        if len(used) < 2:
            return
        load = {d: 0 for d in used}
        for d in current.values():
            load[d] += 1
        by_load = sorted(used, key=lambda d: (load[d], d))
        light = by_load[: max(1, size // 3)]
        others = [d for d in used if d not in light]
        picked = light + [others[i] for i in rng.permutation(len(others))[: max(0, size - len(light))]]
        chosen_nodes = sorted({node_of[d] for d in picked})
        names = {a for n in chosen_nodes for a in accelerators_of[n]}
        inside = [a for a in instance.applications if current.get(a.name) in names]
        if not instance.host_all:
            outside = [a for a in instance.applications if a.name not in current]
            outside = [outside[i] for i in rng.permutation(len(outside))[: max(0, LNS_SUBPROBLEM_APPS - len(inside))]]
        else:
            outside = []
        sub = instance.model_copy(
            update={
                "name": f"{instance.name}-lns",
                "nodes": [n for n in nodes if n.name in set(chosen_nodes)],
                "applications": inside + outside,
            }
        )
        start = {a.name: current[a.name] for a in inside}
        step = min(LNS_STEP_S, budget.left())
        sub_params = params.model_copy(
            update={
                "time_limit_s": max(step, 0.05),
                "warm_start": False,
                "options": {**opts, "initial_placement": start, "lns": False, "heuristics": None},
            }
        )
        run.stats.lns_neighbourhoods += 1
        stalled += 1
        sub_budget = budget.child(step)
        sub_log = IncumbentLog(sub, publish_improvements=False)
        try:
            output = solve_configuration(sub, sub_params, sub_budget, sub_log)
        except Exception:  # a failing neighbourhood must not lose the incumbent
            continue
        if sub_log.best is None or sub_log.best_key is None:
            continue
        before = lexicographic_key(sub.objectives, evaluate(sub, start).objectives)
        if sub_log.best_key <= before:
            continue
        merged = {k: v for k, v in current.items() if k not in {a.name for a in inside + outside}}
        merged.update(output.placement or sub_log.best)
        if log.offer(merged, "configuration:lns"):
            run.stats.lns_improvements += 1
            stalled = 0
