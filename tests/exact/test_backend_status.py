"""Every solver status maps to optplace's status and stop reason, entry by entry; unknown means error."""

from __future__ import annotations

import pytest

from optplace.backends import cpsat, highs, pyomo_backend
from optplace.backends.common import map_status
from optplace.result import Status, StopReason

OPT, F, INF_, N, E = Status.OPTIMAL, Status.FEASIBLE, Status.INFEASIBLE, Status.NO_SOLUTION_FOUND, Status.ERROR
C, T, IT, INT, ERR = (
    StopReason.COMPLETED,
    StopReason.TIME_LIMIT,
    StopReason.ITERATION_LIMIT,
    StopReason.INTERRUPTED,
    StopReason.ERROR,
)

# raw status: (status with a solution, status without one, stop reason)
HIGHS_EXPECTED = {
    "kOptimal": (OPT, E, C),
    "kInfeasible": (INF_, INF_, C),
    "kModelEmpty": (OPT, OPT, C),
    "kTimeLimit": (F, N, T),
    "kIterationLimit": (F, N, IT),
    "kSolutionLimit": (F, N, IT),
    "kInterrupt": (F, N, INT),
    "kHighsInterrupt": (F, N, INT),
    "kObjectiveBound": (F, N, C),
    "kObjectiveTarget": (F, N, C),
    "kMemoryLimit": (F, E, ERR),
    "kUnboundedOrInfeasible": (E, E, ERR),
    "kUnbounded": (E, E, ERR),
    "kNotset": (E, E, ERR),
    "kLoadError": (E, E, ERR),
    "kModelError": (E, E, ERR),
    "kPresolveError": (E, E, ERR),
    "kSolveError": (E, E, ERR),
    "kPostsolveError": (E, E, ERR),
    "kUnknown": (F, E, ERR),
}
CPSAT_EXPECTED = {
    "OPTIMAL": (OPT, E, C),
    "FEASIBLE": (F, N, T),
    "INFEASIBLE": (INF_, INF_, C),
    "UNKNOWN": (F, N, T),
    "MODEL_INVALID": (E, E, ERR),
}
PYOMO_EXPECTED = {
    "optimal": (OPT, E, C),
    "globallyOptimal": (OPT, E, C),
    "locallyOptimal": (F, E, C),
    "feasible": (F, N, C),
    "maxTimeLimit": (F, N, T),
    "maxIterations": (F, N, IT),
    "maxEvaluations": (F, N, IT),
    "minFunctionValue": (F, N, C),
    "minStepLength": (F, N, C),
    "intermediateNonInteger": (F, N, INT),
    "userInterrupt": (F, N, INT),
    "resourceInterrupt": (F, N, INT),
    "infeasible": (INF_, INF_, C),
    "noSolution": (N, N, C),
    "unbounded": (E, E, ERR),
    "infeasibleOrUnbounded": (E, E, ERR),
    "invalidProblem": (E, E, ERR),
    "solverFailure": (E, E, ERR),
    "internalSolverError": (E, E, ERR),
    "error": (E, E, ERR),
    "licensingProblems": (E, E, ERR),
    "other": (F, E, ERR),
    "unknown": (F, E, ERR),
}
CASES = [
    (module, raw, expected)
    for module, table in ((highs, HIGHS_EXPECTED), (cpsat, CPSAT_EXPECTED), (pyomo_backend, PYOMO_EXPECTED))
    for raw, expected in table.items()
]


@pytest.mark.parametrize(
    ("module", "raw", "expected"),
    CASES,
    ids=[f"{m.SOLVER if hasattr(m, 'SOLVER') else 'pyomo'}-{r}" for m, r, _ in CASES],
)
def test_status_entry(module, raw, expected):
    """One raw status maps to the expected status (with and without a solution) and stop reason."""
    with_solution, without_solution, stop = expected
    assert map_status(module.STATUS_TABLE, raw, True) == (with_solution, stop)
    assert map_status(module.STATUS_TABLE, raw, False) == (without_solution, stop)


@pytest.mark.parametrize("module", [highs, cpsat, pyomo_backend])
def test_unknown_status_is_an_error(module):
    """A status the table does not name (a future solver version's) is an error, never a success."""
    assert map_status(module.STATUS_TABLE, "kSomethingNew", True) == (Status.ERROR, StopReason.ERROR)


def test_highs_table_covers_every_model_status():
    """Every HighsModelStatus member has an entry."""
    import highspy

    assert set(highspy.HighsModelStatus.__members__) == set(highs.STATUS_TABLE)


def test_cpsat_table_covers_every_solver_status():
    """Every CpSolverStatus value has an entry."""
    from ortools.sat import cp_model_pb2

    assert set(cp_model_pb2.CpSolverStatus.keys()) == set(cpsat.STATUS_TABLE)


def test_pyomo_table_covers_every_termination_condition():
    """Every Pyomo TerminationCondition has an entry."""
    from pyomo.opt import TerminationCondition

    assert {t.name for t in TerminationCondition} == set(pyomo_backend.STATUS_TABLE)


def test_expected_tables_match_the_adapters():
    """The expectations above list exactly the adapters' entries (no silent additions)."""
    assert set(HIGHS_EXPECTED) == set(highs.STATUS_TABLE)
    assert set(CPSAT_EXPECTED) == set(cpsat.STATUS_TABLE)
    assert set(PYOMO_EXPECTED) == set(pyomo_backend.STATUS_TABLE)
