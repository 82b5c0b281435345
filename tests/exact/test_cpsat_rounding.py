"""CP-SAT's integer form is conservative: every integer solution satisfies the original rows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from optplace.backends import cpsat
from optplace.formulations.assignment.build import BuildOptions, build
from optplace.formulations.assignment.data import prepare
from tests.exact.conftest import random_instance

coefficient = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    coefs=st.lists(coefficient, min_size=1, max_size=8),
    rhs=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    point=st.lists(st.integers(min_value=0, max_value=50), min_size=8, max_size=8),
)
def test_scaled_row_never_admits_a_violation(coefs, rhs, point):
    """If the rounded integer row holds at a non-negative integer point, so does the real row."""
    c = np.array(coefs)
    v = np.array(point[: c.size], dtype=float)
    c_int, b_int = cpsat.scale_row(c, rhs)
    if float(np.dot(c_int, v)) <= b_int:
        assert float(np.dot(c, v)) <= rhs + 1e-9 * max(1.0, abs(rhs), float(np.abs(c) @ v))


def test_integral_rows_are_kept_exactly():
    """A row that is already integral is not scaled or rounded."""
    c_int, b_int = cpsat.scale_row(np.array([1.0, -1.0, 3.0]), 2.0)
    assert c_int.tolist() == [1, -1, 3]
    assert b_int == 2


def test_scaled_coefficients_stay_within_the_limit():
    """No scaled coefficient exceeds the limit CP-SAT's presolve is safe with."""
    c_int, b_int = cpsat.scale_row(np.array([0.123, 4567.891, 12.5]), 98765.4321)
    assert np.max(np.abs(c_int)) <= cpsat.COEFFICIENT_LIMIT
    assert abs(b_int) <= cpsat.COEFFICIENT_LIMIT


def test_grid_gives_enough_resolution():
    """A continuous variable's grid has at least GRID_STEPS points over its range."""
    for upper in (0.5, 3.0, 80.0, 12345.0):
        assert upper * cpsat.grid_scale(upper) >= cpsat.GRID_STEPS


def test_cpsat_solutions_satisfy_the_real_model():
    """Whatever CP-SAT returns for the integer form satisfies every row of the original model."""
    from optplace.backends.common import SolverSettings

    instance = random_instance(3, n_apps=4)
    am = build(prepare(instance), BuildOptions())
    rng = np.random.default_rng(1)
    for _ in range(4):
        objective = np.zeros(am.model.num_vars)
        objective[am.x] = rng.uniform(0.5, 2.0, size=am.x.size)
        result = cpsat.solve(am.model.with_objective(objective, 0.0, True), SolverSettings(time_limit_s=5, threads=1))
        assert result.values is not None
        assert am.model.max_violation(result.values) <= 1e-6


def test_rows_of_integer_origin_are_kept_exact():
    """A row that is a rational multiple of integer data becomes that integer row, not a rounded one."""
    k = 900.0 / 37.0  # an OR-Library capacity of 37 mapped onto a 0.9 utilisation cap
    c_int, b_int = cpsat.scale_row(np.array([12.0, 25.0, 7.0]) * k, 37.0 * k)
    assert c_int.tolist() == [12, 25, 7]
    assert b_int == 37


def test_a_tiny_coefficient_is_not_rounded_away():
    """A coefficient of 1e-10 keeps the row binding: 1e-10 v <= 0 still forbids v > 0."""
    c_int, b_int = cpsat.scale_row(np.array([1e-10]), 0.0)
    assert c_int[0] > 0
    assert b_int == 0
