"""The configuration master through the HiGHS adapter (ColumnLp): duals, growth by columns, diving fixes, integer solves."""

from __future__ import annotations

import numpy as np
import pytest

from optplace.formulations.configuration.master import Master
from optplace.result import Status, StopReason


def two_app_master(equality: bool = False) -> Master:
    """Two applications, one class of two accelerators; columns {a}, {b} worth 1 each and {a, b} worth 1.5."""
    master = Master(np.array([equality, equality]), [2], [], big_m=100.0)
    master.add([(0, [0], 1.0, 0.0, 0.0, -1), (0, [1], 1.0, 0.0, 0.0, -1), (0, [0, 1], 1.5, 0.0, 0.0, -1)])
    return master


def test_lp_value_duals_and_growth_by_columns():
    """Two singletons beat the pair (2 > 1.5); a new better column is taken after a re-solve from the last basis."""
    master = two_app_master()
    lp = master.solve_lp()
    assert lp.status == Status.OPTIMAL and lp.objective == pytest.approx(2.0)
    assert lp.app_duals.sum() + 2 * lp.class_duals[0] == pytest.approx(2.0)  # strong duality
    master.add([(0, [0, 1], 2.5, 0.0, 0.0, -1)])
    assert master.solve_lp().objective == pytest.approx(2.5)


def test_fixing_a_column_and_releasing_it_restores_the_lp():
    """Fixing {a} closes a's row and takes one accelerator; releasing it gives the same LP as before."""
    master = two_app_master(equality=True)
    before = master.solve_lp().objective
    master.fix(0)
    fixed = master.solve_lp()
    assert fixed.objective == pytest.approx(1.0)  # only {b} is left, on the one accelerator left
    assert fixed.values[2] == pytest.approx(0.0)  # the pair needs a's closed row
    master.unfix(0)
    master.forbid([1])
    assert master.solve_lp().objective == pytest.approx(1.5)  # without {b}: the pair (artificials cost 100)
    master.forbid([1], allowed=True)
    assert master.solve_lp().objective == pytest.approx(before)


def test_integer_master_and_its_statuses():
    """The integer solve picks the best combination; an iteration limit is mapped through the one status table."""
    master = two_app_master()
    result = master.solve_integer(10.0)
    assert result.status == Status.OPTIMAL and result.objective == pytest.approx(2.0)
    assert list(result.values) == [1, 1, 0] and result.work_s > 0
    assert master.lp.solve(iteration_limit=1).status in (Status.OPTIMAL, Status.NO_SOLUTION_FOUND)
    fresh = Master(np.array([True, True]), [1], [], big_m=100.0)
    fresh.add([(0, [0], 1.0, 0.0, 0.0, -1), (0, [1], 1.0, 0.0, 0.0, -1)])
    infeasible = fresh.solve_integer(10.0)  # one accelerator cannot host both singletons: no integer point
    assert infeasible.status == Status.INFEASIBLE and infeasible.stop_reason == StopReason.COMPLETED
