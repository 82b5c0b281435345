"""The same model through Pyomo, so that users can point it at another MILP solver.

The rows are the big-M form of :meth:`LinearModel.milp_rows`, one Pyomo constraint per row built
as a ``LinearExpression`` from the CSR arrays. The solver is a Pyomo solver name
(``SolverSettings.solver_name``, method option ``solver_name``) from the fixed list
:data:`SOLVERS`: ``appsi_highs`` by default, ``highs`` when appsi is not available. The list is
closed on purpose: Pyomo's ``SolverFactory`` also runs executables by name or path (``asl:<path>``
runs any program), so a name is never passed through from a caller. Adding a solver means adding
its name here, with its allow-list of options (today the HiGHS one, :class:`HighsTuning`). Pyomo
offers no portable incumbent callback, so nothing is streamed: at a wall-clock kill the caller
keeps its warm start.

The status table maps every Pyomo ``TerminationCondition``; unknown conditions are errors.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Literal

import numpy as np

from optplace.backends.common import BackendResult, SolverSettings, StatusEntry, gap_stop, map_status
from optplace.backends.highs import HighsTuning
from optplace.backends.linear import LinearModel
from optplace.result import Status, StopReason

SOLVER = "pyomo"
SolverName = Literal["appsi_highs", "highs"]
SOLVERS: tuple[SolverName, ...] = ("appsi_highs", "highs")  # the only names ever handed to SolverFactory
DEFAULT_SOLVERS = SOLVERS

_O, _F, _N, _I, _E = Status.OPTIMAL, Status.FEASIBLE, Status.NO_SOLUTION_FOUND, Status.INFEASIBLE, Status.ERROR
STATUS_TABLE: dict[str, StatusEntry] = {
    "optimal": StatusEntry(_O, _E, StopReason.COMPLETED),
    "globallyOptimal": StatusEntry(_O, _E, StopReason.COMPLETED),
    "locallyOptimal": StatusEntry(_F, _E, StopReason.COMPLETED),  # not a proof for a MILP
    "feasible": StatusEntry(_F, _N, StopReason.COMPLETED),
    "maxTimeLimit": StatusEntry(_F, _N, StopReason.TIME_LIMIT),
    "maxIterations": StatusEntry(_F, _N, StopReason.ITERATION_LIMIT),
    "maxEvaluations": StatusEntry(_F, _N, StopReason.ITERATION_LIMIT),
    "minFunctionValue": StatusEntry(_F, _N, StopReason.COMPLETED),
    "minStepLength": StatusEntry(_F, _N, StopReason.COMPLETED),
    "intermediateNonInteger": StatusEntry(_F, _N, StopReason.INTERRUPTED),
    "userInterrupt": StatusEntry(_F, _N, StopReason.INTERRUPTED),
    "resourceInterrupt": StatusEntry(_F, _N, StopReason.INTERRUPTED),
    "infeasible": StatusEntry(_I, _I, StopReason.COMPLETED),
    "noSolution": StatusEntry(_N, _N, StopReason.COMPLETED),
    # A bounded assignment model is never unbounded.
    "unbounded": StatusEntry(_E, _E, StopReason.ERROR),
    "infeasibleOrUnbounded": StatusEntry(_E, _E, StopReason.ERROR),
    "invalidProblem": StatusEntry(_E, _E, StopReason.ERROR),
    "solverFailure": StatusEntry(_E, _E, StopReason.ERROR),
    "internalSolverError": StatusEntry(_E, _E, StopReason.ERROR),
    "error": StatusEntry(_E, _E, StopReason.ERROR),
    "licensingProblems": StatusEntry(_E, _E, StopReason.ERROR),
    "other": StatusEntry(_F, _E, StopReason.ERROR),
    "unknown": StatusEntry(_F, _E, StopReason.ERROR),
}


def _pyomo_environ():
    """``pyomo.environ``, or MissingExtraError naming ``optplace[pyomo]``."""
    from optplace.extras import require

    return require("pyomo.environ", "pyomo", "the milp_pyomo method")


def version() -> str:
    _pyomo_environ()
    import pyomo

    return str(pyomo.__version__)


def installed_solvers() -> list[str]:
    """The names of :data:`SOLVERS` whose packages are installed (both drive HiGHS through highspy),
    found without importing Pyomo."""
    present = all(importlib.util.find_spec(module) is not None for module in ("pyomo", "highspy"))
    return list(SOLVERS) if present else []


def choose_solver(name: str | None):
    """A Pyomo solver object: ``name`` (one of :data:`SOLVERS`) if given, else the first available."""
    pyo = _pyomo_environ()

    if name is not None and name not in SOLVERS:
        raise ValueError(f"Pyomo solver {name!r} is not allowed; use one of {', '.join(SOLVERS)}")
    names = [name] if name else list(DEFAULT_SOLVERS)
    for candidate in names:
        solver = pyo.SolverFactory(candidate)
        try:
            available = bool(solver.available(exception_flag=False))
        except Exception:
            available = False
        if available:
            return candidate, solver
    raise RuntimeError(f"no Pyomo solver available among {names}")


def to_pyomo(model: LinearModel):
    """A Pyomo ConcreteModel with variables ``v[j]``, constraints ``rows`` and objective ``objective``."""
    pyo = _pyomo_environ()
    from pyomo.core.expr.numeric_expr import LinearExpression

    m = pyo.ConcreteModel()
    n = model.num_vars

    def domain(_m, j):
        if model.integer[j]:
            return pyo.Binary if (model.lower[j] >= 0 and model.upper[j] <= 1) else pyo.Integers
        return pyo.Reals

    def bounds(_m, j):
        lo, hi = model.lower[j], model.upper[j]
        return (None if np.isinf(lo) else float(lo), None if np.isinf(hi) else float(hi))

    m.v = pyo.Var(range(n), within=domain, bounds=bounds)
    a, row_lower, row_upper = model.milp_rows()
    csr = a.tocsr()
    m.rows = pyo.ConstraintList()
    v = m.v
    for i in range(csr.shape[0]):
        start, stop = csr.indptr[i], csr.indptr[i + 1]
        if start == stop:
            continue
        cols = csr.indices[start:stop]
        expr = LinearExpression(
            constant=0.0, linear_coefs=[float(c) for c in csr.data[start:stop]], linear_vars=[v[int(j)] for j in cols]
        )
        lo, hi = row_lower[i], row_upper[i]
        if lo == hi:
            m.rows.add(expr == float(hi))
        elif np.isinf(lo):
            m.rows.add(expr <= float(hi))
        elif np.isinf(hi):
            m.rows.add(expr >= float(lo))
        else:
            m.rows.add(pyo.inequality(float(lo), expr, float(hi)))
    cols = np.flatnonzero(model.objective)
    objective = LinearExpression(
        constant=float(model.objective_constant),
        linear_coefs=[float(model.objective[j]) for j in cols],
        linear_vars=[v[int(j)] for j in cols],
    )
    m.objective = pyo.Objective(expr=objective, sense=pyo.maximize if model.maximize else pyo.minimize)
    return m


def solve(model: LinearModel, settings: SolverSettings) -> BackendResult:
    """Solve ``model`` through Pyomo with ``settings.solver_name`` (default appsi_highs)."""
    pyo = _pyomo_environ()

    started = time.perf_counter()
    name, solver = choose_solver(settings.solver_name)
    m = to_pyomo(model)
    build_s = time.perf_counter() - started
    config = getattr(solver, "config", None)
    if settings.time_limit_s is not None:
        if config is not None and hasattr(config, "time_limit"):
            config.time_limit = max(float(settings.time_limit_s), 0.01)
        else:
            solver.options["time_limit"] = max(float(settings.time_limit_s), 0.01)
    if settings.relative_gap is not None:
        if config is not None and hasattr(config, "mip_gap"):
            config.mip_gap = float(settings.relative_gap)
        else:
            solver.options["mip_rel_gap"] = float(settings.relative_gap)
    if name.endswith("highs"):
        solver.options["random_seed"] = int(settings.seed)
        if settings.threads is not None:
            solver.options["threads"] = int(settings.threads)
    for key, value in HighsTuning.checked(settings.options, f"pyomo/{name}").items():
        solver.options[key] = value
    kwargs = {"load_solutions": False}
    if settings.warm_start is not None:
        for j, value in enumerate(settings.warm_start):
            m.v[j].set_value(float(round(value)) if model.integer[j] else float(value), skip_validation=True)
        warm_capable = getattr(solver, "warm_start_capable", lambda: False)
        if warm_capable():
            kwargs["warmstart"] = True
    results = solver.solve(m, **kwargs)
    raw = str(results.solver.termination_condition)
    raw = raw.split(".")[-1]
    values = None
    has_solution = False
    try:
        if len(results.solution) > 0 or raw in ("optimal", "maxTimeLimit", "feasible"):
            m.solutions.load_from(results) if len(results.solution) > 0 else solver.load_vars()
            values = np.array([pyo.value(m.v[j], exception=False) or 0.0 for j in range(model.num_vars)])
            has_solution = bool(np.all(np.isfinite(values)))
    except Exception:
        values, has_solution = None, False
    objective = float(model.objective_value(values)) if has_solution and values is not None else None
    lower, upper = _bound(results.problem.lower_bound), _bound(results.problem.upper_bound)
    bound = upper if model.maximize else lower
    mapped, stop = map_status(STATUS_TABLE, raw, has_solution)
    mapped, stop = gap_stop(mapped, stop, objective, bound, model.maximize)
    if has_solution and values is not None and objective is not None and settings.on_incumbent is not None:
        settings.on_incumbent(values, objective, bound)
    return BackendResult(
        status=mapped,
        stop_reason=stop,
        values=values if has_solution else None,
        objective=objective,
        bound=bound,
        solver=f"pyomo/{name}",
        solver_version=version(),
        raw_status=raw,
        runtime_s=time.perf_counter() - started,
        stats={"build_s": build_s},
    )


def _bound(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None
