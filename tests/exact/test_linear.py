"""The solver-neutral matrix model: big-M folding, definition substitution, checks."""

from __future__ import annotations

import numpy as np
import pytest

from optplace.backends.linear import INF, ModelBuilder


def _small_model():
    b = ModelBuilder()
    x = b.add_vars("x", 3)
    (u,) = b.add_vars("u", 1, lower=0.0, upper=10.0, integer=False)
    (w,) = b.add_vars("w", 1)
    b.define("define_u", int(u), x, np.array([2.0, 3.0, 4.0]))
    # u <= 5 when w = 1, relaxed by 100 (1 - w) otherwise
    b.add_rows("capped", np.zeros(1), [u], [1.0], -INF, 5.0, 1, indicator=np.array([w]), relax=([0], [w], [100.0]))
    b.add_rows("cover", np.zeros(4), [*x, w], [1.0, 1.0, 1.0, -1.0], -INF, 2.0, 1)
    return b.build(), x, u, w


def test_milp_rows_fold_big_m_terms():
    """The big-M form adds M b on the left and M on the right of every indicator row."""
    model, _x, _u, w = _small_model()
    a, _lo, hi = model.milp_rows()
    row = model.row_blocks[1].start
    assert a[row, w] == pytest.approx(100.0)
    assert hi[row] == pytest.approx(105.0)


def test_indicator_row_is_off_when_its_binary_is_zero():
    """A point that breaks an indicator row is feasible exactly when the indicator is 0."""
    model, x, u, w = _small_model()
    point = np.zeros(model.num_vars)
    point[x] = [1, 1, 0]
    point[u] = 5.0
    assert model.max_violation(point) == pytest.approx(0.0)
    point[x] = [1, 0, 1]
    point[u] = 6.0
    point[w] = 1.0
    assert model.max_violation(point) == pytest.approx(1.0)
    point[w] = 0.0
    assert model.max_violation(point) == pytest.approx(0.0)


def test_substitution_is_exact_on_every_point():
    """Replacing a defined variable by its definition keeps every row's activity."""
    model, x, u, w = _small_model()
    a2, _lo2, _hi2, _ind2, source = model.substitute_definitions()
    rng = np.random.default_rng(0)
    for _ in range(20):
        point = np.zeros(model.num_vars)
        point[x] = rng.integers(0, 2, size=3)
        point[w] = rng.integers(0, 2)
        point[u] = 2 * point[x[0]] + 3 * point[x[1]] + 4 * point[x[2]]
        full = model.A @ point
        sub = a2 @ point
        kept = [k for k, r in enumerate(source) if r not in model.defined_row]
        assert np.allclose(sub[kept], full[source[kept]])
    assert u not in set(a2.indices)


def test_substitution_turns_defined_bounds_into_rows():
    """A defined variable's finite bounds survive substitution as rows on its definition."""
    model, _x, _u, _w = _small_model()
    _a2, _lo2, hi2, _ind2, source = model.substitute_definitions()
    bound_rows = [k for k, r in enumerate(source) if r in model.defined_row]
    assert len(bound_rows) == 1
    assert hi2[bound_rows[0]] == pytest.approx(10.0)


def test_extra_row_and_objective_copies_leave_the_original_alone():
    """with_objective / with_extra_row return new models and share nothing mutable by accident."""
    model, x, _u, _w = _small_model()
    c = np.zeros(model.num_vars)
    c[x] = 1.0
    fixed = model.with_objective(c, 0.0, True).with_extra_row(c, 2.0, INF)
    assert fixed.num_rows == model.num_rows + 1
    assert model.objective.sum() == 0.0
    point = np.zeros(model.num_vars)
    assert fixed.max_violation(point) == pytest.approx(2.0)
