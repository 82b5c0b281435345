"""HiGHS through highspy, the fast path: the model is passed as column-wise arrays in one call.

No element-by-element modelling: :func:`solve` hands HiGHS the CSC matrix of the big-M form
(:meth:`LinearModel.milp_rows`), bounds, integrality and costs as numpy arrays. Incumbents are
streamed through the MIP improving-solution callback and the dual bound through the MIP
interrupt callback, so a caller that kills the process still holds the best of both.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from optplace.backends.common import BackendResult, SolverSettings, SolverTuning, StatusEntry, gap_stop, map_status
from optplace.backends.linear import LinearModel
from optplace.budget import highs_iteration_limit, highs_lp_work_s, highs_mip_work_s, highs_node_limit
from optplace.result import Status, StopReason

SOLVER = "highs"

_F, _N, _E = Status.FEASIBLE, Status.NO_SOLUTION_FOUND, Status.ERROR

# Every HighsModelStatus, by name. Anything else (a future status) is an error.
STATUS_TABLE: dict[str, StatusEntry] = {
    "kOptimal": StatusEntry(Status.OPTIMAL, _E, StopReason.COMPLETED),
    "kInfeasible": StatusEntry(Status.INFEASIBLE, Status.INFEASIBLE, StopReason.COMPLETED),
    "kModelEmpty": StatusEntry(Status.OPTIMAL, Status.OPTIMAL, StopReason.COMPLETED),
    "kTimeLimit": StatusEntry(_F, _N, StopReason.TIME_LIMIT),
    "kIterationLimit": StatusEntry(_F, _N, StopReason.ITERATION_LIMIT),
    "kSolutionLimit": StatusEntry(_F, _N, StopReason.ITERATION_LIMIT),
    "kInterrupt": StatusEntry(_F, _N, StopReason.INTERRUPTED),
    "kHighsInterrupt": StatusEntry(_F, _N, StopReason.INTERRUPTED),
    "kObjectiveBound": StatusEntry(_F, _N, StopReason.COMPLETED),
    "kObjectiveTarget": StatusEntry(_F, _N, StopReason.COMPLETED),
    "kMemoryLimit": StatusEntry(_F, _E, StopReason.ERROR),
    # A bounded assignment model is never unbounded: either answer means a modelling error.
    "kUnboundedOrInfeasible": StatusEntry(_E, _E, StopReason.ERROR),
    "kUnbounded": StatusEntry(_E, _E, StopReason.ERROR),
    "kNotset": StatusEntry(_E, _E, StopReason.ERROR),
    "kLoadError": StatusEntry(_E, _E, StopReason.ERROR),
    "kModelError": StatusEntry(_E, _E, StopReason.ERROR),
    "kPresolveError": StatusEntry(_E, _E, StopReason.ERROR),
    "kSolveError": StatusEntry(_E, _E, StopReason.ERROR),
    "kPostsolveError": StatusEntry(_E, _E, StopReason.ERROR),
    "kUnknown": StatusEntry(_F, _E, StopReason.ERROR),
}

BOUND_REPORT_INTERVAL_S = 0.25

_OnOff = Literal["off", "choose", "on"]
_Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
_Tolerance = Annotated[float, Field(ge=1e-10, le=1e-3, allow_inf_nan=False)]
_Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class HighsTuning(SolverTuning):
    """HiGHS options a caller may set (``solver_options`` of milp_highs, milp_pyomo and auto).

    Deliberately absent: every option that names a file or a log (``log_file``, ``solution_file``,
    ``write_solution_to_file``, ``write_model_file``, ``mip_improving_solution_file``, ...), output
    switches, and ``time_limit``, ``random_seed``, ``threads``, which come from SolveParams. An
    option this HiGHS build does not know is an error when the solve starts.
    """

    presolve: _OnOff | None = Field(default=None, description="Presolve: off, choose or on.")
    parallel: _OnOff | None = Field(default=None, description="Parallel dual simplex: off, choose or on.")
    run_crossover: _OnOff | None = Field(default=None, description="Crossover after an interior-point LP solve.")
    simplex_strategy: int | None = Field(
        default=None, ge=0, le=4, description="0 choose, 1 dual, 2 dual PAMI, 3 dual SIP, 4 primal."
    )
    simplex_scale_strategy: int | None = Field(default=None, ge=0, le=4, description="Simplex scaling strategy.")
    mip_rel_gap: _Fraction | None = Field(default=None, description="Relative MIP gap at which HiGHS stops.")
    mip_abs_gap: float | None = Field(
        default=None, ge=0, le=1e9, allow_inf_nan=False, description="Absolute MIP gap at which HiGHS stops."
    )
    mip_heuristic_effort: _Fraction | None = Field(
        default=None, description="Share of effort spent in primal heuristics."
    )
    mip_feasibility_tolerance: _Tolerance | None = Field(default=None, description="MIP feasibility tolerance.")
    primal_feasibility_tolerance: _Tolerance | None = Field(default=None, description="Primal feasibility tolerance.")
    dual_feasibility_tolerance: _Tolerance | None = Field(default=None, description="Dual feasibility tolerance.")
    mip_detect_symmetry: bool | None = Field(default=None, description="Detect and exploit symmetry.")
    mip_allow_restart: bool | None = Field(default=None, description="Allow restarts of the branch-and-bound.")
    mip_root_presolve_only: bool | None = Field(default=None, description="Presolve at the root only.")
    mip_heuristic_run_feasibility_jump: bool | None = Field(
        default=None, description="Run the feasibility jump heuristic."
    )
    mip_heuristic_run_rins: bool | None = Field(default=None, description="Run RINS.")
    mip_heuristic_run_rens: bool | None = Field(default=None, description="Run RENS.")
    mip_heuristic_run_root_reduced_cost: bool | None = Field(
        default=None, description="Run the root reduced-cost heuristic."
    )
    mip_heuristic_run_zi_round: bool | None = Field(default=None, description="Run ZI rounding.")
    mip_heuristic_run_shifting: bool | None = Field(default=None, description="Run the shifting heuristic.")
    mip_max_nodes: _Count | None = Field(default=None, description="Branch-and-bound node limit.")
    mip_max_stall_nodes: _Count | None = Field(default=None, description="Nodes without improvement before stopping.")
    mip_max_leaves: _Count | None = Field(default=None, description="Leaf limit.")
    mip_max_improving_sols: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Stop after this many improving solutions."
    )
    mip_pool_soft_limit: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Soft size limit of the solution pool."
    )
    mip_lp_age_limit: int | None = Field(
        default=None, ge=0, le=32767, description="Age after which LP cuts are dropped."
    )
    mip_pscost_minreliable: int | None = Field(
        default=None, ge=0, le=1000, description="Reliability threshold of pseudo-costs."
    )


def new_highs(verbose: bool = False):
    """A ``highspy.Highs`` without the copyright banner HiGHS prints on construction (unless verbose)."""
    import highspy

    if verbose:
        return highspy.Highs()
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError, AttributeError):  # no real stdout (e.g. captured): nothing to protect
        return highspy.Highs()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


_scheduler_lock = threading.Lock()
_scheduler_threads: int | None = None  # the thread count HiGHS's global scheduler was started with


def run(h) -> None:
    """``h.run()``, first restarting HiGHS's process-wide thread scheduler if ``h`` asks for another
    thread count than the one it was started with.

    HiGHS starts one scheduler per process with the first run's ``threads`` and refuses (model
    status "Not Set") every later run that asks for a different count, so a second in-process solve
    with other ``threads`` would lose its answer and its bound.
    """
    import highspy

    global _scheduler_threads
    _, wanted = h.getOptionValue("threads")
    with _scheduler_lock:
        if _scheduler_threads is not None and _scheduler_threads != wanted:
            highspy.Highs.resetGlobalScheduler(True)
        _scheduler_threads = wanted
    h.run()


def version() -> str:
    h = new_highs()
    return f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"


def solve(model: LinearModel, settings: SolverSettings) -> BackendResult:
    """Solve ``model`` with HiGHS; see the module docstring for streaming."""
    import highspy

    started = time.perf_counter()
    h = new_highs(settings.verbose)
    h.setOptionValue("output_flag", bool(settings.verbose))
    h.setOptionValue("random_seed", int(settings.seed))
    if settings.threads is not None:
        h.setOptionValue("threads", int(settings.threads))
    if settings.time_limit_s is not None:
        h.setOptionValue("time_limit", max(float(settings.time_limit_s), 0.01))
    if settings.relative_gap is not None:
        h.setOptionValue("mip_rel_gap", float(settings.relative_gap))
    if settings.work_limit_s is not None:
        nonzeros = int(model.A.nnz) + (0 if model.relax is None else int(model.relax.nnz))
        limit = highs_node_limit(settings.work_limit_s, model.num_rows, model.num_vars, nonzeros)
        h.setOptionValue("mip_max_nodes", limit)
    for key, value in HighsTuning.checked(settings.options, SOLVER).items():
        if h.setOptionValue(key, value) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS {version()} does not accept solver option {key}={value!r}")

    a, row_lower, row_upper = model.milp_rows()
    csc = a.tocsc()
    csc.sort_indices()
    lp = highspy.HighsLp()
    lp.num_col_ = model.num_vars
    lp.num_row_ = model.num_rows
    lp.col_cost_ = np.asarray(model.objective, dtype=np.float64)
    lp.offset_ = float(model.objective_constant)
    lp.sense_ = highspy.ObjSense.kMaximize if model.maximize else highspy.ObjSense.kMinimize
    lp.col_lower_ = model.lower
    lp.col_upper_ = np.where(np.isinf(model.upper), highspy.kHighsInf, model.upper)
    lp.row_lower_ = np.where(np.isinf(row_lower), -highspy.kHighsInf, row_lower)
    lp.row_upper_ = np.where(np.isinf(row_upper), highspy.kHighsInf, row_upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = model.num_vars
    lp.a_matrix_.num_row_ = model.num_rows
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in model.integer]
    build_s = time.perf_counter() - started
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        return BackendResult(
            Status.ERROR,
            StopReason.ERROR,
            None,
            None,
            None,
            SOLVER,
            version(),
            "passModel error",
            0.0,
            "passModel failed",
        )
    if settings.warm_start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = np.asarray(settings.warm_start, dtype=np.float64)
        solution.value_valid = True
        h.setSolution(solution)

    last_bound: list[float] = [time.perf_counter(), float("nan")]
    on_incumbent, on_bound = settings.on_incumbent, settings.on_bound
    if on_incumbent is not None:

        def improving(event) -> None:
            values = np.array(event.data_out.mip_solution, dtype=np.float64)
            bound = float(event.data_out.mip_dual_bound)
            on_incumbent(values, float(event.data_out.objective_function_value), _finite(bound))

        h.cbMipImprovingSolution.subscribe(improving)
    if on_bound is not None:

        def interrupt(event) -> None:
            now = time.perf_counter()
            bound = _finite(float(event.data_out.mip_dual_bound))
            if bound is not None and now - last_bound[0] >= BOUND_REPORT_INTERVAL_S and bound != last_bound[1]:
                last_bound[0], last_bound[1] = now, bound
                on_bound(bound)

        h.cbMipInterrupt.subscribe(interrupt)

    run(h)
    raw = h.modelStatusToString(h.getModelStatus())
    raw_name = h.getModelStatus().name
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.array(h.getSolution().col_value, dtype=np.float64) if has_solution else None
    objective = float(info.objective_function_value) if has_solution else None
    is_mip = bool(model.integer.any())
    bound = _finite(float(info.mip_dual_bound)) if is_mip else (objective if raw_name == "kOptimal" else None)
    mapped, stop = map_status(STATUS_TABLE, raw_name, has_solution)
    mapped, stop = gap_stop(mapped, stop, objective, bound, model.maximize)
    if mapped == Status.INFEASIBLE and settings.options.get("presolve") != "off":
        # An infeasibility claim is a proof we pass on to users; HiGHS 1.16's presolve has been seen
        # to claim it for a feasible model (tests/exact/test_formulation.py), so confirm without presolve.
        left = (
            None if settings.time_limit_s is None else max(settings.time_limit_s - (time.perf_counter() - started), 1.0)
        )
        check = solve(model, replace(settings, time_limit_s=left, options={**settings.options, "presolve": "off"}))
        check.stats["presolve_check"] = "confirmed" if check.status == Status.INFEASIBLE else "presolve was wrong"
        check.runtime_s = time.perf_counter() - started
        return check
    return BackendResult(
        status=mapped,
        stop_reason=stop,
        values=values,
        objective=objective,
        bound=bound,
        solver=SOLVER,
        solver_version=version(),
        raw_status=raw,
        runtime_s=time.perf_counter() - started,
        stats={
            "build_s": build_s,
            "work_s": highs_mip_work_s(
                max(0, int(info.simplex_iteration_count)),
                max(0, int(info.mip_node_count)),
                model.num_rows,
                model.num_vars,
                int(csc.nnz),
            ),
            "nodes": int(info.mip_node_count) if is_mip else 0,
            "mip_gap": _finite(float(info.mip_gap)) if is_mip else None,
        },
    )


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) and abs(value) < 1e29 else None


# --- a persistent LP that grows by columns (column generation) --------------------------------


@dataclass
class LpSolution:
    """One solve of a :class:`ColumnLp`: status in optplace's vocabulary, duals and primal values."""

    status: Status
    stop_reason: StopReason
    raw_status: str
    objective: float | None
    row_duals: np.ndarray
    values: np.ndarray
    iterations: int
    work_s: float  # reference seconds of the solve (optplace.budget), from the iteration count


@dataclass
class MipSolution:
    """One integer solve over a :class:`ColumnLp`'s columns."""

    status: Status
    stop_reason: StopReason
    raw_status: str
    objective: float | None  # with the costs handed in (a tie-break included)
    bound: float | None
    values: np.ndarray | None  # rounded to integers
    nodes: int
    work_s: float  # reference seconds of the solve (optplace.budget), from its counts


class ColumnLp:
    """A maximisation LP with fixed rows that grows by columns and re-solves from its last basis.

    Column generation adds columns between solves; the primal simplex keeps the previous basis
    primal feasible when columns are added (presolve is off: it would throw the basis away). Row
    and column bounds may change between solves (diving fixes columns). :meth:`solve_integer`
    solves a copy with integer columns. Statuses go through :data:`STATUS_TABLE`.
    """

    def __init__(self, row_lower: np.ndarray, row_upper: np.ndarray, *, threads: int | None = None):
        import highspy

        self._highspy = highspy
        h = new_highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("presolve", "off")
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("simplex_strategy", 4)  # primal: added columns keep the basis primal feasible
        if threads:
            h.setOptionValue("threads", int(threads))
        inf = highspy.kHighsInf
        lower = np.where(np.isinf(row_lower), -inf, row_lower).astype(np.float64)
        upper = np.where(np.isinf(row_upper), inf, row_upper).astype(np.float64)
        empty_i, empty_f = np.array([], dtype=np.int32), np.array([], dtype=np.float64)
        h.addRows(len(lower), lower, upper, 0, empty_i, empty_i, empty_f)
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
        self.h = h
        self.threads = threads
        self.num_rows = len(lower)
        self.num_cols = 0
        # Which simplex suits the next solve: primal after columns were added (the basis stays
        # primal feasible), dual after bounds changed (it stays dual feasible).
        self.bounds_changed = False

    def add_columns(
        self,
        costs: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        starts: np.ndarray,
        index: np.ndarray,
        values: np.ndarray,
    ) -> None:
        """Append columns given in CSC form (``starts`` per column into ``index``/``values``)."""
        count = len(costs)
        if count == 0:
            return
        inf = self._highspy.kHighsInf
        self.h.addCols(
            count,
            np.asarray(costs, dtype=np.float64),
            np.asarray(lower, dtype=np.float64),
            np.where(np.isinf(upper), inf, upper).astype(np.float64),
            len(index),
            np.asarray(starts, dtype=np.int32),
            np.asarray(index, dtype=np.int32),
            np.asarray(values, dtype=np.float64),
        )
        self.num_cols += count

    def set_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        inf = self._highspy.kHighsInf
        rows = np.asarray(rows, dtype=np.int32)
        self.bounds_changed = True
        self.h.changeRowsBounds(
            len(rows),
            rows,
            np.where(np.isinf(lower), -inf, lower).astype(np.float64),
            np.where(np.isinf(upper), inf, upper).astype(np.float64),
        )

    def set_column_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        inf = self._highspy.kHighsInf
        cols = np.asarray(cols, dtype=np.int32)
        self.bounds_changed = True
        self.h.changeColsBounds(
            len(cols),
            cols,
            np.asarray(lower, dtype=np.float64),
            np.where(np.isinf(upper), inf, upper).astype(np.float64),
        )

    def solve(self, *, time_limit_s: float | None = None, iteration_limit: int | None = None) -> LpSolution:
        """Re-solve the LP; duals and values are those of the last basis whatever the status."""
        h = self.h
        # HiGHS compares time_limit with the object's run time summed over every run so far.
        limit = h.getRunTime() + float(time_limit_s) if time_limit_s else self._highspy.kHighsInf
        h.setOptionValue("time_limit", limit)
        h.setOptionValue("simplex_strategy", 1 if self.bounds_changed else 4)  # dual / primal
        self.bounds_changed = False
        h.setOptionValue("simplex_iteration_limit", int(iteration_limit) if iteration_limit else 2147483647)
        before = int(h.getInfo().simplex_iteration_count)
        run(h)
        raw = h.getModelStatus().name
        info = h.getInfo()
        optimal = raw == "kOptimal"
        status, stop = map_status(STATUS_TABLE, raw, optimal)
        solution = h.getSolution()
        iterations = max(0, int(info.simplex_iteration_count) - before)
        return LpSolution(
            status=status,
            stop_reason=stop,
            raw_status=raw,
            objective=float(info.objective_function_value) if optimal else None,
            row_duals=np.array(solution.row_dual, dtype=np.float64),
            values=np.array(solution.col_value, dtype=np.float64),
            iterations=iterations,
            work_s=highs_lp_work_s(iterations, self.num_rows, self.num_cols),
        )

    def iteration_limit(self, work_s: float) -> int:
        """Simplex iterations worth ``work_s`` reference seconds at this LP's size (at least 1)."""
        return highs_iteration_limit(work_s, self.num_rows, self.num_cols)

    def solve_integer(
        self,
        *,
        time_limit_s: float | None = None,
        work_limit_s: float | None = None,
        costs: np.ndarray | None = None,
        fixed_zero: np.ndarray | None = None,
        start: np.ndarray | None = None,
        cutoff: float | None = None,
        seed: int = 0,
        proof: bool = False,
    ) -> MipSolution:
        """The same rows over the current columns, every column integer, on a copy of the LP.

        ``costs`` replaces the objective (a tie-break), ``fixed_zero`` lists columns forced to 0,
        ``start`` is a feasible integer point to start from, ``cutoff`` an objective bound the
        solver may prune against, ``work_limit_s`` a work budget (a node limit, deterministic runs).
        ``proof``: the optimum is wanted proven rather than found early (a reduced-cost proof's
        master, whose columns were chosen by a bound already): presolve and the sub-MIP primal
        heuristics (RINS, RENS, root reduced cost, feasibility jump) are off; on the seed's
        heterogeneous workload that took HiGHS from 5.7 s to 4.2 s.
        """
        highspy = self._highspy
        h = new_highs()
        h.setOptionValue("output_flag", False)
        if self.threads:
            h.setOptionValue("threads", int(self.threads))
        h.setOptionValue("random_seed", int(seed))
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-9)
        if time_limit_s is not None:
            h.setOptionValue("time_limit", max(0.01, float(time_limit_s)))
        if proof:
            h.setOptionValue("presolve", "off")
            for heuristic in ("rins", "rens", "root_reduced_cost", "feasibility_jump"):
                h.setOptionValue(f"mip_heuristic_run_{heuristic}", False)
        lp = self.h.getLp()
        nonzeros = len(lp.a_matrix_.value_)
        if work_limit_s is not None:
            h.setOptionValue("mip_max_nodes", highs_node_limit(work_limit_s, self.num_rows, self.num_cols, nonzeros))
        h.passModel(lp)
        total = self.num_cols
        if total == 0:
            return MipSolution(Status.ERROR, StopReason.ERROR, "no columns", None, None, None, 0, 0.0)
        h.changeColsIntegrality(total, np.arange(total, dtype=np.int32), np.full(total, highspy.HighsVarType.kInteger))
        if costs is not None:
            h.changeColsCost(total, np.arange(total, dtype=np.int32), np.asarray(costs, dtype=np.float64))
        if fixed_zero is not None and len(fixed_zero):
            zero = np.zeros(len(fixed_zero))
            h.changeColsBounds(len(fixed_zero), np.asarray(fixed_zero, dtype=np.int32), zero, zero)
        if cutoff is not None:
            h.setOptionValue("objective_bound", float(cutoff))
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = [float(x) for x in start]
            solution.value_valid = True
            h.setSolution(solution)
        run(h)
        raw = h.getModelStatus().name
        info = h.getInfo()
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        status, stop = map_status(STATUS_TABLE, raw, has_solution)
        values = np.rint(np.array(h.getSolution().col_value, dtype=np.float64)) if has_solution else None
        return MipSolution(
            status=status,
            stop_reason=stop,
            raw_status=raw,
            objective=float(info.objective_function_value) if has_solution else None,
            bound=_finite(float(info.mip_dual_bound)),
            values=values,
            nodes=int(info.mip_node_count),
            work_s=highs_mip_work_s(
                max(0, int(info.simplex_iteration_count)),
                max(0, int(info.mip_node_count)),
                self.num_rows,
                self.num_cols,
                nonzeros,
            ),
        )
