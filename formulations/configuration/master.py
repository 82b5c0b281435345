"""The configuration master on HiGHS (highspy): a persistent LP that grows by columns, and its integer version.

Rows, in maximisation form (``build.ConfigurationModel`` negates minimised objectives):

* one per application: ``sum of its columns <= 1`` (``= 1`` under host_all or when pinned);
* one per class: ``sum of the class's columns <= number of accelerators in it``;
* per multi-accelerator node: node memory and front-end CPU load of its classes' columns.

Equality rows get an artificial column of cost ``-big_m`` so that the LP is always feasible while
columns are still missing (the Lagrangian bound does not depend on it). This is the only module of
the formulation that touches the solver; highspy is imported inside the functions that use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from optplace.backends.highs import new_highs


class MasterStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # an integer solution, not proven optimal (limit reached)
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION = "no_solution"  # stopped (limit) without a solution
    ERROR = "error"


@dataclass
class LpResult:
    status: MasterStatus
    objective: float
    app_duals: np.ndarray
    class_duals: np.ndarray
    node_duals: np.ndarray  # (memory, load) per node row, flattened
    values: np.ndarray  # primal value per column (artificials excluded)
    artificial: float  # total artificial activity (0 when the LP is feasible with real columns)


@dataclass
class MipResult:
    status: MasterStatus
    objective: float | None
    bound: float | None
    values: np.ndarray | None


def _status(model_status, has_solution: bool) -> MasterStatus:
    import highspy

    s = highspy.HighsModelStatus
    table = {
        s.kOptimal: MasterStatus.OPTIMAL,
        s.kInfeasible: MasterStatus.INFEASIBLE,
        s.kUnbounded: MasterStatus.UNBOUNDED,
        s.kUnboundedOrInfeasible: MasterStatus.INFEASIBLE,
        s.kTimeLimit: MasterStatus.FEASIBLE,
        s.kIterationLimit: MasterStatus.FEASIBLE,
        s.kSolutionLimit: MasterStatus.FEASIBLE,
        s.kInterrupt: MasterStatus.FEASIBLE,
        s.kObjectiveBound: MasterStatus.FEASIBLE,
        s.kObjectiveTarget: MasterStatus.FEASIBLE,
    }
    status = table.get(model_status, MasterStatus.ERROR)
    if status == MasterStatus.FEASIBLE and not has_solution:
        return MasterStatus.NO_SOLUTION
    return status


def highs_version() -> str:

    h = new_highs()
    return f"{h.version()}" if hasattr(h, "version") else "highspy"


class Master:
    """Persistent LP: rows fixed at construction, columns appended; duals after each solve."""

    def __init__(
        self,
        equality: np.ndarray,
        class_counts: list[int],
        node_limits: list[tuple[float, float]],
        big_m: float,
        threads: int | None = None,
    ):
        import highspy

        self._highspy = highspy
        self.n_apps = len(equality)
        self.n_classes = len(class_counts)
        self.n_nodes = len(node_limits)
        h = new_highs()
        h.setOptionValue("output_flag", False)
        # Re-solves start from the previous basis; presolve would throw it away every round.
        h.setOptionValue("presolve", "off")
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 4)  # primal: added columns keep the basis primal feasible
        if threads:
            h.setOptionValue("threads", int(threads))
        inf = highspy.kHighsInf
        lower = [1.0 if eq else -inf for eq in equality] + [-inf] * self.n_classes + [-inf] * (2 * self.n_nodes)
        upper = [1.0] * self.n_apps + [float(m) for m in class_counts]
        for memory, cores in node_limits:
            upper += [memory, cores]
        count = len(lower)
        h.addRows(
            count,
            np.array(lower),
            np.array(upper),
            0,
            np.array([], dtype=np.int32),
            np.array([], dtype=np.int32),
            np.array([]),
        )
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.h = h
        self.n_rows = count
        # artificials for equality rows
        eq_rows = np.flatnonzero(equality)
        self.n_artificial = len(eq_rows)
        if self.n_artificial:
            h.addCols(
                self.n_artificial,
                np.full(self.n_artificial, -big_m),
                np.zeros(self.n_artificial),
                np.ones(self.n_artificial),
                self.n_artificial,
                np.arange(self.n_artificial, dtype=np.int32),
                eq_rows.astype(np.int32),
                np.ones(self.n_artificial),
            )
        self.n_columns = 0
        self.values: list[float] = []

    def add(self, columns: list[tuple[int, list[int], float, float, float, int]]) -> None:
        """Append columns ``(class, apps, value, node memory, node load, node row or -1)``."""
        if not columns:
            return
        starts, index, coef, costs = [], [], [], []
        for class_index, apps, value, memory, load, node in columns:
            starts.append(len(index))
            index.extend(apps)
            coef.extend([1.0] * len(apps))
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
        count = len(columns)
        self.h.addCols(
            count,
            np.array(costs),
            np.zeros(count),
            np.full(count, self._highspy.kHighsInf),
            len(index),
            np.array(starts, dtype=np.int32),
            np.array(index, dtype=np.int32),
            np.array(coef),
        )
        self.values.extend(costs)
        self.n_columns += count

    def solve_lp(self, time_limit: float | None = None) -> LpResult:
        h = self.h
        h.setOptionValue("time_limit", float(time_limit) if time_limit else self._highspy.kHighsInf)
        h.run()
        status = _status(h.getModelStatus(), True)
        solution = h.getSolution()
        duals = np.array(solution.row_dual)
        primal = np.array(solution.col_value)
        a = self.n_apps
        k = self.n_classes
        return LpResult(
            status=status,
            objective=float(h.getInfo().objective_function_value),
            app_duals=duals[:a],
            class_duals=duals[a : a + k],
            node_duals=duals[a + k :],
            values=primal[self.n_artificial :],
            artificial=float(primal[: self.n_artificial].sum()) if self.n_artificial else 0.0,
        )

    def solve_integer(
        self,
        time_limit: float | None,
        *,
        tie_break: np.ndarray | None = None,
        start: np.ndarray | None = None,
        threads: int | None = None,
        cutoff: float | None = None,
    ) -> MipResult:
        """The master over the current columns with integer multiplicities (artificials forbidden)."""
        highspy = self._highspy
        lp = self.h.getLp()
        h = new_highs()
        h.setOptionValue("output_flag", False)
        if threads:
            h.setOptionValue("threads", int(threads))
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-9)
        if time_limit is not None:
            h.setOptionValue("time_limit", max(0.01, float(time_limit)))
        h.passModel(lp)
        total = self.n_artificial + self.n_columns
        if self.n_artificial:
            h.changeColsBounds(
                self.n_artificial,
                np.arange(self.n_artificial, dtype=np.int32),
                np.zeros(self.n_artificial),
                np.zeros(self.n_artificial),
            )
        h.changeColsIntegrality(
            total,
            np.arange(total, dtype=np.int32),
            np.full(total, highspy.HighsVarType.kInteger),
        )
        values = np.array(self.values)
        if tie_break is not None:
            h.changeColsCost(
                self.n_columns,
                np.arange(self.n_artificial, total, dtype=np.int32),
                values + tie_break,
            )
        if cutoff is not None:
            h.setOptionValue("objective_bound", float(cutoff))
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = [0.0] * self.n_artificial + [float(x) for x in start]
            solution.value_valid = True
            h.setSolution(solution)
        h.run()
        info = h.getInfo()
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        status = _status(h.getModelStatus(), has_solution)
        if not has_solution:
            return MipResult(status if status != MasterStatus.FEASIBLE else MasterStatus.NO_SOLUTION, None, None, None)
        x = np.rint(np.array(h.getSolution().col_value)[self.n_artificial :]).astype(int)
        return MipResult(status, float(values @ x), float(info.mip_dual_bound), x)
