"""Budgets: wall-clock seconds, or work in deterministic mode, with a wall-clock safety stop."""

from __future__ import annotations

import math

from optplace.budget import SAFETY_EXTRA_S, SAFETY_FACTOR, Budget, highs_node_limit, highs_root_work_s


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_wall_clock_budget_follows_the_clock_and_ignores_charges():
    """Normally a budget is the clock: charges change nothing."""
    clock = Clock()
    budget = Budget(10.0, clock=clock)
    budget.charge(50.0)
    assert budget.left() == 10.0
    clock.now += 4.0
    assert budget.left() == 6.0 and not budget.expired()
    clock.now += 7.0
    assert budget.expired()


def test_deterministic_budget_counts_work_not_time():
    """In deterministic mode only charged work counts; a child's work is charged to its parent."""
    clock = Clock()
    budget = Budget(10.0, deterministic=True, clock=clock)
    clock.now += 9.0  # the clock moves, the budget does not care (before the safety stop)
    assert budget.left() == 10.0
    child = budget.child(4.0)
    child.charge(3.0)
    assert child.left() == 1.0 and budget.left() == 7.0
    child.charge(2.0)
    assert child.expired() and budget.left() == 5.0
    assert budget.work_limit() == 5.0 and Budget(3.0).work_limit() is None


def test_the_safety_stop_ends_a_deterministic_run_and_says_so():
    """Past SAFETY_FACTOR x the limit (+ SAFETY_EXTRA_S) of wall time, a deterministic budget is spent and flags it."""
    clock = Clock()
    budget = Budget(10.0, deterministic=True, clock=clock)
    child = budget.child(2.0)
    clock.now += SAFETY_FACTOR * 10.0 + SAFETY_EXTRA_S + 0.1
    assert child.expired() and budget.expired()
    assert budget.safety_fired and child.safety_fired


def test_unlimited_budget_and_child_limits():
    """Without a limit nothing expires; a child never gets more than its parent has left."""
    budget = Budget(None)
    assert math.isinf(budget.left()) and budget.wall_limit() is None
    limited = Budget(5.0, deterministic=True)
    assert limited.child(8.0).seconds == 5.0


def test_mip_node_limits_shrink_with_model_size_and_pay_the_root_first():
    """A bigger model gets fewer nodes for the same work; no work beyond its root still allows one node."""
    small = highs_node_limit(5.0, 100, 200, 1000)
    large = highs_node_limit(5.0, 2000, 4000, 50000)
    assert small > large >= 1
    assert highs_node_limit(highs_root_work_s(2000, 4000, 50000) / 2, 2000, 4000, 50000) == 1
