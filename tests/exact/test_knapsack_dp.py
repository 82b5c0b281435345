"""Dynamic-programming pricing: equal to brute force on integral knapsacks, refused where it would not be exact."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optplace.convert import BinPackingProblem, GapProblem, bpp_to_instance, gap_to_instance
from optplace.formulations.configuration.build import build
from optplace.formulations.configuration.knapsack_dp import plain_knapsack
from optplace.formulations.configuration.pricing import Pricer


def brute(weights, profits, capacity):
    best = 0.0
    for r in range(len(weights) + 1):
        for chosen in itertools.combinations(range(len(weights)), r):
            if sum(weights[i] for i in chosen) <= capacity:
                best = max(best, sum(profits[i] for i in chosen))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_pricing_by_dp_equals_brute_force_on_a_bin(seed):
    """A bin-packing class prices by DP; its best set is the brute-force knapsack optimum at random duals."""
    rng = np.random.default_rng(seed)
    weights = [int(w) for w in rng.integers(150, 600, size=9)]
    instance = bpp_to_instance(BinPackingProblem("b", 1000, [(w, 1) for w in weights]))
    model = build(instance)
    (cls,) = model.classes
    profit = rng.uniform(-0.2, 0.8, size=cls.size)
    rows = [np.asarray(cls.rate_rps * cls.service_ms / 1000.0)]
    plain = plain_knapsack(
        cls,
        rows,
        [cls.utilization_cap * (1 + 2e-9)],
        None,
        np.arange(cls.size),
        profit,
        np.zeros(len(cls.group_memory_mb)),
        combo=None,
        final=None,
    )
    assert plain is not None  # integral weights, one row, no memory: DP applies
    item_weight = [weights[int(model.app_names[int(j)][1:].split("_")[0]) - 1] for j in cls.apps]
    expected = brute(item_weight, [max(p, 0.0) for p in profit], 1000)
    result = Pricer(cls).price(profit, np.zeros(len(cls.group_memory_mb)), 0.0, keep=3)
    assert result.cells > 0 and result.nodes == 0
    assert result.best == pytest.approx(expected) if expected > 1e-9 else result.best == float("-inf")
    for value, items in result.columns:
        assert sum(item_weight[i] for i in items) <= 1000
        assert value == pytest.approx(sum(profit[i] for i in items))


def test_gap_agent_prices_by_dp_with_the_branch_and_bound_answer():
    """A GAP agent's knapsack gives the same value by DP as by the branch and bound (weights made non-integral)."""
    problem = GapProblem("g", [[3, 5, 4, 6, 2, 7]], [[4, 6, 5, 7, 3, 8]], [15])
    model = build(gap_to_instance(problem, "max"))
    (cls,) = model.classes
    profit = cls.value.copy()
    by_dp = Pricer(cls).price(profit, np.zeros(len(cls.group_memory_mb)), 0.0)
    cls.rate_rps = cls.rate_rps * (1 - 1e-7 * np.arange(1, cls.size + 1))  # no common unit any more: no DP
    by_search = Pricer(cls).price(profit, np.zeros(len(cls.group_memory_mb)), 0.0)
    assert by_dp.cells > 0 and by_search.cells == 0 and by_search.nodes > 0
    assert (
        by_dp.best == pytest.approx(by_search.best) == pytest.approx(brute([4, 6, 5, 7, 3, 8], [3, 5, 4, 6, 2, 7], 15))
    )
