"""OR-Tools CP-SAT: the same model with integer coefficients, rounded so that no violation gets through.

CP-SAT needs integer variables and integer linear rows. The adapter turns a
:class:`~optplace.backends.linear.LinearModel` into that form in three exact-or-conservative steps
(documented with the maths in ``docs/formulations.md``):

1. **Definitions are substituted.** An auxiliary defined by ``v = sum c_j x_j`` (a load, a second
   moment) is replaced by its definition in every row that uses it: exact.
2. **Continuous variables live on a grid.** A continuous variable ``w`` in ``[0, ub]`` becomes
   an integer ``W`` with ``w = W / S``, ``S = 10^k`` the smallest power of ten giving at least
   10^5 grid steps over ``[0, ub]``. Only the switch bounds ``H`` are continuous after step 1, and
   they only appear as upper estimates, so restricting them to a grid only removes solutions.
3. **Rows are made integral: exactly where possible, else rounded outwards.** A row whose numbers
   are all small-denominator multiples of one unit (integer benchmark data) is scaled by the
   common denominator: exact. Otherwise each row ``sum a_j v_j <= b`` (all variables have
   lower bound 0) is multiplied by ``K = 10^p`` (the largest power of ten keeping every scaled
   coefficient within 10^6, or 1 when the row is already integral) and becomes
   ``sum ceil(a_j K) v_j <= floor(b K)``. Since ``v >= 0``, ``sum a_j v_j <= sum ceil(a_j K) v_j / K
   <= floor(b K) / K <= b``: every integer solution satisfies the original row. (A product within
   10^-12 relative of an integer is taken as that integer, so floating-point noise does not bump
   a coefficient; the evaluator's 10^-9 tolerance covers that.) A ``>=`` row is
   negated first; an equality row must already be integral (it is: only assignment-style
   equalities remain after step 1).

Because of the outward rounding, CP-SAT's dual bound bounds the *rounded* model; the result says
``stats["bound_is_for_model"]`` only when nothing was rounded, and callers must not use the bound
as a bound on the original model otherwise. Indicator rows use ``OnlyEnforceIf`` instead of big-M terms. The objective keeps its floating
point coefficients (CP-SAT supports a floating-point objective). Incumbents are streamed by a
solution callback.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from pydantic import Field

from optplace.backends.common import BackendResult, SolverSettings, SolverTuning, StatusEntry, gap_stop, map_status
from optplace.backends.linear import LinearModel
from optplace.result import Status, StopReason

SOLVER = "cpsat"


class CpsatTuning(SolverTuning):
    """CP-SAT parameters a caller may set (``solver_options`` of the cpsat method).

    Deliberately absent: strings (``log_prefix``, subsolver lists, ``debug_dump_*`` prefixes that
    write files), logging switches, and the worker count, seed and time limit, which come from
    SolveParams (``threads``, ``seed``, ``time_limit_s``).
    """

    linearization_level: int | None = Field(
        default=None, ge=0, le=2, description="0 none, 1 default, 2 all constraints in the LP."
    )
    cp_model_probing_level: int | None = Field(default=None, ge=0, le=3, description="Probing effort in presolve.")
    cp_model_presolve: bool | None = Field(default=None, description="Run presolve.")
    cp_model_use_sat_presolve: bool | None = Field(default=None, description="Use the SAT presolve.")
    max_presolve_iterations: int | None = Field(default=None, ge=0, le=1000, description="Presolve rounds.")
    symmetry_level: int | None = Field(default=None, ge=0, le=4, description="Symmetry detection effort.")
    optimize_with_core: bool | None = Field(default=None, description="Core-based optimisation.")
    optimize_with_lb_tree_search: bool | None = Field(default=None, description="Lower-bound tree search.")
    interleave_search: bool | None = Field(default=None, description="Interleave subsolvers in one thread.")
    use_lns: bool | None = Field(default=None, description="Large neighbourhood search workers.")
    use_lns_only: bool | None = Field(default=None, description="Only LNS workers.")
    use_rins_lns: bool | None = Field(default=None, description="RINS neighbourhoods.")
    use_feasibility_jump: bool | None = Field(default=None, description="Feasibility jump first-solution workers.")
    use_objective_lb_search: bool | None = Field(default=None, description="Objective lower-bound search worker.")
    use_objective_shaving_search: bool | None = Field(default=None, description="Objective shaving worker.")
    add_lp_constraints_lazily: bool | None = Field(default=None, description="Add LP constraints lazily.")
    fix_variables_to_their_hinted_value: bool | None = Field(
        default=None, description="Fix variables to the warm start."
    )
    repair_hint: bool | None = Field(default=None, description="Repair an infeasible warm start.")
    hint_conflict_limit: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Conflicts spent on the hint."
    )
    relative_gap_limit: float | None = Field(
        default=None, ge=0, le=1, allow_inf_nan=False, description="Relative gap limit."
    )
    absolute_gap_limit: float | None = Field(
        default=None, ge=0, le=1e9, allow_inf_nan=False, description="Absolute gap limit."
    )
    max_number_of_conflicts: int | None = Field(default=None, ge=0, le=10**12, description="Conflict limit.")
    max_deterministic_time: float | None = Field(
        default=None, gt=0, le=1e7, allow_inf_nan=False, description="Deterministic time limit."
    )
    max_memory_in_mb: int | None = Field(default=None, ge=64, le=1_000_000, description="CP-SAT's own memory limit.")


COEFFICIENT_LIMIT = 1e6  # largest scaled coefficient (CP-SAT presolve lost solutions at 1e9; see docs)
GRID_STEPS = 1e5  # grid points per continuous variable's range, at least
INTEGRAL_TOLERANCE = 1e-9
FLOAT_NOISE = 1e-12  # relative; far below the evaluator's tolerance (1e-9)
RATIONAL_MAX_TERMS = 400  # rows longer than this are rounded, not rationalised
RATIONAL_MAX_DENOMINATOR = 10**4

STATUS_TABLE: dict[str, StatusEntry] = {
    "OPTIMAL": StatusEntry(Status.OPTIMAL, Status.ERROR, StopReason.COMPLETED),
    "FEASIBLE": StatusEntry(Status.FEASIBLE, Status.NO_SOLUTION_FOUND, StopReason.TIME_LIMIT),
    "INFEASIBLE": StatusEntry(Status.INFEASIBLE, Status.INFEASIBLE, StopReason.COMPLETED),
    "UNKNOWN": StatusEntry(Status.FEASIBLE, Status.NO_SOLUTION_FOUND, StopReason.TIME_LIMIT),
    "MODEL_INVALID": StatusEntry(Status.ERROR, Status.ERROR, StopReason.ERROR),
}


def version() -> str:
    import ortools

    return str(getattr(ortools, "__version__", "unknown"))


def grid_scale(upper: float) -> float:
    """The power of ten S giving a continuous variable in [0, upper] a resolution of upper / GRID_STEPS or finer."""
    if not np.isfinite(upper):
        raise ValueError("CP-SAT needs a finite upper bound on every continuous variable")
    return 10.0 ** max(0, math.ceil(math.log10(GRID_STEPS / max(upper, 1e-12))))


def scale_row(coefficients: np.ndarray, rhs: float) -> tuple[np.ndarray, int]:
    """Integer coefficients and right-hand side of ``coefficients . v <= rhs`` (v >= 0), rounded outwards."""
    c = np.asarray(coefficients, dtype=np.float64)
    # A tiny non-zero coefficient is not "integral zero": dropping it would admit points the real row rejects.
    near_integer = (np.abs(c - np.round(c)) <= INTEGRAL_TOLERANCE) & ((c == 0) | (np.round(c) != 0))
    integral = np.all(near_integer) and abs(rhs - round(rhs)) <= INTEGRAL_TOLERANCE
    if integral:
        return np.round(c).astype(np.int64), round(rhs)
    exact = _rational_row(c, rhs)
    if exact is not None:
        return exact
    largest = max(float(np.max(np.abs(c), initial=0.0)), abs(rhs), 1e-12)
    k = 10.0 ** math.floor(math.log10(COEFFICIENT_LIMIT / largest))
    # Outward rounding; a product that is an integer up to floating-point noise is not bumped.
    ck, bk = c * k, rhs * k
    return np.ceil(ck - FLOAT_NOISE * np.maximum(1.0, np.abs(ck))).astype(np.int64), math.floor(
        bk + FLOAT_NOISE * max(1.0, abs(bk))
    )


@dataclass
class IntegerForm:
    """The integer model CP-SAT receives: variables on grids and rows with integer coefficients."""

    scale: np.ndarray  # value = integer / scale, per model variable (1 for integers)
    free: np.ndarray  # model variables that CP-SAT holds (the non-defined ones)
    lower: np.ndarray  # integer bounds, per model variable (meaningful on ``free``)
    upper: np.ndarray
    rows: list[tuple[np.ndarray, np.ndarray, int, str, int]]  # (cols, int coefs, rhs, "<=" | "==", indicator)
    rows_rounded: int

    def violation(self, values: np.ndarray) -> float:
        """Largest violation of an enforced integer row by the model point ``values`` (grid-rounded up)."""
        ints = np.where(self.scale > 1, np.ceil(np.asarray(values) * self.scale - 1e-9), np.round(values))
        worst = 0.0
        for cols, coefs, rhs, sense, ind in self.rows:
            if ind >= 0 and ints[ind] < 0.5:
                continue
            lhs = float(np.dot(coefs, ints[cols]))
            worst = max(worst, lhs - rhs if sense == "<=" else abs(lhs - rhs))
        return worst


def integer_form(model: LinearModel) -> IntegerForm:
    """Substitute definitions, put continuous variables on grids, scale and round every row outwards."""
    a, row_lower, row_upper, indicator, _ = model.substitute_definitions()
    defined = np.zeros(model.num_vars, dtype=bool)
    defined[model.defined_var] = True
    free = np.flatnonzero(~defined)
    if np.any(model.lower[free] < 0):
        raise ValueError("CP-SAT rounding needs every variable to have a lower bound of 0 or more")
    scale = np.ones(model.num_vars)
    lower = np.zeros(model.num_vars, dtype=np.int64)
    upper = np.zeros(model.num_vars, dtype=np.int64)
    for j in free:
        lo, hi = float(model.lower[j]), float(model.upper[j])
        if not model.integer[j]:
            scale[j] = grid_scale(hi)
        lower[j] = math.ceil(lo * scale[j] - 1e-9)
        upper[j] = math.floor(hi * scale[j] + 1e-9)
    csr = a.tocsr()
    rows = []
    rounded = 0
    for i in range(csr.shape[0]):
        start, stop = csr.indptr[i], csr.indptr[i + 1]
        cols = csr.indices[start:stop]
        if cols.size == 0:
            continue
        coef = csr.data[start:stop] / scale[cols]
        lo, hi = row_lower[i], row_upper[i]
        ind = int(indicator[i])
        if lo == hi:
            c_int, b_int = scale_row(coef, hi)
            if not np.allclose(c_int, coef) or abs(b_int - hi) > INTEGRAL_TOLERANCE:
                raise ValueError(f"row {i} is a non-integral equality; CP-SAT cannot hold it exactly")
            rows.append((cols, c_int, b_int, "==", ind))
            continue
        for sign, bound in ((1.0, hi), (-1.0, -lo)):
            if not np.isfinite(bound):
                continue
            c_int, b_int = scale_row(sign * coef, bound)
            rounded += int(not np.array_equal(c_int, sign * coef))
            rows.append((cols, c_int, b_int, "<=", ind))
    return IntegerForm(scale, free, lower, upper, rows, rounded)


def _rational_row(c: np.ndarray, rhs: float) -> tuple[np.ndarray, int] | None:
    """An exactly equivalent integer row when every number is a small-denominator multiple of one unit.

    Data converted from integer benchmarks (OR-Library GAP: weights r_ij and capacity b_i become
    r_ij * k and b_i * k) are rational multiples of the largest entry; scaling by the common
    denominator recovers the integer row, so ties at full capacity are kept instead of rounded away.
    """
    if c.size > RATIONAL_MAX_TERMS:
        return None
    values = np.append(c, rhs)
    unit = float(np.max(np.abs(values)))
    if unit == 0.0:
        return None
    ratios = [Fraction(float(v) / unit).limit_denominator(RATIONAL_MAX_DENOMINATOR) for v in values]
    for v, r in zip(values, ratios):
        if abs(float(r) * unit - float(v)) > FLOAT_NOISE * unit:
            return None
    denominator = 1
    for r in ratios:
        denominator = denominator * r.denominator // math.gcd(denominator, r.denominator)
        if denominator > COEFFICIENT_LIMIT:
            return None
    scaled = [r.numerator * (denominator // r.denominator) for r in ratios]
    if max(abs(x) for x in scaled) > COEFFICIENT_LIMIT:
        return None
    return np.array(scaled[:-1], dtype=np.int64), int(scaled[-1])


def solve(model: LinearModel, settings: SolverSettings) -> BackendResult:
    """Solve ``model`` with CP-SAT (see the module docstring for the integer form)."""
    from ortools.sat.python import cp_model

    started = time.perf_counter()
    form = integer_form(model)
    scale = form.scale
    cp = cp_model.CpModel()
    variables: list = [None] * model.num_vars
    for j in form.free:
        if model.integer[j] and form.lower[j] == 0 and form.upper[j] == 1:
            variables[j] = cp.new_bool_var(f"v{j}")
        else:
            variables[j] = cp.new_int_var(int(form.lower[j]), int(form.upper[j]), f"v{j}")
    for cols, c_int, b_int, sense, ind in form.rows:
        expr = cp_model.LinearExpr.weighted_sum([variables[j] for j in cols], c_int.tolist())
        constraint = cp.add(expr == b_int) if sense == "==" else cp.add(expr <= b_int)
        if ind >= 0:
            constraint.only_enforce_if(variables[ind])
    rows_rounded = form.rows_rounded
    defined = np.ones(model.num_vars, dtype=bool)
    defined[form.free] = False
    # Objective: defined variables substituted like the rows.
    objective = _substituted_objective(model)
    obj_cols = np.flatnonzero(objective)
    expr = cp_model.LinearExpr.weighted_sum(
        [variables[j] for j in obj_cols], [float(objective[j] / scale[j]) for j in obj_cols]
    ) + float(model.objective_constant)
    if model.maximize:
        cp.maximize(expr)
    else:
        cp.minimize(expr)
    if settings.warm_start is not None:
        for j in np.flatnonzero(~defined):
            value = float(settings.warm_start[j]) * scale[j]
            cp.add_hint(variables[j], round(value) if model.integer[j] else math.ceil(value - 1e-9))
    solver = cp_model.CpSolver()
    params = solver.parameters
    if settings.time_limit_s is not None:
        params.max_time_in_seconds = max(float(settings.time_limit_s), 0.01)
    params.num_workers = int(settings.threads) if settings.threads else 2
    params.random_seed = int(settings.seed)
    if settings.relative_gap is not None:
        params.relative_gap_limit = float(settings.relative_gap)
    if settings.work_limit_s is not None:
        # deterministic: CP-SAT's own deterministic time, one worker (several race each other)
        params.max_deterministic_time = max(float(settings.work_limit_s), 0.01)
        params.num_workers = 1
    params.log_search_progress = bool(settings.verbose)
    for key, value in CpsatTuning.checked(settings.options, SOLVER).items():
        setattr(params, key, value)
    build_s = time.perf_counter() - started

    full = _FullVector(model, variables, scale, defined)

    class Callback(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            if settings.on_incumbent is not None:
                values = full.read(self.value)
                settings.on_incumbent(values, float(self.objective_value), float(self.best_objective_bound))

    status_code = solver.solve(cp, Callback())
    raw = solver.status_name(status_code)
    has_solution = raw in ("OPTIMAL", "FEASIBLE")
    values = full.read(solver.value) if has_solution else None
    objective_value = float(solver.objective_value) if has_solution else None
    bound = float(solver.best_objective_bound) if raw in ("OPTIMAL", "FEASIBLE", "UNKNOWN") else None
    if bound is not None and not np.isfinite(bound):
        bound = None
    mapped, stop = map_status(STATUS_TABLE, raw, has_solution)
    if raw == "UNKNOWN" and settings.time_limit_s is None:
        stop = StopReason.INTERRUPTED
    mapped, stop = gap_stop(mapped, stop, objective_value, bound, model.maximize)
    return BackendResult(
        status=mapped,
        stop_reason=stop,
        values=values,
        objective=objective_value,
        bound=bound,
        solver=SOLVER,
        solver_version=version(),
        raw_status=raw,
        runtime_s=time.perf_counter() - started,
        stats={
            "build_s": build_s,
            "rows_rounded": rows_rounded,
            "branches": int(solver.num_branches),
            "work_s": float(solver.deterministic_time) if settings.work_limit_s is not None else None,
            # Outward rounding and grids restrict the model: its dual bound is a bound on the model
            # handed in only when nothing was rounded.
            "bound_is_for_model": rows_rounded == 0 and not bool(np.any(form.scale[form.free] > 1)),
        },
    )


def _substituted_objective(model: LinearModel) -> np.ndarray:
    """Objective coefficients with defined variables replaced by their definitions."""
    c = np.asarray(model.objective, dtype=np.float64).copy()
    for var, row in zip(model.defined_var, model.defined_row):
        if c[var] == 0.0:
            continue
        start, stop = model.A.indptr[row], model.A.indptr[row + 1]
        cols, vals = model.A.indices[start:stop], model.A.data[start:stop]
        keep = cols != var
        c[cols[keep]] += c[var] * vals[keep]
        c[var] = 0.0
    return c


class _FullVector:
    """Rebuild a full model vector (defined variables included) from CP-SAT values."""

    def __init__(self, model: LinearModel, variables: list, scale: np.ndarray, defined: np.ndarray):
        self.model = model
        self.variables = variables
        self.scale = scale
        self.free = np.flatnonzero(~defined)

    def read(self, value) -> np.ndarray:
        out = np.zeros(self.model.num_vars)
        for j in self.free:
            out[j] = value(self.variables[j]) / self.scale[j]
        for var, row in zip(self.model.defined_var, self.model.defined_row):
            start, stop = self.model.A.indptr[row], self.model.A.indptr[row + 1]
            cols, vals = self.model.A.indices[start:stop], self.model.A.data[start:stop]
            keep = cols != var
            out[var] = float(np.dot(vals[keep], out[cols[keep]]))
        return out
