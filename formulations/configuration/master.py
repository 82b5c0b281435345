"""The configuration master: a persistent LP that grows by columns, and its integer version.

Rows, in maximisation form (``build.ConfigurationModel`` negates minimised objectives):

* one per application: ``sum of its columns <= 1`` (``= 1`` under host_all or when pinned);
* one per class: ``sum of the class's columns <= number of accelerators in it``;
* per multi-accelerator node: node memory and front-end CPU load of its classes' columns.

Equality rows get an artificial column of cost ``-big_m`` so that the LP is always feasible while
columns are still missing (the Lagrangian bound does not depend on it). The solver is HiGHS
through :class:`optplace.backends.highs.ColumnLp`, which owns every solver call and maps every
solver status (``STATUS_TABLE``); this module owns only the rows and the columns' meaning.

Diving (``method.py``) *fixes* a column: its applications' rows are closed (``0``), its class
row loses one accelerator and its node rows lose its memory and load, and the fixed value is
carried outside the LP; :meth:`Master.fix` and :meth:`Master.unfix` do and undo exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optplace.backends.highs import ColumnLp, version
from optplace.result import Status, StopReason


@dataclass
class LpResult:
    status: Status  # OPTIMAL, or NO_SOLUTION_FOUND at a limit (duals are then not for an optimum)
    stop_reason: StopReason
    objective: float
    app_duals: np.ndarray
    class_duals: np.ndarray
    node_duals: np.ndarray  # (memory, load) per node row, flattened
    values: np.ndarray  # primal value per column (artificials excluded)
    artificial: float  # total artificial activity (0 when the LP is feasible with real columns)
    iterations: int
    work_s: float


@dataclass
class MipResult:
    status: Status
    stop_reason: StopReason
    objective: float | None
    bound: float | None
    values: np.ndarray | None  # integer multiplicity per column (artificials excluded)
    nodes: int
    work_s: float


def highs_version() -> str:
    return version()


class Master:
    """Rows fixed at construction, columns appended; duals after each solve."""

    def __init__(
        self,
        equality: np.ndarray,
        class_counts: list[int],
        node_limits: list[tuple[float, float]],
        big_m: float,
        threads: int | None = None,
        capacity: np.ndarray | None = None,
    ):
        # ``capacity``: per row, how many applications it stands for (types with counts, for the
        # reduced-cost proof); a column then covers a row as often as it holds that type. Diving
        # (fix/unfix) assumes one application per row and is not used on such a master.
        self.n_apps = len(equality)
        cap = np.ones(self.n_apps) if capacity is None else np.asarray(capacity, dtype=np.float64)
        self.n_classes = len(class_counts)
        self.n_nodes = len(node_limits)
        lower = (
            [float(c) if eq else -np.inf for eq, c in zip(equality, cap)]
            + [-np.inf] * self.n_classes
            + [-np.inf] * (2 * self.n_nodes)
        )
        upper = [float(c) for c in cap] + [float(m) for m in class_counts]
        for memory, cores in node_limits:
            upper += [memory, cores]
        self.row_lower = np.array(lower, dtype=np.float64)
        self.row_upper = np.array(upper, dtype=np.float64)
        self.app_lower = self.row_lower[: self.n_apps].copy()  # restored when a fixed column is released
        self.lp = ColumnLp(self.row_lower, self.row_upper, threads=threads)
        self.n_rows = len(lower)
        eq_rows = np.flatnonzero(equality)
        self.n_artificial = len(eq_rows)
        if self.n_artificial:
            k = self.n_artificial
            self.lp.add_columns(
                np.full(k, -big_m), np.zeros(k), cap[eq_rows], np.arange(k), eq_rows.astype(np.int32), np.ones(k)
            )
        self.n_columns = 0
        self.values: list[float] = []
        self.members: list[list[int]] = []  # per column: its application rows
        self.usage: list[tuple[int, int, float, float]] = []  # per column: class, node, memory, load

    def add(self, columns: list[tuple[int, list[int], float, float, float, int]]) -> None:
        """Append columns ``(class, apps, value, node memory, node load, node row or -1)``."""
        if not columns:
            return
        starts: list[int] = []
        index: list[int] = []
        coef: list[float] = []
        costs: list[float] = []
        for class_index, apps, value, memory, load, node in columns:
            starts.append(len(index))
            rows, times = np.unique(np.asarray(apps, dtype=np.int64), return_counts=True)
            index.extend(rows.tolist())
            coef.extend(times.astype(float).tolist())
            index.append(self.n_apps + class_index)
            coef.append(1.0)
            if node >= 0:
                base = self.n_apps + self.n_classes + 2 * node
                if memory > 0:
                    index.append(base)
                    coef.append(memory)
                if load > 0:
                    index.append(base + 1)
                    coef.append(load)
            costs.append(value)
            self.members.append(list(apps))
            self.usage.append((class_index, node, memory, load))
        count = len(columns)
        self.lp.add_columns(
            np.array(costs), np.zeros(count), np.full(count, np.inf), np.array(starts), np.array(index), np.array(coef)
        )
        self.values.extend(costs)
        self.n_columns += count

    def solve_lp(self, time_limit: float | None = None, work_limit: float | None = None) -> LpResult:
        iteration_limit = None if work_limit is None else self.lp.iteration_limit(work_limit)
        solution = self.lp.solve(time_limit_s=time_limit, iteration_limit=iteration_limit)
        duals, primal = solution.row_duals, solution.values
        a, k = self.n_apps, self.n_classes
        return LpResult(
            status=solution.status if solution.status == Status.OPTIMAL else Status.NO_SOLUTION_FOUND,
            stop_reason=solution.stop_reason,
            objective=solution.objective if solution.objective is not None else float("nan"),
            app_duals=duals[:a],
            class_duals=duals[a : a + k],
            node_duals=duals[a + k :],
            values=primal[self.n_artificial :],
            artificial=float(primal[: self.n_artificial].sum()) if self.n_artificial else 0.0,
            iterations=solution.iterations,
            work_s=solution.work_s,
        )

    # --- diving: fix a column outside the LP, and undo it --------------------------------------

    def fix(self, column: int) -> None:
        """Take one copy of ``column`` out of the LP: its applications are served, its class and node have less."""
        self._shift(column, -1.0)

    def unfix(self, column: int) -> None:
        self._shift(column, +1.0)

    def _shift(self, column: int, sign: float) -> None:
        apps = np.array(self.members[column], dtype=np.int64)
        class_index, node, memory, load = self.usage[column]
        if sign < 0:
            self.row_lower[apps] = 0.0
            self.row_upper[apps] = 0.0
        else:
            self.row_upper[apps] = 1.0
            self.row_lower[apps] = self.app_lower[apps]
        rows = [*apps.tolist(), self.n_apps + class_index]
        self.row_upper[self.n_apps + class_index] += sign
        if node >= 0:
            base = self.n_apps + self.n_classes + 2 * node
            self.row_upper[base] += sign * memory
            self.row_upper[base + 1] += sign * load
            rows += [base, base + 1]
        index = np.array(rows, dtype=np.int64)
        self.lp.set_row_bounds(index, self.row_lower[index], self.row_upper[index])

    def forbid(self, columns: list[int], allowed: bool = False) -> None:
        """Bound columns to 0 (or release them again with ``allowed=True``)."""
        if not columns:
            return
        index = np.array(columns, dtype=np.int64) + self.n_artificial
        upper = np.full(len(columns), np.inf if allowed else 0.0)
        self.lp.set_column_bounds(index, np.zeros(len(columns)), upper)

    # --- integer solutions ---------------------------------------------------------------------

    def solve_integer(
        self,
        time_limit: float | None,
        *,
        tie_break: np.ndarray | None = None,
        start: np.ndarray | None = None,
        cutoff: float | None = None,
        work_limit: float | None = None,
        seed: int = 0,
        proof: bool = False,
    ) -> MipResult:
        """The master over the current columns with integer multiplicities (artificials forbidden)."""
        values = np.array(self.values)
        costs = None
        if tie_break is not None:
            costs = np.concatenate([np.zeros(self.n_artificial), values + tie_break])
        full_start = None
        if start is not None:
            full_start = np.concatenate([np.zeros(self.n_artificial), np.asarray(start, dtype=np.float64)])
        solution = self.lp.solve_integer(
            time_limit_s=time_limit,
            work_limit_s=work_limit,
            costs=costs,
            fixed_zero=np.arange(self.n_artificial),
            start=full_start,
            cutoff=cutoff,
            seed=seed,
            proof=proof,
        )
        if solution.values is None:
            return MipResult(solution.status, solution.stop_reason, None, None, None, solution.nodes, solution.work_s)
        x = solution.values[self.n_artificial :].astype(int)
        return MipResult(
            solution.status, solution.stop_reason, float(values @ x), solution.bound, x, solution.nodes, solution.work_s
        )
